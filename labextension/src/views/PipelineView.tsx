import { UseSignal } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { MlprodAPI } from '../api';
import { openNotebookNote } from '../content';
import { formatDuration, formatValue } from '../format';
import { coerceParameter, formValue, IActiveCell, isFinished } from '../model';
import { SchedulesModel } from '../schedule';
import { ScheduleForm, SchedulesSection } from './ScheduleView';
import { TagEditor } from './TagEditor';

export interface IPipelineViewProps {
  pipeline: MlprodAPI.IPipeline | null;
  exportResult: MlprodAPI.IExportResult | null;
  pipelinePath: string | null;
  activeRun: MlprodAPI.IRunStatus | null;
  busy: boolean;
  onCell: (cellId: string) => void;
  onExport: (check: boolean) => void;
  onRun: (values: Record<string, string | boolean>) => void;
  /** the notebook's active cell, for the tag editor */
  activeCell: IActiveCell | null;
  onTags: (cellId: string, tags: string[]) => void;
  /** unsaved changes in the editor when the export result was made; null: the saved file */
  checkedUnsaved: number | null;
  /** the cells a problem links to (every cell of a cycle; a step's first cell) */
  cellsOf: (problem: MlprodAPI.IProblem) => string[];
  labelOf: (cellId: string) => string;
  /** the Schedule form and the Schedules list */
  schedules: SchedulesModel;
  /** show a run in the Runs tab */
  onShowRun: (runId: string) => void;
}

/** Steps from the tags, export (and its check), the run form and the live run status. */
export function PipelineView(props: IPipelineViewProps): JSX.Element {
  const { pipeline, exportResult, activeRun } = props;
  const parameters = exportResult?.parameters ?? pipeline?.parameters ?? [];
  return (
    <div className="mlprod-Pipeline">
      <h3>Active cell</h3>
      <TagEditor
        cell={props.activeCell}
        steps={(pipeline?.steps ?? []).map(s => s.name)}
        onTags={props.onTags}
      />
      <h3>Steps</h3>
      {pipeline && pipeline.steps.length > 0 ? (
        <ol className="mlprod-Steps">
          {pipeline.steps.map(step => (
            <li key={step.name} data-step={step.name}>
              <b>{step.name}</b>{' '}
              {step.cells.map(cell => (
                <button key={cell} className="mlprod-Chip" onClick={() => props.onCell(cell)}>
                  {cell}
                </button>
              ))}
            </li>
          ))}
        </ol>
      ) : (
        <div className="mlprod-Empty">
          No steps: tag cells with <code>step:NAME</code> (and <code>parameters</code>,{' '}
          <code>setup</code>) in the property inspector.
        </div>
      )}
      <div className="mlprod-Actions">
        <button
          className="jp-mod-styled jp-mod-accept mlprod-Export"
          disabled={props.busy}
          onClick={() => props.onExport(false)}
        >
          Export
        </button>
        <button
          className="jp-mod-styled mlprod-Check"
          disabled={props.busy}
          onClick={() => props.onExport(true)}
        >
          Check
        </button>
      </div>
      {exportResult && (
        <div className={`mlprod-ExportResult ${exportResult.ok ? 'mlprod-ok' : 'mlprod-bad'}`}>
          {exportResult.ok ? (
            <span>
              {exportResult.pipeline ? (
                <>
                  Exported to <code>{exportResult.pipeline}</code>
                </>
              ) : (
                'Export check passed'
              )}{' '}
              ({exportResult.steps.length} steps)
            </span>
          ) : (
            <span>Export failed</span>
          )}
          {exportResult.source === 'editor' && props.checkedUnsaved !== null && (
            <div className="mlprod-Unsaved">
              {openNotebookNote(
                exportResult.pipeline ? 'exported' : 'checked',
                props.checkedUnsaved
              )}
            </div>
          )}
          <ul>
            {exportResult.errors.map((problem, i) => (
              <li key={i} className="mlprod-Problem">
                {props.cellsOf(problem).map(cell => (
                  <button
                    key={cell}
                    className="mlprod-Chip"
                    data-cell-id={cell}
                    title="show this cell"
                    onClick={() => props.onCell(cell)}
                  >
                    {props.labelOf(cell)}
                  </button>
                ))}{' '}
                {problem.message}
              </li>
            ))}
            {(exportResult.warnings ?? []).map((warning, i) => (
              <li key={`w${i}`} className="mlprod-Warning">
                {warning}
              </li>
            ))}
          </ul>
        </div>
      )}
      <h3>Run</h3>
      {props.pipelinePath ? (
        <RunForm
          parameters={parameters}
          busy={props.busy || (activeRun !== null && !isFinished(activeRun.status))}
          onRun={props.onRun}
          pipeline={props.pipelinePath}
          schedules={props.schedules}
        />
      ) : (
        <div className="mlprod-Empty">Export the pipeline to run or schedule it.</div>
      )}
      {activeRun && <RunStatus run={activeRun} />}
      <SchedulesSection
        model={props.schedules}
        onRun={props.onShowRun}
        onEdit={schedule => props.schedules.edit(schedule)}
      />
    </div>
  );
}

