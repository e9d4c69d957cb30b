import { MlprodAPI } from '../api';
import { buildGraph, IGraph, layoutGraph, selectGraph } from '../graph';
import { mergeLineage } from '../lineage';
import { LINEAGE_POLL_MS, PanelModel } from '../model';
import { MlprodService } from '../service';
import { execution } from './data';
import { fakeServer, Route } from './fakeServer';

/**
 * A notebook of `cells` cells run top to bottom, then again from the top, `runs`
 * executions in all: each cell uses the one above and the first (config).
 */
function longNotebook(cells: number, runs: number): MlprodAPI.ILineage {
  const lineage: MlprodAPI.ILineage = {
    notebook: 'long.ipynb',
    version: `v${runs}`,
    executions: [],
    datasets: [],
    edges: [],
    cells: {},
  };
  for (let n = 1; n <= runs; n++) {
    append(lineage, (n - 1) % cells, n);
  }
  return lineage;
}

function cellName(index: number): string {
  return `c${String(index).padStart(3, '0')}`;
}

/** One more execution of the cell `index`, as the server adds it (in place). */
function append(lineage: MlprodAPI.ILineage, index: number, n: number): MlprodAPI.IExecution {
  const cell = cellName(index);
  const ran = execution(`s1:${n}`, cell, n, { source: `v${index} = f(v${index - 1})` });
  lineage.executions.push(ran);
  if (index > 0) {
    const above = lineage.cells[cellName(index - 1)];
    lineage.edges.push({ source: above, target: ran.id, kind: 'name', label: `v${index - 1}` });
    lineage.edges.push({ source: lineage.cells[cellName(0)], target: ran.id, kind: 'name', label: 'config' });
  }
  lineage.cells[cell] = ran.id;
  lineage.version = `v${n}`;
  return ran;
}

/** The delta the server sends from `base` to `full` (full's parts beyond base's). */
function deltaOf(base: MlprodAPI.ILineage, full: MlprodAPI.ILineage): MlprodAPI.ILineageDelta {
  const cells: Record<string, string> = {};
  for (const [cell, latest] of Object.entries(full.cells)) {
    if (base.cells[cell] !== latest) {
      cells[cell] = latest;
    }
  }
  return {
    notebook: full.notebook,
    version: full.version as string,
    since: base.version as string,
    executions: full.executions.slice(base.executions.length),
    edges: full.edges.slice(base.edges.length),
    datasets: full.datasets.filter(
      d => JSON.stringify(d) !== JSON.stringify(base.datasets.find(b => b.path === d.path))
    ),
    cells,
    stale: full.executions.filter(e => e.stale).map(e => e.id),
  };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('mergeLineage', () => {
  const base = longNotebook(300, 1000);
  const full = clone(base);
  append(full, 7, 1001);
  append(full, 300 - 1, 1002);
  full.executions[3] = { ...full.executions[3], stale: true };
  full.datasets = [{ path: 'data.csv', versions: [{ sha256: 'a', size: 1, readers: ['s1:1001'], writers: [] }] }];

  it('gives the same lineage as a full load', () => {
    expect(mergeLineage(base, deltaOf(base, full))).toEqual(full);
  });

  it('keeps the objects of executions that did not change', () => {
    const merged = mergeLineage(base, deltaOf(base, full));
    expect(merged.executions[0]).toBe(base.executions[0]);
    expect(merged.executions[3]).not.toBe(base.executions[3]); // its stale flag changed
    expect(merged.executions.filter((e, i) => e !== base.executions[i])).toHaveLength(3);
  });

  it('replaces a changed dataset in place and appends new ones', () => {
    const withData = { ...base, datasets: [{ path: 'a.csv', versions: [] }, { path: 'b.csv', versions: [] }] };
    const later = {
      ...withData,
      version: 'v-next',
      datasets: [
        { path: 'a.csv', versions: [] },
        { path: 'b.csv', versions: [{ sha256: 'x', size: 1, readers: [], writers: [] }] },
        { path: 'c.csv', versions: [] },
      ],
    };
    expect(mergeLineage(withData, deltaOf(withData, later)).datasets).toEqual(later.datasets);
  });
});

describe('layoutGraph, incremental', () => {
  const base = longNotebook(300, 1000);
  const first = layoutGraph(buildGraph(base));

  function after(change: (lineage: MlprodAPI.ILineage) => void): { laid: IGraph; previous: IGraph } {
    const next = clone(base);
    change(next);
    return { laid: layoutGraph(buildGraph(next), first), previous: first };
  }

  it('places again only the node of a re-run cell and the edges it changed', () => {
    const { laid, previous } = after(lineage => append(lineage, 42, 1001));
    expect(laid.placed).toEqual({ nodes: 1, edges: 1 });
    const moved = laid.nodes.filter((node, i) => node !== previous.nodes[i]).map(n => n.id);
    expect(moved).toEqual(['cell:c042']);
    // the cell below used the run before: its edge is history now
    const kept = new Set(previous.edges);
    const redrawn = laid.edges.filter(edge => !kept.has(edge));
    expect(redrawn.map(e => [e.source, e.target, e.superseded])).toEqual([
      ['cell:c042', 'cell:c043', true],
    ]);
  });

  it('places only the new node when a new cell runs below the others', () => {
    const grown = longNotebook(301, 1000);
    const { laid } = { laid: layoutGraph(buildGraph(grown), layoutGraph(buildGraph(longNotebook(301, 999)))) };
    expect(laid.placed?.nodes).toBe(1);
    expect(laid.nodes[laid.nodes.length - 1].id).toBe('cell:c300');
  });

  it('places nothing when nothing changed', () => {
    expect(layoutGraph(buildGraph(clone(base)), first).placed).toEqual({ nodes: 0, edges: 0 });
  });

  it('fits a sidebar whatever the number of cells: one row each, as wide as a label', () => {
    expect(first.nodes).toHaveLength(300);
    expect(first.width).toBeLessThan(300);
    const ys = first.nodes.map(node => node.y);
    expect(new Set(ys).size).toBe(300);
    expect(first.nodes.map(n => n.ref)).toEqual([...Array(300).keys()].map(cellName));
  });

  it('follows the page order when the notebook gives it', () => {
    const order = [...Array(300).keys()].map(cellName).reverse();
    const laid = layoutGraph(buildGraph(base), null, order);
    expect(laid.nodes[0].ref).toBe('c299');
    expect(laid.nodes[299].ref).toBe('c000');
  });
});

describe('selectGraph', () => {
  const graph = buildGraph(longNotebook(30, 30));
  const refs = (query: Parameters<typeof selectGraph>[1]) =>
    selectGraph(graph, query).nodes.map(node => node.ref);

  it('finds cells by the words of their label or id', () => {
    expect(refs({ search: 'C012', scope: 'all', focus: null })).toEqual(['c012']);
    expect(refs({ search: '[13]', scope: 'all', focus: null })).toEqual(['c012']);
    expect(refs({ search: 'nothing like it', scope: 'all', focus: null })).toEqual([]);
  });

  it("keeps a cell's ancestors or its descendants", () => {
    expect(refs({ search: '', scope: 'ancestors', focus: 'c003' })).toEqual(['c000', 'c001', 'c002', 'c003']);
    expect(refs({ search: '', scope: 'descendants', focus: 'c027' })).toEqual(['c027', 'c028', 'c029']);
  });

  it('keeps stale cells, and edges only between kept nodes', () => {
    const marked = {
      ...graph,
      nodes: graph.nodes.map(node => (['c004', 'c005'].includes(node.ref) ? { ...node, stale: true } : node)),
    };
    const kept = selectGraph(marked, { search: '', scope: 'stale', focus: null });
    expect(kept.nodes.map(node => node.ref)).toEqual(['c004', 'c005']);
    expect(kept.edges.map(edge => `${edge.source}->${edge.target}`)).toEqual(['cell:c004->cell:c005']);
  });
});

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
  async fire(ms: number): Promise<void> {
    const due = [...this.pending.entries()].filter(([, t]) => t.ms === ms);
    due.forEach(([id]) => this.pending.delete(id));
    due.forEach(([, t]) => t.fn());
    for (let i = 0; i < 20; i++) {
      await new Promise(resolve => setImmediate(resolve));
    }
  }
}

