"""Export tagged notebook cells into a papermill pipeline, and run it."""
