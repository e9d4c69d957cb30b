import { ISessionContext } from '@jupyterlab/apputils';
import { Cell, ICellModel } from '@jupyterlab/cells';
import {
  INotebookTracker,
  Notebook,
  NotebookActions,
  NotebookPanel,
} from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

import { MlprodAPI } from './api';
import { fingerprints, IOpenNotebook, tagsOf, unsavedChanges } from './content';
import { IActiveCell, PanelModel } from './model';

export const STALE_CLASS = 'mlprod-stale';
export const PROBLEM_CLASS = 'mlprod-problem';
export const STEP_CLASS = 'mlprod-step';
const MARK_CLASS = 'mlprod-CellMark';
/** cells marked per task */
const MARK_BATCH = 40;
const LOAD_TRACER = '%load_ext mlprod_nb';
const UNLOAD_TRACER = '%unload_ext mlprod_nb';

/** Is tracing on for this notebook? (off only when metadata.mlprod_nb.tracing is false) */
export function tracingOn(panel: NotebookPanel): boolean {
  const meta = panel.model?.getMetadata('mlprod_nb') as { tracing?: boolean } | undefined;
  return meta?.tracing !== false;
}

/**
 * Everything the extension does inside notebooks: load the tracer when a Python
 * kernel starts, follow the active notebook, mark stale cells and export problems,
 * and bring a cell into view.
 */
export class NotebookBridge {
  constructor(
    private readonly _tracker: INotebookTracker,
    private readonly _model: PanelModel,
    private readonly _activate: (panel: NotebookPanel) => void
  ) {
    _tracker.widgetAdded.connect((_, panel) => this._watch(panel));
    _tracker.forEach(panel => this._watch(panel));
    _tracker.currentChanged.connect(() => this._follow());
    _model.marksChanged.connect(() => this.mark());
    _model.setEditor(path => this.openNotebook(path));
    NotebookActions.executed.connect((_, { notebook }) => {
      if (this._tracker.currentWidget?.content === notebook) {
        this._model.cellExecuted();
      }
    });
    this._follow();
  }

  private _remark: ReturnType<typeof setTimeout> | undefined = undefined;
  /** each notebook's cells as last saved (or loaded), for the unsaved-changes count */
  private _saved = new WeakMap<NotebookPanel, Map<string, string>>();

  get current(): NotebookPanel | null {
    return this._tracker.currentWidget;
  }

  /** Turn tracing on or off for the current notebook, now and at its next kernel start. */
  async setTracing(on: boolean): Promise<void> {
    const panel = this.current;
    if (!panel?.model) {
      return;
    }
    const meta = { ...((panel.model.getMetadata('mlprod_nb') as object) ?? {}), tracing: on };
    panel.model.setMetadata('mlprod_nb', meta);
    this._model.setTracing(on);
    const kernel = panel.sessionContext.session?.kernel;
    if (kernel && (await isPython(panel.sessionContext))) {
      silently(kernel, on ? LOAD_TRACER : UNLOAD_TRACER);
    }
  }

  /** The current notebook's content as the editor holds it, if it is the one at `path`. */
  openNotebook(path: string): IOpenNotebook | null {
    const panel = this.current;
    if (!panel?.model || panel.context.path !== path) {
      return null;
    }
    const content = notebookContent(panel);
    const saved = this._saved.get(panel);
    const unsaved = panel.model.dirty && saved ? unsavedChanges(saved, content.cells) : 0;
    return { content, unsaved };
  }

  /** Write a cell's tags through the notebook model: undo, dirty state and save as usual. */
  setTags(cellId: string, tags: string[]): void {
    const cell = this.current?.content.widgets.find(c => c.model.id === cellId);
    if (!cell) {
      return;
    }
    if (tags.length > 0) {
      cell.model.setMetadata('tags', tags);
    } else {
      cell.model.deleteMetadata('tags');
    }
  }

  /** Scroll to and select the cell with this id in the current notebook. */
  async selectCell(cellId: string): Promise<boolean> {
    const panel = this.current;
    if (!panel) {
      return false;
    }
    const notebook = panel.content;
    const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
    if (index < 0) {
      return false;
    }
    this._activate(panel);
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    await notebook.scrollToCell(notebook.widgets[index], 'center').catch(() => undefined);
    return true;
  }

