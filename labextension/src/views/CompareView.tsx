import React from 'react';

import { MlprodAPI } from '../api';
import { baselineIndex, cacheNote, differsFromBaseline } from '../compare';
import { formatDigest, formatTime, formatValue, shortId } from '../format';
import { visibleRows } from '../model';

/**
 * The compared runs side by side, oldest first: parameters, metrics, the files each run
 * read and wrote (short hashes; a cached step's are its producer's, marked "from cache"),
 * and each step's code diffed against the baseline column.
 */
export function CompareView(props: {
  comparison: MlprodAPI.ICompare;
  differencesOnly: boolean;
  onDifferencesOnly: (on: boolean) => void;
  onBaseline: (id: string) => void;
}): JSX.Element {
  const { comparison, differencesOnly } = props;
  const base = baselineIndex(comparison);
  const columns = comparison.runs.length + 1;
  const section = (title: string, rows: MlprodAPI.IRow[], format = formatValue) => {
    const shown = visibleRows(rows, differencesOnly);
    return (
      <>
        <tr className="mlprod-Section">
          <th colSpan={columns}>{title}</th>
        </tr>
        {shown.length === 0 && (
          <tr>
            <td colSpan={columns} className="mlprod-Muted">
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
            <th title={row.name} className="mlprod-RowName">
              {row.name}
            </th>
            {row.values.map((value, i) => {
              const note = cacheNote(row, i);
              const changed = differsFromBaseline(row, i, base);
              return (
                <td
                  key={i}
                  title={[String(value ?? 'missing'), note].filter(Boolean).join('\n')}
                  className={`mlprod-Value${changed ? ' mlprod-DiffersCell' : ''}`}
                  data-run-id={comparison.runs[i]}
                >
                  <span className="mlprod-NoWrap">{format(value)}</span>
                  {note && <span className="mlprod-FromCache">from cache</span>}
                </td>
              );
            })}
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
              <th className="mlprod-Muted">oldest → newest</th>
              {comparison.runs.map((id, i) => (
                <th key={id} title={id} data-run-id={id} className={i === base ? 'mlprod-Baseline' : ''}>
                  <code className="mlprod-NoWrap">{shortId(id)}</code>
                  <div className="mlprod-Muted mlprod-NoWrap">
                    {formatTime(comparison.started?.[i])}
                  </div>
                  <label className="mlprod-NoWrap" title="diff step code against this run">
                    <input
                      type="radio"
                      name="mlprod-baseline"
                      aria-label={`baseline ${id}`}
                      checked={i === base}
                      onChange={() => props.onBaseline(id)}
                    />{' '}
                    baseline
                  </label>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {section('parameters', comparison.params)}
            {section('metrics', comparison.metrics)}
            {section('data read', comparison.datasets, formatDigest)}
            {section('data written', comparison.outputs ?? [], formatDigest)}
          </tbody>
        </table>
      </div>
      <DriftView comparison={comparison} />
      <h3>Step code (against {shortId(comparison.runs[base] ?? '')})</h3>
      {steps.length === 0 && <div className="mlprod-Muted">no step code changes</div>}
      {steps.map(step => (
        <details key={step.name} open={step.differs} className="mlprod-StepDiff">
          <summary>
            {step.name} {step.differs ? '(changed)' : '(same)'}
          </summary>
          {step.diff && <Diff text={Array.isArray(step.diff) ? step.diff.join('\n') : step.diff} />}
        </details>
      ))}
    </div>
  );
}

/** Each dataset version against the baseline run's: schema changes and PSI per column. */
function DriftView(props: { comparison: MlprodAPI.ICompare }): JSX.Element {
  const drift = props.comparison.drift ?? [];
  const flagged = props.comparison.drift_thresholds?.flagged ?? 0.2;
  return (
    <div className="mlprod-DriftSection">
      <h3>Data drift (PSI over {flagged} flagged)</h3>
      {drift.length === 0 && (
        <div className="mlprod-Muted">every dataset at the baseline&apos;s version</div>
      )}
      {drift.map(d => {
        const bad = d.columns.filter(c => c.flagged);
        const where = d.table ? `${d.path} (${d.table})` : d.path;
        return (
          <details
            key={`${d.mode}:${where}:${d.run}`}
            className={`mlprod-Drift${bad.length ? ' mlprod-Drifted' : ''}`}
            data-path={d.path}
            data-run-id={d.run}
          >
            <summary>
              <code>{where}</code> {d.mode === 'read' ? 'read' : 'written'} by{' '}
              <code>{shortId(d.run)}</code>:{' '}
              {d.unknown ??
                (bad.length
                  ? bad.map(c => c.text).join('; ')
                  : `${d.columns.length} column(s) stable`)}
            </summary>
            <ul>
              {d.columns.map(c => (
                <li key={c.column} className={c.flagged ? 'mlprod-Differs' : ''}>
                  {c.text}
                </li>
              ))}
            </ul>
          </details>
        );
      })}
    </div>
  );
}

function Diff(props: { text: string }): JSX.Element {
  return (
    <pre className="mlprod-Diff">
      {props.text.split('\n').map((line, i) => {
        const kind =
          line.startsWith('+++') || line.startsWith('---') || line.startsWith('@@')
            ? 'mlprod-DiffHead'
            : line.startsWith('+')
              ? 'mlprod-Add'
              : line.startsWith('-')
                ? 'mlprod-Del'
                : line.startsWith('#')
                  ? 'mlprod-Muted'
                  : '';
        return (
          <div key={i} className={kind}>
            {line}
          </div>
        );
      })}
    </pre>
  );
}
