import { ISignal, Signal } from '@lumino/signaling';

import { MlprodAPI } from './api';
import { ApiError } from './request';
import { MlprodService } from './service';
import { browserTimers, ITimers } from './timers';

/**
 * The Schedule form and the Schedules list, without DOM: presets turned into cron
 * expressions (and back, to edit), fire times shown in the user's time zone, and the
 * requests behind each button. The cron itself is parsed by the server (`cronsim`),
 * never here: the preview is the server's reading of exactly what will be stored.
 */

export type When = 'now' | 'cron' | 'data';
export type Preset = 'hourly' | 'daily' | 'weekdays' | 'weekly' | 'custom';

export const PRESETS: { id: Preset; label: string }[] = [
  { id: 'hourly', label: 'hourly' },
  { id: 'daily', label: 'daily at…' },
  { id: 'weekdays', label: 'weekdays at…' },
  { id: 'weekly', label: 'weekly' },
  { id: 'custom', label: 'custom cron' },
];

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** What the Schedule form holds. */
export interface IScheduleForm {
  when: When;
  preset: Preset;
  /** hourly: the minute past the hour */
  minute: number;
  /** daily, weekdays, weekly: HH:MM */
  time: string;
  /** weekly: 0 = Sunday */
  weekday: number;
  /** custom: the cron expression as typed */
  cron: string;
  name: string;
}

export const DEFAULT_FORM: IScheduleForm = {
  when: 'cron',
  preset: 'daily',
  minute: 0,
  time: '03:00',
  weekday: 1,
  cron: '0 3 * * *',
  name: '',
};

/** How long the form waits after a keystroke before asking for a preview. */
export const PREVIEW_DEBOUNCE_MS = 300;

function clock(time: string): { hour: number; minute: number } {
  const match = /^(\d{1,2}):(\d{2})$/.exec(time.trim());
  const hour = match ? Number(match[1]) : NaN;
  const minute = match ? Number(match[2]) : NaN;
  if (!(hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59)) {
    throw new Error(`time '${time}' is not HH:MM (00:00 to 23:59)`);
  }
  return { hour, minute };
}

/** The cron expression a preset stands for; throws a readable Error on a bad time. */
export function cronOf(form: IScheduleForm): string {
  if (form.preset === 'custom') {
    return form.cron.trim();
  }
  if (form.preset === 'hourly') {
    const minute = Math.trunc(form.minute);
    if (!(minute >= 0 && minute <= 59)) {
      throw new Error(`minute ${form.minute} is not between 0 and 59`);
    }
    return `${minute} * * * *`;
  }
  const { hour, minute } = clock(form.time);
  const day = { daily: '*', weekdays: '1-5', weekly: String(form.weekday) }[form.preset];
  return `${minute} ${hour} * * ${day}`;
}

/** The form that shows `cron` (a preset when it is one), for editing a schedule. */
export function formOf(schedule: MlprodAPI.ISchedule): IScheduleForm {
  const form: IScheduleForm = {
    ...DEFAULT_FORM,
    name: schedule.name,
    when: schedule.cron ? 'cron' : 'data',
    preset: 'custom',
    cron: schedule.cron ?? DEFAULT_FORM.cron,
  };
  const fields = (schedule.cron ?? '').trim().split(/\s+/);
  const number = (text: string, max: number) =>
    /^\d{1,2}$/.test(text) && Number(text) <= max ? Number(text) : null;
  if (fields.length !== 5) {
    return form;
  }
  const [m, h, dom, month, dow] = fields;
  const minute = number(m, 59);
  const hour = number(h, 23);
  if (minute === null || dom !== '*' || month !== '*') {
    return form;
  }
  if (h === '*' && dow === '*') {
    return { ...form, preset: 'hourly', minute };
  }
  if (hour === null) {
    return form;
  }
  const time = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  if (dow === '*') {
    return { ...form, preset: 'daily', time };
  }
  if (dow === '1-5') {
    return { ...form, preset: 'weekdays', time };
  }
  const weekday = number(dow, 6);
  return weekday === null ? form : { ...form, preset: 'weekly', time, weekday };
}

