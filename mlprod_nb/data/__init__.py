"""What the data a run read and wrote looks like: profiles, drift between versions, and
the validation gates notebook code calls (``expect_schema``, ``expect_drift``)."""
