import React from 'react';

import { MlprodAPI } from '../api';
import { formatSize, relativePath } from '../format';
import { IGraph, IGraphNode, shortHash } from '../graph';

export interface ILineageViewProps {
  graph: IGraph | null;
  dataset: MlprodAPI.IDataset | null;
  labelOf: (executionId: string) => string;
  onCell: (cellId: string) => void;
  onDataset: (path: string | null) => void;
  notice: string | null;
  /** the server's root folder, to show paths relative to it */
  root: string;
}

/** The lineage DAG (cells and datasets) drawn as SVG, with the chosen dataset's details. */
export function LineageView(props: ILineageViewProps): JSX.Element {
  const { graph } = props;
  if (!graph || graph.nodes.length === 0) {
    return (
      <div className="mlprod-Empty">
        {props.notice ?? 'No executions recorded for this notebook yet: run a cell.'}
      </div>
    );
  }
  const click = (node: IGraphNode) =>
    node.kind === 'cell' ? props.onCell(node.ref) : props.onDataset(node.ref);
  return (
    <div className="mlprod-Lineage">
      <div className="mlprod-Graph">
        <svg
          width={graph.width}
          height={graph.height}
          viewBox={`0 0 ${graph.width} ${graph.height}`}
          // shrink a wide graph to the panel's width, down to 60%; scroll beyond
          style={{ minWidth: Math.min(graph.width, Math.round(graph.width * 0.6)) }}
          role="img"
          aria-label="lineage graph"
        >
          <defs>
            <marker
              id="mlprod-arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="6"
              markerHeight="6"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" className="mlprod-ArrowHead" />
            </marker>
          </defs>
          {graph.edges.map(edge => (
            <path
              key={`${edge.source}->${edge.target}`}
              className={`mlprod-Edge mlprod-Edge-${edge.kind}${
                edge.superseded ? ' mlprod-Edge-superseded' : ''
              }`}
              d={edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' ')}
              markerEnd="url(#mlprod-arrow)"
            >
              <title>
                {edge.superseded ? `${edge.label} (from an earlier run of the cell)` : edge.label}
              </title>
            </path>
          ))}
          {graph.nodes.map(node => (
            <g
              key={node.id}
              className={[
                'mlprod-Node',
                `mlprod-Node-${node.kind}`,
                node.stale ? 'mlprod-Node-stale' : '',
                node.failed ? 'mlprod-Node-failed' : '',
                node.earlier ? 'mlprod-Node-earlier' : '',
              ].join(' ')}
              data-node-id={node.id}
              data-ref={node.ref}
              transform={`translate(${node.x - node.width / 2}, ${node.y - node.height / 2})`}
              role="button"
              tabIndex={0}
              onClick={() => click(node)}
              onKeyDown={event => {
                if (event.key === 'Enter' || event.key === ' ') {
                  event.preventDefault();
                  click(node);
                }
              }}
            >
              <title>
                {node.kind === 'cell'
                  ? `cell ${node.ref}${node.earlier ? ' (last ran in an earlier kernel session)' : ''}`
                  : node.ref}
              </title>
              <rect width={node.width} height={node.height} rx={node.kind === 'cell' ? 4 : 11} />
              <text x={node.width / 2} y={node.height / 2 + 4} textAnchor="middle">
                {node.label}
              </text>
            </g>
          ))}
        </svg>
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
