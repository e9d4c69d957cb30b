import React from 'react';

import { MlprodAPI } from '../api';
import { IRunSort, isRunning, RunSortKey, sortRuns } from '../compare';
import { firedBy, formatDuration, formatTime, formatValue, shortId } from '../format';
import { CompareView } from './CompareView';
import { MetricChart } from './MetricChart';

export interface IRunsViewProps {
  runs: MlprodAPI.IRun[];
  selected: string[];
  comparison: MlprodAPI.ICompare | null;
  differencesOnly: boolean;
  chartMetric: string | null;
  busy: boolean;
  sort: IRunSort;
  onSort: (key: RunSortKey) => void;
  onToggle: (id: string) => void;
  onCompare: () => void;
  onDifferencesOnly: (on: boolean) => void;
  onChartMetric: (name: string) => void;
  onBaseline: (id: string) => void;
  onCancel: (id: string) => void;
  onRerun: (id: string) => void;
  /** open a run's log ('log') or a step's executed notebook (the step's name) in Lab */
  onOpen: (id: string, what: string) => void;
}

const COLUMNS: { key: RunSortKey; label: string }[] = [
  { key: 'id', label: 'run' },
  { key: 'status', label: 'status' },
  { key: 'started', label: 'started' },
  { key: 'duration', label: 'duration' },
  { key: 'params', label: 'parameters' },
  { key: 'metrics', label: 'metrics' },
  { key: 'cached', label: 'cached' },
];

/** The runs table (sortable, with actions), the comparison of the selected runs, a chart. */
export function RunsView(props: IRunsViewProps): JSX.Element {
  const { runs, sort } = props;
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
              {COLUMNS.map(column => (
                <th
                  key={column.key}
                  data-sort={column.key}
                  aria-sort={
                    sort.key === column.key ? (sort.descending ? 'descending' : 'ascending') : 'none'
                  }
                >
                  <button className="mlprod-SortHeader" onClick={() => props.onSort(column.key)}>
                    {column.label}
                    {sort.key === column.key ? (sort.descending ? ' ▼' : ' ▲') : ''}
                  </button>
                </th>
              ))}
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {sortRuns(runs, sort).map(run => (
              <RunRow key={run.id} run={run} {...props} />
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
      <MetricChart runs={runs} metric={props.chartMetric} onMetric={props.onChartMetric} />
      {props.comparison && (
        <CompareView
          comparison={props.comparison}
          differencesOnly={props.differencesOnly}
          onDifferencesOnly={props.onDifferencesOnly}
          onBaseline={props.onBaseline}
        />
      )}
    </div>
  );
}

/** name=value pairs that may wrap between pairs, never inside one. */
function Pairs(props: { values: Record<string, unknown> }): JSX.Element {
  return (
    <>
      {Object.entries(props.values ?? {}).map(([name, value]) => (
        <span key={name} className="mlprod-Pair">
          {name}={formatValue(value)}
        </span>
      ))}
    </>
  );
}

function RunRow(props: IRunsViewProps & { run: MlprodAPI.IRun }): JSX.Element {
  const { run } = props;
  const running = isRunning(run);
  const trigger = firedBy(run.schedule, run.reason);
  return (
    <tr data-run-id={run.id}>
      <td>
        <input
          type="checkbox"
          aria-label={`select run ${run.id}`}
          checked={props.selected.includes(run.id)}
          onChange={() => props.onToggle(run.id)}
        />
      </td>
      <td title={run.id} className="mlprod-NoWrap">
        <code>{shortId(run.id)}</code>
        {trigger && (
          <span className="mlprod-Trigger" title={trigger.title}>
            {trigger.label}
          </span>
        )}
      </td>
      <td className={`mlprod-status-${run.status}`} data-status={run.status}>
        {run.status}
      </td>
      <td className="mlprod-NoWrap">{formatTime(run.started)}</td>
      <td className="mlprod-NoWrap">{formatDuration(run.duration_ms)}</td>
      <td>
        <Pairs values={run.params} />
      </td>
      <td>
        <Pairs values={run.metrics} />
      </td>
      <td className="mlprod-NoWrap">
        {run.cached_steps}/{run.steps.length}
      </td>
      <td className="mlprod-RunActions">
        {running && (
          <button
            className="mlprod-Cancel"
            title="Stop this run (it is recorded as aborted)"
            disabled={props.busy}
            onClick={() => props.onCancel(run.id)}
          >
            cancel
          </button>
        )}
        <button
          className="mlprod-Rerun"
          title="Start a new run with these parameters"
          disabled={props.busy}
          onClick={() => props.onRerun(run.id)}
        >
          re-run
        </button>
        <select
          className="mlprod-Open"
          aria-label={`open a file of run ${run.id}`}
          value=""
          onChange={e => e.target.value && props.onOpen(run.id, e.target.value)}
        >
          <option value="">open…</option>
          <option value="log">run log</option>
          {run.steps.map(step => (
            <option key={step.name} value={step.name}>
              step {step.name}
            </option>
          ))}
        </select>
      </td>
    </tr>
  );
}
