/**
 * HTTP/1.1 over a bare TCP socket, for what no HTTP client will send: invalid UTF-8 in the
 * request line, bad chunked encoding, two Content-Lengths, bodies cut short or dribbled in a
 * few bytes at a time. `exchange` writes the bytes (at once, or in timed pieces), half-closes
 * the socket, and reads until the server closes it; `parseResponses` splits what came back.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  responses: RawResponse[];
  /** Bytes after the last whole response (a response cut off, or not HTTP at all). */
  leftover: Buffer;
  /** The server closed the connection (rather than our time limit ending it). */
  closedByServer: boolean;
}

export interface ExchangeOptions {
  /** Pieces of the request and the pause after each; default: all at once. */
  pieces?: { bytes: Buffer; pauseMs: number }[];
  /** Give up after this long (ms): the server hung. */
  timeoutMs: number;
  /**
   * Half-close after writing, so a server waiting for more of a cut request sees the end
   * (default true). Node's server then ends the connection without answering requests still
   * being handled.
   */
  endAfterWrite?: boolean;
  /** The methods of the requests sent, in order: answers to HEAD have no body. */
  methods?: readonly string[];
}

export function exchange(
  port: number,
  request: Buffer,
  options: ExchangeOptions,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, options.timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Half-open is allowed so that writing may go on after the server ends its side; once it
    // has, nothing more will come.
    socket.on('end', () => socket.destroy());
    // A reset after the server answered (it closes without reading the rest) is a close.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const { responses, leftover } = parseResponses(Buffer.concat(chunks), options.methods);
      resolve({ responses, leftover, closedByServer });
    });
    socket.once('connect', () => {
      write(socket, options.pieces ?? [{ bytes: request, pauseMs: 0 }])
        .then(() => {
          if (options.endAfterWrite !== false && !socket.destroyed) socket.end();
        })
        .catch(reject);
    });
  });
}

async function write(socket: Socket, pieces: { bytes: Buffer; pauseMs: number }[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(piece.bytes);
    if (piece.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, piece.pauseMs));
  }
}

/** Whole responses in order; bodies by Content-Length, chunked, or (last) to the close. */
export function parseResponses(
  bytes: Buffer,
  methods: readonly string[] = [],
): { responses: RawResponse[]; leftover: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = bytes.subarray(at, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1];
    if (status === undefined) break;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = end + 4;
    const length = headers['content-length'];
    if (methods[responses.length]?.toUpperCase() === 'HEAD') {
      responses.push({ status: Number(status), headers, body: Buffer.alloc(0) });
      at = bodyStart;
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const chunked = readChunked(bytes, bodyStart);
      if (!chunked) break;
      responses.push({ status: Number(status), headers, body: chunked.body });
      at = chunked.next;
    } else if (length !== undefined) {
      const next = bodyStart + Number(length);
      if (next > bytes.length) break;
      responses.push({ status: Number(status), headers, body: bytes.subarray(bodyStart, next) });
      at = next;
    } else {
      // 204, 304 and HEAD answers have no body; anything else runs to the close.
      const none = status === '204' || status === '304';
      responses.push({
        status: Number(status),
        headers,
        body: none ? Buffer.alloc(0) : bytes.subarray(bodyStart),
      });
      at = none ? bodyStart : bytes.length;
    }
  }
  return { responses, leftover: bytes.subarray(at) };
}

function readChunked(bytes: Buffer, start: number): { body: Buffer; next: number } | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return null;
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = bytes.indexOf('\r\n', at);
      return trailerEnd < 0 ? null : { body: Buffer.concat(parts), next: trailerEnd + 2 };
    }
    if (at + size + 2 > bytes.length) return null;
    parts.push(bytes.subarray(at, at + size));
    at += size + 2;
  }
}
