import { MlprodAPI } from '../api';
import {
  cronOf,
  DEFAULT_FORM,
  formatFire,
  formOf,
  IScheduleForm,
  PREVIEW_DEBOUNCE_MS,
  SchedulesModel,
  triggerOf,
} from '../schedule';
import { MlprodService } from '../service';
import { fakeServer, Route } from './fakeServer';

const form = (changes: Partial<IScheduleForm>): IScheduleForm => ({ ...DEFAULT_FORM, ...changes });

function schedule(changes: Partial<MlprodAPI.ISchedule> = {}): MlprodAPI.ISchedule {
  return {
    id: 's-1a2b3c',
    name: 'nightly',
    pipeline: 'work/flow.pipeline',
    cron: '0 3 * * *',
    tz: 'Europe/Paris',
    on_new_data: false,
    params: {},
    paused: false,
    created: 1,
    updated: 1,
    next_fire: 1800000000,
    last_run: null,
    last_status: null,
    ...changes,
  };
}

class ManualTimers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private _next = 1;
  set = (fn: () => void, ms: number): unknown => {
    const id = this._next++;
    this.pending.set(id, { fn, ms });
    return id;
  };
  clear = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };
  async fireAll(): Promise<void> {
    const due = [...this.pending.values()];
    this.pending.clear();
    due.forEach(t => t.fn());
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise(resolve => setImmediate(resolve));
  }
}

function makeModel(routes: Record<string, Route>) {
  const server = fakeServer(routes);
  const timers = new ManualTimers();
  const model = new SchedulesModel(new MlprodService(server.settings), 'Asia/Tokyo', timers);
  return { model, timers, seen: server.seen };
}

describe('presets', () => {
  it('turn into the cron expression each one stands for', () => {
    expect(cronOf(form({ preset: 'hourly', minute: 15 }))).toBe('15 * * * *');
    expect(cronOf(form({ preset: 'daily', time: '03:30' }))).toBe('30 3 * * *');
    expect(cronOf(form({ preset: 'weekdays', time: '7:05' }))).toBe('5 7 * * 1-5');
    expect(cronOf(form({ preset: 'weekly', time: '23:59', weekday: 0 }))).toBe('59 23 * * 0');
    expect(cronOf(form({ preset: 'custom', cron: ' */10 * * * * ' }))).toBe('*/10 * * * *');
  });

  it('refuse a time that is not a time of day, naming it', () => {
    expect(() => cronOf(form({ preset: 'daily', time: '25:00' }))).toThrow("time '25:00'");
    expect(() => cronOf(form({ preset: 'daily', time: 'noon' }))).toThrow('HH:MM');
    expect(() => cronOf(form({ preset: 'hourly', minute: 60 }))).toThrow('minute 60');
  });

  it('are found again from a stored cron, to edit the schedule', () => {
    const presets = ['15 * * * *', '30 3 * * *', '5 7 * * 1-5', '59 23 * * 0'].map(cron => {
      const shown = formOf(schedule({ cron }));
      return [shown.preset, cronOf(shown)];
    });
    expect(presets).toEqual([
      ['hourly', '15 * * * *'],
      ['daily', '30 3 * * *'],
      ['weekdays', '5 7 * * 1-5'],
      ['weekly', '59 23 * * 0'],
    ]);
    expect(formOf(schedule({ cron: '0 3 1 * *' }))).toMatchObject({
      preset: 'custom',
      cron: '0 3 1 * *',
    });
    expect(formOf(schedule({ cron: null, on_new_data: true })).when).toBe('data');
  });
});

describe('fire times', () => {
  it('are shown in the given time zone', () => {
    const iso = '2026-12-02T03:00:00+01:00'; // 02:00 UTC
    expect(formatFire(iso, 'UTC')).toContain('02:00');
    expect(formatFire(iso, 'Asia/Tokyo')).toContain('11:00');
    expect(formatFire(Date.parse(iso) / 1000, 'Europe/Paris')).toContain('03:00');
  });

  it('describe what a schedule waits for', () => {
    expect(triggerOf(schedule())).toBe('cron 0 3 * * * (Europe/Paris)');
    expect(triggerOf(schedule({ cron: null, on_new_data: true }))).toBe('when input data changes');
  });
});

