import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The server extension's routes live under this path. */
export const API_NAMESPACE = 'mlprod-nb/api';

/** An answer the server refused: its status and the `{message, cell_id?, step?}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly cellId: string | null = null,
    readonly step: string | null = null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call a route of the server extension and parse its JSON answer.
 *
 * Goes through ServerConnection, so the token and XSRF cookie ride along.
 */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, `cannot reach the mlprod-nb server extension: ${String(error)}`);
  }
  if (response.status === 304) {
    // asked with If-None-Match: the caller holds the answer already
    return null as T;
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const body = (data ?? {}) as { message?: unknown; cell_id?: unknown; step?: unknown };
    const str = (value: unknown) => (typeof value === 'string' ? value : null);
    throw new ApiError(
      response.status,
      str(body.message) ?? `${response.status} ${response.statusText}`,
      str(body.cell_id),
      str(body.step)
    );
  }
  return data as T;
}
