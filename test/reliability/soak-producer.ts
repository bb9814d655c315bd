/**
 * The soak's producer, a child process of its own (so its memory is measured apart from the
 * soak's bookkeeping): puts tasks through the pullq client at a steady rate, open loop. Every
 * 100 ms it sends what the rate owes by then in one putMany, without waiting for the puts
 * before it, so a slow server does not slow the arrivals down; it only piles up puts in
 * flight. Past MAX_IN_FLIGHT puts in flight it stops sending and counts the tasks it owed as
 * skipped: the rate was not sustained, and the soak says so.
 *
 * Started by fork() with its settings in the PULLQ_SOAK_PRODUCER environment variable (JSON);
 * reports to the parent over IPC: `progress` on each `sample` message, `done` after `stop`.
 */
import { Connection } from '../../src/client/connection.ts';

export interface ProducerSettings {
  url: string;
  token: string;
  queue: string;
  /** Tasks per second. */
  rate: number;
}

export interface ProducerProgress {
  type: 'progress' | 'done';
  /** Tasks the server accepted. */
  inserted: number;
  /** Tasks the server refused or a put that failed after the client's retries. */
  failed: number;
  /** Tasks owed while MAX_IN_FLIGHT puts were in flight: never sent. */
  skipped: number;
  inFlight: number;
  /** Since the producer started sending. */
  seconds: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
}

export type ProducerCommand = { type: 'sample' } | { type: 'stop' };

const TICK_MS = 100;
/** 5 s of ticks: a server that stalls longer than that is not keeping up with the rate. */
const MAX_IN_FLIGHT = 50;

const settings = JSON.parse(process.env['PULLQ_SOAK_PRODUCER'] ?? 'null') as ProducerSettings;
const connection = new Connection(settings.url, { token: settings.token });
const queue = connection.simpleQueue<{ n: number }>(settings.queue);

let sent = 0;
let inserted = 0;
let failed = 0;
let skipped = 0;
let inFlight = 0;
let stopping = false;
const started = performance.now();
const idle = Promise.withResolvers<void>();

function progress(type: ProducerProgress['type']): ProducerProgress {
  const memory = process.memoryUsage();
  return {
    type,
    inserted,
    failed,
    skipped,
    inFlight,
    seconds: (performance.now() - started) / 1000,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
  };
}

function tick(): void {
  const owed = Math.floor(((performance.now() - started) / 1000) * settings.rate) - sent - skipped;
  if (owed <= 0) return;
  if (inFlight >= MAX_IN_FLIGHT) {
    skipped += owed;
    return;
  }
  const first = sent;
  sent += owed;
  inFlight += 1;
  const items = Array.from({ length: owed }, (_, i) => ({ body: { n: first + i } }));
  queue
    .putMany(items)
    .then(
      (results) => {
        for (const result of results) {
          if (result.ok) inserted += 1;
          else failed += 1;
        }
      },
      () => {
        failed += owed;
      },
    )
    .finally(() => {
      inFlight -= 1;
      if (stopping && inFlight === 0) idle.resolve();
    });
}

const timer = setInterval(tick, TICK_MS);

process.on('message', (command: ProducerCommand) => {
  if (command.type === 'sample') {
    process.send?.(progress('progress'));
    return;
  }
  stopping = true;
  clearInterval(timer);
  if (inFlight === 0) idle.resolve();
  void idle.promise.then(async () => {
    await connection.close();
    process.send?.(progress('done'), () => process.disconnect());
  });
});
// The parent gone (killed, crashed): nothing is left to report to.
process.on('disconnect', () => {
  if (!stopping) process.exit(1);
});
