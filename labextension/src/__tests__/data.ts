import { MlprodAPI } from '../api';

/** Answers shaped like the server's, for a three-cell notebook. */
export function execution(
  id: string,
  cellId: string,
  count: number,
  extra: Partial<MlprodAPI.IExecution> = {}
): MlprodAPI.IExecution {
  return {
    id,
    session: id.split(':')[0],
    seq: Number(id.split(':')[1]),
    cell_id: cellId,
    execution_count: count,
    started: 1_700_000_000 + count,
    duration_ms: 5,
    status: 'ok',
    error_name: null,
    error_message: null,
    source_hash: `h${count}`,
    defines: [],
    uses: [],
    deps: [],
    files: [],
    params: {},
    metrics: [],
    stale: false,
    ...extra,
  };
}

export const LINEAGE: MlprodAPI.ILineage = {
  notebook: 'churn.ipynb',
  executions: [
    execution('s1:1', 'load', 1),
    execution('s1:2', 'clean', 2),
    execution('s1:3', 'train', 3, { stale: true }),
    execution('s1:4', 'train', 4, { stale: true }),
  ],
  datasets: [
    {
      path: 'data/customers.csv',
      versions: [
        { sha256: 'aaaaaaaaaa', size: 100, readers: ['s1:1'], writers: [] },
        { sha256: 'bbbbbbbbbb', size: 120, readers: [], writers: [] },
      ],
    },
    {
      path: 'build/clean.parquet',
      versions: [{ sha256: 'cccccccccc', size: 50, readers: [], writers: ['s1:2'] }],
    },
  ],
  edges: [
    { source: 's1:1', target: 's1:2', kind: 'name', label: 'raw' },
    { source: 's1:2', target: 's1:3', kind: 'name', label: 'clean' },
    { source: 's1:2', target: 's1:4', kind: 'name', label: 'clean' },
    { source: 's1:2', target: 's1:4', kind: 'name', label: 'features' },
  ],
  cells: { load: 's1:1', clean: 's1:2', train: 's1:4' },
};

export const STALE: MlprodAPI.IStale = {
  notebook: 'churn.ipynb',
  stale: [
    {
      cell_id: 'load',
      execution: 's1:1',
      reasons: [{ kind: 'file', path: 'data/customers.csv', detail: 'data/customers.csv changed' }],
    },
  ],
};

export const PIPELINE: MlprodAPI.IPipeline = {
  notebook: 'churn.ipynb',
  steps: [
    { name: 'load', cells: ['load'] },
    { name: 'train', cells: ['clean', 'train'] },
  ],
  cells: { load: 'load', clean: 'train', train: 'train' },
  parameters: [
    { name: 'n_estimators', default: 60, type: 'int' },
    { name: 'test_size', default: 0.25, type: 'float' },
    { name: 'data_path', default: 'data/customers.csv', type: 'str' },
    { name: 'balanced', default: false, type: 'bool' },
  ],
};

export function run(id: string, started: number, metrics: Record<string, number>): MlprodAPI.IRun {
  return {
    id,
    pipeline: 'churn.pipeline',
    status: 'ok',
    started,
    finished: started + 5,
    duration_ms: 5000,
    params: { n_estimators: 60 },
    metrics,
    steps: [{ name: 'load', status: 'ok', duration_ms: 10, cached: false }],
    cached_steps: 0,
  };
}
