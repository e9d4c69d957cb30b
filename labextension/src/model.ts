import { ISignal, Signal } from '@lumino/signaling';

import { MlprodAPI } from './api';
import { DEFAULT_SORT, IRunSort, nextSort, rerunParams, RunSortKey } from './compare';
import { IOpenNotebook } from './content';
import { cellLabel } from './format';
import { isDelta, mergeLineage } from './lineage';
import { ApiError } from './request';
import { MlprodService } from './service';
import { browserTimers, ITimers } from './timers';

export type Tab = 'lineage' | 'stale' | 'pipeline' | 'runs';

/** How often the panel asks about a running pipeline, and about runs in general. */
export const RUN_POLL_MS = 1000;
export const IDLE_POLL_MS = 10000;
/** How often the shown lineage asks whether it changed (a 304 while it did not). */
export const LINEAGE_POLL_MS = 500;
/** How long after a cell ran the panel asks for the changes (one ask for a burst). */
export const EXECUTED_DEBOUNCE_MS = 150;

/** Typed values for a pipeline's parameters, from the raw form values. */
export function coerceParameter(
  parameter: MlprodAPI.IParameter,
  raw: string | boolean
): MlprodAPI.Value {
  const text = typeof raw === 'boolean' ? String(raw) : raw.trim();
  switch (parameter.type) {
    case 'bool':
      if (typeof raw === 'boolean') {
        return raw;
      }
      if (['true', 'false'].includes(text.toLowerCase())) {
        return text.toLowerCase() === 'true';
      }
      throw new Error(`parameter '${parameter.name}' must be true or false`);
    case 'int':
      if (!/^[-+]?\d+$/.test(text)) {
        throw new Error(`parameter '${parameter.name}' must be a whole number, got '${text}'`);
      }
      return parseInt(text, 10);
    case 'float': {
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) {
        throw new Error(`parameter '${parameter.name}' must be a number, got '${text}'`);
      }
      return value;
    }
    case 'str':
      return typeof raw === 'boolean' ? text : raw;
    default:
      // lists, dicts, None: sent as text, checked against the default by the server
      return text;
  }
}

/** The form's starting text for a parameter. */
export function formValue(parameter: MlprodAPI.IParameter): string | boolean {
  if (parameter.type === 'bool') {
    return Boolean(parameter.default);
  }
  if (parameter.type === 'str') {
    return String(parameter.default ?? '');
  }
  return typeof parameter.default === 'string'
    ? parameter.default
    : JSON.stringify(parameter.default);
}

/** Rows of a comparison, only those that differ when asked. */
export function visibleRows(rows: MlprodAPI.IRow[], differencesOnly: boolean): MlprodAPI.IRow[] {
  return differencesOnly ? rows.filter(row => row.differs) : rows;
}

/** Every metric name logged by any of the runs, sorted. */
export function metricNames(runs: MlprodAPI.IRun[]): string[] {
  const names = new Set<string>();
  for (const run of runs) {
    Object.keys(run.metrics ?? {}).forEach(name => names.add(name));
  }
  return [...names].sort();
}

/** One metric across runs, oldest first, runs without it left out. */
export function metricSeries(
  runs: MlprodAPI.IRun[],
  metric: string
): { id: string; value: number }[] {
  return [...runs]
    .sort((a, b) => a.started - b.started)
    .filter(run => typeof run.metrics?.[metric] === 'number')
    .map(run => ({ id: run.id, value: run.metrics[metric] }));
}

/** The active cell of the notebook, as the tag editor shows it. */
export interface IActiveCell {
  id: string;
  cellType: string;
  tags: string[];
}

/** How long tag edits pause before the pipeline is checked again. */
export const RECHECK_MS = 400;

export function isFinished(status: string): boolean {
  return !['running', 'pending', 'queued'].includes(status);
}

