import { MlprodService } from '../service';
import { ApiError } from '../request';
import { fakeServer } from './fakeServer';

describe('MlprodService', () => {
  const cases: {
    name: string;
    call: (s: MlprodService) => Promise<unknown>;
    method: string;
    path: string;
    query: Record<string, string>;
    body: unknown;
  }[] = [
    {
      name: 'lineage',
      call: s => s.lineage('sub dir/churn.ipynb'),
      method: 'GET',
      path: 'lineage',
      query: { path: 'sub dir/churn.ipynb' },
      body: null,
    },
    {
      name: 'stale',
      call: s => s.stale('churn.ipynb'),
      method: 'GET',
      path: 'stale',
      query: { path: 'churn.ipynb' },
      body: null,
    },
    {
      name: 'pipeline',
      call: s => s.pipeline('a&b.ipynb'),
      method: 'GET',
      path: 'pipeline',
      query: { path: 'a&b.ipynb' },
      body: null,
    },
    {
      name: 'export check',
      call: s => s.exportPipeline('churn.ipynb', true),
      method: 'POST',
      path: 'export',
      query: {},
      body: { path: 'churn.ipynb', check: true },
    },
    {
      name: 'run',
      call: s => s.startRun('churn.pipeline', { n_estimators: 15, balanced: true }),
      method: 'POST',
      path: 'run',
      query: {},
      body: { pipeline: 'churn.pipeline', params: { n_estimators: 15, balanced: true } },
    },
    {
      name: 'run status',
      call: s => s.runStatus('r-1/x'),
      method: 'GET',
      path: 'run/r-1%2Fx',
      query: {},
      body: null,
    },
    {
      name: 'all runs',
      call: s => s.runs(),
      method: 'GET',
      path: 'runs',
      query: {},
      body: null,
    },
    {
      name: 'runs of a pipeline',
      call: s => s.runs('churn.pipeline'),
      method: 'GET',
      path: 'runs',
      query: { pipeline: 'churn.pipeline' },
      body: null,
    },
    {
      name: 'runs in the store of a notebook (a sub-project may have its own)',
      call: s => s.runs(null, 'sub/churn.ipynb'),
      method: 'GET',
      path: 'runs',
      query: { path: 'sub/churn.ipynb' },
      body: null,
    },
    {
      name: 'compare',
      call: s => s.compare(['a', 'b', 'c']),
      method: 'GET',
      path: 'compare',
      query: { runs: 'a,b,c' },
      body: null,
    },
  ];

  it.each(cases)('$name sends $method $path with the token', async c => {
    const answer = { echo: c.name };
    const { settings, seen } = fakeServer({
      [`${c.method} ${c.path}`]: () => ({ body: answer }),
    });
    const result = await c.call(new MlprodService(settings));
    expect(result).toEqual(answer);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({
      method: c.method,
      path: c.path,
      query: c.query,
      body: c.body,
      authorization: 'token secret-token',
    });
  });

  it('turns a refusal into an ApiError carrying the message and the cell', async () => {
    const { settings } = fakeServer({
      'POST export': () => ({
        status: 422,
        body: { message: "step 'train' uses 'X' that no step defines", cell_id: 'train', step: 'train' },
      }),
    });
    const error = await new MlprodService(settings).exportPipeline('churn.ipynb').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.message).toBe("step 'train' uses 'X' that no step defines");
    expect(error.cellId).toBe('train');
    expect(error.step).toBe('train');
  });

  it('reports an answer that is not JSON with its status', async () => {
    const settings = fakeServer({}).settings;
    const broken = {
      ...settings,
      fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    } as typeof settings;
    const error = await new MlprodService(broken).runs().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.message).toContain('Bad Gateway');
  });

  it('reports an unreachable server as status 0', async () => {
    const settings = fakeServer({}).settings;
    const down = {
      ...settings,
      fetch: async () => {
        throw new TypeError('connection refused');
      },
    } as typeof settings;
    const error = await new MlprodService(down).runs().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.message).toContain('connection refused');
  });
});