describe('PanelModel lineage polling', () => {
  it('asks for changes since its version: unchanged is a 304, a delta is merged', async () => {
    const base = longNotebook(300, 1000);
    let current = base;
    const lineage: Route = seen => {
      if (!seen.query.since) {
        return { body: current };
      }
      if (seen.ifNoneMatch === `"${current.version}"`) {
        return { status: 304, body: null };
      }
      return { body: deltaOf(base, current) };
    };
    const server = fakeServer({
      'GET lineage': lineage,
      'GET stale': () => ({ body: { notebook: 'long.ipynb', stale: [] } }),
      'GET pipeline': () => ({ body: { notebook: 'long.ipynb', steps: [], cells: {}, parameters: [] } }),
      'GET runs': () => ({ body: { runs: [] } }),
    });
    const timers = new ManualTimers();
    const model = new PanelModel(new MlprodService(server.settings), timers);
    model.setVisible(true);
    await model.setNotebook('long.ipynb');
    for (let i = 0; i < 20; i++) {
      await new Promise(resolve => setImmediate(resolve));
    }
    const shown = model.lineage;
    expect(shown?.version).toBe('v1000');
    const changed = jest.fn();
    model.changed.connect(changed);

    await timers.fire(LINEAGE_POLL_MS);
    const asked = server.seen.filter(s => s.path === 'lineage').pop();
    expect(asked?.query.since).toBe('v1000');
    expect(model.lineage).toBe(shown); // 304: nothing to redraw
    expect(changed).not.toHaveBeenCalled();

    current = clone(base);
    append(current, 5, 1001);
    await timers.fire(LINEAGE_POLL_MS);
    expect(model.lineage).toEqual(current);
    expect(model.lineage?.executions[0]).toBe(shown?.executions[0]);
    expect(changed).toHaveBeenCalled();
    expect([...timers.pending.values()].some(t => t.ms === LINEAGE_POLL_MS)).toBe(true);

    model.setVisible(false);
    expect([...timers.pending.values()].some(t => t.ms === LINEAGE_POLL_MS)).toBe(false);
  });
});
