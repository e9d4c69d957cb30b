import { MlprodAPI } from '../api';
import { FLAGS, parseNames, readTags, sameTags, writeTags } from '../celltags';
import { fingerprints, IOpenNotebook, openNotebookNote, unsavedChanges } from '../content';
import { PanelModel, RECHECK_MS } from '../model';
import { MlprodService } from '../service';
import { LINEAGE, PIPELINE, STALE } from './data';
import { fakeServer, Route } from './fakeServer';

function cell(id: string, source: string, tags: string[] = []): MlprodAPI.IContentCell {
  return { id, cell_type: 'code', source, metadata: tags.length ? { tags } : {} };
}

function notebook(cells: MlprodAPI.IContentCell[]): MlprodAPI.INotebookContent {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}

const SAVED = [cell('load', 'raw = 1', ['step:load']), cell('train', 'm = raw', ['step:train'])];

describe('unsavedChanges', () => {
  const saved = fingerprints(SAVED);
  it.each([
    ['nothing changed', SAVED, 0],
    ['a tag edited', [SAVED[0], cell('train', 'm = raw', ['step:fit'])], 1],
    ['a source edited', [cell('load', 'raw = 2', ['step:load']), SAVED[1]], 1],
    ['a cell added', [...SAVED, cell('new', 'x = 1')], 1],
    ['a cell deleted', [SAVED[0]], 1],
    ['cells moved only', [SAVED[1], SAVED[0]], 0],
    ['metadata other than tags', [{ ...SAVED[0], metadata: { tags: ['step:load'], a: 1 } }, SAVED[1]], 0],
    ['markdown made code', [{ ...SAVED[0], cell_type: 'markdown' }, SAVED[1]], 1],
  ] as [string, MlprodAPI.IContentCell[], number][])('%s: %p', (_, cells, expected) => {
    expect(unsavedChanges(saved, cells)).toBe(expected);
  });

  it('says how many in the panel', () => {
    expect(openNotebookNote('checked', 2)).toBe('checked the open notebook, 2 unsaved changes');
    expect(openNotebookNote('checked', 1)).toBe('checked the open notebook, 1 unsaved change');
    expect(openNotebookNote('exported', 0)).toBe('exported the open notebook, no unsaved changes');
  });
});

describe('cell tags', () => {
  const form = (tags: string[]) => readTags(tags);
  it('reads the tags export knows, and only those', () => {
    expect(form(['hide-input', 'step:train', 'after:load', 'after:clean', 'check'])).toEqual({
      step: 'train',
      after: ['load', 'clean'],
      setup: false,
      parameters: false,
      skip: false,
      check: true,
    });
  });

  it.each([
    ['sets a step name', [], { step: 'train' }, ['step:train']],
    ['renames a step', ['step:a', 'check'], { step: 'b' }, ['step:b', 'check']],
    ['clears a step', ['step:a'], { step: '  ' }, []],
    ['keeps foreign tags', ['hide-input', 'step:a'], { skip: true }, ['hide-input', 'step:a', 'skip']],
    ['keeps Kale tags', ['block:x'], { step: 'y' }, ['block:x', 'step:y']],
    ['writes after: once each', [], { after: ['a', 'a', ' b '] }, ['after:a', 'after:b']],
    ['drops an after:', ['step:t', 'after:load'], { after: [] }, ['step:t']],
    ['sets and clears flags', ['setup'], { setup: false, parameters: true }, ['parameters']],
  ] as [string, string[], Partial<ReturnType<typeof readTags>>, string[]][])(
    '%s',
    (_, tags, change, expected) => {
      expect(writeTags(tags, { ...readTags(tags), ...change })).toEqual(expected);
    }
  );

  it('gives back the same tags when nothing changed, whatever their order', () => {
    const tags = ['check', 'x', 'after:a', 'step:s'];
    expect(writeTags(tags, readTags(tags))).toEqual(tags);
    expect(sameTags(tags, [...tags].reverse())).toBe(true);
    expect(sameTags(tags, ['check'])).toBe(false);
  });

  it('round-trips every flag', () => {
    for (const flag of FLAGS) {
      expect(readTags(writeTags([], { ...readTags([]), [flag]: true }))[flag]).toBe(true);
    }
  });

  it('reads step names typed as a list', () => {
    expect(parseNames('load, clean  train,,')).toEqual(['load', 'clean', 'train']);
    expect(parseNames('  ')).toEqual([]);
  });
});

