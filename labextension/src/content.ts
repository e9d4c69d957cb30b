import { MlprodAPI } from './api';

/**
 * The open notebook as the panel checks it: the editor's cells, and how far they are
 * from the saved file.
 *
 * Check and Export compile what the user sees in the editor, not the last save; the
 * panel says how many cells that differs in. Only what the pipeline reads counts:
 * a cell's type, source and tags (outputs and execution counts do not).
 */

/** What the panel reads of the open notebook, given by the notebook side. */
export interface IOpenNotebook {
  content: MlprodAPI.INotebookContent;
  /** cells added, removed or changed (type, source, tags) since the last save */
  unsaved: number;
}

/** The part of a cell the pipeline depends on, as one comparable string. */
export function cellFingerprint(cell: MlprodAPI.IContentCell): string {
  return JSON.stringify([cell.cell_type, cell.source, tagsOf(cell)]);
}

/** Each cell's fingerprint by id: what the notebook was when it was last saved. */
export function fingerprints(cells: readonly MlprodAPI.IContentCell[]): Map<string, string> {
  return new Map(cells.map(cell => [cell.id, cellFingerprint(cell)]));
}

/**
 * Cells changed since `saved`: each cell added or edited counts once, and each saved
 * cell no longer there. A move alone changes nothing the count sees.
 */
export function unsavedChanges(
  saved: ReadonlyMap<string, string>,
  cells: readonly MlprodAPI.IContentCell[]
): number {
  let changed = 0;
  const present = new Set<string>();
  for (const cell of cells) {
    present.add(cell.id);
    if (saved.get(cell.id) !== cellFingerprint(cell)) {
      changed += 1;
    }
  }
  for (const id of saved.keys()) {
    if (!present.has(id)) {
      changed += 1;
    }
  }
  return changed;
}

/** "checked the open notebook, 2 unsaved changes" (or "exported ..."). */
export function openNotebookNote(action: 'checked' | 'exported', unsaved: number): string {
  const changes =
    unsaved === 0
      ? 'no unsaved changes'
      : `${unsaved} unsaved change${unsaved === 1 ? '' : 's'}`;
  return `${action} the open notebook, ${changes}`;
}

/** A cell's tags, whatever its metadata holds (a damaged notebook may hold anything). */
export function tagsOf(cell: { metadata: Record<string, unknown> }): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}
