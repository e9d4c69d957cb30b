"""Audit and comparison of runs: ``mlprod-nb show`` and ``mlprod-nb compare`` (and the
panel's compare view): what produced a run, and what differs between runs."""