/** Timers the test fires by hand. */
class Timers {
  pending = new Map<number, () => void>();
  delays: number[] = [];
  private _next = 1;
  set = (fn: () => void, ms: number): unknown => {
    this.delays.push(ms);
    this.pending.set(this._next, fn);
    return this._next++;
  };
  clear = (handle: unknown): void => void this.pending.delete(handle as number);
  async fire(): Promise<void> {
    const due = [...this.pending.values()];
    this.pending.clear();
    due.forEach(fn => fn());
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise(resolve => setImmediate(resolve));
  }
}

const CHECKED: MlprodAPI.IExportResult = {
  ok: true,
  source: 'editor',
  pipeline: null,
  steps: [{ name: 'load' }, { name: 'fit' }],
  errors: [],
};

function editorModel(routes: Record<string, Route>, open: IOpenNotebook | null) {
  const server = fakeServer({
    'GET lineage': () => ({ body: LINEAGE }),
    'GET stale': () => ({ body: STALE }),
    'GET pipeline': () => ({ body: PIPELINE }),
    'POST pipeline': () => ({ body: PIPELINE }),
    'GET runs': () => ({ body: { runs: [] } }),
    'POST export': () => ({ body: CHECKED }),
    ...routes,
  });
  const timers = new Timers();
  const model = new PanelModel(new MlprodService(server.settings), timers);
  const opened: string[] = [];
  model.setEditor(path => {
    opened.push(path);
    return path === 'churn.ipynb' ? open : null;
  });
  return { model, timers, seen: server.seen, opened };
}

const OPEN: IOpenNotebook = {
  content: notebook([SAVED[0], cell('train', 'm = raw', ['step:fit'])]),
  unsaved: 1,
};

