/**
 * The tag editor's logic: a cell's tags read as a form, and the form written back.
 *
 * The form covers the tags export reads (`step:<name>`, `after:<name>`, `setup`,
 * `parameters`, `skip`, `check`); every other tag (another tool's `hide-input`,
 * Kale's `block:`) is kept as it is, in its place. The editor does not refuse
 * combinations: the pipeline check, re-run as the user types, says what is wrong.
 */

export const FLAGS = ['setup', 'parameters', 'skip', 'check'] as const;
export type Flag = (typeof FLAGS)[number];

const STEP = 'step:';
const AFTER = 'after:';

export interface ITagForm {
  /** the step this cell starts ('' for none: it joins the step above) */
  step: string;
  /** steps this cell's step runs after, besides those it takes values from */
  after: string[];
  setup: boolean;
  parameters: boolean;
  skip: boolean;
  check: boolean;
}

function ours(tag: string): boolean {
  const flags: readonly string[] = FLAGS;
  return tag.startsWith(STEP) || tag.startsWith(AFTER) || flags.includes(tag);
}

/** The form for a cell's tags (a second step: tag, should there be one, is kept as is). */
export function readTags(tags: readonly string[]): ITagForm {
  const step = tags.find(t => t.startsWith(STEP));
  return {
    step: step ? step.slice(STEP.length) : '',
    after: tags.filter(t => t.startsWith(AFTER)).map(t => t.slice(AFTER.length)),
    setup: tags.includes('setup'),
    parameters: tags.includes('parameters'),
    skip: tags.includes('skip'),
    check: tags.includes('check'),
  };
}

/**
 * The tags after applying `form` to `tags`: other tags stay where they were, the
 * form's tags follow them in a fixed order. Unchanged tags give back the same list.
 */
export function writeTags(tags: readonly string[], form: ITagForm): string[] {
  const firstStep = tags.find(t => t.startsWith(STEP));
  const kept = tags.filter(t => !ours(t) || (t.startsWith(STEP) && t !== firstStep));
  const step = form.step.trim();
  const written = [
    ...(step ? [`${STEP}${step}`] : []),
    ...uniqueNames(form.after).map(name => `${AFTER}${name}`),
    ...FLAGS.filter(flag => form[flag]),
  ];
  const next = [...kept, ...written];
  return sameTags(tags, next) ? [...tags] : next;
}

/** Step names typed as a list: "load, clean" or "load clean". */
export function parseNames(text: string): string[] {
  return uniqueNames(text.split(/[\s,]+/));
}

/** Two tag lists hold the same tags (order aside): nothing to write. */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

function uniqueNames(names: readonly string[]): string[] {
  return [...new Set(names.map(n => n.trim()).filter(n => n.length > 0))];
}
