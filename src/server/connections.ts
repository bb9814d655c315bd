/**
 * What the server allows a connection, below the routes: how long a client may take to send
 * a request (header and request timeouts), how many connections may be open, what bytes that
 * are not HTTP are answered, and the body a route did not read, which is read and thrown
 * away before the answer (test/e2e/slow-clients.test.ts, test/fuzz/).
 */
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { PullqError } from '../protocol/errors.ts';
import { googleError } from '../protocol/v1beta2.ts';
import { V1BETA2_SERVICE_PATH } from './routes/v1beta2-methods.ts';

/**
 * What a slow or greedy client may hold (test/e2e/slow-clients.test.ts). A slowloris client
 * sending a header byte every few seconds, or a body one byte at a time, is answered 408
 * and closed once its time is up; Node checks every `checkIntervalMs`.
 */
export interface ConnectionLimits {
  /**
   * All of a request's headers must arrive within this (ms) of the connection opening, or
   * of the request's first byte on a kept-alive connection. Default 20 s: headers are a few
   * hundred bytes, which take well under a second even on a poor mobile link; Node's own 60 s
   * lets one client tie up a connection three times as long.
   */
  headersTimeoutMs: number;
  /** The whole request, body included (ms). Default 120 s: a 32 MiB batch at 2.5 Mbit/s. */
  requestTimeoutMs: number;
  /**
   * An idle kept-alive connection is closed after this (ms). Default 72 s, past the 60 s idle
   * timeout of common load balancers, so that they, not pullq, close the connections they pool.
   */
  keepAliveTimeoutMs: number;
  /**
   * Open connections at most, long-polls included; a connection past it is closed at once,
   * and idle kept-alive connections are closed to make room for the next ones. Default 10,000:
   * under the usual limit of open files (often 65,536; 20,000 on the test machine), and 9 to
   * 17 KiB of memory each when idle (4,000 idle connections grew a server's RSS by 67 MB when
   * fresh, by 34 MB the second time), so at most about 170 MB.
   */
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
};

/**
 * The HTTP (or HTTPS) server with the limits applied. The header timeout may not be longer
 * than the request timeout (Node refuses it too, in words about its own parameters).
 */
export function createHttpServer(
  limits: ConnectionLimits,
  https: { cert: Buffer; key: Buffer } | undefined,
  listener: RequestListener,
): Server {
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError(
      `the headers timeout (${limits.headersTimeoutMs} ms) must not be longer than the request timeout (${limits.requestTimeoutMs} ms)`,
    );
  }
  const timeouts = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: checkIntervalMs(limits),
  };
  const server = https
    ? createHttpsServer({ ...https, ...timeouts }, listener)
    : createServer(timeouts, listener);
  return capConnections(server, limits.maxConnections);
}

/**
 * How often Node looks for requests past their header or request timeout: a quarter of the
 * shorter one, so a slow client is closed at most 25% late, between 0.1 and 5 s (Node's own
 * 30 s would let a 20 s header timeout run to 50 s). Each check walks the requests in flight.
 */
function checkIntervalMs(limits: ConnectionLimits): number {
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return Math.min(5_000, Math.max(100, Math.floor(shorter / 4)));
}

/** Idle kept-alive connections are closed at most this often when the cap is reached. */
const MAKE_ROOM_EVERY_MS = 1000;

/**
 * Past `max` open connections Node closes each new one at once ('drop'). Idle kept-alive
 * connections are then closed too, so that a flood of idle ones cannot lock out the clients
 * that come next: a client of an idle connection opens a new one when it needs it.
 */
function capConnections<T extends Server>(server: T, max: number): T {
  server.maxConnections = max;
  let lastRoomMade = -Infinity;
  server.on('drop', () => {
    const now = performance.now();
    if (now - lastRoomMade < MAKE_ROOM_EVERY_MS) return;
    lastRoomMade = now;
    server.closeIdleConnections();
  });
  return server;
}

/** What Node's HTTP parser and timers report, as a status and a catalog error. */
function clientErrorAnswer(code: string | undefined): { status: number; error: PullqError } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        error: new PullqError(
          'request_timeout',
          'the request did not arrive in time; send it again',
        ),
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: new PullqError('headers_too_large', 'the request headers are larger than 16 KiB'),
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        error: new PullqError('payload_too_large', 'the chunk extensions are too large'),
      };
    default:
      return {
        status: 400,
        error: new PullqError(
          'malformed_request',
          `the request is not valid HTTP/1.1${code?.startsWith('HPE_') ? ` (${code})` : ''}`,
        ),
      };
  }
}

/** How a v1beta2 request line goes on: `POST /taskqueue/v1beta2/projects/...`. */
const V1BETA2_REQUEST_LINE = ` /${V1BETA2_SERVICE_PATH}`.replace(/\/$/, '');

/**
 * Answers what Node could not read as a request, then closes the connection (as Node's own
 * handler does). The envelope is Google's when the bytes name a v1beta2 path.
 */
export function answerClientError(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already under way on this connection cannot be followed by another.
  const underWay = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && underWay?.headersSent !== true) {
    const { status, error: pullqError } = clientErrorAnswer(error.code);
    // Fastify types it as a Buffer's JSON form; Node hands the bytes themselves (or nothing).
    const raw = error.rawPacket as unknown;
    const v1beta2 =
      Buffer.isBuffer(raw) && raw.subarray(0, 64).toString('latin1').includes(V1BETA2_REQUEST_LINE);
    const google = googleError(pullqError).body;
    const body = JSON.stringify(v1beta2 ? google : pullqError.toJSON());
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Unread body past which an answer goes out at once. Up to it the body is read and thrown
 * away first: answering and closing (as Fastify does after a 413, or as a client asks with
 * `Connection: close`) while the client is still sending makes the client's TCP stack reset
 * the connection and drop the answer. Measured before this: 4 fetches in 12 of a 34 MB batch
 * to the 32 MiB limit got EPIPE instead of 413; a GET /healthz with a 2 MiB body, nothing.
 */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;

/** Whether the body has all arrived (`complete`) or been read to its end (`app.inject()`'s
 * requests know only the latter), or never will (the connection is gone). */
export function bodyReceived(raw: IncomingMessage): boolean {
  return raw.complete || raw.readableEnded || raw.destroyed;
}

/** Resolves once the request's body has all arrived (thrown away), or MAX_DRAINED_BYTES of it. */
export function drainBody(raw: IncomingMessage): Promise<void> {
  if (bodyReceived(raw)) return Promise.resolve();
  if (Number(raw.headers['content-length']) > MAX_DRAINED_BYTES) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let drained = 0;
    const done = (): void => {
      raw.off('data', onData).off('end', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      drained += chunk.length;
      if (drained > MAX_DRAINED_BYTES) done();
    };
    raw.on('data', onData).once('end', done).once('close', done);
    // A decompressing stream may hold the body back; the bytes are thrown away anyway.
    raw.unpipe();
    raw.resume();
  });
}
