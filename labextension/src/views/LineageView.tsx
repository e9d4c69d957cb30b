import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { MlprodAPI } from '../api';
import { formatSize, relativePath } from '../format';
import {
  cellNodeId,
  GraphScope,
  GUTTER,
  IGraph,
  IGraphEdge,
  IGraphNode,
  layoutGraph,
  selectGraph,
  shortHash,
} from '../graph';

export interface ILineageViewProps {
  graph: IGraph | null;
  /** the notebook's active cell (its node is highlighted; ancestors/descendants are its) */
  activeCell: string | null;
  dataset: MlprodAPI.IDataset | null;
  labelOf: (executionId: string) => string;
  onCell: (cellId: string) => void;
  onDataset: (path: string | null) => void;
  notice: string | null;
  /** the server's root folder, to show paths relative to it */
  root: string;
}

const ZOOMS = [0.4, 0.55, 0.7, 0.85, 1, 1.2, 1.45];
const DEFAULT_ZOOM = ZOOMS.indexOf(1);
/** rows drawn above and below the visible part, in pixels */
const OVERSCAN = 360;
const SCOPES: { id: GraphScope; label: string }[] = [
  { id: 'all', label: 'all cells' },
  { id: 'ancestors', label: 'ancestors of the active cell' },
  { id: 'descendants', label: 'descendants of the active cell' },
  { id: 'stale', label: 'stale cells' },
];

/**
 * The lineage as rows (cells and datasets) with edges arcing in a gutter on the left:
 * as wide as the sidebar at any length. Only the rows in view are drawn; search,
 * scope, zoom (buttons, ctrl+wheel) and pan (scroll, drag) change what is in view.
 */