/** The user's IANA time zone, as the browser knows it (sent with every cron). */
export function userTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** A fire time (ISO 8601 string or epoch seconds) as a date and time in zone `tz`. */
export function formatFire(when: string | number, tz: string): string {
  const date = typeof when === 'number' ? new Date(when * 1000) : new Date(when);
  if (Number.isNaN(date.getTime())) {
    return String(when);
  }
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  };
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: tz }).format(date);
  } catch {
    return new Intl.DateTimeFormat(undefined, options).format(date); // an unknown zone
  }
}

/** What a schedule waits for, in words: its cron and zone, new data, or both. */
export function triggerOf(schedule: MlprodAPI.ISchedule): string {
  const parts: string[] = [];
  if (schedule.cron) {
    parts.push(`cron ${schedule.cron} (${schedule.tz})`);
  }
  if (schedule.on_new_data) {
    parts.push('when input data changes');
  }
  return parts.join(' and ') || 'never';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Schedule form's preview and inputs, and the Schedules list, for one notebook.
 *
 * Only the newest answer of each kind is shown (a slow preview for an older cron is
 * dropped); every change emits `changed` for the panel to render.
 */
export class SchedulesModel {
  constructor(
    readonly service: MlprodService,
    readonly tz: string = userTimeZone(),
    private readonly _timers: ITimers = browserTimers
  ) {}

  notebook: string | null = null;
  schedules: MlprodAPI.ISchedule[] = [];
  /** the preview of the form's cron (null while none) and why there is none */
  preview: MlprodAPI.IPreview | null = null;
  previewError: string | null = null;
  /** the files that would fire "when input data changes", of `inputsFor` */
  inputs: string[] | null = null;
  inputsFor: string | null = null;
  /** the schedule whose history is shown, and its fires (newest first) */
  historyOf: string | null = null;
  history: MlprodAPI.IFire[] = [];
  /** the schedule the form edits (null: the form creates one) */
  editing: MlprodAPI.ISchedule | null = null;
  error: string | null = null;
  /** the last schedule created or saved, for the form to say so */
  saved: MlprodAPI.ISchedule | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Another notebook: its store's schedules, and nothing of the last one's form. */
  async setNotebook(notebook: string | null): Promise<void> {
    if (notebook === this.notebook) {
      return;
    }
    this.notebook = notebook;
    this.schedules = [];
    this.historyOf = null;
    this.history = [];
    this.editing = null;
    this.saved = null;
    this.inputs = null;
    this.inputsFor = null;
    this.error = null;
    this._changed.emit();
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const notebook = this.notebook;
    if (!notebook) {
      return;
    }
    try {
      const answer = await this.service.schedules(notebook);
      if (notebook === this.notebook) {
        this.schedules = answer.schedules;
      }
    } catch (error) {
      if (notebook === this.notebook && !(error instanceof ApiError && error.status === 404)) {
        this.error = messageOf(error);
      }
    }
    this._changed.emit();
  }

  /** Ask for the preview of the form's cron after a short pause (typing a custom cron). */
  formChanged(form: IScheduleForm, now = false): void {
    if (this._previewTimer !== null) {
      this._timers.clear(this._previewTimer);
      this._previewTimer = null;
    }
    if (form.when !== 'cron') {
      return;
    }
    let cron: string;
    try {
      cron = cronOf(form);
    } catch (error) {
      this._turn++;
      this.preview = null;
      this.previewError = messageOf(error);
      this._changed.emit();
      return;
    }
    if (now) {
      void this.loadPreview(cron);
      return;
    }
    this._previewTimer = this._timers.set(() => {
      this._previewTimer = null;
      void this.loadPreview(cron);
    }, PREVIEW_DEBOUNCE_MS);
  }

  /** The server's reading of `cron` in the user's zone: in words, and its next 3 times. */
  async loadPreview(cron: string): Promise<void> {
    const turn = ++this._turn;
    if (!cron) {
      this.preview = null;
      this.previewError = 'enter a cron expression, e.g. 0 3 * * * (every day at 03:00)';
      this._changed.emit();
      return;
    }
    try {
      const preview = await this.service.previewSchedule(cron, this.tz);
      if (turn === this._turn) {
        this.preview = preview;
        this.previewError = null;
      }
    } catch (error) {
      if (turn === this._turn) {
        this.preview = null;
        this.previewError = messageOf(error);
      }
    }
    this._changed.emit();
  }

  /** The files that would trigger the pipeline's "on new data" schedule. */
  async loadInputs(pipeline: string): Promise<void> {
    try {
      const answer = await this.service.scheduleInputs(pipeline);
      this.inputs = answer.files;
      this.inputsFor = pipeline;
    } catch (error) {
      this.inputs = null;
      this.error = messageOf(error);
    }
    this._changed.emit();
  }

  /**
   * Create (or, while editing, save) the schedule the form describes. True when the
   * server took it; otherwise `error` says why (a bad cron, a parameter, ...).
   */
  async save(
    pipeline: string,
    form: IScheduleForm,
    params: Record<string, MlprodAPI.Value>
  ): Promise<boolean> {
    let cron: string | null = null;
    try {
      cron = form.when === 'cron' ? cronOf(form) : null;
    } catch (error) {
      return this._failed(error);
    }
    const trigger = { cron, tz: this.tz, on_new_data: form.when === 'data', params };
    const name = form.name.trim();
    try {
      const editing = this.editing;
      this.saved = editing
        ? await this.service.updateSchedule(
            editing.id,
            { ...trigger, ...(name ? { name } : {}) },
            this.notebook
          )
        : await this.service.createSchedule({ pipeline, ...trigger, ...(name ? { name } : {}) });
    } catch (error) {
      return this._failed(error);
    }
    this.editing = null;
    this.error = null;
    await this.refresh();
    return true;
  }

  edit(schedule: MlprodAPI.ISchedule | null): void {
    this.editing = schedule;
    this.saved = null;
    this._changed.emit();
  }

  async setPaused(id: string, paused: boolean): Promise<void> {
    await this._act(() => this.service.updateSchedule(id, { paused }, this.notebook));
  }

  async remove(id: string): Promise<void> {
    await this._act(() => this.service.removeSchedule(id, this.notebook));
    if (this.historyOf === id) {
      this.historyOf = null;
      this.history = [];
    }
    if (this.editing?.id === id) {
      this.editing = null;
    }
    this._changed.emit();
  }

  /** Show the schedule's fires (again: hide them). */
  async toggleHistory(id: string): Promise<void> {
    if (this.historyOf === id) {
      this.historyOf = null;
      this.history = [];
      this._changed.emit();
      return;
    }
    try {
      const answer = await this.service.scheduleHistory(id, this.notebook);
      this.historyOf = id;
      this.history = [...answer.fires].sort((a, b) => b.due - a.due);
    } catch (error) {
      this.error = messageOf(error);
    }
    this._changed.emit();
  }

  dispose(): void {
    if (this._previewTimer !== null) {
      this._timers.clear(this._previewTimer);
    }
    Signal.clearData(this);
  }

  private async _act(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
      this.error = null;
    } catch (error) {
      this.error = messageOf(error);
    }
    await this.refresh();
  }

  /** Show why the form cannot be saved (a parameter the run form cannot type, ...). */
  fail(error: unknown): false {
    return this._failed(error);
  }

  private _failed(error: unknown): false {
    this.error = messageOf(error);
    this._changed.emit();
    return false;
  }

  private _changed = new Signal<this, void>(this);
  private _previewTimer: unknown = null;
  private _turn = 0;
}
