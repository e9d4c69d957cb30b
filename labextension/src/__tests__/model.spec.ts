import { MlprodAPI } from '../api';
import {
  coerceParameter,
  IDLE_POLL_MS,
  metricNames,
  metricSeries,
  PanelModel,
  RUN_POLL_MS,
  visibleRows,
} from '../model';
import { MlprodService } from '../service';
import { LINEAGE, PIPELINE, run, STALE } from './data';
import { fakeServer, Route } from './fakeServer';

/** Timers the test fires by hand: the model's polling without waiting. */
class ManualTimers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private _next = 1;
  set = (fn: () => void, ms: number): unknown => {
    const id = this._next++;
    this.pending.set(id, { fn, ms });
    return id;
  };
  clear = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };
  delays(): number[] {
    return [...this.pending.values()].map(t => t.ms);
  }
  async fireAll(): Promise<void> {
    const due = [...this.pending.entries()];
    this.pending.clear();
    due.forEach(([, t]) => t.fn());
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise(resolve => setImmediate(resolve));
  }
}

function notebookRoutes(extra: Record<string, Route> = {}): Record<string, Route> {
  return {
    'GET lineage': () => ({ body: LINEAGE }),
    'GET stale': () => ({ body: STALE }),
    'GET pipeline': () => ({ body: PIPELINE }),
    'GET runs': () => ({ body: { runs: [] } }),
    ...extra,
  };
}

function makeModel(routes: Record<string, Route>) {
  const server = fakeServer(routes);
  const timers = new ManualTimers();
  const model = new PanelModel(new MlprodService(server.settings), timers);
  return { model, timers, seen: server.seen };
}

describe('coerceParameter', () => {
  const p = (type: string): MlprodAPI.IParameter => ({ name: 'x', default: null, type });
  it.each([
    ['int', '15', 15],
    ['int', ' -3 ', -3],
    ['float', '0.3', 0.3],
    ['float', '1e-3', 0.001],
    ['str', ' a b ', ' a b '],
    ['bool', true, true],
    ['bool', 'False', false],
    ['list', '[1, 2]', '[1, 2]'],
  ] as [string, string | boolean, unknown][])('%s %p -> %p', (type, raw, expected) => {
    expect(coerceParameter(p(type), raw)).toEqual(expected);
  });

  it.each([
    ['int', '1.5', 'whole number'],
    ['int', '', 'whole number'],
    ['float', 'abc', 'must be a number'],
    ['float', '', 'must be a number'],
    ['bool', 'yes', 'true or false'],
  ])('%s %p is refused naming the parameter', (type, raw, message) => {
    expect(() => coerceParameter(p(type), raw)).toThrow(message);
    expect(() => coerceParameter(p(type), raw)).toThrow("'x'");
  });
});

describe('comparison helpers', () => {
  const rows: MlprodAPI.IRow[] = [
    { name: 'n_estimators', values: [60, 15], differs: true },
    { name: 'seed', values: [7, 7], differs: false },
  ];
  it('shows every row, or only those that differ', () => {
    expect(visibleRows(rows, false).map(r => r.name)).toEqual(['n_estimators', 'seed']);
    expect(visibleRows(rows, true).map(r => r.name)).toEqual(['n_estimators']);
  });

  it('charts a metric across runs oldest first, skipping runs without it', () => {
    const runs = [run('new', 30, { auc: 0.9 }), run('none', 20, {}), run('old', 10, { auc: 0.8, acc: 1 })];
    expect(metricNames(runs)).toEqual(['acc', 'auc']);
    expect(metricSeries(runs, 'auc')).toEqual([
      { id: 'old', value: 0.8 },
      { id: 'new', value: 0.9 },
    ]);
  });
});

