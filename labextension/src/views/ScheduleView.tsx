import { UseSignal } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { MlprodAPI } from '../api';
import { shortId } from '../format';
import {
  cronOf,
  DEFAULT_FORM,
  formatFire,
  formOf,
  IScheduleForm,
  PRESETS,
  Preset,
  SchedulesModel,
  triggerOf,
  WEEKDAYS,
  When,
} from '../schedule';

export interface IScheduleFormProps {
  model: SchedulesModel;
  pipeline: string;
  /** the run form's parameters, typed (throws with a message naming a bad one) */
  params: () => Record<string, MlprodAPI.Value>;
  onRunNow: () => void;
  onClose: () => void;
}

const WHEN: { id: When; label: string }[] = [
  { id: 'now', label: 'Run now' },
  { id: 'cron', label: 'On a schedule' },
  { id: 'data', label: 'When input data changes' },
];

/** Run now, on a cron (presets, preview in the user's zone), or when input data changes. */
export function ScheduleForm(props: IScheduleFormProps): JSX.Element {
  const { model } = props;
  const [form, setForm] = useState<IScheduleForm>(() =>
    model.editing ? formOf(model.editing) : DEFAULT_FORM
  );
  useEffect(() => {
    setForm(model.editing ? formOf(model.editing) : DEFAULT_FORM);
  }, [model.editing?.id]);
  useEffect(() => model.formChanged(form, form.preset !== 'custom'), [form]);
  useEffect(() => {
    if (form.when === 'data' && model.inputsFor !== props.pipeline) {
      void model.loadInputs(props.pipeline);
    }
  }, [form.when, props.pipeline]);
  const set = (changes: Partial<IScheduleForm>) =>
    setForm(current => ({ ...current, ...changes }));
  const save = async () => {
    let params: Record<string, MlprodAPI.Value>;
    try {
      params = props.params();
    } catch (error) {
      model.fail(error);
      return;
    }
    if (await model.save(props.pipeline, form, params)) {
      props.onClose();
    }
  };
  let cron = '';
  try {
    cron = form.when === 'cron' ? cronOf(form) : '';
  } catch {
    cron = '';
  }
  return (
    <div className="mlprod-ScheduleForm">
      <div className="mlprod-ScheduleWhen" role="radiogroup">
        {WHEN.filter(w => w.id !== 'now' || !model.editing).map(w => (
          <label key={w.id}>
            <input
              type="radio"
              name="mlprod-when"
              value={w.id}
              checked={form.when === w.id}
              onChange={() => set({ when: w.id })}
            />{' '}
            {w.label}
          </label>
        ))}
      </div>
      {form.when === 'cron' && (
        <div className="mlprod-ScheduleCron">
          <label className="mlprod-Field">
            <span>repeat</span>
            <select
              className="jp-mod-styled mlprod-Preset"
              value={form.preset}
              onChange={e => set({ preset: e.target.value as Preset, cron: cron || form.cron })}
            >
              {PRESETS.map(p => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          {form.preset === 'hourly' && (
            <label className="mlprod-Field">
              <span>minute past</span>
              <input
                className="jp-mod-styled mlprod-Minute"
                type="number"
                min={0}
                max={59}
                value={form.minute}
                onChange={e => set({ minute: Number(e.target.value) })}
              />
            </label>
          )}
          {form.preset === 'weekly' && (
            <label className="mlprod-Field">
              <span>on</span>
              <select
                className="jp-mod-styled mlprod-Weekday"
                value={form.weekday}
                onChange={e => set({ weekday: Number(e.target.value) })}
              >
                {WEEKDAYS.map((day, i) => (
                  <option key={day} value={i}>
                    {day}
                  </option>
                ))}
              </select>
            </label>
          )}
          {['daily', 'weekdays', 'weekly'].includes(form.preset) && (
            <label className="mlprod-Field">
              <span>at</span>
              <input
                className="jp-mod-styled mlprod-Time"
                type="time"
                value={form.time}
                onChange={e => set({ time: e.target.value })}
              />
            </label>
          )}
          {form.preset === 'custom' && (
            <label className="mlprod-Field">
              <span>cron</span>
              <input
                className="jp-mod-styled mlprod-Cron"
                value={form.cron}
                placeholder="0 3 * * *"
                onChange={e => set({ cron: e.target.value })}
              />
            </label>
          )}
          <Preview model={model} cron={cron} />
        </div>
      )}
      {form.when === 'data' && (
        <div className="mlprod-ScheduleInputs">
          {model.inputs === null ? (
            'Looking for the files the pipeline reads…'
          ) : model.inputs.length === 0 ? (
            <div className="mlprod-Empty">
              The pipeline reads no recorded files: run it once (or trace the notebook) so its
              inputs are known.
            </div>
          ) : (
            <>
              A new version of any of these files starts a run:
              <ul className="mlprod-InputFiles">
                {model.inputs.map(file => (
                  <li key={file}>
                    <code>{file}</code>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
      {form.when !== 'now' && (
        <label className="mlprod-Field">
          <span>name</span>
          <input
            className="jp-mod-styled mlprod-ScheduleName"
            value={form.name}
            placeholder="optional"
            onChange={e => set({ name: e.target.value })}
          />
        </label>
      )}
      <div className="mlprod-Actions">
        {form.when === 'now' ? (
          <button type="button" className="jp-mod-styled jp-mod-accept mlprod-RunNow" onClick={props.onRunNow}>
            Run now
          </button>
        ) : (
          <button
 type="button"
            className="jp-mod-styled jp-mod-accept mlprod-SaveSchedule"
            onClick={() => void save()}
          >
            {model.editing ? 'Save schedule' : 'Create schedule'}
          </button>
        )}
        <button
 type="button"
          className="jp-mod-styled mlprod-CancelSchedule"
          onClick={() => {
            model.edit(null);
            props.onClose();
          }}
        >
          Cancel
        </button>
      </div>
    </div>
  );
}

function Preview(props: { model: SchedulesModel; cron: string }): JSX.Element {
  const { model } = props;
  if (model.previewError) {
    return <div className="mlprod-Error mlprod-PreviewError">{model.previewError}</div>;
  }
  if (!model.preview) {
    return <div className="mlprod-Preview">…</div>;
  }
  return (
    <div className="mlprod-Preview">
      <div>
        <code>{props.cron}</code>: {model.preview.description}
      </div>
      Next, in {model.tz}:
      <ol className="mlprod-NextFires">
        {model.preview.next.map(when => (
          <li key={when}>{formatFire(when, model.tz)}</li>
        ))}
      </ol>
    </div>
  );
}

export interface ISchedulesListProps {
  model: SchedulesModel;
  /** show a run in the Runs tab */
  onRun: (runId: string) => void;
  onEdit: (schedule: MlprodAPI.ISchedule) => void;
}

/** Every schedule of the store: next fire, last status, pause/resume, edit, delete, history. */
export function SchedulesList(props: ISchedulesListProps): JSX.Element {
  const { model } = props;
  if (model.schedules.length === 0) {
    return (
      <div className="mlprod-Empty mlprod-NoSchedules">
        No schedules: press Schedule to run the pipeline on a timetable or on new data.
      </div>
    );
  }
  return (
    <ul className="mlprod-Schedules">
      {model.schedules.map(s => (
        <li
          key={s.id}
          className={`mlprod-Schedule ${s.paused ? 'mlprod-mod-paused' : ''}`}
          data-schedule-id={s.id}
        >
          <div>
            <b className="mlprod-ScheduleTitle">{s.name || s.id}</b> <code>{s.id}</code>{' '}
            <span className="mlprod-Trigger">{triggerOf(s)}</span>
          </div>
          <div className="mlprod-ScheduleState">
            {s.paused ? (
              <span className="mlprod-Paused">paused</span>
            ) : (
              <span className="mlprod-NextFire">
                next: {s.next_fire ? formatFire(s.next_fire, model.tz) : 'on new data'}
              </span>
            )}{' '}
            · last:{' '}
            {s.last_run ? (
              <button
 type="button"
                className={`mlprod-Chip mlprod-LastRun mlprod-status-${s.last_status ?? ''}`}
                title="show this run in Runs"
                onClick={() => props.onRun(s.last_run as string)}
              >
                {s.last_status ?? '?'} {shortId(s.last_run)}
              </button>
            ) : (
              <span className="mlprod-LastStatus">{s.last_status ?? 'never ran'}</span>
            )}
          </div>
          <div className="mlprod-Actions">
            <button
 type="button"
              className="jp-mod-styled mlprod-Pause"
              onClick={() => void model.setPaused(s.id, !s.paused)}
            >
              {s.paused ? 'Resume' : 'Pause'}
            </button>
            <button type="button" className="jp-mod-styled mlprod-Edit" onClick={() => props.onEdit(s)}>
              Edit
            </button>
            <button
 type="button"
              className="jp-mod-styled mlprod-History"
              onClick={() => void model.toggleHistory(s.id)}
            >
              History
            </button>
            <button
 type="button"
              className="jp-mod-styled jp-mod-warn mlprod-Delete"
              onClick={() => {
                if (window.confirm(`Delete schedule ${s.name || s.id}?`)) {
                  void model.remove(s.id);
                }
              }}
            >
              Delete
            </button>
          </div>
          {model.historyOf === s.id && (
            <History fires={model.history} tz={model.tz} onRun={props.onRun} />
          )}
        </li>
      ))}
    </ul>
  );
}

function History(props: {
  fires: MlprodAPI.IFire[];
  tz: string;
  onRun: (runId: string) => void;
}): JSX.Element {
  if (props.fires.length === 0) {
    return <div className="mlprod-Empty mlprod-ScheduleHistory">Not fired yet.</div>;
  }
  return (
    <table className="mlprod-Table mlprod-ScheduleHistory">
      <tbody>
        {props.fires.map(fire => (
          <tr key={`${fire.due}-${fire.reason}`} className={`mlprod-status-${fire.status}`}>
            <td>{formatFire(fire.due, props.tz)}</td>
            <td>{fire.status}</td>
            <td>
              {fire.run ? (
                <button type="button" className="mlprod-Chip" onClick={() => props.onRun(fire.run as string)}>
                  {shortId(fire.run)}
                </button>
              ) : null}
            </td>
            <td title={fire.reason}>{fire.detail ?? fire.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Schedules section, re-rendered whenever the schedules model changes. */
export function SchedulesSection(props: ISchedulesListProps): JSX.Element {
  return (
    <UseSignal signal={props.model.changed}>
      {() => (
        <div className="mlprod-SchedulesSection">
          <h3>Schedules</h3>
          {props.model.error && (
            <div className="mlprod-Error mlprod-ScheduleError">{props.model.error}</div>
          )}
          <SchedulesList {...props} />
        </div>
      )}
    </UseSignal>
  );
}
