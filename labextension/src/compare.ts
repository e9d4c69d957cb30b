/**
 * The runs table and the comparison, without DOM: sorting, the baseline column, the
 * chart's axis, what "re-run with these parameters" sends.
 */
import { MlprodAPI } from './api';
import { compactMap } from './format';

/** The runs table's columns a click on the header sorts by. */
export type RunSortKey = 'id' | 'status' | 'started' | 'duration' | 'params' | 'metrics' | 'cached';

export interface IRunSort {
  key: RunSortKey;
  descending: boolean;
}

/** Newest first, as the server lists them. */
export const DEFAULT_SORT: IRunSort = { key: 'started', descending: true };

/** The value (the secret-named parameters the store keeps redacted) a re-run must not send. */
export const REDACTED = '<redacted>';

const SORT_VALUE: Record<RunSortKey, (run: MlprodAPI.IRun) => string | number> = {
  id: run => run.id,
  status: run => run.status,
  started: run => run.started ?? 0,
  duration: run => run.duration_ms ?? Number.POSITIVE_INFINITY, // still running: longest
  params: run => compactMap(run.params),
  metrics: run => compactMap(run.metrics),
  cached: run => run.cached_steps,
};

/** The runs in the table's order (ties keep the server's order: newest first). */
export function sortRuns(runs: MlprodAPI.IRun[], sort: IRunSort): MlprodAPI.IRun[] {
  const value = SORT_VALUE[sort.key];
  const sign = sort.descending ? -1 : 1;
  return runs
    .map((run, index) => ({ run, index }))
    .sort((a, b) => {
      const x = value(a.run);
      const y = value(b.run);
      const order =
        typeof x === 'number' && typeof y === 'number'
          ? x - y
          : String(x).localeCompare(String(y), undefined, { numeric: true });
      return order !== 0 ? sign * order : a.index - b.index;
    })
    .map(entry => entry.run);
}

/** A click on a column header: the same column flips direction, another starts ascending
 * (time and duration start with the newest and longest). */
export function nextSort(current: IRunSort, key: RunSortKey): IRunSort {
  if (current.key === key) {
    return { key, descending: !current.descending };
  }
  return { key, descending: key === 'started' || key === 'duration' };
}

/** The index of the baseline column (the oldest run unless another was chosen). */
export function baselineIndex(comparison: MlprodAPI.ICompare): number {
  const found = comparison.baseline ? comparison.runs.indexOf(comparison.baseline) : -1;
  return found >= 0 ? found : 0;
}

/** Equal for equal values whatever their key order or 1 vs 1.0 (as the server compares). */
function canonical(value: unknown): string {
  if (value === null || value === undefined) {
    return '\0missing';
  }
  if (typeof value === 'object') {
    const sorted = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map(k => [k, sorted((v as Record<string, unknown>)[k])])
          )
        : v;
    return JSON.stringify(sorted(value));
  }
  return JSON.stringify(value);
}

/** Whether a run's value in a row differs from the baseline run's. */
export function differsFromBaseline(row: MlprodAPI.IRow, index: number, baseline: number): boolean {
  return index !== baseline && canonical(row.values[index]) !== canonical(row.values[baseline]);
}

/** A file row's note for one run: whose step produced it when the step came from cache. */
export function cacheNote(row: MlprodAPI.IRow, index: number): string | null {
  const origin = row.from_cache?.[index];
  return origin ? `from cache (run ${origin})` : null;
}

export interface IAxis {
  min: number;
  max: number;
  ticks: number[];
}

/** A y axis for the values: round bounds and 3 to 6 round ticks covering them. */
export function chartAxis(values: number[]): IAxis {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) {
    return { min: 0, max: 1, ticks: [0, 1] };
  }
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (low === high) {
    const pad = Math.abs(low) * 0.1 || 1;
    low -= pad;
    high += pad;
  }
  const rough = (high - low) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map(f => f * power).find(s => s >= rough) ?? 10 * power;
  const min = Math.floor(low / step) * step;
  const max = Math.ceil(high / step) * step;
  const ticks: number[] = [];
  for (let tick = min; tick <= max + step / 2; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
  }
  return { min, max, ticks };
}

/** The parameters a re-run sends: the run's own, but never a redacted secret (the
 * pipeline's default or the runner's environment supplies those). */
export function rerunParams(run: MlprodAPI.IRun): Record<string, MlprodAPI.Value> {
  const params: Record<string, MlprodAPI.Value> = {};
  for (const [name, value] of Object.entries(run.params ?? {})) {
    if (value === REDACTED) {
      continue;
    }
    params[name] =
      value === null || ['string', 'number', 'boolean'].includes(typeof value)
        ? (value as MlprodAPI.Value)
        : JSON.stringify(value); // lists, dicts: as text, checked against the default
  }
  return params;
}

export function isRunning(run: { status: string }): boolean {
  return ['running', 'pending', 'queued'].includes(run.status);
}
