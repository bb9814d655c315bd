/**
 * Shows the BullMQ and pg-boss contenders work before the harness runs them:
 * `node bench/contenders/peer-smoke.ts [name...]` runs each (all four by default) through
 * prepare, a producer adding 2,000 tasks (1,000 with addOne one at a time, 1,000 with
 * addBatch in batches of 100), a consumer with concurrency 50 until 2,000 handler calls have
 * happened, a check that every id came exactly once (also after close), close and dispose,
 * and prints tasks/s for the adds and the drain. Exits 1 if any contender fails.
 *
 * Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (user postgres, database
 * test). One process does everything, so the figures are a smoke signal, not a benchmark.
 */
import { performance } from 'node:perf_hooks';
import type { Contender, TaskBody } from '../harness/contender.ts';
import { bullmq, bullmqDefaults } from './bullmq.ts';
import { pgBoss, pgBossDefaults } from './pg-boss.ts';

const TASKS = 2_000;
const BATCH = 100;
const CONCURRENCY = 50;
/** pg-boss-defaults polls every 2 s per worker: 50 workers drain about 25 tasks/s, 80 s. */
const DRAIN_TIMEOUT_MS = 180_000;
const PAD = 'x'.repeat(64);

const contenders = [bullmq, bullmqDefaults, pgBoss, pgBossDefaults];

async function smoke(contender: Contender): Promise<string> {
  const runId = `smoke_${process.pid}_${Date.now().toString(36)}`;
  const prepared = await contender.prepare({ runId });
  try {
    const producer = await contender.producer(prepared.config);
    const addStart = performance.now();
    try {
      for (let id = 0; id < TASKS / 2; id += 1) await producer.addOne(task(id));
      for (let from = TASKS / 2; from < TASKS; from += BATCH) {
        await producer.addBatch(Array.from({ length: BATCH }, (_, i) => task(from + i)));
      }
    } finally {
      await producer.close();
    }
    const addSeconds = (performance.now() - addStart) / 1000;

    const seen = new Uint32Array(TASKS);
    let calls = 0;
    let allCalled: () => void = () => {};
    const drained = new Promise<void>((resolve) => (allCalled = resolve));
    const drainStart = performance.now();
    const consumer = await contender.consumer(prepared.config, {
      concurrency: CONCURRENCY,
      handler(body) {
        seen[body.id] = (seen[body.id] ?? 0) + 1;
        calls += 1;
        if (calls === TASKS) allCalled();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        drained,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new Error(`${calls} of ${TASKS} handler calls after ${DRAIN_TIMEOUT_MS} ms`)),
            DRAIN_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await consumer.close();
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const wrong = exactlyOnce(seen);
    if (wrong !== null) throw new Error(wrong);
    return (
      `${contender.info.name}: ${TASKS} tasks exactly once; add ${rate(addSeconds)} tasks/s` +
      ` (${addSeconds.toFixed(2)} s), drain at concurrency ${CONCURRENCY}` +
      ` ${rate(drainSeconds)} tasks/s (${drainSeconds.toFixed(2)} s, consumer start included);` +
      ` ${JSON.stringify(contender.info.versions)}`
    );
  } finally {
    await prepared.dispose();
  }
}

function task(id: number): TaskBody {
  return { id, t0: performance.timeOrigin + performance.now(), pad: PAD };
}

/** Null when every id was handled exactly once, else what went wrong. */
function exactlyOnce(seen: Uint32Array): string | null {
  let missing = 0;
  let duplicated = 0;
  for (const count of seen) {
    if (count === 0) missing += 1;
    if (count > 1) duplicated += 1;
  }
  return missing + duplicated === 0 ? null : `${missing} ids missing, ${duplicated} duplicated`;
}

function rate(seconds: number): string {
  return Math.round(TASKS / seconds).toLocaleString('en-US');
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !contenders.some((c) => c.info.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown contender ${unknown.join(', ')}\n`);
  process.exitCode = 2;
} else {
  for (const contender of contenders) {
    if (wanted.length > 0 && !wanted.includes(contender.info.name)) continue;
    try {
      process.stdout.write(`${await smoke(contender)}\n`);
    } catch (error) {
      process.stdout.write(`${contender.info.name}: FAILED ${String(error)}\n`);
      process.exitCode = 1;
    }
  }
}
