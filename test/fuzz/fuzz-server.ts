/**
 * The server the in-process fuzzers hit: authentication on, a SQLite file in a temp folder
 * (tasks and tokens), a hand-driven clock, and a logger that keeps every line at error level
 * or above so a run can assert that no request failed inside the server, even one whose 500
 * was somehow turned into something else.
 *
 * Tokens: an admin on `*` (the fuzzers' main key), a producer on `fz-*`, a consumer on
 * `fz-a*`, an admin on `other-*`, and one that expired. The admin's name is long and odd so
 * that no mutation of the corpus revokes it by chance (`DELETE /v1/tokens/<name>`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { newTokenRecord, type Role } from '../../src/auth/tokens.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';
import type { FuzzRequest, RawAnswer } from './oracle.ts';

/** Small enough that an oversize body is cheap to build, big enough for a 1 MiB payload. */
export const FUZZ_BODY_LIMIT = 2 * 1024 * 1024;

/** The admin token's name: nothing in the corpus names it, no mutation will guess it. */
export const ADMIN_NAME = 'fuzz-admin-q7Zr2xK9-never-revoked';

export interface FuzzTokens {
  admin: string;
  producer: string;
  consumer: string;
  otherAdmin: string;
  expired: string;
}

export interface FuzzServer {
  app: FastifyInstance;
  server: PullqServer;
  backend: SqliteBackend;
  clock: ManualClock;
  dbPath: string;
  tokens: FuzzTokens;
  /** Log lines at error level or above, as JSON text. */
  errorLines: string[];
  /** One request through `app.inject()`, its body as bytes. */
  send: (request: FuzzRequest) => Promise<RawAnswer>;
  close(): Promise<void>;
}

export async function fuzzServer(): Promise<FuzzServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-fuzz-'));
  const dbPath = join(dir, 'pullq.db');
  const clock = new ManualClock();
  const backend = new SqliteBackend({ path: dbPath, clock });
  const errorLines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => errorLines.push(line) });
  const server = await buildServer({
    backend,
    clock,
    bodyLimit: FUZZ_BODY_LIMIT,
    auth: { tokens: backend },
    logger,
  });
  const make = async (name: string, roles: Role[], queuePattern: string, expiresAt?: number) => {
    const { token, record } = newTokenRecord(
      { name, roles, queuePattern, ...(expiresAt === undefined ? {} : { expiresAt }) },
      clock.now(),
    );
    await backend.createToken(record);
    return token;
  };
  const tokens: FuzzTokens = {
    admin: await make(ADMIN_NAME, ['admin'], '*'),
    producer: await make('fuzz-producer', ['producer'], 'fz-*'),
    consumer: await make('fuzz-consumer', ['consumer'], 'fz-a*'),
    otherAdmin: await make('fuzz-other-admin', ['admin'], 'other-*'),
    expired: await make('fuzz-expired', ['admin'], '*', clock.now() + 1),
  };
  clock.advance(1000);
  const { app } = server;
  return {
    app,
    server,
    backend,
    clock,
    dbPath,
    tokens,
    errorLines,
    send: async (request) => {
      // `//host/path` would be read as a URL with a host; the raw-socket fuzzer sends those.
      const sent = request.url.replace(/^\/+/, '/');
      const response = await app.inject({
        method: request.method as 'GET',
        url: sent,
        headers: request.headers,
        ...(request.body === undefined ? {} : { payload: request.body }),
      });
      const url = new URL(sent, 'http://localhost');
      return {
        status: response.statusCode,
        headers: response.headers,
        body: response.rawPayload,
        url: url.pathname + url.search,
      };
    },
    async close() {
      server.beginShutdown();
      await app.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
