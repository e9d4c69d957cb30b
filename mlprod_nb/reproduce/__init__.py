"""``mlprod-nb reproduce``: re-execute a run or an interactive session as recorded, after
checking its inputs and environment, and say whether the results are the same."""