export function LineageView(props: ILineageViewProps): JSX.Element {
  const { graph, activeCell } = props;
  const [search, setSearch] = useState('');
  const [scope, setScope] = useState<GraphScope>('all');
  const [zoomStep, setZoomStep] = useState(DEFAULT_ZOOM);
  const [view, setView] = useState({ top: 0, height: 0 });
  const scroller = useRef<HTMLDivElement | null>(null);
  const laidOut = useRef<IGraph | null>(null);
  const zoom = ZOOMS[zoomStep];
  const focus = scope === 'ancestors' || scope === 'descendants' ? activeCell : null;

  const shown = useMemo(() => {
    if (!graph) {
      return null;
    }
    const selected = selectGraph(graph, { search, scope, focus });
    return selected === graph ? graph : layoutGraph(selected, laidOut.current);
  }, [graph, search, scope, focus]);
  laidOut.current = shown;

  const measure = useCallback(() => {
    const element = scroller.current;
    if (element) {
      const next = { top: element.scrollTop, height: element.clientHeight };
      setView(seen => (seen.top === next.top && seen.height === next.height ? seen : next));
    }
  }, []);
  useEffect(() => {
    const element = scroller.current;
    if (!element) {
      return;
    }
    let frame = 0;
    const onScroll = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(measure);
    };
    const onWheel = (event: WheelEvent) => {
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        setZoomStep(step => clampZoom(step + (event.deltaY < 0 ? 1 : -1)));
      }
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    element.addEventListener('wheel', onWheel, { passive: false });
    const resized = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(measure);
    resized?.observe(element);
    measure();
    return () => {
      cancelAnimationFrame(frame);
      element.removeEventListener('scroll', onScroll);
      element.removeEventListener('wheel', onWheel);
      resized?.disconnect();
    };
  }, [measure, !!graph && graph.nodes.length > 0]);

  // when the active cell, the search or the scope change: the active cell's node into
  // view, else (not shown) the top of what is shown
  const centred = useRef<string | null>(null);
  useEffect(() => {
    const element = scroller.current;
    const moment = `${activeCell}\n${search}\n${scope}`;
    if (!element || !shown || centred.current === moment) {
      return;
    }
    centred.current = moment;
    const node = shown.nodes.find(n => n.kind === 'cell' && n.ref === activeCell);
    if (!node) {
      element.scrollTop = 0;
      return;
    }
    const y = node.y * zoom;
    if (y < element.scrollTop || y > element.scrollTop + element.clientHeight) {
      element.scrollTop = Math.max(0, y - element.clientHeight / 2);
    }
  }, [activeCell, search, scope, shown, zoom]);

  const pick = useRef(props);
  pick.current = props;
  const onPick = useCallback((node: IGraphNode) => {
    const { onCell, onDataset } = pick.current;
    return node.kind === 'cell' ? onCell(node.ref) : onDataset(node.ref);
  }, []);
  const pan = usePan(scroller);

  if (!graph || graph.nodes.length === 0 || !shown) {
    return (
      <div className="mlprod-Empty">
        {props.notice ?? 'No executions recorded for this notebook yet: run a cell.'}
      </div>
    );
  }
  const height = view.height || 1200;
  const top = (view.top - OVERSCAN) / zoom;
  const bottom = (view.top + height + OVERSCAN) / zoom;
  const activeId = activeCell ? cellNodeId(activeCell) : null;
  const nodes = shown.nodes.filter(n => n.y + n.height / 2 >= top && n.y - n.height / 2 <= bottom);
  const edges = shown.edges.filter(e => {
    const [a, b] = [e.points[0]?.y ?? 0, e.points[e.points.length - 1]?.y ?? 0];
    return Math.max(a, b) >= top && Math.min(a, b) <= bottom;
  });
  return (
    <div className="mlprod-Lineage">
      <div className="mlprod-GraphTools">
        <input
          className="mlprod-GraphSearch"
          type="search"
          placeholder="search cells and files"
          aria-label="search the lineage"
          value={search}
          onChange={event => setSearch(event.currentTarget.value)}
        />
        <select
          className="mlprod-GraphScope"
          aria-label="show"
          value={scope}
          onChange={event => setScope(event.currentTarget.value as GraphScope)}
        >
          {SCOPES.map(option => (
            <option
              key={option.id}
              value={option.id}
              disabled={(option.id === 'ancestors' || option.id === 'descendants') && !activeCell}
            >
              {option.label}
            </option>
          ))}
        </select>
        <span className="mlprod-GraphZoom">
          <button
            className="mlprod-Link mlprod-ZoomOut"
            title="zoom out (ctrl+wheel)"
            disabled={zoomStep === 0}
            onClick={() => setZoomStep(step => clampZoom(step - 1))}
          >
            −
          </button>
          <button
            className="mlprod-Link mlprod-ZoomReset"
            title="actual size"
            onClick={() => setZoomStep(DEFAULT_ZOOM)}
          >
            {Math.round(zoom * 100)}%
          </button>
          <button
            className="mlprod-Link mlprod-ZoomIn"
            title="zoom in (ctrl+wheel)"
            disabled={zoomStep === ZOOMS.length - 1}
            onClick={() => setZoomStep(step => clampZoom(step + 1))}
          >
            +
          </button>
        </span>
        {shown !== graph && (
          <span className="mlprod-GraphCount">
            {shown.nodes.length} of {graph.nodes.length}
          </span>
        )}
      </div>
      <div
        className="mlprod-Graph"
        ref={scroller}
        role="group"
        aria-label="lineage graph"
        data-nodes={shown.nodes.length}
        {...pan}
      >
        {shown.nodes.length === 0 && <div className="mlprod-Empty">Nothing matches.</div>}
        <div className="mlprod-GraphCanvas" style={{ height: shown.height * zoom }}>
          <svg
            className={`mlprod-GraphEdges${
              activeId && shown.nodes.some(n => n.id === activeId) ? ' mlprod-mod-focus' : ''
            }`}
            style={{ width: (GUTTER + 2) * zoom, height: shown.height * zoom }}
            viewBox={`0 0 ${GUTTER + 2} ${shown.height}`}
            aria-hidden="true"
          >
            <defs>
              <marker
                id="mlprod-arrow"
                viewBox="0 0 10 10"
                refX="9"
                refY="5"
                markerWidth="5"
                markerHeight="5"
                orient="auto-start-reverse"
              >
                <path d="M 0 0 L 10 5 L 0 10 z" className="mlprod-ArrowHead" />
              </marker>
            </defs>
            {edges.map(edge => (
              <EdgePath
                key={`${edge.source}->${edge.target}`}
                edge={edge}
                active={edge.source === activeId || edge.target === activeId}
              />
            ))}
          </svg>
          {nodes.map(node => (
            <NodeRow
              key={node.id}
              node={node}
              zoom={zoom}
              active={node.id === activeId}
              onPick={onPick}
            />
          ))}
        </div>
      </div>
      {props.dataset && (
        <DatasetDetails
          dataset={props.dataset}
          root={props.root}
          labelOf={props.labelOf}
          onClose={() => props.onDataset(null)}
        />
      )}
    </div>
  );
}

function clampZoom(step: number): number {
  return Math.max(0, Math.min(ZOOMS.length - 1, step));
}

