import { ServerConnection } from '@jupyterlab/services';

/** One request as the server saw it. */
export interface ISeen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  authorization: string | null;
  /** only when the request sent one */
  ifNoneMatch?: string;
}

export interface IAnswer {
  status?: number;
  body: unknown;
}

/** An answer now, or later (a promise the test resolves, to interleave requests). */
export type Route = (seen: ISeen) => IAnswer | Promise<IAnswer>;

/**
 * Settings whose fetch answers from `routes` (keyed by "METHOD path" under the API).
 *
 * The network edge is the only thing replaced: requestAPI, ServerConnection and
 * the service run for real.
 */
export function fakeServer(routes: Record<string, Route>): {
  settings: ServerConnection.ISettings;
  seen: ISeen[];
} {
  const seen: ISeen[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const prefix = '/mlprod-nb/api/';
    const text = await request.text();
    const entry: ISeen = {
      method: request.method,
      path: url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname,
      // ServerConnection adds a bare timestamp to GETs against caching: not ours
      query: Object.fromEntries(
        [...url.searchParams.entries()].filter(([k, v]) => !(/^\d+$/.test(k) && v === ''))
      ),
      body: text ? JSON.parse(text) : null,
      authorization: request.headers.get('Authorization'),
      ...(request.headers.has('If-None-Match')
        ? { ifNoneMatch: request.headers.get('If-None-Match') as string }
        : {}),
    };
    seen.push(entry);
    const route =
      routes[`${entry.method} ${entry.path}`] ??
      routes[`${entry.method} ${entry.path.split('/')[0]}/*`];
    if (!route) {
      return new Response(JSON.stringify({ message: `no route ${entry.path}` }), {
        status: 404,
      });
    }
    const answer = await route(entry);
    if (answer.status === 304) {
      return new Response(null, { status: 304 }); // not modified: no body
    }
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { 'Content-Type': 'application/json' },
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://127.0.0.1:8888/',
    wsUrl: 'ws://127.0.0.1:8888/',
    token: 'secret-token',
    appendToken: false,
    fetch: fetch as typeof globalThis.fetch,
    Request,
    Headers,
  });
  return { settings, seen };
}
