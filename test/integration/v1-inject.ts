/** Shared by the native v1 API tests: a server on a memory backend, driven by `app.inject()`. */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer, type PullqServer, type ServerOptions } from '../../src/server/app.ts';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  /** The parsed JSON body; undefined when empty. */
  body: Json;
}

export interface V1Server {
  app: FastifyInstance;
  backend: MemoryBackend;
  server: PullqServer;
  /** A request; an object body is sent as JSON, a string body as is (JSON content type). */
  call(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer>;
  close(): Promise<void>;
}

export async function v1Server(options: Partial<ServerOptions> = {}): Promise<V1Server> {
  const backend = new MemoryBackend();
  const server = await buildServer({ backend, ...options });
  const { app } = server;
  return {
    app,
    backend,
    server,
    async call(method, url, body, headers = {}) {
      const payload =
        body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const response = await app.inject({
        method: method as 'GET',
        url,
        ...(payload === undefined ? {} : { payload }),
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        body: (response.body === '' ? undefined : response.json()) as Json,
      };
    },
    async close() {
      server.beginShutdown();
      await app.close();
      await backend.close();
    },
  };
}

/** The answer is the catalog error `code` with `status`; `field`, when given, is named. */
export function assertError(answer: Answer, status: number, code: string, field?: string): void {
  const error = answer.body?.['error'] as Json | undefined;
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(error?.['code'], code, JSON.stringify(answer.body));
  assert.equal(typeof error['message'], 'string');
  assert.equal(typeof error['retryable'], 'boolean');
  if (field !== undefined) {
    assert.equal(
      (error['details'] as Json | undefined)?.['field'],
      field,
      String(error['message']),
    );
  }
}

export function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

export function fromB64(text: unknown): string {
  assert.equal(typeof text, 'string');
  return Buffer.from(text as string, 'base64').toString();
}

let names = 0;
/** A queue name unused so far in this process. */
export function queueName(): string {
  return `q${process.pid}-${++names}`;
}
