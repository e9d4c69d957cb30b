import { MlprodAPI } from '../api';
import {
  baselineIndex,
  cacheNote,
  chartAxis,
  DEFAULT_SORT,
  differsFromBaseline,
  nextSort,
  rerunParams,
  RunSortKey,
  sortRuns,
} from '../compare';
import { PanelModel } from '../model';
import { MlprodService } from '../service';
import { run } from './data';
import { fakeServer, Route } from './fakeServer';

const RUNS: MlprodAPI.IRun[] = [
  { ...run('20261124-120000-aaaaaa', 300, { auc: 0.8 }), status: 'ok', duration_ms: 900 },
  { ...run('20261124-110000-bbbbbb', 100, { auc: 0.9 }), status: 'failed', duration_ms: 50 },
  { ...run('20261124-113000-cccccc', 200, { auc: 0.85 }), status: 'running', duration_ms: null },
];

interface ISortCase {
  key: RunSortKey;
  descending: boolean;
  order: string[]; // id suffixes
}

const SORT_CASES: ISortCase[] = [
  { key: 'started', descending: true, order: ['a', 'c', 'b'] },
  { key: 'started', descending: false, order: ['b', 'c', 'a'] },
  { key: 'status', descending: false, order: ['b', 'a', 'c'] },
  // a run still going has no duration yet: it sorts as the longest
  { key: 'duration', descending: true, order: ['c', 'a', 'b'] },
  { key: 'metrics', descending: false, order: ['a', 'c', 'b'] },
  { key: 'id', descending: false, order: ['b', 'c', 'a'] },
];

describe('the runs table', () => {
  it.each(SORT_CASES)('sorts by $key (descending: $descending)', ({ key, descending, order }) => {
    const ids = sortRuns(RUNS, { key, descending }).map(r => r.id.slice(-1));
    expect(ids).toEqual(order);
  });

  it('keeps the given order for ties and does not change its input', () => {
    const same = RUNS.map(r => ({ ...r, cached_steps: 1 }));
    expect(sortRuns(same, { key: 'cached', descending: false }).map(r => r.id)).toEqual(
      same.map(r => r.id)
    );
    expect(RUNS[0].id.endsWith('a')).toBe(true);
  });

  it('flips direction on a second click, starts a new column ascending', () => {
    expect(DEFAULT_SORT).toEqual({ key: 'started', descending: true });
    expect(nextSort(DEFAULT_SORT, 'started')).toEqual({ key: 'started', descending: false });
    expect(nextSort(DEFAULT_SORT, 'status')).toEqual({ key: 'status', descending: false });
    expect(nextSort({ key: 'status', descending: false }, 'duration')).toEqual({
      key: 'duration',
      descending: true,
    });
  });

  it('re-runs with the run parameters, never a redacted secret', () => {
    const secret = { ...RUNS[0], params: { n: 3, rate: 0.5, api_token: '<redacted>', cols: ['a'] } };
    expect(rerunParams(secret)).toEqual({ n: 3, rate: 0.5, cols: '["a"]' });
  });
});

const ROW: MlprodAPI.IRow = {
  name: 'work/model.pkl',
  values: ['aaaa', 'aaaa', 'bbbb', null],
  differs: true,
  from_cache: [null, 'r1', null, null],
};

describe('the comparison', () => {
  it('marks the cells that differ from the baseline column, missing included', () => {
    expect([0, 1, 2, 3].map(i => differsFromBaseline(ROW, i, 0))).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect([0, 1, 2, 3].map(i => differsFromBaseline(ROW, i, 2))).toEqual([
      true,
      true,
      false,
      true,
    ]);
    const objects = { name: 'p', values: [{ a: 1, b: 2 }, { b: 2, a: 1 }], differs: false };
    expect(differsFromBaseline(objects, 1, 0)).toBe(false);
  });

  it('says which run a cached step took a file from', () => {
    expect(cacheNote(ROW, 1)).toBe('from cache (run r1)');
    expect(cacheNote(ROW, 0)).toBeNull();
    expect(cacheNote({ name: 'x', values: [1], differs: false }, 0)).toBeNull();
  });

  it('finds the baseline column, the oldest run unless one was chosen', () => {
    const comparison = { runs: ['r1', 'r2'], params: [], metrics: [], datasets: [], steps: [] };
    expect(baselineIndex(comparison)).toBe(0);
    expect(baselineIndex({ ...comparison, baseline: 'r2' })).toBe(1);
    expect(baselineIndex({ ...comparison, baseline: 'gone' })).toBe(0);
  });
});