describe('SchedulesModel', () => {
  const PREVIEW = {
    description: 'At 03:00',
    next: ['2026-12-03T03:00:00+09:00', '2026-12-04T03:00:00+09:00', '2026-12-05T03:00:00+09:00'],
  };

  it('asks for a preview in the user time zone once typing pauses', async () => {
    const { model, timers, seen } = makeModel({
      'GET schedules/preview': () => ({ body: PREVIEW }),
    });
    model.formChanged(form({ preset: 'custom', cron: '0 3' }));
    model.formChanged(form({ preset: 'custom', cron: '0 3 * * *' }));
    expect([...timers.pending.values()].map(t => t.ms)).toEqual([PREVIEW_DEBOUNCE_MS]);
    await timers.fireAll();
    expect(seen.map(s => s.query)).toEqual([{ cron: '0 3 * * *', tz: 'Asia/Tokyo' }]);
    expect(model.preview?.next).toHaveLength(3);
    expect(model.previewError).toBeNull();
  });

  it("shows the server's message for a bad cron, and a bad time without asking", async () => {
    const { model, seen } = makeModel({
      'GET schedules/preview': () => ({
        status: 400,
        body: { message: "cron '61 * * * *': bad minute" },
      }),
    });
    await model.loadPreview('61 * * * *');
    expect(model.preview).toBeNull();
    expect(model.previewError).toContain("cron '61 * * * *'");
    model.formChanged(form({ preset: 'daily', time: '24:00' }));
    expect(model.previewError).toContain("time '24:00'");
    expect(seen).toHaveLength(1);
  });

  it('keeps only the newest preview when answers come back out of order', async () => {
    let release: (answer: { body: unknown }) => void = () => undefined;
    const { model } = makeModel({
      'GET schedules/preview': seen =>
        seen.query.cron === '0 1 * * *'
          ? new Promise(resolve => (release = resolve))
          : { body: { description: 'newest', next: [] } },
    });
    const older = model.loadPreview('0 1 * * *');
    await model.loadPreview('0 2 * * *');
    release({ body: { description: 'older', next: [] } });
    await older;
    expect(model.preview?.description).toBe('newest');
  });

  it('creates a daily schedule with typed parameters and the zone, then lists it', async () => {
    const created = schedule({ tz: 'Asia/Tokyo' });
    let listed: MlprodAPI.ISchedule[] = [];
    const { model, seen } = makeModel({
      'GET schedules': () => ({ body: { schedules: listed } }),
      'POST schedules': () => {
        listed = [created];
        return { body: created };
      },
    });
    await model.setNotebook('work/flow.ipynb');
    const ok = await model.save('work/flow.pipeline', form({ time: '03:00', name: ' nightly ' }), {
      alpha: 5,
    });
    expect(ok).toBe(true);
    expect(seen.find(s => s.method === 'POST')?.body).toEqual({
      pipeline: 'work/flow.pipeline',
      cron: '0 3 * * *',
      tz: 'Asia/Tokyo',
      on_new_data: false,
      params: { alpha: 5 },
      name: 'nightly',
    });
    expect(seen.filter(s => s.method === 'GET').map(s => s.query)).toEqual([
      { path: 'work/flow.ipynb' },
      { path: 'work/flow.ipynb' },
    ]);
    expect(model.schedules.map(s => s.id)).toEqual(['s-1a2b3c']);
  });

  it("keeps the form's schedule unsaved and says why when the server refuses it", async () => {
    const { model } = makeModel({
      'GET schedules': () => ({ body: { schedules: [] } }),
      'POST schedules': () => ({
        status: 400,
        body: { message: "parameter 'alpha' must be an int" },
      }),
    });
    await model.setNotebook('work/flow.ipynb');
    expect(await model.save('work/flow.pipeline', form({}), { alpha: 'x' })).toBe(false);
    expect(model.error).toContain("parameter 'alpha'");
  });

  it('edits with PATCH, pauses, resumes and deletes by id', async () => {
    const { model, seen } = makeModel({
      'GET schedules': () => ({ body: { schedules: [schedule()] } }),
      'PATCH schedules/*': seen => ({ body: schedule(seen.body) }),
      'DELETE schedules/*': () => ({ status: 204, body: null }),
    });
    await model.setNotebook('work/flow.ipynb');
    model.edit(model.schedules[0]);
    await model.save('work/flow.pipeline', form({ preset: 'weekdays', time: '06:00' }), {});
    await model.setPaused('s-1a2b3c', true);
    await model.setPaused('s-1a2b3c', false);
    await model.remove('s-1a2b3c');
    const changes = seen.filter(s => s.method !== 'GET').map(s => [s.method, s.path, s.body]);
    expect(changes).toEqual([
      [
        'PATCH',
        'schedules/s-1a2b3c',
        { cron: '0 6 * * 1-5', tz: 'Asia/Tokyo', on_new_data: false, params: {} },
      ],
      ['PATCH', 'schedules/s-1a2b3c', { paused: true }],
      ['PATCH', 'schedules/s-1a2b3c', { paused: false }],
      ['DELETE', 'schedules/s-1a2b3c', null],
    ]);
    expect(model.editing).toBeNull();
    // the notebook names the store (a sub-project may have its own .mlprod)
    expect(seen.filter(s => s.method !== 'GET').map(s => s.query.path)).toEqual([
      'work/flow.ipynb',
      'work/flow.ipynb',
      'work/flow.ipynb',
      'work/flow.ipynb',
    ]);
  });

  it('shows a schedule history newest first, and hides it on a second click', async () => {
    const fire = (due: number, status: string): MlprodAPI.IFire => ({
      schedule: 's-1a2b3c',
      due,
      reason: `cron at ${due}`,
      status,
      run: status === 'skipped' ? null : `r${due}`,
      detail: null,
    });
    const { model } = makeModel({
      'GET schedules/*': () => ({ body: { fires: [fire(1, 'ok'), fire(3, 'skipped'), fire(2, 'failed')] } }),
    });
    await model.toggleHistory('s-1a2b3c');
    expect(model.history.map(f => [f.due, f.status])).toEqual([
      [3, 'skipped'],
      [2, 'failed'],
      [1, 'ok'],
    ]);
    await model.toggleHistory('s-1a2b3c');
    expect(model.historyOf).toBeNull();
  });

  it('lists the files that would fire an on-new-data schedule', async () => {
    const { model, seen } = makeModel({
      'GET schedules/inputs': () => ({ body: { files: ['data/raw.csv'] } }),
    });
    await model.loadInputs('work/flow.pipeline');
    expect(seen[0].query).toEqual({ pipeline: 'work/flow.pipeline' });
    expect(model.inputs).toEqual(['data/raw.csv']);
  });
});
