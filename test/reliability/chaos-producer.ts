/**
 * The producers of a chaos run: `loops` concurrent insert loops taking numbered tasks
 * (ids `t0` ... `t<N-1>`, body `{ n }`) in batches, each writing `I` to the ledger for every
 * task the server answered 2xx, through every outage.
 *
 * Ids are chosen here, so an insert retried after an outage whose outcome was unknown cannot
 * make a second task: the queue refuses an id it holds or held within its dedup window (7
 * days by default) with `already_exists`. The client sees that itself within one put (its
 * retry finds the earlier try's task and answers ok); a batch tried again here, after the
 * client gave up, may meet its own tasks already processed and acked, whose ids are then only
 * tombstones: those are recorded `E` (landed earlier), since nothing else inserts these ids.
 */
import { Connection } from '../../src/client/connection.ts';
import type { PutResult } from '../../src/client/put.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import type { LedgerWriter } from './chaos-ledger.ts';

export interface ProducerOptions {
  url: string;
  token: string;
  queue: string;
  tasks: number;
  batch: number;
  loops: number;
  ledger: LedgerWriter;
  /** How many tasks may be inserted by now: producers wait while the next batch is past it. */
  allowed(): number;
  signal: AbortSignal;
  /** Told why a batch is tried again. */
  log(line: string): void;
}

export interface ProducerReport {
  /** Answered 2xx (I records). */
  inserted: number;
  /** Found landed by a later try (E records). */
  landedEarlier: number;
  /** Batches tried again after the client's own retries gave up. */
  batchRetries: number;
}

export async function produce(options: ProducerOptions): Promise<ProducerReport> {
  const report: ProducerReport = { inserted: 0, landedEarlier: 0, batchRetries: 0 };
  let next = 0;
  const loop = async (): Promise<void> => {
    await using connection = new Connection(options.url, { token: options.token });
    const queue = connection.simpleQueue<{ n: number }>(options.queue);
    for (;;) {
      while (next < options.tasks && next >= options.allowed()) await pause(50, options.signal);
      if (next >= options.tasks) return;
      const first = next;
      const count = Math.min(options.batch, options.tasks - first);
      next += count;
      let pending = Array.from({ length: count }, (_, index) => first + index);
      while (pending.length > 0) {
        options.signal.throwIfAborted();
        let results: PutResult[];
        try {
          results = await queue.putMany(pending.map((n) => ({ body: { n }, name: `t${n}` })));
        } catch (error) {
          // The client's retries (about 8 s) ran out: the server is still away. Same ids again.
          if (!isPullqError(error) || !error.retryable) throw error;
          report.batchRetries += 1;
          options.log(`a batch of ${pending.length} is tried again after: ${error.message}`);
          await pause(500, options.signal);
          continue;
        }
        const again: number[] = [];
        for (const [index, result] of results.entries()) {
          const n = pending[index] as number;
          if (result.ok) {
            options.ledger.write('I', { id: `t${n}` });
            report.inserted += 1;
          } else if (result.error.code === 'already_exists') {
            options.ledger.write('E', { id: `t${n}` });
            report.landedEarlier += 1;
          } else if (result.error.retryable) {
            again.push(n);
          } else {
            throw result.error;
          }
        }
        pending = again;
      }
    }
  };
  await Promise.all(Array.from({ length: options.loops }, loop));
  return report;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
