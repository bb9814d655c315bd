/**
 * Shared by the auth tests: a server with authentication on, over a SQLite file in a temp
 * folder, whose clock the test moves; tokens are made straight in its store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { newTokenRecord, type Role } from '../../src/auth/tokens.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { V1_ROUTES } from '../../src/server/routes/v1.ts';
import { V1BETA2_METHODS, routeUrl } from '../../src/server/routes/v1beta2-methods.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  /** The body as sent. */
  text: string;
  /** The parsed JSON body; {} when empty. */
  body: Json;
}

export interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  body?: unknown;
  headers?: Record<string, string | string[]>;
}

export interface AuthServer {
  app: FastifyInstance;
  server: PullqServer;
  backend: SqliteBackend;
  clock: ManualClock;
  dbPath: string;
  /** Makes a token in the store; its name is unique unless given. */
  token(
    roles: Role[],
    queuePattern?: string,
    options?: { name?: string; expiresAt?: number },
  ): Promise<string>;
  call(method: string, url: string, options?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

let names = 0;

export async function authServer(
  options: {
    rateLimitPerSecond?: number;
    logger?: Logger;
    /** Where the queues live, when not in the SQLite file (which keeps the tokens anyway). */
    queues?: Backend;
  } = {},
): Promise<AuthServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-auth-'));
  const dbPath = join(dir, 'pullq.db');
  const clock = new ManualClock();
  const backend = new SqliteBackend({ path: dbPath, clock });
  const server = await buildServer({
    backend: options.queues ?? backend,
    clock,
    auth: {
      tokens: backend,
      ...(options.rateLimitPerSecond === undefined
        ? {}
        : { rateLimitPerSecond: options.rateLimitPerSecond }),
    },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { app } = server;
  return {
    app,
    server,
    backend,
    clock,
    dbPath,
    async token(roles, queuePattern = '*', { name, expiresAt } = {}) {
      const { token, record } = newTokenRecord(
        { name: name ?? `${roles.join('-')}-${++names}`, roles, queuePattern, expiresAt },
        clock.now(),
      );
      await backend.createToken(record);
      return token;
    },
    async call(method, url, { token, body, headers = {} } = {}) {
      const payload =
        body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const response = await app.inject({
        method: method as 'GET',
        url,
        ...(payload === undefined ? {} : { payload }),
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        text: response.body,
        body: response.body === '' ? {} : response.json(),
      };
    },
    async close() {
      server.beginShutdown();
      await app.close();
      await backend.close();
      await options.queues?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const V1BETA2_ROOT = '/taskqueue/v1beta2/projects/s~app/taskqueues';

/** A route's path with its parameters filled: the queue `emails-eu`, the task `t1`. */
export function fillPath(url: string, queue = 'emails-eu'): string {
  return url
    .replace(':project', 's~app')
    .replace(/:(queue|taskqueue)\b/, queue)
    .replace(/:(id|task)\b/, 't1')
    .replace(':name', 'someone');
}

export interface TableRoute {
  api: 'v1' | 'v1beta2';
  method: string;
  /** Fastify form, for messages. */
  route: string;
  name: string;
}

/** Every route of both route tables, HEAD included where GET is. */
export function everyRoute(): TableRoute[] {
  const routes: TableRoute[] = [];
  for (const spec of V1_ROUTES) {
    const route = `/v1${spec.url}`;
    routes.push({ api: 'v1', method: spec.method, route, name: spec.operationId });
    if (spec.method === 'GET')
      routes.push({ api: 'v1', method: 'HEAD', route, name: spec.operationId });
  }
  for (const method of V1BETA2_METHODS) {
    routes.push({
      api: 'v1beta2',
      method: method.httpMethod,
      route: routeUrl(method),
      name: method.id,
    });
  }
  return routes;
}

/** A request body that parses on every route (auth decides before the body is read). */
export function bodyFor(method: string): unknown {
  return method === 'POST' || method === 'PATCH' || method === 'PUT' ? {} : undefined;
}

/** The native error: its code, and a message that does not carry `secret` or a part of it. */
export function assertNativeError(
  answer: Answer,
  status: number,
  code: string,
  secret?: string,
): void {
  assert.equal(answer.status, status, answer.text);
  const error = answer.body['error'] as Json | undefined;
  assert.equal(error?.['code'], code, answer.text);
  if (secret !== undefined) assertNoSecret(answer, secret);
}

/** Google's envelope with `reason`, as the v1beta2 clients parse it. */
export function assertGoogleError(
  answer: Answer,
  status: number,
  reason: string,
  secret?: string,
): void {
  assert.equal(answer.status, status, answer.text);
  const error = answer.body['error'] as { code: number; errors: { reason: string }[] } | undefined;
  assert.equal(error?.code, status, answer.text);
  assert.equal(error.errors[0]?.reason, reason, answer.text);
  if (secret !== undefined) assertNoSecret(answer, secret);
}

/** Neither the body nor a header holds the secret, nor any 8 characters of it. */
export function assertNoSecret(answer: Answer, secret: string): void {
  const seen = answer.text + JSON.stringify(answer.headers);
  for (let start = 0; start + 8 <= secret.length; start += 4) {
    const part = secret.slice(start, start + 8);
    assert.equal(
      seen.includes(part),
      false,
      `the answer holds ${JSON.stringify(part)} of the token`,
    );
  }
}