describe('PanelModel and the open notebook', () => {
  it('checks the content in the editor and remembers how many changes were unsaved', async () => {
    const { model, seen } = editorModel({}, OPEN);
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(true);
    const sent = seen.find(s => s.method === 'POST' && s.path === 'export');
    expect(sent?.body).toEqual({ path: 'churn.ipynb', check: true, content: OPEN.content });
    expect(model.checkedUnsaved).toBe(1);
    expect(model.exportResult?.source).toBe('editor');
  });

  it('asks for the step list of the content, and of the file when it is not open', async () => {
    const open = editorModel({}, OPEN);
    await open.model.setNotebook('churn.ipynb');
    const outline = open.seen.filter(s => s.path === 'pipeline');
    expect(outline.map(s => s.method)).toEqual(['POST']);
    expect(outline[0].body.content).toEqual(OPEN.content);

    const closed = editorModel({}, null);
    await closed.model.setNotebook('churn.ipynb');
    await closed.model.exportPipeline(true);
    expect(closed.seen.filter(s => s.path === 'pipeline').map(s => s.method)).toEqual(['GET']);
    const sent = closed.seen.find(s => s.path === 'export');
    expect(sent?.body).toEqual({ path: 'churn.ipynb', check: true });
    expect(closed.model.checkedUnsaved).toBeNull();
  });

  it('re-checks once after a burst of tag edits, with the steps and the check', async () => {
    const steps = [{ name: 'load', cells: ['load'] }, { name: 'fit', cells: ['train'] }];
    const fit = { ...PIPELINE, steps };
    const { model, timers, seen } = editorModel({ 'POST pipeline': () => ({ body: fit }) }, OPEN);
    await model.setNotebook('churn.ipynb');
    let marks = 0;
    model.marksChanged.connect(() => void (marks += 1));
    const before = seen.length;
    model.contentChanged();
    model.contentChanged();
    model.contentChanged();
    expect(timers.pending.size).toBe(1);
    expect(timers.delays.slice(-1)).toEqual([RECHECK_MS]);
    await timers.fire();
    const asked = seen.slice(before).map(s => `${s.method} ${s.path}`);
    expect(asked.sort()).toEqual(['POST export', 'POST pipeline']);
    expect(seen.slice(before).every(s => s.body.content !== undefined)).toBe(true);
    expect(seen.slice(before).find(s => s.path === 'export')?.body.check).toBe(true);
    expect(model.pipeline?.steps.map(s => s.name)).toEqual(['load', 'fit']);
    expect(model.exportResult?.ok).toBe(true);
    expect(marks).toBeGreaterThan(0); // the step badges are redrawn
  });

  it('keeps the last steps when the edited tags do not parse; the check says why', async () => {
    const problem = { message: "invalid step name 'Fit'", cell_id: 'train', cells: ['train'] };
    const { model } = editorModel(
      {
        'POST pipeline': () => ({
          status: 422,
          body: { message: problem.message, cell_id: 'train' },
        }),
        'POST export': () => ({
          body: { ok: false, pipeline: null, steps: [], errors: [problem] },
        }),
      },
      OPEN
    );
    await model.setNotebook('churn.ipynb');
    model.pipeline = PIPELINE;
    await model.recheck();
    expect(model.pipeline?.steps.map(s => s.name)).toEqual(['load', 'train']);
    expect(model.error).toBeNull();
    expect([...model.problemsByCell.keys()]).toEqual(['train']);
  });

  it('shows the answer of the latest check or export only', async () => {
    let answerCheck: (value: MlprodAPI.IExportResult) => void = () => undefined;
    const exported = { ...CHECKED, pipeline: 'churn.pipeline' };
    let calls = 0;
    const { model } = editorModel(
      {
        'POST export': () => {
          calls += 1;
          if (calls === 1) {
            return new Promise(resolve => (answerCheck = body => resolve({ body })));
          }
          return { body: exported };
        },
      },
      OPEN
    );
    await model.setNotebook('churn.ipynb');
    const check = model.recheck();
    await flush();
    await model.exportPipeline(false);
    answerCheck({ ...CHECKED, ok: false, errors: [{ message: 'old' }] });
    await check;
    expect(model.exportResult?.pipeline).toBe('churn.pipeline');
    expect(model.pipelinePath).toBe('churn.pipeline');
  });

  it('marks every cell of a cycle, and links a problem naming only a step to its cell', async () => {
    const cycle = {
      message: 'the steps form a cycle: load -> train -> load',
      cell_id: 'load',
      step: 'load',
      cells: ['load', 'clean', 'train'],
    };
    const unplaced = { message: 'step train: something', step: 'train' };
    const { model } = editorModel(
      {
        'POST export': () => ({
          body: { ok: false, pipeline: null, steps: [], errors: [cycle, unplaced] },
        }),
      },
      OPEN
    );
    await model.setNotebook('churn.ipynb');
    await model.exportPipeline(true);
    expect(model.cellsOfProblem(cycle)).toEqual(['load', 'clean', 'train']);
    expect(model.cellsOfProblem(unplaced)).toEqual(['clean']); // train's first cell
    expect(model.cellsOfProblem({ message: 'no code cell' })).toEqual([]);
    const marked = model.problemsByCell;
    expect([...marked.keys()].sort()).toEqual(['clean', 'load', 'train']);
    expect(marked.get('clean')?.map(p => p.message)).toEqual([cycle.message, unplaced.message]);
  });

  it('names cells by their last run, else by their source in the editor', async () => {
    const uuid = '3f1c0a2e-1111-2222-3333-444455556666';
    const content = notebook([cell(uuid, 'report = summary(x)')]);
    const { model } = editorModel({}, { content, unsaved: 1 });
    await model.setNotebook('churn.ipynb');
    expect(model.labelOfCell('load')).toBe('[1] load');
    expect(model.labelOfCell(uuid)).toBe('[ ] report = summary(x)');
  });

  it('follows the active cell for the tag editor', () => {
    const { model } = editorModel({}, OPEN);
    let changes = 0;
    model.changed.connect(() => void (changes += 1));
    model.setActiveCell({ id: 'train', cellType: 'code', tags: ['step:fit'] });
    expect(model.activeCell?.tags).toEqual(['step:fit']);
    expect(changes).toBe(1);
  });
});

describe('PanelModel step list answers', () => {
  it('keeps the step list of the newest edits when an older request answers last', async () => {
    let answerOld: (value: MlprodAPI.IPipeline) => void = () => undefined;
    const newer = { ...PIPELINE, steps: [{ name: 'fit', cells: ['train'] }] };
    let calls = 0;
    const { model } = editorModel(
      {
        'POST pipeline': () => {
          calls += 1;
          if (calls === 2) {
            return new Promise(resolve => (answerOld = body => resolve({ body })));
          }
          return { body: calls === 1 ? PIPELINE : newer };
        },
      },
      OPEN
    );
    await model.setNotebook('churn.ipynb'); // call 1
    const refresh = model.refreshNotebook(); // call 2, answered late
    await flush();
    await model.recheck(); // call 3: the newest edits
    answerOld(PIPELINE);
    await refresh;
    expect(model.pipeline?.steps.map(s => s.name)).toEqual(['fit']);
  });
});