  /** Mirror stale cells and export problems into the current notebook's cells. */
  mark(): void {
    const panel = this.current;
    if (!panel) {
      return;
    }
    const stale = new Map(
      this._model.stale.filter(s => s.cell_id).map(s => [s.cell_id as string, s])
    );
    const problems = this._model.problemsByCell;
    const steps = this._model.pipeline?.cells ?? {};
    const cells = [...panel.content.widgets];
    const pass = ++this._markPass;
    // in batches, one per task: re-marking hundreds of cells at once blocks Lab for
    // longer than a frame; a newer pass stops this one
    const batch = (start: number) => {
      if (pass !== this._markPass) {
        return;
      }
      const end = Math.min(cells.length, start + MARK_BATCH);
      for (const cell of cells.slice(start, end)) {
        if (cell.isDisposed) {
          continue; // deleted meanwhile
        }
        const marks: [string, string, string][] = [];
        const step = steps[cell.model.id];
        if (step) {
          marks.push([STEP_CLASS, `step ${step}`, '']);
        }
        const staleCell = stale.get(cell.model.id);
        if (staleCell) {
          const reasons = staleCell.reasons.map(r => r.detail).join('; ');
          marks.push([STALE_CLASS, 'stale', reasons || 'an input changed since it ran']);
        }
        for (const problem of problems.get(cell.model.id) ?? []) {
          marks.push([PROBLEM_CLASS, 'export', problem.message]);
        }
        // touch the DOM only of cells whose marks changed
        const signature = JSON.stringify(marks);
        if ((this._marked.get(cell) ?? '[]') !== signature) {
          this._marked.set(cell, signature);
          clearMarks(cell);
          for (const [cls, label, detail] of marks) {
            addMark(cell, cls, label, detail);
          }
        }
      }
      if (end < cells.length) {
        setTimeout(() => batch(end), 0);
      }
    };
    batch(0);
  }

  private _markPass = 0;
  private _marked = new WeakMap<Cell, string>();

  private _follow(): void {
    const panel = this.current;
    this._model.setActiveCell(activeCellOf(panel?.content.activeCell ?? null));
    if (panel) {
      this._model.setTracing(tracingOn(panel));
      void panel.context.ready.then(() => {
        if (panel === this.current) {
          this._model.setTracing(tracingOn(panel));
          void this._model.setNotebook(panel.context.path);
        }
      });
    } else {
      void this._model.setNotebook(null);
    }
  }

  /**
   * Follow the edits that change the pipeline: tags set (by the tag editor, the property
   * inspector or undo) and cells added, removed or moved; remember what was saved.
   */
  private _watchEdits(panel: NotebookPanel): void {
    const onTags = (cell: ICellModel, change: { key: string }) => {
      if (change.key !== 'tags' || panel !== this.current) {
        return;
      }
      const active = panel.content.activeCell;
      if (active?.model === cell) {
        this._model.setActiveCell(activeCellOf(active));
      }
      this._model.contentChanged();
    };
    // connecting the same slot again is a no-op: new cells are connected, others kept
    const connectCells = () => {
      for (const cell of panel.model?.cells ?? []) {
        cell.metadataChanged.connect(onTags);
      }
    };
    void panel.context.ready.then(() => {
      const remember = () => this._saved.set(panel, fingerprints(notebookContent(panel).cells));
      remember();
      panel.context.fileChanged.connect(remember); // saved, or reloaded from disk
      connectCells();
      panel.model?.cells.changed.connect(() => {
        connectCells();
        if (panel === this.current) {
          this._model.contentChanged();
        }
      });
    });
    panel.content.activeCellChanged.connect((_, cell) => {
      if (panel === this.current) {
        this._model.setActiveCell(activeCellOf(cell));
      }
    });
  }

