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
  /** how many nodes and edges this layout placed anew (the others were kept as they were) */
  placed?: { nodes: number; edges: number };
}

const CHAR_WIDTH = 6.6;
export const NODE_HEIGHT = 24;
/** a row per node: its height and the gap below it */
export const ROW_HEIGHT = NODE_HEIGHT + 8;
/** the strip left of the nodes where edges arc from row to row */
export const GUTTER = 44;

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

/**
 * The rows of the graph, top to bottom: cells in page order (`order`, cell ids),
 * else in the order they first ran; a dataset under the first cell writing it,
 * else above the first cell reading it.
 */
export function rowOrder(
  graph: Pick<IGraph, 'nodes' | 'edges'>,
  order: readonly string[] = []
): IGraphNode[] {
  const onPage = new Map(order.map((cellId, index) => [cellNodeId(cellId), index] as const));
  const cells = graph.nodes
    .map((node, index) => ({ node, index }))
    .filter(({ node }) => node.kind === 'cell')
    .sort((a, b) => {
      const pa = onPage.get(a.node.id) ?? Infinity;
      const pb = onPage.get(b.node.id) ?? Infinity;
      return pa === pb ? a.index - b.index : pa - pb;
    })
    .map(({ node }) => node);
  const row = new Map(cells.map((node, index) => [node.id, index] as const));
  const before = new Map<number, IGraphNode[]>();
  const after = new Map<number, IGraphNode[]>();
  const loose: IGraphNode[] = [];
  for (const node of graph.nodes) {
    if (node.kind !== 'dataset') {
      continue;
    }
    let writer = Infinity;
    let reader = Infinity;
    for (const edge of graph.edges) {
      if (edge.target === node.id) {
        writer = Math.min(writer, row.get(edge.source) ?? Infinity);
      } else if (edge.source === node.id) {
        reader = Math.min(reader, row.get(edge.target) ?? Infinity);
      }
    }
    const [at, side] = writer < Infinity ? [writer, after] : [reader, before];
    if (at === Infinity) {
      loose.push(node);
    } else {
      side.set(at, [...(side.get(at) ?? []), node]);
    }
  }
  return [
    ...cells.flatMap((node, index) => [
      ...(before.get(index) ?? []),
      node,
      ...(after.get(index) ?? []),
    ]),
    ...loose,
  ];
}

function sameNode(a: IGraphNode, b: IGraphNode): boolean {
  return (
    a.id === b.id &&
    a.label === b.label &&
    a.ref === b.ref &&
    a.stale === b.stale &&
    a.failed === b.failed &&
    !!a.earlier === !!b.earlier &&
    a.x === b.x &&
    a.y === b.y &&
    a.width === b.width
  );
}

function sameEdge(a: IGraphEdge, b: IGraphEdge): boolean {
  return (
    a.label === b.label &&
    a.kind === b.kind &&
    !!a.superseded === !!b.superseded &&
    a.points.length === b.points.length &&
    a.points.every((p, i) => p.x === b.points[i].x && p.y === b.points[i].y)
  );
}

/** The curve of an edge in the gutter: further out the more rows it spans. */
function arc(from: number, to: number): { x: number; y: number }[] {
  const rows = Math.abs(to - from) / ROW_HEIGHT;
  const bulge = Math.min(GUTTER - 4, 8 + 4 * Math.sqrt(rows));
  return [
    { x: GUTTER, y: from },
    { x: GUTTER - bulge, y: from },
    { x: GUTTER - bulge, y: to },
    { x: GUTTER, y: to },
  ];
}

/**
 * Positions: one row per node (see `rowOrder`), edges as arcs in a gutter on the
 * left, so the graph is as wide as its longest label whatever its length, and a
 * node's place depends only on the rows above it. Linear in nodes and edges.
 *
 * Given the `previous` layout, a node or edge that comes out the same keeps its
 * previous object: views redraw only what changed (`placed` counts the rest).
 */
export function layoutGraph(
  graph: Pick<IGraph, 'nodes' | 'edges'>,
  previous: IGraph | null = null,
  order: readonly string[] = []
): IGraph {
  const before = new Map((previous?.nodes ?? []).map(node => [node.id, node] as const));
  let placedNodes = 0;
  const nodes = rowOrder(graph, order).map((node, index) => {
    const x = GUTTER + node.width / 2;
    const y = index * ROW_HEIGHT + NODE_HEIGHT / 2 + 8;
    const placed = node.x === x && node.y === y ? node : { ...node, x, y };
    const kept = before.get(node.id);
    if (kept && sameNode(kept, placed)) {
      return kept;
    }
    placedNodes += 1;
    return placed;
  });
  const at = new Map(nodes.map(node => [node.id, node.y] as const));
  const edgesBefore = new Map(
    (previous?.edges ?? []).map(edge => [`${edge.source}->${edge.target}`, edge] as const)
  );
  let placedEdges = 0;
  const edges = graph.edges.map(edge => {
    const placed = { ...edge, points: arc(at.get(edge.source) ?? 0, at.get(edge.target) ?? 0) };
    const kept = edgesBefore.get(`${edge.source}->${edge.target}`);
    if (kept && sameEdge(kept, placed)) {
      return kept;
    }
    placedEdges += 1;
    return placed;
  });
  const width = GUTTER + Math.max(0, ...nodes.map(node => node.width)) + 8;
  const height = nodes.length * ROW_HEIGHT + 16;
  return { nodes, edges, width, height, placed: { nodes: placedNodes, edges: placedEdges } };
}

/** What the graph shows: every node, a cell's ancestors or descendants, or stale cells. */
export type GraphScope = 'all' | 'ancestors' | 'descendants' | 'stale';

export interface IGraphQuery {
  /** words a node's label or ref must contain (case does not matter) */
  search: string;
  scope: GraphScope;
  /** the cell the ancestors and descendants are of (a cell id) */
  focus: string | null;
}

/** Every node reachable from `start` following edges forwards (or backwards). */
export function reachable(
  edges: readonly IGraphEdge[],
  start: string,
  backwards: boolean
): Set<string> {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    const [from, to] = backwards ? [edge.target, edge.source] : [edge.source, edge.target];
    const known = next.get(from);
    if (known) {
      known.push(to);
    } else {
      next.set(from, [to]);
    }
  }
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    for (const to of next.get(queue.pop() as string) ?? []) {
      if (!seen.has(to)) {
        seen.add(to);
        queue.push(to);
      }
    }
  }
  return seen;
}

/** The nodes (and edges between them) that a search and a scope keep. */
export function selectGraph(
  graph: Pick<IGraph, 'nodes' | 'edges'>,
  query: IGraphQuery
): Pick<IGraph, 'nodes' | 'edges'> {
  const words = query.search.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0 && query.scope === 'all') {
    return graph;
  }
  let scope: (node: IGraphNode) => boolean = () => true;
  if (query.scope === 'stale') {
    scope = node => node.stale;
  } else if (query.scope !== 'all' && query.focus) {
    const current = graph.edges.filter(edge => !edge.superseded);
    const kin = reachable(current, cellNodeId(query.focus), query.scope === 'ancestors');
    scope = node => kin.has(node.id);
  }
  const matches = (node: IGraphNode) => {
    const text = `${node.label} ${node.ref}`.toLowerCase();
    return words.every(word => text.includes(word));
  };
  const nodes = graph.nodes.filter(node => scope(node) && matches(node));
  const kept = new Set(nodes.map(node => node.id));
  const edges = graph.edges.filter(edge => kept.has(edge.source) && kept.has(edge.target));
  return { nodes, edges };
}