interface IAxisCase {
  values: number[];
  ticks: number[];
}

const AXIS_CASES: IAxisCase[] = [
  { values: [0.81, 0.86, 0.9], ticks: [0.8, 0.825, 0.85, 0.875, 0.9] },
  { values: [3, 48], ticks: [0, 20, 40, 60] },
  { values: [5], ticks: [4.5, 4.75, 5, 5.25, 5.5] },
  { values: [], ticks: [0, 1] },
];

describe('the metric chart axis', () => {
  it.each(AXIS_CASES)('covers $values with round ticks', ({ values, ticks }) => {
    const axis = chartAxis(values);
    expect(axis.ticks).toEqual(ticks);
    expect(axis.min).toBeLessThanOrEqual(Math.min(...values, axis.max));
    expect(axis.max).toBeGreaterThanOrEqual(Math.max(...values, axis.min));
  });
});

describe('run actions in the model', () => {
  function makeModel(routes: Record<string, Route>) {
    const server = fakeServer({
      'GET lineage': () => ({ body: { notebook: 'a.ipynb', executions: [], datasets: [], edges: [], cells: {} } }),
      'GET stale': () => ({ body: { notebook: 'a.ipynb', stale: [] } }),
      'GET pipeline': () => ({ body: { notebook: 'a.ipynb', steps: [], cells: {}, parameters: [] } }),
      ...routes,
    });
    const timers = { set: () => 0, clear: () => undefined };
    return { model: new PanelModel(new MlprodService(server.settings), timers), seen: server.seen };
  }

  const withNotebook = RUNS.map(r => ({ ...r, source_notebook: '/srv/a.ipynb' }));

  it('asks the comparison against a chosen baseline', async () => {
    const comparison = (baseline: string) => ({
      runs: [RUNS[1].id, RUNS[0].id],
      baseline,
      params: [],
      metrics: [],
      datasets: [],
      outputs: [],
      steps: [],
    });
    const { model, seen } = makeModel({
      'GET runs': () => ({ body: { runs: withNotebook } }),
      'GET compare': s => ({ body: comparison(s.query.baseline ?? RUNS[1].id) }),
    });
    await model.setNotebook('a.ipynb');
    model.toggleRun(RUNS[0].id);
    model.toggleRun(RUNS[1].id);
    await model.compareSelected();
    expect(model.baseline).toBe(RUNS[1].id);
    await model.setBaseline(RUNS[0].id);
    expect(seen.filter(s => s.path === 'compare').map(s => s.query.baseline)).toEqual([
      undefined,
      RUNS[0].id,
    ]);
    expect(model.comparison?.baseline).toBe(RUNS[0].id);
  });

  it('cancels, re-runs with the same parameters and opens a run file by its root path', async () => {
    const { model, seen } = makeModel({
      'GET runs': () => ({ body: { runs: withNotebook } }),
      'POST run/*': s =>
        s.path.endsWith('/files')
          ? { body: { run_id: 'x', log: 'mlprod-runs/x/driver.log', steps: { load: 'mlprod-runs/x/steps/load.ipynb' } } }
          : { status: 202, body: { id: 'x', status: 'cancelling' } },
      'POST run': () => ({ status: 202, body: { run_id: 'new', status: 'running' } }),
    });
    await model.setNotebook('a.ipynb');
    await model.cancelRun(RUNS[2].id);
    expect(seen.some(s => s.method === 'POST' && s.path === `run/${RUNS[2].id}/cancel`)).toBe(true);
    expect(model.activeRun?.id).toBe(RUNS[2].id); // followed until its runner stops

    await model.rerun(RUNS[0].id);
    const started = seen.find(s => s.method === 'POST' && s.path === 'run');
    expect(started?.body).toEqual({ pipeline: 'churn.pipeline', params: { n_estimators: 60 } });
    expect(model.activeRun?.id).toBe('new');

    const opened: string[] = [];
    await model.openRunFile(RUNS[0].id, 'load', path => opened.push(path));
    await model.openRunFile(RUNS[0].id, 'log', path => opened.push(path));
    await model.openRunFile(RUNS[0].id, 'nope', path => opened.push(path));
    expect(opened).toEqual(['mlprod-runs/x/steps/load.ipynb', 'mlprod-runs/x/driver.log']);
    expect(model.error).toContain('no notebook for step nope');
  });
});
