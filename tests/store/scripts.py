"""Programs the concurrency and fault tests start as processes of their own."""

# A traced IPython shell that says "ready", then runs argv[1] small cells (each one
# journal line), so a test can kill it at any point of a run.
TRACED_SHELL = """
import sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.run_cell("%load_ext mlprod_nb")
print("ready", flush=True)
for i in range(int(sys.argv[1])):
    shell.run_cell(f"x{i % 10} = {i}\\ny = x{i % 10} + 1", store_history=True)
"""