  /** Load the tracer silently whenever this notebook's Python kernel (re)starts. */
  private _watch(panel: NotebookPanel): void {
    const session = panel.sessionContext;
    let pending = true; // a fresh kernel we have not loaded the tracer into yet
    // the path the kernel process was started for (its JPY_SESSION_NAME): a rename
    // since then is told to the tracer after every load, restarts included
    let kernelPath = panel.context.path;
    const load = async () => {
      const kernel = session.session?.kernel;
      if (!pending || !kernel || !tracingOn(panel)) {
        return;
      }
      // the kernel's name settles it without a round trip for the usual python3
      if (!kernel.name.toLowerCase().includes('python') && !(await isPython(session))) {
        return;
      }
      if (pending && kernel === session.session?.kernel) {
        pending = false;
        silently(kernel, LOAD_TRACER);
        if (kernelPath !== panel.context.path) {
          silently(kernel, movedCode(kernelPath, panel.context.path));
        }
      }
    };
    // a rename (Lab's first save of Untitled.ipynb included) or a move to another folder
    let known = panel.context.path;
    panel.context.pathChanged.connect((_, path) => {
      const old = known;
      known = path;
      const kernel = session.session?.kernel;
      if (kernel && !pending && tracingOn(panel)) {
        silently(kernel, movedCode(old, path));
      }
      if (panel === this.current) {
        void this._model.setNotebook(path);
      }
    });
    // a cell run before the kernel reported idle: load first (requests go out in order)
    const early = (_: unknown, args: { notebook: Notebook }) => {
      if (args.notebook === panel.content && pending) {
        void load();
      }
    };
    NotebookActions.executionScheduled.connect(early);
    panel.disposed.connect(() => NotebookActions.executionScheduled.disconnect(early));
    session.kernelChanged.connect(() => {
      pending = true;
      kernelPath = panel.context.path;
      void load();
    });
    session.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'starting' || status === 'autorestarting') {
        pending = true;
      } else if (status === 'idle') {
        void load();
      }
    });
    session.ready.then(load).catch(() => undefined);
    this._watchEdits(panel);
    // cells added or moved: redraw the marks once typing pauses
    panel.content.modelContentChanged.connect(() => {
      if (panel !== this.current) {
        return;
      }
      clearTimeout(this._remark);
      this._remark = setTimeout(() => this.mark(), 300);
    });
  }
}

/**
 * The notebook as the editor holds it, for Check and Export: each cell's type, id,
 * source and metadata, and the notebook's metadata; no outputs (widget state left out).
 */
export function notebookContent(panel: NotebookPanel): MlprodAPI.INotebookContent {
  const model = panel.model;
  if (!model) {
    return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
  }
  const shared = model.sharedModel;
  const { widgets: _widgets, ...metadata } = shared.getMetadata() as Record<string, unknown>;
  return {
    nbformat: model.nbformat,
    nbformat_minor: model.nbformatMinor,
    metadata,
    cells: shared.cells.map(cell => ({
      id: cell.getId(),
      cell_type: cell.cell_type,
      source: cell.getSource(),
      metadata: cell.getMetadata() as Record<string, unknown>,
    })),
  };
}

function activeCellOf(cell: Cell | null): IActiveCell | null {
  if (!cell) {
    return null;
  }
  const tags = cell.model.getMetadata('tags');
  return {
    id: cell.model.id,
    cellType: cell.model.type,
    tags: tagsOf({ metadata: { tags } }),
  };
}

/** Tells the tracer its notebook was renamed (paths relative to the server root). */
export function movedCode(old: string, path: string): string {
  const moved = "__import__('mlprod_nb.tracer.extension', fromlist=['moved']).moved";
  return `${moved}(${JSON.stringify(old)}, ${JSON.stringify(path)})`;
}

async function isPython(session: ISessionContext): Promise<boolean> {
  const kernel = session.session?.kernel;
  if (!kernel) {
    return false;
  }
  try {
    const spec = await kernel.spec;
    return (spec?.language ?? kernel.name).toLowerCase().includes('python');
  } catch {
    return kernel.name.toLowerCase().includes('python');
  }
}

/** An execute request that leaves no trace in the notebook: no count, no history. */
function silently(kernel: Kernel.IKernelConnection, code: string): void {
  const future = kernel.requestExecute({
    code,
    silent: true,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false,
  });
  future.done.catch(() => undefined);
}

function clearMarks(cell: Cell): void {
  cell.removeClass(STALE_CLASS);
  cell.removeClass(PROBLEM_CLASS);
  cell.removeClass(STEP_CLASS);
  cell.node.querySelectorAll(`:scope > .${MARK_CLASS}`).forEach(node => node.remove());
}

function addMark(cell: Cell, cls: string, label: string, detail: string): void {
  cell.addClass(cls);
  const badge = document.createElement('div');
  badge.className = `${MARK_CLASS} ${cls}-badge`;
  badge.title = detail;
  const tag = document.createElement('span');
  tag.className = 'mlprod-CellMark-tag';
  tag.textContent = label;
  const text = document.createElement('span');
  text.className = 'mlprod-CellMark-text';
  text.textContent = detail;
  badge.append(tag, text);
  cell.node.appendChild(badge);
}
