import { MlprodAPI } from '../api';
import { buildGraph, layoutGraph, markStale } from '../graph';
import { execution, LINEAGE } from './data';

describe('buildGraph', () => {
  const graph = buildGraph(LINEAGE);
  const ids = graph.nodes.map(n => n.id).sort();
  const edges = graph.edges.map(e => `${e.source} -> ${e.target} [${e.label}]`).sort();

  it('has one node per cell and per dataset', () => {
    expect(ids).toEqual([
      'cell:clean',
      'cell:load',
      'cell:train',
      'dataset:build/clean.parquet',
      'dataset:data/customers.csv',
    ]);
  });

  it('labels cells with their latest count and datasets with their version', () => {
    const label = (id: string) => graph.nodes.find(n => n.id === id)?.label;
    expect(label('cell:train')).toBe('[4] train');
    expect(label('dataset:data/customers.csv')).toBe('customers.csv @bbbbbbb (v2)');
    expect(graph.nodes.find(n => n.id === 'cell:train')?.stale).toBe(true);
  });

  it('folds executions of one cell together and merges edge labels', () => {
    expect(edges).toEqual([
      'cell:clean -> cell:train [clean, features]',
      'cell:clean -> dataset:build/clean.parquet [writes]',
      'cell:load -> cell:clean [raw]',
      'dataset:data/customers.csv -> cell:load [reads]',
    ]);
  });
});

describe('layoutGraph', () => {
  it('lays a chain of 60 cells out top to bottom without overlaps', () => {
    const executions: MlprodAPI.IExecution[] = [];
    const edges: MlprodAPI.IEdge[] = [];
    const cells: Record<string, string> = {};
    for (let i = 1; i <= 60; i++) {
      executions.push(execution(`s:${i}`, `c${i}`, i));
      cells[`c${i}`] = `s:${i}`;
      if (i > 1) {
        edges.push({ source: `s:${i - 1}`, target: `s:${i}`, kind: 'name', label: `v${i}` });
      }
      if (i % 10 === 0) {
        edges.push({ source: `s:1`, target: `s:${i}`, kind: 'name', label: 'config' });
      }
    }
    const laid = layoutGraph(
      buildGraph({ notebook: 'big.ipynb', executions, datasets: [], edges, cells })
    );
    expect(laid.nodes).toHaveLength(60);
    const y = (id: string) => laid.nodes.find(n => n.id === id)!.y;
    for (let i = 2; i <= 60; i++) {
      expect(y(`cell:c${i}`)).toBeGreaterThan(y(`cell:c${i - 1}`));
    }
    for (const a of laid.nodes) {
      for (const b of laid.nodes) {
        if (a !== b) {
          const apart =
            Math.abs(a.x - b.x) >= (a.width + b.width) / 2 ||
            Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
          expect(apart).toBe(true);
        }
      }
    }
    expect(laid.edges.every(e => e.points.length >= 2)).toBe(true);
    expect(laid.width).toBeGreaterThan(0);
    expect(laid.height).toBeGreaterThan(60 * 24);
  });
});

describe('buildGraph over history', () => {
  const history: MlprodAPI.ILineage = {
    notebook: 'n.ipynb',
    executions: [
      execution('s1:1', 'params', 1),
      execution('s1:2', 'load', 2),
      execution('s1:3', 'fit', 3),
      execution('s2:1', 'params', 1, { started: 1_700_000_100 }), // a new kernel: params only
    ],
    datasets: [],
    edges: [
      { source: 's1:1', target: 's1:2', kind: 'name', label: 'path' },
      { source: 's1:2', target: 's1:3', kind: 'name', label: 'df' },
    ],
    cells: { params: 's2:1', load: 's1:2', fit: 's1:3' },
  };
  const graph = buildGraph(history);
  const edge = (source: string) => graph.edges.find(e => e.source === `cell:${source}`);

  it('marks edges from a superseded execution and cells of an earlier kernel', () => {
    expect(edge('params')?.superseded).toBe(true);
    expect(edge('load')?.superseded).toBe(false);
    const earlier = graph.nodes.filter(n => n.earlier).map(n => n.id).sort();
    expect(earlier).toEqual(['cell:fit', 'cell:load']);
  });

  it('draws no edge into an execution its cell has re-run since', () => {
    const rerun = { ...history, cells: { ...history.cells, fit: 's2:2' } };
    const fitAgain = execution('s2:2', 'fit', 2, { started: 1_700_000_200 });
    rerun.executions = [...history.executions, fitAgain];
    expect(buildGraph(rerun).edges.map(e => e.source)).toEqual(['cell:params']);
  });
});

describe('markStale', () => {
  it('marks cells as the stale list says without laying the graph out again', () => {
    const laidOut = layoutGraph(buildGraph(LINEAGE));
    const marked = markStale(laidOut, LINEAGE, [
      { cell_id: 'load', execution: 's1:1', reasons: [] },
    ]);
    const staleNodes = marked.nodes.filter(n => n.stale).map(n => n.id);
    expect(staleNodes).toEqual(['cell:load']); // train's lineage flag is dropped too
    const at = (g: typeof laidOut) => g.nodes.map(n => [n.id, n.x, n.y]);
    expect(at(marked)).toEqual(at(laidOut));
  });
});