/**
 * What the panel shows for the current notebook, and the actions on it.
 *
 * No DOM here: views render it, the notebook bridge mirrors stale cells and
 * export errors into the notebook.
 */
export class PanelModel {
  constructor(
    readonly service: MlprodService,
    private readonly _timers: ITimers = browserTimers
  ) {}

  notebook: string | null = null;
  tracing = true;
  tab: Tab = 'lineage';
  lineage: MlprodAPI.ILineage | null = null;
  stale: MlprodAPI.IStaleCell[] = [];
  /** which staleness view the stale list shows (the graph's marks follow it) */
  staleOrder: MlprodAPI.StaleOrder = 'run-all';
  pipeline: MlprodAPI.IPipeline | null = null;
  exportResult: MlprodAPI.IExportResult | null = null;
  pipelinePath: string | null = null;
  runs: MlprodAPI.IRun[] = [];
  selectedRuns: string[] = [];
  comparison: MlprodAPI.ICompare | null = null;
  differencesOnly = false;
  chartMetric: string | null = null;
  /** the runs table's order (a click on a header) */
  runsSort: IRunSort = DEFAULT_SORT;
  /** the compared run step code is diffed against (null: the oldest) */
  baseline: string | null = null;
  selectedDataset: string | null = null;
  /** why the lineage is empty (nothing recorded yet), not an error */
  notice: string | null = null;
  error: string | null = null;
  busy: string | null = null;
  visible = false;
  /** the notebook's active cell (the tag editor edits its tags) */
  activeCell: IActiveCell | null = null;
  /** unsaved changes in the editor when the shown export result was made; null: the file */
  checkedUnsaved: number | null = null;

