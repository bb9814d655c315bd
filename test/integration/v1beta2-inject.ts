/**
 * A pullq server on a memory backend with a hand-driven clock, spoken to in v1beta2 through
 * `app.inject()`: the shared harness of the v1beta2 integration tests.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer } from '../../src/server/app.ts';

export type Json = Record<string, unknown>;
export type Verb = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface V1beta2Request {
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The clock starts here in every test. */
export const START = Date.UTC(2030, 0, 1);
export const ROOT = '/taskqueue/v1beta2/projects/s~app/taskqueues';

export class V1beta2Inject {
  app!: FastifyInstance;
  backend!: MemoryBackend;
  /** The backend's clock (ms); tests move it forward. */
  now = START;

  start = async (options: { autoCreateQueues?: boolean } = {}): Promise<void> => {
    this.now = START;
    this.backend = new MemoryBackend({ clock: { now: () => this.now } });
    ({ app: this.app } = await buildServer({ backend: this.backend, ...options }));
  };

  stop = async (): Promise<void> => {
    await this.app.close();
    await this.backend.close();
  };

  /** A request under /taskqueue/v1beta2/projects/s~app/taskqueues (or an absolute path). */
  call = (
    verb: Verb,
    path: string,
    request: V1beta2Request = {},
  ): Promise<LightMyRequestResponse> => {
    const pairs = Object.entries(request.query ?? {}).map(([k, v]): [string, string] => [
      k,
      String(v),
    ]);
    const query =
      pairs.length === 0
        ? ''
        : `${path.includes('?') ? '&' : '?'}${new URLSearchParams(pairs).toString()}`;
    const payload =
      request.body === undefined || typeof request.body === 'string'
        ? request.body
        : JSON.stringify(request.body);
    return this.app.inject({
      method: verb,
      url: `${path.startsWith('/') ? '' : `${ROOT}/`}${path}${query}`,
      payload,
      headers: {
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...request.headers,
      },
    });
  };

  insert = async (queue: string, task: Json): Promise<Json> =>
    ok(await this.call('POST', `${queue}/tasks`, { body: { payloadBase64: b64('x'), ...task } }));

  lease = async (queue: string, query: V1beta2Request['query']): Promise<Json[]> => {
    const answer = ok(await this.call('POST', `${queue}/tasks/lease`, { query }));
    return (answer['items'] ?? []) as Json[];
  };
}

export function ok(res: LightMyRequestResponse, status = 200): Json {
  assert.equal(res.statusCode, status, res.body);
  return status === 204 ? {} : res.json<Json>();
}

/** Asserts the Apiary error envelope Google's clients parse; returns its message. */
export function googleError(res: LightMyRequestResponse, status: number, reason: string): string {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json<{
    error: {
      code: unknown;
      message: unknown;
      errors: { domain: unknown; reason: unknown; message: unknown }[];
    };
  }>();
  assert.equal(body.error.code, status);
  assert.equal(typeof body.error.message, 'string');
  assert.ok((body.error.message as string).length > 0);
  assert.equal(body.error.errors.length, 1);
  assert.equal(body.error.errors[0]?.domain, 'global');
  assert.equal(body.error.errors[0]?.reason, reason, res.body);
  assert.equal(body.error.errors[0]?.message, body.error.message);
  return body.error.message as string;
}

export const b64 = (text: string): string => Buffer.from(text).toString('base64url');
