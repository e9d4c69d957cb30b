"""Pure lineage algorithms: records in, graphs, staleness and run diffs out. No I/O."""