function RunForm(props: {
  parameters: MlprodAPI.IParameter[];
  busy: boolean;
  onRun: (values: Record<string, string | boolean>) => void;
  pipeline: string;
  schedules: SchedulesModel;
}): JSX.Element {
  const initial = () =>
    Object.fromEntries(props.parameters.map(p => [p.name, formValue(p)] as const));
  const [values, setValues] = useState<Record<string, string | boolean>>(initial);
  const [scheduling, setScheduling] = useState(false);
  const key = props.parameters.map(p => `${p.name}:${p.type}`).join(',');
  useEffect(() => setValues(initial()), [key]);
  const editing = props.schedules.editing;
  useEffect(() => {
    // editing a schedule: the form shows its parameters
    if (editing) {
      const stored = Object.entries(editing.params).map(([name, value]) => {
        const shown =
          typeof value === 'boolean' || typeof value === 'string' ? value : JSON.stringify(value);
        return [name, shown] as const;
      });
      setValues({ ...initial(), ...Object.fromEntries(stored) });
      setScheduling(true);
    }
  }, [editing?.id]);
  const typed = (): Record<string, MlprodAPI.Value> =>
    Object.fromEntries(
      props.parameters
        .filter(p => p.name in values)
        .map(p => [p.name, coerceParameter(p, values[p.name])] as const)
    );
  const set = (name: string, value: string | boolean) =>
    setValues(current => ({ ...current, [name]: value }));
  return (
    <>
      <form
        className="mlprod-RunForm"
        onSubmit={event => {
          event.preventDefault();
          props.onRun(values);
        }}
      >
        {props.parameters.map(p => (
          <label key={p.name} className="mlprod-Field">
            <span title={`${p.type}, default ${formatValue(p.default)}`}>{p.name}</span>
            {p.type === 'bool' ? (
              <input
                type="checkbox"
                name={p.name}
                checked={Boolean(values[p.name])}
                onChange={e => set(p.name, e.target.checked)}
              />
            ) : (
              <input
                className="jp-mod-styled"
                name={p.name}
                type={p.type === 'int' || p.type === 'float' ? 'number' : 'text'}
                step={p.type === 'int' ? 1 : p.type === 'float' ? 'any' : undefined}
                value={String(values[p.name] ?? '')}
                onChange={e => set(p.name, e.target.value)}
              />
            )}
            <small>{p.type}</small>
          </label>
        ))}
        <div className="mlprod-Actions">
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept mlprod-Run"
            disabled={props.busy}
          >
            Run pipeline
          </button>
          <button
            type="button"
            className="jp-mod-styled mlprod-ScheduleButton"
            aria-expanded={scheduling}
            onClick={() => setScheduling(!scheduling)}
          >
            Schedule…
          </button>
        </div>
      </form>
      {scheduling && (
        <UseSignal signal={props.schedules.changed}>
          {() => (
            <ScheduleForm
              model={props.schedules}
              pipeline={props.pipeline}
              params={typed}
              onRunNow={() => {
                setScheduling(false);
                props.onRun(values);
              }}
              onClose={() => setScheduling(false)}
            />
          )}
        </UseSignal>
      )}
    </>
  );
}

function RunStatus(props: { run: MlprodAPI.IRunStatus }): JSX.Element {
  const { run } = props;
  const { done, total, current } = run.progress ?? { done: 0, total: 0, current: null };
  const tail = Array.isArray(run.log_tail) ? run.log_tail.join('\n') : run.log_tail ?? '';
  return (
    <div className={`mlprod-RunStatus mlprod-status-${run.status}`} data-run-id={run.id}>
      <div>
        Run <code>{run.id}</code>: <b className="mlprod-RunState">{run.status}</b>
        {total > 0 && ` (${done}/${total}${current ? `, ${current}` : ''})`}
      </div>
      {total > 0 && <progress max={total} value={done} />}
      <ul className="mlprod-StepStates">
        {run.steps.map(step => (
          <li key={step.name} className={`mlprod-status-${step.status}`}>
            {step.name}: {step.status}
            {step.cached ? ' (cached)' : ''} {formatDuration(step.duration_ms)}
          </li>
        ))}
      </ul>
      {run.error && <div className="mlprod-Error">{run.error}</div>}
      {tail && isFinished(run.status) && run.status !== 'ok' && <pre className="mlprod-Log">{tail}</pre>}
    </div>
  );
}
