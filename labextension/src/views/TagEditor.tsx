import React, { useEffect, useRef, useState } from 'react';

import { FLAGS, ITagForm, parseNames, readTags, sameTags, writeTags } from '../celltags';
import { IActiveCell } from '../model';

/** How long typing in a name field pauses before the tags are written. */
const WRITE_MS = 300;

const FLAG_HELP: Record<string, string> = {
  setup: 'run at the start of every step (imports, helpers)',
  parameters: 'the pipeline parameters (name = literal per line)',
  skip: 'left out of the pipeline',
  check: 'a validation gate inside its step',
};

export interface ITagEditorProps {
  cell: IActiveCell | null;
  /** the pipeline's step names, offered for after: */
  steps: string[];
  onTags: (cellId: string, tags: string[]) => void;
}

/**
 * The active cell's pipeline tags as a form. Every change is written to the cell's
 * metadata (name fields once typing pauses); the notebook side then checks the
 * pipeline again, so problems show as the user types.
 */
export function TagEditor(props: ITagEditorProps): JSX.Element {
  const { cell } = props;
  if (!cell) {
    return <div className="mlprod-Empty mlprod-TagEditor">Select a cell to tag it.</div>;
  }
  if (cell.cellType !== 'code') {
    return (
      <div className="mlprod-Empty mlprod-TagEditor">
        The active cell is {cell.cellType}: pipeline tags go on code cells.
      </div>
    );
  }
  return <CellTags key={cell.id} {...props} cell={cell} />;
}

function CellTags(props: ITagEditorProps & { cell: IActiveCell }): JSX.Element {
  const { cell, onTags } = props;
  const [form, setForm] = useState<ITagForm>(() => readTags(cell.tags));
  const [afterText, setAfterText] = useState(() => form.after.join(', '));
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef({ form, tags: cell.tags });
  latest.current = { form, tags: cell.tags };

  // tags changed elsewhere (property inspector, undo): show them, unless a write is pending
  const tagsKey = cell.tags.join('\n');
  useEffect(() => {
    if (pending.current === null && !sameTags(writeTags(cell.tags, form), cell.tags)) {
      const read = readTags(cell.tags);
      setForm(read);
      setAfterText(read.after.join(', '));
    }
  }, [tagsKey]);

  const flush = () => {
    if (pending.current !== null) {
      clearTimeout(pending.current);
      pending.current = null;
    }
    const { form: now, tags } = latest.current;
    const next = writeTags(tags, now);
    if (!sameTags(next, tags)) {
      onTags(cell.id, next);
    }
  };
  useEffect(() => flush, []); // a pending write is not lost when the cell changes

  const update = (change: Partial<ITagForm>, delay: number) => {
    const next = { ...latest.current.form, ...change };
    latest.current = { ...latest.current, form: next };
    setForm(next);
    if (pending.current !== null) {
      clearTimeout(pending.current);
    }
    pending.current = setTimeout(flush, delay);
  };

  const others = props.steps.filter(name => name !== form.step);
  const written = writeTags(cell.tags, form);
  return (
    <div className="mlprod-TagEditor" data-cell-id={cell.id}>
      <label className="mlprod-TagField">
        <span title="step:<name>: this cell starts a step; empty: it joins the step above">
          step
        </span>
        <input
          className="jp-mod-styled mlprod-TagStep"
          value={form.step}
          placeholder="joins the step above"
          spellCheck={false}
          onChange={e => update({ step: e.target.value }, WRITE_MS)}
          onBlur={flush}
          onKeyDown={e => e.key === 'Enter' && flush()}
        />
      </label>
      <label className="mlprod-TagField">
        <span title="after:<name>: run this step after those steps, besides the data it reads">
          after
        </span>
        <input
          className="jp-mod-styled mlprod-TagAfter"
          value={afterText}
          placeholder={others.length > 0 ? `e.g. ${others[0]}` : 'step names'}
          list="mlprod-step-names"
          spellCheck={false}
          onChange={e => {
            setAfterText(e.target.value);
            update({ after: parseNames(e.target.value) }, WRITE_MS);
          }}
          onBlur={flush}
          onKeyDown={e => e.key === 'Enter' && flush()}
        />
        <datalist id="mlprod-step-names">
          {others.map(name => (
            <option key={name} value={name} />
          ))}
        </datalist>
      </label>
      <div className="mlprod-TagFlags">
        {FLAGS.map(flag => (
          <label key={flag} title={FLAG_HELP[flag]} className="mlprod-TagFlag">
            <input
              type="checkbox"
              name={flag}
              checked={form[flag]}
              onChange={e => update({ [flag]: e.target.checked }, 0)}
            />{' '}
            {flag}
          </label>
        ))}
      </div>
      <div className="mlprod-TagList" title="the cell's tags (metadata.tags)">
        {written.length > 0 ? (
          written.map(tag => (
            <code key={tag} className="mlprod-Tag">
              {tag}
            </code>
          ))
        ) : (
          <span className="mlprod-Dim">no tags</span>
        )}
      </div>
    </div>
  );
}
