/**
 * One pull request to a JetStream pull consumer (`$JS.API.CONSUMER.MSG.NEXT`), and what the
 * ack subject of a delivery says.
 *
 * The request is made here rather than with the client's `consumer.fetch()` because a lease
 * needs two things fetch does not offer: `no_wait` (lease without waiting answers at once,
 * where fetch waits at least 1 s) and an `expires` of any length (a long-poll ends on time).
 *
 * An aborted pull unsubscribes its inbox: the server (2.9 measured) then drops the waiting
 * request, so a task published later goes to the next request, not to a dead inbox. A message
 * the server sent in the microseconds before the unsubscribe reached it is not lost: it stays
 * unacknowledged and comes back after the consumer's ack wait.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { PullqError } from '../../protocol/errors.ts';
import { natsError, unavailable } from './errors.ts';

export interface PullRequest {
  /** The consumer's pull subject. */
  subject: string;
  /** A fresh inbox for the answers. */
  inbox: string;
  batch: number;
  /** 0: answer at once with what is there (`no_wait`); else wait up to this long. */
  waitMs: number;
  /** How long past `waitMs` to wait for the server's end-of-request before giving up. */
  graceMs: number;
  signal?: AbortSignal;
  /** The error for a consumer that does not exist (no responders). */
  missing: () => PullqError;
}

/** Pulls up to `batch` messages; resolves with what came (possibly nothing). */
export function pull(nc: NatsConnection, request: PullRequest): Promise<Msg[]> {
  const { batch, waitMs, signal } = request;
  const got: Msg[] = [];
  if (signal?.aborted) return Promise.resolve(got);
  return new Promise((resolve, reject) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (error?: PullqError): void => {
      if (done) return;
      done = true;
      for (const cleanup of cleanups) cleanup();
      if (error !== undefined && got.length === 0) reject(error);
      else resolve(got);
    };
    const subscription = nc.subscribe(request.inbox, {
      callback: (error, msg) => {
        if (error !== null) {
          finish(error.name === 'NoResponders' ? request.missing() : natsError(error, 'pull'));
          return;
        }
        const status = msg.headers?.code ?? 0;
        if (status === 0) {
          got.push(msg);
          if (got.length >= batch) finish();
        } else if (status === 503) {
          finish(request.missing());
        } else if (status !== 100) {
          // 404 no messages, 408 request expired, 409 consumer deleted or limits: the request
          // is over; a deleted consumer shows on the next call as a missing queue.
          finish();
        }
      },
    });
    cleanups.push(() => subscription.unsubscribe());
    const body =
      waitMs <= 0 ? { batch, no_wait: true } : { batch, expires: Math.round(waitMs * 1e6) };
    try {
      nc.publish(request.subject, JSON.stringify(body), { reply: request.inbox });
    } catch (error) {
      finish(natsError(error, 'pull'));
      return;
    }
    const guard = setTimeout(
      () => finish(unavailable('a pull request (no end-of-request from the server)')),
      Math.max(0, waitMs) + request.graceMs,
    );
    cleanups.push(() => clearTimeout(guard));
    const onAbort = (): void => finish();
    signal?.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => signal?.removeEventListener('abort', onAbort));
  });
}

/** What a delivery's ack subject tells: which delivery of which stream message it is. */
export interface DeliveryInfo {
  /** 1 on the first delivery; a nak, or an ack wait that ran out, adds one. */
  deliveryCount: number;
  streamSeq: number;
  /** When the message was stored, in ms since the epoch. */
  storedAt: number;
}

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>` and the longer
 * form with a domain and account hash after `$JS.ACK` (12 tokens).
 */
export function deliveryInfo(reply: string | undefined): DeliveryInfo | null {
  if (reply === undefined) return null;
  const tokens = reply.split('.');
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return null;
  const at = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (at < 0) return null;
  const deliveryCount = Number(tokens[at]);
  const streamSeq = Number(tokens[at + 1]);
  const nanos = tokens[at + 3];
  if (!Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSeq) || !nanos) {
    return null;
  }
  return { deliveryCount, streamSeq, storedAt: Number(BigInt(nanos) / 1_000_000n) };
}