/** Drag the background to pan (rows keep their clicks). */
function usePan(scroller: React.RefObject<HTMLDivElement | null>): {
  onMouseDown: (event: React.MouseEvent) => void;
} {
  const onMouseDown = useCallback(
    (event: React.MouseEvent) => {
      const element = scroller.current;
      if (!element || event.button !== 0 || (event.target as Element).closest('.mlprod-Node')) {
        return;
      }
      const start = { x: event.clientX, y: event.clientY };
      const from = { left: element.scrollLeft, top: element.scrollTop };
      const move = (e: MouseEvent) => {
        element.scrollLeft = from.left - (e.clientX - start.x);
        element.scrollTop = from.top - (e.clientY - start.y);
      };
      const up = () => {
        window.removeEventListener('mousemove', move);
        window.removeEventListener('mouseup', up);
      };
      window.addEventListener('mousemove', move);
      window.addEventListener('mouseup', up);
    },
    [scroller]
  );
  return { onMouseDown };
}

/** One edge; redrawn only when its own object changes (the layout keeps unchanged ones). */
const EdgePath = React.memo(function EdgePath(props: {
  edge: IGraphEdge;
  active: boolean;
}): JSX.Element {
  const { edge } = props;
  const [a, b, c, d] = edge.points;
  return (
    <path
      className={`mlprod-Edge mlprod-Edge-${edge.kind}${
        edge.superseded ? ' mlprod-Edge-superseded' : ''
      }${props.active ? ' mlprod-Edge-active' : ''}`}
      d={`M ${a.x} ${a.y} C ${b.x} ${b.y} ${c.x} ${c.y} ${d.x} ${d.y}`}
      markerEnd="url(#mlprod-arrow)"
    >
      <title>
        {edge.superseded ? `${edge.label} (from an earlier run of the cell)` : edge.label}
      </title>
    </path>
  );
});

/** One node as a row; redrawn only when its own object, the zoom or the highlight change. */
const NodeRow = React.memo(function NodeRow(props: {
  node: IGraphNode;
  zoom: number;
  active: boolean;
  onPick: (node: IGraphNode) => void;
}): JSX.Element {
  const { node, zoom, onPick } = props;
  return (
    <div
      className={[
        'mlprod-Node',
        `mlprod-Node-${node.kind}`,
        node.stale ? 'mlprod-Node-stale' : '',
        node.failed ? 'mlprod-Node-failed' : '',
        node.earlier ? 'mlprod-Node-earlier' : '',
        props.active ? 'mlprod-Node-active' : '',
      ].join(' ')}
      data-node-id={node.id}
      data-ref={node.ref}
      style={{
        top: (node.y - node.height / 2) * zoom,
        left: GUTTER * zoom,
        height: node.height * zoom,
        lineHeight: `${node.height * zoom - 2}px`,
        fontSize: `${11 * zoom}px`,
      }}
      title={
        node.kind === 'cell'
          ? `${node.label}: cell ${node.ref}${
              node.earlier ? ' (last ran in an earlier kernel session)' : ''
            }`
          : node.ref
      }
      role="button"
      tabIndex={0}
      aria-current={props.active ? 'true' : undefined}
      onClick={() => onPick(node)}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onPick(node);
        }
      }}
    >
      {node.label}
    </div>
  );
});

function DatasetDetails(props: {
  dataset: MlprodAPI.IDataset;
  root: string;
  labelOf: (executionId: string) => string;
  onClose: () => void;
}): JSX.Element {
  const { dataset, labelOf } = props;
  const names = (ids: string[]) => ids.map(labelOf).join(', ') || '—';
  return (
    <div className="mlprod-Dataset">
      <div className="mlprod-Dataset-head">
        <b title={dataset.path}>{relativePath(dataset.path, props.root)}</b>
        <button className="mlprod-Link" onClick={props.onClose}>
          close
        </button>
      </div>
      <table className="mlprod-Table">
        <thead>
          <tr>
            <th>version</th>
            <th>sha256</th>
            <th>size</th>
            <th>written by</th>
            <th>read by</th>
          </tr>
        </thead>
        <tbody>
          {dataset.versions.map((version, index) => (
            <tr key={`${version.sha256}-${index}`}>
              <td>v{index + 1}</td>
              <td title={version.sha256 ?? ''}>
                <code>{shortHash(version.sha256)}</code>
              </td>
              <td>{formatSize(version.size)}</td>
              <td>{names(version.writers)}</td>
              <td>{names(version.readers)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
