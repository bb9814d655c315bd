/**
 * One request to a server's native API outside the Backend verbs (the token endpoints), with
 * the same error behaviour as HttpBackend: the server's coded error comes back as the same
 * PullqError, and a server that cannot be reached is `unavailable` (the socket error kept as
 * `cause`, so the CLI can say what happened).
 */
import { request } from 'undici';
import { PullqError, errorFromWire } from '../protocol/errors.ts';

const TIMEOUT_MS = 30_000;

export async function serverRequest<T>(
  server: string,
  token: string | undefined,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const url = `${server}/v1${path}`;
  let status: number;
  let text: string;
  try {
    const response = await request(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    throw new PullqError('unavailable', `${method} ${url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (status >= 200 && status < 300) return parsed as T;
  throw errorFromWire(status, parsed);
}
