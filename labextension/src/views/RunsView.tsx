import React from 'react';

import { MlprodAPI } from '../api';
import {
  compactMap,
  formatDigest,
  formatDuration,
  formatTime,
  formatValue,
  shortId,
} from '../format';
import { metricNames, metricSeries, visibleRows } from '../model';

export interface IRunsViewProps {
  runs: MlprodAPI.IRun[];
  selected: string[];
  comparison: MlprodAPI.ICompare | null;
  differencesOnly: boolean;
  chartMetric: string | null;
  busy: boolean;
  onToggle: (id: string) => void;
  onCompare: () => void;
  onDifferencesOnly: (on: boolean) => void;
  onChartMetric: (name: string) => void;
}

/** The runs table, the comparison of the selected runs and a chart of one metric. */
export function RunsView(props: IRunsViewProps): JSX.Element {
  const { runs } = props;
  if (runs.length === 0) {
    return <div className="mlprod-Empty">No runs yet: export the pipeline and run it.</div>;
  }
  return (
    <div className="mlprod-Runs">
      <div className="mlprod-Scroll">
        <table className="mlprod-Table mlprod-RunsTable">
          <thead>
            <tr>
              <th />
              <th>run</th>
              <th>status</th>
              <th>started</th>
              <th>duration</th>
              <th>parameters</th>
              <th>metrics</th>
              <th>cached</th>
            </tr>
          </thead>
          <tbody>
            {runs.map(run => (
              <tr key={run.id} data-run-id={run.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`select run ${run.id}`}
                    checked={props.selected.includes(run.id)}
                    onChange={() => props.onToggle(run.id)}
                  />
                </td>
                <td title={run.id}>
                  <code>{shortId(run.id)}</code>
                </td>
                <td className={`mlprod-status-${run.status}`}>{run.status}</td>
                <td>{formatTime(run.started)}</td>
                <td>{formatDuration(run.duration_ms)}</td>
                <td className="mlprod-Wrap">{compactMap(run.params)}</td>
                <td className="mlprod-Wrap">{compactMap(run.metrics)}</td>
                <td>
                  {run.cached_steps}/{run.steps.length}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="mlprod-Actions">
        <button
          className="jp-mod-styled jp-mod-accept mlprod-Compare"
          disabled={props.busy || props.selected.length < 2}
          onClick={props.onCompare}
        >
          Compare {props.selected.length > 1 ? props.selected.length : ''} runs
        </button>
      </div>
      <MetricChart
        runs={runs}
        metric={props.chartMetric}
        onMetric={props.onChartMetric}
      />
      {props.comparison && (
        <Comparison
          comparison={props.comparison}
          differencesOnly={props.differencesOnly}
          onDifferencesOnly={props.onDifferencesOnly}
        />
      )}
    </div>
  );
}

function Comparison(props: {
  comparison: MlprodAPI.ICompare;
  differencesOnly: boolean;
  onDifferencesOnly: (on: boolean) => void;
}): JSX.Element {
  const { comparison, differencesOnly } = props;
  const section = (title: string, rows: MlprodAPI.IRow[], format = formatValue) => {
    const shown = visibleRows(rows, differencesOnly);
    return (
      <>
        <tr className="mlprod-Section">
          <th colSpan={comparison.runs.length + 1}>{title}</th>
        </tr>
        {shown.length === 0 && (
          <tr>
            <td colSpan={comparison.runs.length + 1} className="mlprod-Muted">
              {differencesOnly ? 'no differences' : 'none'}
            </td>
          </tr>
        )}
        {shown.map(row => (
          <tr
            key={`${title}:${row.name}`}
            className={row.differs ? 'mlprod-Differs' : ''}
            data-row={`${title}:${row.name}`}
          >
            <th title={row.name}>{row.name}</th>
            {row.values.map((value, i) => (
              <td key={i} title={String(value ?? '')}>
                {format(value)}
              </td>
            ))}
          </tr>
        ))}
      </>
    );
  };
  const steps = comparison.steps.filter(step => !differencesOnly || step.differs);
  return (
    <div className="mlprod-Comparison">
      <label className="mlprod-Toggle">
        <input
          type="checkbox"
          checked={differencesOnly}
          onChange={e => props.onDifferencesOnly(e.target.checked)}
        />{' '}
        show differences only
      </label>
      <div className="mlprod-Scroll">
        <table className="mlprod-Table mlprod-CompareTable">
          <thead>
            <tr>
              <th />
              {comparison.runs.map(id => (
                <th key={id} title={id}>
                  <code>{shortId(id)}</code>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {section('parameters', comparison.params)}
            {section('metrics', comparison.metrics)}
            {section('data', comparison.datasets, formatDigest)}
          </tbody>
        </table>
      </div>
      <h3>Step code</h3>
      {steps.length === 0 && <div className="mlprod-Muted">no step code changes</div>}
      {steps.map(step => (
        <details key={step.name} open={step.differs} className="mlprod-StepDiff">
          <summary>
            {step.name} {step.differs ? '(changed)' : '(same)'}
          </summary>
          {step.diff && (
            <pre className="mlprod-Diff">
              {(Array.isArray(step.diff) ? step.diff.join('\n') : step.diff)
                .split('\n')
                .map((line, i) => (
                  <div
                    key={i}
                    className={
                      line.startsWith('+') ? 'mlprod-Add' : line.startsWith('-') ? 'mlprod-Del' : ''
                    }
                  >
                    {line}
                  </div>
                ))}
            </pre>
          )}
        </details>
      ))}
    </div>
  );
}

/** One metric across runs (oldest first), as a small SVG line with dots. */
function MetricChart(props: {
  runs: MlprodAPI.IRun[];
  metric: string | null;
  onMetric: (name: string) => void;
}): JSX.Element | null {
  const names = metricNames(props.runs);
  if (names.length === 0 || !props.metric) {
    return null;
  }
  const series = metricSeries(props.runs, props.metric);
  const width = 240;
  const height = 80;
  const pad = 8;
  const values = series.map(p => p.value);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const x = (i: number) => pad + (series.length > 1 ? (i * (width - 2 * pad)) / (series.length - 1) : (width - 2 * pad) / 2);
  const y = (v: number) => height - pad - ((v - min) * (height - 2 * pad)) / span;
  return (
    <div className="mlprod-Chart">
      <label>
        chart{' '}
        <select value={props.metric} onChange={e => props.onMetric(e.target.value)}>
          {names.map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>{' '}
        <span className="mlprod-Muted">
          across runs, oldest first: {formatValue(min)} – {formatValue(max)}
        </span>
      </label>
      <svg width={width} height={height} role="img" aria-label={`${props.metric} across runs`}>
        <polyline
          className="mlprod-ChartLine"
          points={series.map((p, i) => `${x(i)},${y(p.value)}`).join(' ')}
        />
        {series.map((p, i) => (
          <circle key={p.id} className="mlprod-ChartDot" cx={x(i)} cy={y(p.value)} r={3}>
            <title>
              {p.id}: {formatValue(p.value)}
            </title>
          </circle>
        ))}
      </svg>
    </div>
  );
}
