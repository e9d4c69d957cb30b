/** Small text formatters shared by the views. */

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '—';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** Start times are seconds since the epoch. */
export function formatTime(seconds: number | null | undefined): string {
  if (!seconds) {
    return '—';
  }
  const date = new Date(seconds * 1000);
  return date.toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '—';
  }
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * What started a run, for a badge beside its id: null when started by hand; "airflow" for
 * an Airflow DAG run (schedule "airflow:<dag id>"), else "scheduled"; the title says which
 * schedule and why it fired.
 */
export function firedBy(
  schedule: string | null | undefined,
  reason: string | null | undefined
): { label: string; title: string } | null {
  if (!schedule) {
    return null;
  }
  const label = schedule.startsWith('airflow:') ? 'airflow' : 'scheduled';
  return { label, title: reason ? `${schedule}: ${reason}` : schedule };
}

/** Run ids look like 20261124-174830-fb4414: the time and suffix tell runs of a day apart. */
export function shortId(id: string): string {
  const match = /^\d{8}-(\d{6}-\w+)$/.exec(id);
  if (match) {
    return match[1];
  }
  return id.length > 14 ? `…${id.slice(-13)}` : id;
}

/** A sha256 (or any long hex digest) cut to its first 10 characters. */
export function formatDigest(value: unknown): string {
  return typeof value === 'string' && /^[0-9a-f]{32,}$/.test(value)
    ? value.slice(0, 10)
    : formatValue(value);
}

export function compactMap(values: Record<string, unknown> | null | undefined): string {
  return Object.entries(values ?? {})
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(', ');
}

/** A path inside the server root shown relative to it (the server answers absolute paths). */
export function relativePath(path: string, root: string): string {
  const base = root.replace(/\/+$/, '');
  return base && path.startsWith(`${base}/`) ? path.slice(base.length + 1) : path;
}

/** Ids that Lab and nbformat generate (UUIDs, random hex): they say nothing to a reader. */
const GENERATED_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-|[0-9a-f-]{16,}$)/i;
const LABEL_WORDS = 28;

/**
 * What a cell is called everywhere in the panel: its execution count, then its id if a
 * person chose it (`load`), else its heading comment or first line of code, cut short.
 */
export function cellLabel(
  cellId: string | null,
  count: number | null | undefined,
  source?: string | null
): string {
  const prefix = `[${count ?? ' '}]`;
  if (cellId && !GENERATED_ID.test(cellId)) {
    return `${prefix} ${cellId}`;
  }
  const summary = summarise(source ?? '');
  if (summary) {
    return `${prefix} ${summary}`;
  }
  return cellId ? `${prefix} ${cellId.slice(0, 8)}` : prefix;
}

function summarise(source: string): string {
  const lines = source.split('\n').map(line => line.trim());
  const heading = lines.find(line => /^#+\s*\S/.test(line) && !line.startsWith('#!'));
  const code = lines.find(line => line && !line.startsWith('#') && !line.startsWith('%'));
  const text = (heading ? heading.replace(/^#+\s*/, '') : code ?? '').replace(/\s+/g, ' ');
  return text.length > LABEL_WORDS ? `${text.slice(0, LABEL_WORDS - 1).trimEnd()}…` : text;
}
