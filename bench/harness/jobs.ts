/**
 * What a producer does in a run, in whichever process runs it: enqueue a range of tasks one
 * by one with a number in flight, or in batches; or send on a fixed timetable (open loop).
 */
import type { Producer, TaskBody } from './contender.ts';
import { epochMs } from './recorder.ts';

/** Pads the body to about 100 bytes of JSON, as peers.md 4.2 asks of every contender. */
const PAD = 'x'.repeat(52);

export function taskBody(id: number, t0: number): TaskBody {
  return { id, t0, pad: PAD };
}

export type ProducerJob =
  /** `put` one at a time, `inFlight` calls at once. */
  | { kind: 'one-by-one'; from: number; to: number; inFlight: number }
  /** The bulk call, `batch` tasks each, `inFlight` calls at once. */
  | { kind: 'batches'; from: number; to: number; batch: number; inFlight: number }
  /**
   * Open loop: task i is due at start + i / rate, and carries that scheduled time as t0, so
   * latency counts from when it should have been sent (no coordinated omission). Every
   * `tickMs` the producer sends what is due, one call (a batch when more than one is due)
   * without waiting for the calls before it.
   */
  | { kind: 'load'; rate: number; seconds: number; tickMs: number };

export interface JobResult {
  sent: number;
  /** From the first call to the last answer. */
  seconds: number;
  /** Open loop: how late (ms) the producer itself sent the latest task past its time. */
  sendLagMaxMs: number | null;
}

export async function runJob(producer: Producer, job: ProducerJob): Promise<JobResult> {
  switch (job.kind) {
    case 'one-by-one':
      return runRange(job.from, job.to, 1, job.inFlight, (from) =>
        producer.addOne(taskBody(from, epochMs())),
      );
    case 'batches':
      return runRange(job.from, job.to, job.batch, job.inFlight, (from, to) => {
        const t0 = epochMs();
        const tasks: TaskBody[] = [];
        for (let id = from; id < to; id += 1) tasks.push(taskBody(id, t0));
        return producer.addBatch(tasks);
      });
    case 'load':
      return runLoad(producer, job.rate, job.seconds, job.tickMs);
  }
}

async function runRange(
  from: number,
  to: number,
  step: number,
  inFlight: number,
  send: (from: number, to: number) => Promise<void>,
): Promise<JobResult> {
  let next = from;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < to) {
      const start = next;
      next = Math.min(to, start + step);
      await send(start, next);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, lane));
  return { sent: to - from, seconds: (performance.now() - started) / 1000, sendLagMaxMs: null };
}

async function runLoad(
  producer: Producer,
  rate: number,
  seconds: number,
  tickMs: number,
): Promise<JobResult> {
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const start = epochMs() + 50;
  const calls: Promise<void>[] = [];
  // Set by a call's rejection: an object, so the checks below see its change.
  const failure: { error: Error | null } = { error: null };
  let sent = 0;
  let lagMax = 0;
  const started = performance.now();
  for (let tick = 1; sent < total; tick += 1) {
    // Ticks are placed on the timetable, not after the previous one: a late tick sends more.
    const wait = start + tick * tickMs - epochMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (failure.error !== null) break;
    const now = epochMs();
    const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
    if (due <= sent) continue;
    const tasks: TaskBody[] = [];
    for (let id = sent; id < due; id += 1) tasks.push(taskBody(id, start + id * intervalMs));
    lagMax = Math.max(lagMax, now - (tasks[tasks.length - 1] as TaskBody).t0);
    sent = due;
    const call =
      tasks.length === 1 ? producer.addOne(tasks[0] as TaskBody) : producer.addBatch(tasks);
    calls.push(
      call.catch((error: unknown) => {
        failure.error ??= error instanceof Error ? error : new Error(String(error));
      }),
    );
  }
  await Promise.all(calls);
  if (failure.error !== null) throw failure.error;
  return { sent, seconds: (performance.now() - started) / 1000, sendLagMaxMs: lagMax };
}
