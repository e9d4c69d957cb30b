import { ServerConnection } from '@jupyterlab/services';

import { MlprodAPI } from './api';
import { requestAPI } from './request';

/** The one typed path from the panel to the server extension. */
export class MlprodService {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  lineage(path: string): Promise<MlprodAPI.ILineage> {
    return this._get(`lineage?${query({ path })}`);
  }

  /**
   * The lineage's changes since `version` (the version of the copy the caller holds):
   * null when nothing changed (304), a delta, or the full lineage when the server no
   * longer knows that version.
   */
  lineageSince(
    path: string,
    version: string | null
  ): Promise<MlprodAPI.ILineage | MlprodAPI.ILineageDelta | null> {
    if (!version) {
      return this.lineage(path);
    }
    return requestAPI<MlprodAPI.ILineage | MlprodAPI.ILineageDelta | null>(
      `lineage?${query({ path, since: version })}`,
      { method: 'GET', headers: { 'If-None-Match': `"${version}"` } },
      this.settings
    );
  }

  /** Stale cells; `order` 'any' asks for the live-namespace view (default: Run All). */
  stale(path: string, order: MlprodAPI.StaleOrder = 'run-all'): Promise<MlprodAPI.IStale> {
    return this._get(`stale?${query(order === 'run-all' ? { path } : { path, order })}`);
  }

  /** The steps the tags make: of the saved file, or of `content` (the editor's notebook). */
  pipeline(path: string, content?: MlprodAPI.INotebookContent): Promise<MlprodAPI.IPipeline> {
    return content
      ? this._post('pipeline', { path, content })
      : this._get(`pipeline?${query({ path })}`);
  }

  /** Export (or only check) the notebook at `path`: its `content` if given, else the file. */
  exportPipeline(
    path: string,
    check = false,
    content?: MlprodAPI.INotebookContent
  ): Promise<MlprodAPI.IExportResult> {
    return this._post('export', content ? { path, check, content } : { path, check });
  }

  startRun(
    pipeline: string,
    params: Record<string, MlprodAPI.Value>
  ): Promise<MlprodAPI.IRunStarted> {
    return this._post('run', { pipeline, params });
  }

  runStatus(id: string): Promise<MlprodAPI.IRunStatus> {
    return this._get(`run/${encodeURIComponent(id)}`);
  }

  /** Runs of a pipeline, else of the store a notebook's runs land in (its sub-project's). */
  runs(pipeline?: string | null, notebook?: string | null): Promise<MlprodAPI.IRuns> {
    if (pipeline) {
      return this._get(`runs?${query({ pipeline })}`);
    }
    return this._get(notebook ? `runs?${query({ path: notebook })}` : 'runs');
  }

  /** The runs side by side (oldest first), step code diffed against `baseline`. */
  compare(ids: string[], baseline?: string | null): Promise<MlprodAPI.ICompare> {
    const runs = ids.join(',');
    return this._get(`compare?${query(baseline ? { runs, baseline } : { runs })}`);
  }

  /** Stop a running run (it ends recorded as aborted). */
  cancelRun(id: string): Promise<{ id: string; status: string }> {
    return this._post(`run/${encodeURIComponent(id)}/cancel`, {});
  }

  /** Read-only copies of a run's executed step notebooks and log, for Lab to open. */
  runFiles(id: string): Promise<MlprodAPI.IRunFiles> {
    return this._post(`run/${encodeURIComponent(id)}/files`, {});
  }

  /** Schedules in the store of the notebook's project, with their next fire and last run. */
  schedules(notebook: string): Promise<MlprodAPI.ISchedules> {
    return this._get(`schedules?${query({ path: notebook })}`);
  }

  createSchedule(request: MlprodAPI.IScheduleRequest): Promise<MlprodAPI.ISchedule> {
    return this._post('schedules', request);
  }

  /** Change a schedule in the store of `notebook` (default: the server root's). */
  updateSchedule(
    id: string,
    changes: MlprodAPI.IScheduleChanges,
    notebook?: string | null
  ): Promise<MlprodAPI.ISchedule> {
    return this._send('PATCH', scheduleRoute(id, '', notebook), changes);
  }

  removeSchedule(id: string, notebook?: string | null): Promise<unknown> {
    return requestAPI(scheduleRoute(id, '', notebook), { method: 'DELETE' }, this.settings);
  }

  scheduleHistory(id: string, notebook?: string | null): Promise<{ fires: MlprodAPI.IFire[] }> {
    return this._get(scheduleRoute(id, '/history', notebook));
  }

  /** What a cron means in time zone `tz`, and its next three fire times. */
  previewSchedule(cron: string, tz: string): Promise<MlprodAPI.IPreview> {
    return this._get(`schedules/preview?${query({ cron, tz })}`);
  }

  /** The files whose new content would fire an "on new data" schedule of the pipeline. */
  scheduleInputs(pipeline: string): Promise<{ files: string[] }> {
    return this._get(`schedules/inputs?${query({ pipeline })}`);
  }

  private _get<T>(endpoint: string): Promise<T> {
    return requestAPI<T>(endpoint, { method: 'GET' }, this.settings);
  }

  private _post<T>(endpoint: string, body: unknown): Promise<T> {
    return this._send('POST', endpoint, body);
  }

  private _send<T>(method: string, endpoint: string, body: unknown): Promise<T> {
    return requestAPI<T>(endpoint, { method, body: JSON.stringify(body) }, this.settings);
  }
}

function scheduleRoute(id: string, tail: string, notebook?: string | null): string {
  const route = `schedules/${encodeURIComponent(id)}${tail}`;
  return notebook ? `${route}?${query({ path: notebook })}` : route;
}

function query(values: Record<string, string>): string {
  return new URLSearchParams(values).toString();
}
