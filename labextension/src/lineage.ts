import { MlprodAPI } from './api';

/** Is this answer of the lineage route a delta (changes since a version the panel holds)? */
export function isDelta(
  answer: MlprodAPI.ILineage | MlprodAPI.ILineageDelta
): answer is MlprodAPI.ILineageDelta {
  return typeof (answer as MlprodAPI.ILineageDelta).since === 'string';
}

/**
 * The lineage after a delta: the same as the server's full answer at the delta's
 * version. Executions and datasets that did not change keep their objects, so the
 * graph can tell what changed by identity.
 */
export function mergeLineage(
  base: MlprodAPI.ILineage,
  delta: MlprodAPI.ILineageDelta
): MlprodAPI.ILineage {
  const stale = new Set(delta.stale);
  const executions = base.executions.map(execution => {
    const isStale = stale.has(execution.id);
    return execution.stale === isStale ? execution : { ...execution, stale: isStale };
  });
  const changed = new Map(delta.datasets.map(dataset => [dataset.path, dataset] as const));
  const datasets = base.datasets.map(dataset => {
    const update = changed.get(dataset.path);
    changed.delete(dataset.path);
    return update ?? dataset;
  });
  return {
    notebook: delta.notebook,
    version: delta.version,
    executions: delta.executions.length ? [...executions, ...delta.executions] : executions,
    edges: delta.edges.length ? [...base.edges, ...delta.edges] : base.edges,
    datasets: [...datasets, ...changed.values()],
    cells: Object.keys(delta.cells).length ? { ...base.cells, ...delta.cells } : base.cells,
  };
}
