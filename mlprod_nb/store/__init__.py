"""The lineage store: the only package that imports duckdb or holds SQL."""
