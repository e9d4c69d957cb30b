/**
 * The shapes of the server extension's REST answers (docs/contracts.md section 4).
 */
export namespace MlprodAPI {
  export type Value = string | number | boolean | null;

  export interface IFileAccess {
    path: string;
    mode: 'read' | 'write';
    sha256: string | null;
    size: number | null;
    via: string;
  }

  export interface IExecution {
    id: string;
    session: string;
    seq: number;
    cell_id: string | null;
    execution_count: number | null;
    started: number;
    duration_ms: number;
    status: string;
    error_name: string | null;
    error_message: string | null;
    source_hash: string;
    defines: string[];
    uses: string[];
    deps: { name: string; execution: string }[];
    files: IFileAccess[];
    params: Record<string, unknown>;
    metrics: unknown;
    stale: boolean;
    /** the cell's source, when the store has it */
    source?: string | null;
    /** the pipeline step it ran in, for executions of a run */
    step?: string | null;
  }

  export interface IDatasetVersion {
    sha256: string | null;
    size: number | null;
    readers: string[];
    writers: string[];
  }

  export interface IDataset {
    path: string;
    versions: IDatasetVersion[];
  }

  export interface IEdge {
    source: string;
    target: string;
    kind: 'name' | 'file';
    label: string;
  }

  export interface ILineage {
    notebook: string;
    executions: IExecution[];
    datasets: IDataset[];
    edges: IEdge[];
    cells: Record<string, string>;
    /** the answer's version tag (its ETag), to ask for changes since */
    version?: string;
  }

  /**
   * What changed since the version `since` (lineage?since=VERSION): new executions
   * and edges (appended), cells whose latest execution changed, changed or new
   * datasets, and the ids of every stale execution.
   */
  export interface ILineageDelta {
    notebook: string;
    version: string;
    since: string;
    executions: IExecution[];
    edges: IEdge[];
    datasets: IDataset[];
    cells: Record<string, string>;
    stale: string[];
  }

  export interface IStaleReason {
    /** order: a name only a cell below defines (Run All would fail there) */
    kind: 'name' | 'file' | 'order';
    name?: string | null;
    path?: string | null;
    detail: string;
  }

  export interface IStaleCell {
    cell_id: string | null;
    execution: string;
    execution_count?: number | null;
    reasons: IStaleReason[];
    /** stale: an input of its own changed; downstream: through a stale cell above */
    state?: 'stale' | 'downstream' | 'order';
  }

  /** run-all: would Run All change what a cell saw? any: the live namespace */
  export type StaleOrder = 'run-all' | 'any';

  export interface IStale {
    notebook: string;
    order?: StaleOrder;
    stale: IStaleCell[];
  }

  export interface IParameter {
    name: string;
    default: unknown;
    type: string;
  }

  export interface IPipeline {
    notebook: string;
    steps: { name: string; cells: string[] }[];
    cells: Record<string, string>;
    parameters: IParameter[];
  }

  export interface IProblem {
    message: string;
    cell_id?: string | null;
    step?: string | null;
    /** every cell to blame (a cycle's step and after: cells), cell_id first */
    cells?: string[] | null;
  }

  /** A cell as the panel sends it: what the compiler reads, outputs left out. */
  export interface IContentCell {
    id: string;
    cell_type: string;
    source: string;
    metadata: Record<string, unknown>;
  }

  /** The notebook as the editor holds it, unsaved edits included (nbformat 4 JSON). */
  export interface INotebookContent {
    nbformat: number;
    nbformat_minor: number;
    metadata: Record<string, unknown>;
    cells: IContentCell[];
  }

  export interface IExportResult {
    ok: boolean;
    /** what the server compiled: the editor's content or the saved file */
    source?: 'editor' | 'file';
    pipeline?: string | null;
    steps: { name: string; cells?: string[] }[];
    parameters?: IParameter[];
    warnings?: string[];
    errors: IProblem[];
  }

  export interface IRunStarted {
    run_id: string;
    status: string;
  }

  export interface IStepStatus {
    name: string;
    status: string;
    duration_ms: number | null;
    cached?: boolean;
  }

  export interface IRunStatus {
    id: string;
    status: string;
    steps: IStepStatus[];
    progress: { done: number; total: number; current: string | null };
    log_tail?: string | string[];
    error?: string | null;
  }