  /** The run started from this notebook's panel (each notebook keeps its own). */
  get activeRun(): MlprodAPI.IRunStatus | null {
    return (this.notebook && this._activeRuns.get(this.notebook)) || null;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Stale cells or export problems changed: the notebook marks need redrawing. */
  get marksChanged(): ISignal<this, void> {
    return this._marksChanged;
  }

  get dataset(): MlprodAPI.IDataset | null {
    return this.lineage?.datasets.find(d => d.path === this.selectedDataset) ?? null;
  }

  /** cell id -> the export problems about it */
  get problemsByCell(): Map<string, MlprodAPI.IProblem[]> {
    const found = new Map<string, MlprodAPI.IProblem[]>();
    for (const problem of this.exportResult?.errors ?? []) {
      for (const cell of this.cellsOfProblem(problem)) {
        found.set(cell, [...(found.get(cell) ?? []), problem]);
      }
    }
    return found;
  }

  /**
   * The cells an export problem is about: those it names (every cell of a cycle), else
   * the first cell of the step it names, so every problem links to a cell.
   */
  cellsOfProblem(problem: MlprodAPI.IProblem): string[] {
    const named = [...(problem.cells ?? []), ...(problem.cell_id ? [problem.cell_id] : [])];
    if (named.length > 0) {
      return [...new Set(named)];
    }
    const step = this.pipeline?.steps.find(s => s.name === problem.step);
    return step && step.cells.length > 0 ? [step.cells[0]] : [];
  }

  /** The execution ids of the current notebook, by cell, for labels. */
  cellOfExecution(executionId: string): string {
    const execution = this.lineage?.executions.find(e => e.id === executionId);
    return execution?.cell_id ?? executionId;
  }

  /** How an execution is named in the panel: its count and its cell's name or first words. */
  labelOfExecution(executionId: string): string {
    const executions = this.lineage?.executions ?? [];
    const execution = executions.find(e => e.id === executionId);
    if (!execution) {
      return executionId;
    }
    const source =
      execution.source ??
      executions.find(e => e.cell_id === execution.cell_id && e.source)?.source;
    return cellLabel(execution.cell_id, execution.execution_count, source);
  }

  /** How a cell is named in the panel: by its last execution, else by its source. */
  labelOfCell(cellId: string): string {
    const execution = this.lineage?.cells[cellId];
    if (execution) {
      return this.labelOfExecution(execution);
    }
    const open = this.notebook ? this._open(this.notebook) : null;
    return cellLabel(cellId, null, open?.content.cells.find(c => c.id === cellId)?.source);
  }

  async setNotebook(path: string | null): Promise<void> {
    if (path === this.notebook) {
      return;
    }
    // nothing of the previous notebook stays on screen: runs, comparison, errors, marks
    if (this._recheckTimer !== null) {
      this._timers.clear(this._recheckTimer); // its edits' check is not this notebook's
      this._recheckTimer = null;
    }
    this.notebook = path;
    this.lineage = null;
    this.stale = [];
    this.pipeline = null;
    this.exportResult = null;
    this.pipelinePath = null;
    this.runs = [];
    this.selectedRuns = [];
    this.comparison = null;
    this.baseline = null;
    this.chartMetric = null;
    this.selectedDataset = null;
    this.notice = null;
    this.error = null;
    this.checkedUnsaved = null;
    this._emit(true);
    await this.refresh();
  }

  /**
   * The notebook side: reads the notebook open in the editor (null when `path` is not
   * open). Check, Export and the step list then use the editor's content, not the file.
   */
  setEditor(read: ((path: string) => IOpenNotebook | null) | null): void {
    this._open = read ?? (() => null);
  }

  setActiveCell(cell: IActiveCell | null): void {
    this.activeCell = cell;
    this._emit();
  }

  /** Tags or cells changed in the editor: check the pipeline again once edits pause. */
  contentChanged(): void {
    if (this._recheckTimer !== null) {
      this._timers.clear(this._recheckTimer);
    }
    this._recheckTimer = this._timers.set(() => {
      this._recheckTimer = null;
      void this.recheck();
    }, RECHECK_MS);
  }

  /** The step list and an export check of the open notebook, without a busy state. */
  async recheck(): Promise<void> {
    const path = this.notebook;
    const open = path ? this._open(path) : null;
    if (!path || !open) {
      return;
    }
    const turn = ++this._exportTurn;
    const outlineTurn = ++this._outlineTurn;
    const [outline, check] = await Promise.allSettled([
      this.service.pipeline(path, open.content),
      this.service.exportPipeline(path, true, open.content),
    ]);
    if (path !== this.notebook || turn !== this._exportTurn) {
      return; // another notebook now, or a newer check or export answers instead
    }
    if (outline.status === 'fulfilled' && outlineTurn === this._outlineTurn) {
      this.pipeline = outline.value; // else keep the last steps: the check says what is wrong
    }
    if (check.status === 'fulfilled') {
      this.exportResult = check.value;
      this.checkedUnsaved = open.unsaved;
    } else {
      const refused = refusal(check.reason);
      if (refused) {
        this.exportResult = refused;
        this.checkedUnsaved = open.unsaved;
      } else {
        this.error = messageOf(check.reason);
      }
    }
    this._emit(true);
  }

  setTracing(on: boolean): void {
    this.tracing = on;
    this._emit();
  }

  /** Switch between the Run All view and the live-namespace view of staleness. */
  async setStaleOrder(order: MlprodAPI.StaleOrder): Promise<void> {
    if (order === this.staleOrder) {
      return;
    }
    this.staleOrder = order;
    this._emit();
    const path = this.notebook;
    if (!path) {
      return;
    }
    try {
      const stale = (await this.service.stale(path, order)).stale;
      if (path === this.notebook && order === this.staleOrder) {
        this.stale = stale;
        this._emit(true);
      }
    } catch (error) {
      this.error = messageOf(error);
      this._emit();
    }
  }

  setTab(tab: Tab): void {
    this.tab = tab;
    this._emit();
  }

  selectDataset(path: string | null): void {
    this.selectedDataset = path;
    this._emit();
  }

  setDifferencesOnly(on: boolean): void {
    this.differencesOnly = on;
    this._emit();
  }

  setChartMetric(name: string): void {
    this.chartMetric = name;
    this._emit();
  }

  /** Show or hide: polling runs only while the panel is visible. */
  setVisible(visible: boolean): void {
    if (visible === this.visible) {
      return;
    }
    this.visible = visible;
    if (visible) {
      void this.refresh();
    } else {
      this._stopPolling();
      this._stopLineagePoll();
    }
  }

  /** A cell of the current notebook ran: refresh soon (once for a burst of cells). */
  cellExecuted(): void {
    if (!this.visible) {
      this._dirty = true;
      return;
    }
    if (this._debounce !== null) {
      this._timers.clear(this._debounce);
    }
    this._debounce = this._timers.set(() => {
      this._debounce = null;
      void this.refreshNotebook();
    }, EXECUTED_DEBOUNCE_MS);
  }

  /** Everything: lineage, stale cells, pipeline outline and runs. */
  async refresh(): Promise<void> {
    this._dirty = false;
    await Promise.all([this.refreshNotebook(), this.refreshRuns()]);
    this._schedulePoll();
  }

  async refreshNotebook(): Promise<void> {
    const path = this.notebook;
    if (!path) {
      return;
    }
    const outlineTurn = ++this._outlineTurn;
    const [lineage, stale, pipeline] = await Promise.allSettled([
      this._lineageNow(path),
      this.service.stale(path, this.staleOrder),
      this.service.pipeline(path, this._open(path)?.content),
    ]);
    if (path !== this.notebook) {
      return; // the user moved to another notebook meanwhile
    }
    this.error = null;
    this.notice = null;
    if (lineage.status === 'fulfilled') {
      this.lineage = lineage.value;
    } else if (lineage.reason instanceof ApiError && lineage.reason.status === 404) {
      this.lineage = null;
      // nothing recorded yet: with tracing on, the next run records it (no %load_ext hint)
      this.notice = this.tracing ? null : lineage.reason.message;
    } else {
      this.error = messageOf(lineage.reason);
    }
    this.stale = stale.status === 'fulfilled' ? stale.value.stale : [];
    if (outlineTurn !== this._outlineTurn) {
      // the step list of newer edits was asked for since: it answers instead
    } else if (pipeline.status === 'fulfilled') {
      this.pipeline = pipeline.value;
    } else if (outlineRefused(pipeline.reason)) {
      // the tags do not parse (as typed): the last steps stay, the problem shows on its cell
      this.exportResult = refusal(pipeline.reason, true);
    } else if (!this.error && !(pipeline.reason instanceof ApiError && pipeline.reason.status === 404)) {
      this.error = messageOf(pipeline.reason);
    }
    this._emit(true);
    this._scheduleLineagePoll();
  }

  /**
   * Ask whether the lineage changed since the version shown (the server answers 304,
   * or only what is new); when it did, the stale cells too. Returns whether it changed.
   */
  async pollLineage(): Promise<boolean> {
    const path = this.notebook;
    const shown = this.lineage;
    if (!path || !shown?.version) {
      return false;
    }
    let lineage: MlprodAPI.ILineage;
    try {
      lineage = await this._lineageNow(path);
    } catch {
      return false; // the next full refresh reports it
    }
    const same = lineage === shown || lineage.version === shown.version;
    if (path !== this.notebook || same || this.lineage !== shown) {
      return false;
    }
    // the graph first (the stale list is a second round trip)
    this.lineage = lineage;
    this._emit();
    await this.refreshStale();
    return true;
  }

  /** The lineage now: the changes since the version shown merged into it. */
  private async _lineageNow(path: string): Promise<MlprodAPI.ILineage> {
    const shown = this.lineage;
    const version = shown?.version ?? null;
    const answer = await this.service.lineageSince(path, version);
    if (answer === null) {
      return shown as MlprodAPI.ILineage; // unchanged (304)
    }
    if (!isDelta(answer)) {
      return answer;
    }
    if (shown && shown.version === answer.since) {
      return mergeLineage(shown, answer);
    }
    return this.service.lineage(path); // a delta from a version no longer shown
  }

  /** The next look for lineage changes, while the panel shows a versioned lineage. */
  private _scheduleLineagePoll(): void {
    this._stopLineagePoll();
    if (!this.visible || !this.lineage?.version) {
      return;
    }
    this._lineagePoll = this._timers.set(() => {
      this._lineagePoll = null;
      void this.pollLineage().then(() => {
        if (this._lineagePoll === null) {
          this._scheduleLineagePoll();
        }
      });
    }, LINEAGE_POLL_MS);
  }

  private _stopLineagePoll(): void {
    if (this._lineagePoll !== null) {
      this._timers.clear(this._lineagePoll);
      this._lineagePoll = null;
    }
  }

  /** Only the stale cells: cheap, so the idle poll asks (an input file may have changed). */
  async refreshStale(): Promise<void> {
    const path = this.notebook;
    if (!path || !this.lineage) {
      return;
    }
    try {
      const stale = (await this.service.stale(path, this.staleOrder)).stale;
      if (path === this.notebook && JSON.stringify(stale) !== JSON.stringify(this.stale)) {
        this.stale = stale;
        this._emit(true);
      }
    } catch {
      // the next full refresh reports it
    }
  }

  async refreshRuns(): Promise<void> {
    const path = this.notebook;
    try {
      const answer = await this.service.runs(null, this.notebook);
      if (path !== this.notebook) {
        return; // the user moved to another notebook meanwhile
      }
      this.runs = answer.runs.filter(run => this._ofNotebook(run));
      this.selectedRuns = this.selectedRuns.filter(id => this.runs.some(r => r.id === id));
      if (!this.pipelinePath && this.runs.length > 0) {
        this.pipelinePath = this.runs[0].pipeline;
      }
      if (!this.chartMetric || !metricNames(this.runs).includes(this.chartMetric)) {
        this.chartMetric = metricNames(this.runs)[0] ?? null;
      }
    } catch (error) {
      this.error = messageOf(error);
    }
    this._emit();
  }

  async exportPipeline(check: boolean): Promise<void> {
    if (!this.notebook) {
      return;
    }
    const path = this.notebook;
    const open = this._open(path); // the editor's notebook, unsaved edits included
    const turn = ++this._exportTurn;
    await this._busy(check ? 'checking export' : 'exporting', async () => {
      let result: MlprodAPI.IExportResult;
      try {
        result = await this.service.exportPipeline(path, check, open?.content);
      } catch (error) {
        const refused = refusal(error);
        if (!refused) {
          throw error;
        }
        result = refused;
      }
      if (path !== this.notebook || turn !== this._exportTurn) {
        return;
      }
      this.exportResult = result;
      this.checkedUnsaved = open ? open.unsaved : null;
      if (result.ok && result.pipeline) {
        this.pipelinePath = result.pipeline;
      }
      this._marksChanged.emit();
    });
  }

  /** Start a run of the exported pipeline with the form's values. */
  async startRun(values: Record<string, string | boolean>): Promise<void> {
    const pipeline = this.pipelinePath;
    if (!pipeline) {
      this.error = 'export the pipeline first';
      this._emit();
      return;
    }
    const parameters = this.exportResult?.parameters ?? this.pipeline?.parameters ?? [];
    let params: Record<string, MlprodAPI.Value>;
    try {
      params = {};
      for (const parameter of parameters) {
        if (parameter.name in values) {
          params[parameter.name] = coerceParameter(parameter, values[parameter.name]);
        }
      }
    } catch (error) {
      this.error = messageOf(error);
      this._emit();
      return;
    }
    const path = this.notebook as string;
    await this._busy('starting run', async () => {
      const started = await this.service.startRun(pipeline, params);
      this._activeRuns.set(path, {
        id: started.run_id,
        status: started.status,
        steps: [],
        progress: { done: 0, total: 0, current: null },
      });
    });
    this._schedulePoll();
  }

  /** Ask about the running pipeline once; when it ends, reload runs and lineage. */
  async pollRun(): Promise<void> {
    const run = this.activeRun;
    const path = this.notebook;
    if (!run || !path || isFinished(run.status)) {
      return;
    }
    try {
      const status = await this.service.runStatus(run.id);
      this._activeRuns.set(path, status);
      if (path !== this.notebook) {
        return;
      }
      if (isFinished(status.status)) {
        await Promise.all([this.refreshRuns(), this.refreshNotebook()]);
      }
    } catch (error) {
      this.error = messageOf(error);
    }
    this._emit();
  }

  /** Show one run in the Runs tab, selected (a schedule's last run, a fire's run). */
  showRun(id: string): void {
    if (!this.selectedRuns.includes(id)) {
      this.selectedRuns = [...this.selectedRuns, id];
    }
    this.setTab('runs');
    void this.refreshRuns();
  }

  toggleRun(id: string): void {
    this.selectedRuns = this.selectedRuns.includes(id)
      ? this.selectedRuns.filter(r => r !== id)
      : [...this.selectedRuns, id];
    this._emit();
  }

  async compareSelected(): Promise<void> {
    if (this.selectedRuns.length < 2) {
      this.error = 'select two or more runs to compare';
      this._emit();
      return;
    }
    const path = this.notebook;
    const chosen = this.baseline;
    const baseline = chosen && this.selectedRuns.includes(chosen) ? chosen : null;
    await this._busy('comparing', async () => {
      const comparison = await this.service.compare(this.selectedRuns, baseline);
      if (path === this.notebook) {
        this.comparison = comparison;
        this.baseline = comparison.baseline ?? baseline;
      }
    });
  }

  /** Diff the compared runs' step code against another run. */
  async setBaseline(id: string): Promise<void> {
    this.baseline = id;
    if (this.comparison?.runs.includes(id)) {
      this.selectedRuns = [...this.comparison.runs];
      await this.compareSelected();
    } else {
      this._emit();
    }
  }

  sortRunsBy(key: RunSortKey): void {
    this.runsSort = nextSort(this.runsSort, key);
    this._emit();
  }

  /** Stop a running run; the runs list shows it aborted once its runner has stopped. */
  async cancelRun(id: string): Promise<void> {
    const path = this.notebook;
    await this._busy('cancelling run', async () => {
      await this.service.cancelRun(id);
      if (path) {
        // followed as the active run (polled quickly) until its runner has stopped
        this._activeRuns.set(path, {
          id,
          status: 'running',
          steps: [],
          progress: { done: 0, total: 0, current: null },
        });
      }
    });
    await this.refreshRuns();
    this._schedulePoll();
  }

  /** Start a new run of the same pipeline with the parameters of run `id`. */
  async rerun(id: string): Promise<void> {
    const run = this.runs.find(r => r.id === id);
    const path = this.notebook;
    if (!run || !path) {
      return;
    }
    await this._busy('starting run', async () => {
      const started = await this.service.startRun(run.pipeline, rerunParams(run));
      this._activeRuns.set(path, {
        id: started.run_id,
        status: started.status,
        steps: [],
        progress: { done: 0, total: 0, current: null },
      });
    });
    await this.refreshRuns();
    this._schedulePoll();
  }

  /**
   * Open a run's executed step notebook (`what`: a step name) or its log ('log') in Lab:
   * the server copies them out of the hidden store folder, read-only.
   */
  async openRunFile(id: string, what: string, open: (path: string) => void): Promise<void> {
    await this._busy('opening', async () => {
      const files = await this.service.runFiles(id);
      const path = what === 'log' ? files.log : files.steps[what];
      if (!path) {
        const missing = what === 'log' ? 'log' : `notebook for step ${what}`;
        throw new Error(`run ${id} has no ${missing}`);
      }
      open(path);
    });
  }

  dispose(): void {
    this._stopPolling();
    this._stopLineagePoll();
    for (const timer of [this._debounce, this._recheckTimer]) {
      if (timer !== null) {
        this._timers.clear(timer);
      }
    }
    Signal.clearData(this);
  }

  /** The next poll: quick while a run is going, slow otherwise; none while hidden. */
  private _schedulePoll(): void {
    this._stopPolling();
    if (!this.visible) {
      return;
    }
    const running = this.activeRun !== null && !isFinished(this.activeRun.status);
    this._poll = this._timers.set(
      () => {
        this._poll = null;
        const work = running
          ? this.pollRun()
          : this._dirty
            ? this.refresh()
            : Promise.all([this.refreshRuns(), this.refreshStale()]);
        void Promise.resolve(work).then(() => this._schedulePoll());
      },
      running ? RUN_POLL_MS : IDLE_POLL_MS
    );
  }

  /**
   * Runs exported from the current notebook; a run that does not name its notebook
   * only when it ran this notebook's pipeline. Runs name their notebook by absolute
   * (maybe resolved) path: compare the tail.
   */
  private _ofNotebook(run: MlprodAPI.IRun): boolean {
    const source = run.source_notebook?.replace(/\\/g, '/');
    if (!this.notebook) {
      return false;
    }
    if (!source) {
      // export's default folder for this notebook, or the pipeline it exported to
      const pipeline = run.pipeline.replace(/\\/g, '/');
      const folder = this.notebook.replace(/\.ipynb$/, '.pipeline');
      return (
        pipeline === this.pipelinePath ||
        pipeline === folder ||
        pipeline.endsWith(`/${folder}`)
      );
    }
    return source === this.notebook || source.endsWith(`/${this.notebook}`);
  }

  private _stopPolling(): void {
    if (this._poll !== null) {
      this._timers.clear(this._poll);
      this._poll = null;
    }
  }

  private async _busy(what: string, work: () => Promise<void>): Promise<void> {
    const path = this.notebook;
    this.busy = what;
    this.error = null;
    this._emit();
    try {
      await work();
    } catch (error) {
      if (path === this.notebook) {
        this.error = messageOf(error); // not shown on another notebook
      }
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  private _emit(marks = false): void {
    this._changed.emit();
    if (marks) {
      this._marksChanged.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _marksChanged = new Signal<this, void>(this);
  private _activeRuns = new Map<string, MlprodAPI.IRunStatus>();
  private _poll: unknown = null;
  private _debounce: unknown = null;
  private _lineagePoll: unknown = null;
  private _dirty = false;
  private _open: (path: string) => IOpenNotebook | null = () => null;
  private _recheckTimer: unknown = null;
  /** count exports and checks, and step-list requests: only the latest answer is shown */
  private _exportTurn = 0;
  private _outlineTurn = 0;
}

/**
 * A malformed cell (tags that are not a list, ...) refused with 400: an export problem
 * on it. `anyCell`: also a refusal naming no cell (the step list's 400 and 422 answers).
 */
function refusal(error: unknown, anyCell = false): MlprodAPI.IExportResult | null {
  if (!(error instanceof ApiError) || !(error.cellId || anyCell)) {
    return null;
  }
  return {
    ok: false,
    pipeline: null,
    steps: [],
    errors: [{ message: error.message, cell_id: error.cellId, step: error.step }],
  };
}

/** The step list was refused because of the notebook (bad tags, a damaged cell). */
function outlineRefused(error: unknown): error is ApiError {
  return error instanceof ApiError && (error.status === 400 || error.status === 422);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
