import dagre from '@dagrejs/dagre';

import { MlprodAPI } from './api';
import { cellLabel } from './format';

/** A node of the lineage graph: a notebook cell (its latest execution) or a dataset. */
export interface IGraphNode {
  id: string;
  kind: 'cell' | 'dataset';
  label: string;
  /** the cell id (cells) or the file path (datasets) */
  ref: string;
  stale: boolean;
  failed: boolean;
  /** its latest execution ran in an earlier kernel session than the newest one */
  earlier?: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IGraphEdge {
  source: string;
  target: string;
  kind: 'name' | 'file';
  label: string;
  /** the value came from an execution its cell has re-run since: history, not current */
  superseded?: boolean;
  points: { x: number; y: number }[];
}

export interface IGraph {
  nodes: IGraphNode[];
  edges: IGraphEdge[];
  width: number;
  height: number;
}

const CHAR_WIDTH = 6.6;
const NODE_HEIGHT = 24;

export function cellNodeId(cellId: string): string {
  return `cell:${cellId}`;
}

export function datasetNodeId(path: string): string {
  return `dataset:${path}`;
}

export function shortHash(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '?';
}

export function baseName(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] || path;
}

/**
 * The graph of a notebook's lineage: one node per cell (its executions folded
 * together), one per dataset, edges for names and files, merged per pair.
 */
export function buildGraph(lineage: MlprodAPI.ILineage): Omit<IGraph, 'width' | 'height'> {
  const cellOf = new Map<string, string>();
  for (const execution of lineage.executions) {
    if (execution.cell_id) {
      cellOf.set(execution.id, execution.cell_id);
    }
  }
  const latest = new Map(
    lineage.executions.map(execution => [execution.id, execution] as const)
  );
  // a re-run's record may omit the source its first execution carried
  const sourceOf = new Map<string, string>();
  for (const execution of lineage.executions) {
    if (execution.cell_id && execution.source) {
      sourceOf.set(execution.cell_id, execution.source);
    }
  }
  const current = new Set(Object.values(lineage.cells));
  const newest = lineage.executions.reduce<MlprodAPI.IExecution | null>(
    (found, e) => (found === null || e.started > found.started ? e : found),
    null
  );
  const nodes = new Map<string, IGraphNode>();
  for (const [cellId, executionId] of Object.entries(lineage.cells)) {
    const execution = latest.get(executionId);
    const count = execution?.execution_count;
    const label = cellLabel(cellId, count, execution?.source ?? sourceOf.get(cellId));
    nodes.set(cellNodeId(cellId), {
      ...box(label),
      id: cellNodeId(cellId),
      kind: 'cell',
      label,
      ref: cellId,
      stale: execution?.stale ?? false,
      failed: execution?.status === 'error' || execution?.status === 'failed',
      earlier: !!execution && !!newest && execution.session !== newest.session,
    });
  }
  const edges = new Map<string, IGraphEdge>();
  const link = (
    source: string,
    target: string,
    kind: 'name' | 'file',
    label: string,
    superseded = false
  ) => {
    if (source === target || !nodes.has(source) || !nodes.has(target)) {
      return;
    }
    const key = `${source}->${target}`;
    const known = edges.get(key);
    if (known) {
      if (!known.label.split(', ').includes(label)) {
        known.label = `${known.label}, ${label}`;
      }
      known.superseded = known.superseded && superseded; // current if any part is
      return;
    }
    edges.set(key, { source, target, kind, label, superseded, points: [] });
  };
  const nodeOf = (ref: string): string | null => {
    if (ref.startsWith('dataset:')) {
      return ref;
    }
    const cell = cellOf.get(ref);
    return cell ? cellNodeId(cell) : null;
  };
  for (const dataset of lineage.datasets) {
    const versions = dataset.versions;
    const last = versions[versions.length - 1];
    const label = `${baseName(dataset.path)} @${shortHash(last?.sha256)}${
      versions.length > 1 ? ` (v${versions.length})` : ''
    }`;
    nodes.set(datasetNodeId(dataset.path), {
      ...box(label),
      id: datasetNodeId(dataset.path),
      kind: 'dataset',
      label,
      ref: dataset.path,
      stale: false,
      failed: false,
    });
  }
  for (const dataset of lineage.datasets) {
    const id = datasetNodeId(dataset.path);
    for (const version of dataset.versions) {
      for (const writer of version.writers) {
        const source = nodeOf(writer);
        if (source) {
          link(source, id, 'file', 'writes', !current.has(writer));
        }
      }
      for (const reader of version.readers) {
        const target = nodeOf(reader);
        if (target && current.has(reader)) {
          link(id, target, 'file', 'reads'); // what earlier executions read is history
        }
      }
    }
  }
  for (const edge of lineage.edges) {
    if (!current.has(edge.target)) {
      continue; // what a cell used before it re-ran is history
    }
    const source = nodeOf(edge.source);
    const target = nodeOf(edge.target);
    // file links between two cells already pass through their dataset node
    if (source && target && (edge.kind === 'name' || source.startsWith('dataset:') || target.startsWith('dataset:'))) {
      const superseded = !edge.source.startsWith('dataset:') && !current.has(edge.source);
      link(source, target, edge.kind, edge.label, superseded);
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

/** The graph with each cell node marked stale as the stale list says (same layout). */
export function markStale(
  graph: IGraph,
  lineage: MlprodAPI.ILineage,
  stale: MlprodAPI.IStaleCell[]
): IGraph {
  const executions = new Set(stale.map(cell => cell.execution));
  const nodes = graph.nodes.map(node => {
    if (node.kind !== 'cell') {
      return node;
    }
    const isStale = executions.has(lineage.cells[node.ref]);
    return isStale === node.stale ? node : { ...node, stale: isStale };
  });
  return { ...graph, nodes };
}

function box(label: string): Pick<IGraphNode, 'x' | 'y' | 'width' | 'height'> {
  return { x: 0, y: 0, width: Math.ceil(label.length * CHAR_WIDTH) + 16, height: NODE_HEIGHT };
}

/** Positions from a top-to-bottom DAG layout (dagre). */
export function layoutGraph(graph: Omit<IGraph, 'width' | 'height'>): IGraph {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 14, ranksep: 34, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    g.setNode(node.id, { width: node.width, height: node.height });
  }
  for (const edge of graph.edges) {
    g.setEdge(edge.source, edge.target);
  }
  dagre.layout(g);
  const nodes = graph.nodes.map(node => {
    const placed = g.node(node.id);
    return { ...node, x: placed.x, y: placed.y };
  });
  const edges = graph.edges.map(edge => ({
    ...edge,
    points: (g.edge(edge.source, edge.target)?.points ?? []).map(p => ({ x: p.x, y: p.y })),
  }));
  const size = g.graph();
  return { nodes, edges, width: size.width ?? 0, height: size.height ?? 0 };
}