describe('PanelModel', () => {
  it('loads lineage, stale cells and the pipeline outline of the notebook', async () => {
    const { model, seen } = makeModel(notebookRoutes());
    const marks = jest.fn();
    model.marksChanged.connect(marks);
    await model.setNotebook('churn.ipynb');
    expect(model.lineage).toEqual(LINEAGE);
    expect(model.stale.map(s => s.cell_id)).toEqual(['load']);
    expect(model.pipeline?.steps.map(s => s.name)).toEqual(['load', 'train']);
    expect(model.error).toBeNull();
    expect(marks).toHaveBeenCalled();
    expect(seen.filter(s => s.path === 'lineage')[0].query).toEqual({ path: 'churn.ipynb' });
    // runs are read from the notebook's store (a sub-project may have its own .mlprod)
    expect(seen.filter(s => s.path === 'runs')[0].query).toEqual({ path: 'churn.ipynb' });
    expect(model.cellOfExecution('s1:3')).toBe('train');
  });

  it("shows a schedule's last run in the Runs tab, selected with those already picked", async () => {
    const { model, seen } = makeModel(notebookRoutes());
    await model.setNotebook('churn.ipynb');
    model.toggleRun('r1');
    const asked = seen.filter(s => s.path === 'runs').length;
    model.showRun('r2');
    model.showRun('r2');
    expect(model.tab).toBe('runs');
    expect(model.selectedRuns).toEqual(['r1', 'r2']);
    await flush();
    expect(seen.filter(s => s.path === 'runs').length).toBeGreaterThan(asked); // fresh list
  });

  it('says why the lineage is empty when nothing was recorded yet', async () => {
    const { model } = makeModel(
      notebookRoutes({
        'GET lineage': () => ({ status: 404, body: { message: 'nothing recorded yet: %load_ext' } }),
        'GET stale': () => ({ status: 404, body: { message: 'nothing recorded yet: %load_ext' } }),
      })
    );
    // tracing on: the next run records it, no hint to load the tracer (the view says "run a cell")
    await model.setNotebook('new.ipynb');
    expect(model.lineage).toBeNull();
    expect(model.notice).toBeNull();
    expect(model.error).toBeNull();
    // tracing off: the server's words, hint included
    model.setTracing(false);
    await model.refreshNotebook();
    expect(model.notice).toBe('nothing recorded yet: %load_ext');
    expect(model.error).toBeNull();
  });

  it('shows a server error as an error', async () => {
    const { model } = makeModel(
      notebookRoutes({ 'GET lineage': () => ({ status: 403, body: { message: 'outside the root' } }) })
    );
    await model.setNotebook('../secret.ipynb');
    expect(model.error).toBe('outside the root');
  });

  it('keeps export problems by cell and remembers the exported pipeline', async () => {
    let ok = false;
    const { model } = makeModel(
      notebookRoutes({
        'POST export': seen =>
          ok
            ? { body: { ok: true, pipeline: 'churn.pipeline', steps: [{ name: 'load' }], errors: [] } }
            : {
                body: {
                  ok: false,
                  steps: [],
                  errors: [{ message: "uses 'X' that no step defines", cell_id: 'train', step: 'train' }],
                  check: seen.body.check,
                },
              },
      })
    );
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(true);
    expect(model.problemsByCell.get('train')?.[0].message).toContain("'X'");
    expect(model.pipelinePath).toBeNull();
    ok = true;
    await model.exportPipeline(false);
    expect(model.problemsByCell.size).toBe(0);
    expect(model.pipelinePath).toBe('churn.pipeline');
  });

  it('starts a run with typed parameters and polls it only while visible', async () => {
    let polls = 0;
    const { model, timers, seen } = makeModel(
      notebookRoutes({
        'POST export': () => ({ body: { ok: true, pipeline: 'churn.pipeline', steps: [], errors: [] } }),
        'POST run': () => ({ status: 202, body: { run_id: 'r1', status: 'running' } }),
        'GET run/*': () => {
          polls += 1;
          const done = polls >= 2;
          return {
            body: {
              id: 'r1',
              status: done ? 'ok' : 'running',
              steps: [{ name: 'load', status: done ? 'ok' : 'running', duration_ms: 3 }],
              progress: { done: done ? 2 : 1, total: 2, current: done ? null : 'train' },
            },
          };
        },
      })
    );
    model.setVisible(true);
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(false);
    await model.startRun({ n_estimators: '15', test_size: '0.3', data_path: 'data/x.csv', balanced: true });
    const posted = seen.find(s => s.path === 'run');
    expect(posted?.body).toEqual({
      pipeline: 'churn.pipeline',
      params: { n_estimators: 15, test_size: 0.3, data_path: 'data/x.csv', balanced: true },
    });
    expect(model.activeRun?.status).toBe('running');
    expect(timers.delays()).toEqual([RUN_POLL_MS]);

    await timers.fireAll();
    expect(model.activeRun?.progress.current).toBe('train');
    expect(timers.delays()).toEqual([RUN_POLL_MS]);

    const runsBefore = seen.filter(s => s.path === 'runs').length;
    await timers.fireAll();
    expect(model.activeRun?.status).toBe('ok');
    expect(seen.filter(s => s.path === 'runs').length).toBe(runsBefore + 1);
    // finished: back to the slow poll
    expect(timers.delays()).toEqual([IDLE_POLL_MS]);

    model.setVisible(false);
    expect(timers.pending.size).toBe(0);
  });

  it('refuses a bad parameter value before sending anything', async () => {
    const { model, seen } = makeModel(
      notebookRoutes({
        'POST export': () => ({ body: { ok: true, pipeline: 'churn.pipeline', steps: [], errors: [] } }),
      })
    );
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(false);
    await model.startRun({ n_estimators: 'many' });
    expect(model.error).toContain("'n_estimators' must be a whole number");
    expect(seen.some(s => s.path === 'run')).toBe(false);
  });

  it('does not poll while hidden, and catches up when shown', async () => {
    const { model, timers, seen } = makeModel(notebookRoutes());
    await model.setNotebook('churn.ipynb');
    expect(timers.pending.size).toBe(0);
    model.cellExecuted();
    expect(timers.pending.size).toBe(0);
    const before = seen.filter(s => s.path === 'lineage').length;
    model.setVisible(true);
    await flush();
    expect(seen.filter(s => s.path === 'lineage').length).toBe(before + 1);
    expect(timers.delays()).toEqual([IDLE_POLL_MS]);
  });

  it('asks for stale cells on the idle poll and redraws marks only on change', async () => {
    let stale = STALE;
    const { model, timers } = makeModel(notebookRoutes({ 'GET stale': () => ({ body: stale }) }));
    model.setVisible(true);
    await model.setNotebook('churn.ipynb');
    await flush();
    const marks = jest.fn();
    model.marksChanged.connect(marks);
    await timers.fireAll();
    expect(marks).not.toHaveBeenCalled();
    stale = { notebook: 'churn.ipynb', stale: [] };
    await timers.fireAll();
    expect(marks).toHaveBeenCalledTimes(1);
    expect(model.stale).toEqual([]);
    expect(timers.delays()).toEqual([IDLE_POLL_MS]);
  });

  it('refreshes once after a burst of executed cells', async () => {
    const { model, timers, seen } = makeModel(notebookRoutes());
    model.setVisible(true);
    await model.setNotebook('churn.ipynb');
    await flush();
    const before = seen.filter(s => s.path === 'lineage').length;
    model.cellExecuted();
    model.cellExecuted();
    model.cellExecuted();
    expect(timers.delays().filter(ms => ms !== IDLE_POLL_MS)).toHaveLength(1);
    const [debounce] = [...timers.pending.entries()].filter(([, t]) => t.ms !== IDLE_POLL_MS);
    timers.pending.delete(debounce[0]);
    debounce[1].fn();
    await flush();
    expect(seen.filter(s => s.path === 'lineage').length).toBe(before + 1);
  });

  it("lists only the runs exported from the current notebook", async () => {
    const mine = { ...run('mine', 10, {}), source_notebook: '/srv/root/churn.ipynb' };
    const other = { ...run('other', 20, {}), source_notebook: '/srv/root/other.ipynb' };
    const nested = { ...run('nested', 25, {}), source_notebook: '/srv/root/sub/churn.ipynb' };
    const unknown = run('unknown', 30, {}); // names no notebook; ran churn.pipeline
    const stray = { ...run('stray', 40, {}), pipeline: '/srv/root/elsewhere.pipeline' };
    const { model } = makeModel(
      notebookRoutes({
        'GET runs': () => ({ body: { runs: [stray, unknown, nested, other, mine] } })
      })
    );
    await model.setNotebook('churn.ipynb');
    expect(model.runs.map(r => r.id)).toEqual(['unknown', 'nested', 'mine']);
    await model.setNotebook('sub/churn.ipynb');
    expect(model.runs.map(r => r.id)).toEqual(['nested']);
    await model.setNotebook('other.ipynb');
    expect(model.runs.map(r => r.id)).toEqual(['other']);
  });

  it('switches the stale list between the Run All and the live view', async () => {
    const reason = { kind: 'name', detail: 'X re-bound by cell c3' };
    const live = {
      notebook: 'churn.ipynb',
      order: 'any',
      stale: [{ cell_id: 'c1', execution: 's:1', reasons: [reason] }],
    };
    const { model, seen } = makeModel(
      notebookRoutes({
        'GET stale': request =>
          request.query.order === 'any' ? { body: live } : { body: { ...STALE, stale: [] } },
      })
    );
    await model.setNotebook('churn.ipynb');
    expect(model.stale).toEqual([]);
    expect(seen.find(s => s.path === 'stale')?.query).toEqual({ path: 'churn.ipynb' });
    await model.setStaleOrder('any');
    expect(model.staleOrder).toBe('any');
    expect(model.stale.map(c => c.cell_id)).toEqual(['c1']);
    await model.refreshStale(); // the idle poll keeps the chosen view
    expect(seen.filter(s => s.path === 'stale').pop()?.query).toEqual({
      path: 'churn.ipynb',
      order: 'any',
    });
    expect(model.stale.map(c => c.cell_id)).toEqual(['c1']);
  });

  it('marks the cell a malformed-notebook refusal names', async () => {
    const { model } = makeModel(
      notebookRoutes({
        'POST export': () => ({
          status: 400,
          body: { message: "cell 2 (id c2): 'tags' must be a list of strings", cell_id: 'c2' },
        }),
      })
    );
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(true);
    expect(model.error).toBeNull();
    expect([...model.problemsByCell.keys()]).toEqual(['c2']);
    expect(model.exportResult?.ok).toBe(false);
  });

  it('shows nothing of the previous notebook after a switch', async () => {
    const failed = { ...run('bad', 10, {}), source_notebook: '/srv/root/a.ipynb', status: 'failed' };
    let answerExport: (value: unknown) => void = () => undefined;
    const { model } = makeModel(
      notebookRoutes({
        'GET runs': () => ({ body: { runs: [failed] } }),
        'POST run': () => ({ status: 202, body: { run_id: 'r1', status: 'running' } }),
        'GET run/r1': () => ({ body: { id: 'r1', status: 'running', steps: [], progress: { done: 0, total: 2, current: 'load' } } }),
        'POST export': () =>
          new Promise(resolve => {
            answerExport = resolve;
          }).then(() => ({ status: 422, body: { message: 'no code cell', cell_id: 'c1' } }))
      })
    );
    await model.setNotebook('a.ipynb');
    model.pipelinePath = 'a.pipeline';
    await model.startRun({});
    model.toggleRun('bad');
    expect(model.runs.map(r => r.id)).toEqual(['bad']);
    expect(model.activeRun?.id).toBe('r1');
    const exporting = model.exportPipeline(true);
    await model.setNotebook('b.ipynb'); // the user switches while the check is answered
    answerExport(null);
    await exporting;
    await flush();
    expect(model.runs).toEqual([]);
    expect(model.selectedRuns).toEqual([]);
    expect(model.activeRun).toBeNull();
    expect(model.exportResult).toBeNull();
    expect(model.error).toBeNull();
    expect(model.comparison).toBeNull();
    await model.setNotebook('a.ipynb'); // back: its own run is still followed
    expect(model.activeRun?.id).toBe('r1');
  });

  it('compares two or more selected runs', async () => {
    const comparison: MlprodAPI.ICompare = {
      runs: ['a', 'b'],
      params: [{ name: 'n_estimators', values: [60, 15], differs: true }],
      metrics: [{ name: 'auc', values: [0.9, 0.8], differs: true }],
      datasets: [],
      steps: [],
    };
    const { model, seen } = makeModel(
      notebookRoutes({
        'GET runs': () => ({ body: { runs: [run('b', 20, { auc: 0.8 }), run('a', 10, { auc: 0.9 })] } }),
        'GET compare': () => ({ body: comparison }),
      })
    );
    await model.setNotebook('churn.ipynb');
    expect(model.pipelinePath).toBe('churn.pipeline');
    expect(model.chartMetric).toBe('auc');
    model.toggleRun('a');
    await model.compareSelected();
    expect(model.error).toBe('select two or more runs to compare');
    expect(seen.some(s => s.path === 'compare')).toBe(false);
    model.toggleRun('b');
    await model.compareSelected();
    expect(seen.find(s => s.path === 'compare')?.query).toEqual({ runs: 'a,b' });
    expect(model.comparison).toEqual(comparison);
    model.toggleRun('a');
    expect(model.selectedRuns).toEqual(['b']);
  });
});