  export interface IRun {
    id: string;
    pipeline: string;
    status: string;
    started: number;
    finished: number | null;
    duration_ms: number | null;
    params: Record<string, unknown>;
    metrics: Record<string, number>;
    steps: IStepStatus[];
    cached_steps: number;
    source_notebook?: string | null;
    /** what fired it: a schedule's id, or "airflow:<dag id>"; null: started by hand */
    schedule?: string | null;
    /** why it fired: "cron 0 3 * * * at ...", "new data: ...", "airflow run ..." */
    reason?: string | null;
  }

  export interface IRuns {
    runs: IRun[];
  }

  export interface IRow {
    name: string;
    values: unknown[];
    differs: boolean;
    /** files: per run, the run a cached step took the file from (null: this run's own) */
    from_cache?: (string | null)[];
  }

  /** A file one step of a run read or wrote, at one version (a cached step's: its producer's). */
  export interface IRunFile {
    path: string;
    mode: 'read' | 'write';
    sha256: string | null;
    size: number | null;
    step: string;
    from_cache: string | null;
  }

  /** run/ID/files: read-only copies of a run's step notebooks and log, relative to the root. */
  export interface IRunFiles {
    run_id: string;
    log: string | null;
    steps: Record<string, string>;
  }

  export interface IStepDiff {
    name: string;
    hashes: (string | null)[];
    differs: boolean;
    diff: string | string[] | null;
  }

  export interface ICompare {
    /** oldest first */
    runs: string[];
    /** the run step code is diffed against */
    baseline?: string | null;
    started?: (number | null)[];
    params: IRow[];
    metrics: IRow[];
    /** files read */
    datasets: IRow[];
    /** files written (models, metrics files, ...) */
    outputs?: IRow[];
    steps: IStepDiff[];
    /** run id -> every file its steps read and wrote */
    files?: Record<string, IRunFile[]>;
    /** each dataset a run read or wrote at another version than the baseline run */
    drift?: IDatasetDrift[];
    /** PSI over `flagged` is drift; over `moderate` a moderate shift */
    drift_thresholds?: { moderate: number; flagged: number };
  }

  /** One column of a dataset version against the baseline's (schema change or PSI). */
  export interface IColumnDrift {
    column: string;
    psi: number | null;
    change: 'added' | 'removed' | 'retyped' | null;
    flagged: boolean;
    /** e.g. "amount: PSI 0.312 (drifted)", "plan: removed (was VARCHAR)" */
    text: string;
  }

  export interface IDatasetDrift {
    path: string;
    mode: 'read' | 'write';
    /** "" for a flat file; a DuckDB database's table */
    table: string;
    baseline: string;
    run: string;
    columns: IColumnDrift[];
    /** why the versions could not be compared (not profiled) */
    unknown: string | null;
  }

  /** A schedule as the server lists it (schedules?path=NB): its trigger and what it did last. */
  export interface ISchedule {
    id: string;
    name: string;
    /** the pipeline folder, relative to the server's root */
    pipeline: string;
    cron: string | null;
    tz: string;
    on_new_data: boolean;
    params: Record<string, unknown>;
    paused: boolean;
    created: number;
    updated: number;
    /** epoch seconds; null: paused, or only on new data */
    next_fire?: number | null;
    last_run?: string | null;
    last_status?: string | null;
  }

  export interface ISchedules {
    schedules: ISchedule[];
  }

  /** One fire time of a schedule and what became of it. */
  export interface IFire {
    schedule: string;
    due: number;
    reason: string;
    status: string;
    run: string | null;
    detail: string | null;
  }

  /** What a cron expression means, and its next fire times (ISO 8601 with offset). */
  export interface IPreview {
    description: string;
    next: string[];
  }

  /** What POST schedules takes: a pipeline and a trigger (a cron, new data, or both). */
  export interface IScheduleRequest {
    pipeline: string;
    cron?: string | null;
    tz?: string;
    on_new_data?: boolean;
    params?: Record<string, Value>;
    name?: string;
  }

  export type IScheduleChanges = Partial<
    Pick<IScheduleRequest, 'cron' | 'tz' | 'on_new_data' | 'params' | 'name'>
  > & { paused?: boolean };
}
