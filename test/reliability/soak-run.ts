/**
 * One soak run: `pullq serve` on a store of this run, `pullq worker` with two children running
 * a no-op handler, and a producer putting tasks at a steady rate (open loop), for `seconds`.
 * Every `sampleSeconds` the resident memory (VmRSS) of each of those processes is read, with
 * the heap of the server and the worker supervisor (their Prometheus metrics) and of the
 * producer (it reports its own), the counts inserted and processed, and the backlog. Then the
 * producer stops, the queue must drain, and every inserted task must have been processed.
 *
 * Verdict: for each process, the least-squares growth of its RSS over the samples after
 * warm-up (soak-memory.ts) must stay within the limit; the run must have sustained its rate
 * (under 1% of the tasks skipped, none refused), kept its worker children (no restart), and
 * drained.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from '../e2e/serve-process.ts';
import {
  childPids,
  cpuTicks,
  judgeGrowth,
  megabytes,
  rssBytes,
  type GrowthLimit,
  type Trend,
} from './soak-memory.ts';
import {
  endChild,
  fetchText,
  metricValue,
  prepareStore,
  startProducer,
  startWorker,
  type ProducerProcess,
  type StoreKind,
  type WorkerProcess,
} from './soak-processes.ts';

export interface SoakOptions {
  seconds: number;
  /** Tasks per second the producer puts. */
  rate: number;
  backend: StoreKind;
  sampleSeconds: number;
  /** The share of the run before the first judged sample. */
  warmupFraction: number;
  limit: GrowthLimit;
  /** How long the queue may take to drain once the producer stopped. */
  drainSeconds: number;
  /** Bytes the handler keeps per task (0: the no-op handler): checks the verdict. */
  leakBytes: number;
  /** Progress for people (a sample as it is taken). */
  onSample?: (sample: Sample, roles: readonly string[]) => void;
}

export const WORKER_PROCESSES = 2;
/** Handler slots per child: at a few hundred tasks/s of a no-op handler, a handful are busy. */
const WORKER_CONCURRENCY = 20;
const QUEUE = 'soak';

export interface Sample {
  /** Seconds since the producer started. */
  t: number;
  /** VmRSS by role; null when the process was gone. */
  rss: Record<string, number | null>;
  /** V8 heap used, where a process tells it. */
  heap: Record<string, number | null>;
  /** V8 heap size (used and free), where a process tells it. */
  heapTotal: Record<string, number | null>;
  /** CPU ticks (1/100 s) used so far, by role. */
  cpu: Record<string, number | null>;
  inserted: number;
  processed: number | null;
  /** Tasks not yet acked: ready, delayed and leased. */
  backlog: number | null;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'onSample'>;
  roles: string[];
  pids: Record<string, number>;
  samples: Sample[];
  /** RSS after warm-up, judged. */
  trends: Record<string, Trend>;
  /** Heap used after warm-up, where the process tells it: shown, not judged. */
  heapTrends: Record<string, Trend>;
  inserted: number;
  failedPuts: number;
  skipped: number;
  /** How long the producer sent. */
  producerSeconds: number;
  processed: number | null;
  drainedInSeconds: number | null;
  problems: string[];
  ok: boolean;
}

async function queueBacklog(server: ServeProcess): Promise<number | null> {
  const response = await fetch(`${server.url}/v1/queues/${QUEUE}/stats`, { headers: bearer() });
  if (response.status !== 200) return null;
  const stats = (await response.json()) as Record<string, number>;
  return (stats['ready'] ?? 0) + (stats['delayed'] ?? 0) + (stats['leased'] ?? 0);
}

interface Heap {
  used: number | null;
  total: number | null;
}

/** The heap of a process that serves prom-client's default metrics under `prefix`. */
const heapOf = (text: string, prefix: string): Heap => ({
  used: metricValue(text, `${prefix}nodejs_heap_size_used_bytes`),
  total: metricValue(text, `${prefix}nodejs_heap_size_total_bytes`),
});

async function workerReading(
  worker: WorkerProcess,
): Promise<{ heap: Heap; processed: number | null }> {
  const text = await fetchText(worker.metricsUrl).catch(() => '');
  return {
    heap: heapOf(text, 'pullq_worker_'),
    processed: metricValue(text, 'pullq_worker_tasks_total', 'outcome="processed"'),
  };
}

async function serverHeap(server: ServeProcess): Promise<Heap> {
  const text = await fetchText(`${server.url}/metrics`, TEST_ADMIN_TOKEN).catch(() => '');
  return heapOf(text, 'pullq_');
}

async function waitForChildren(supervisor: number): Promise<number[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const children = childPids(supervisor);
    if (children.length === WORKER_PROCESSES) return children;
    if (Date.now() > deadline) {
      throw new Error(`the worker has ${children.length} children, not ${WORKER_PROCESSES}`);
    }
    await sleep(100);
  }
}

/** The RSS trend of each process after warm-up, judged (a failure is added to `problems`),
 * and the heap trend of those that tell it, shown. */
function judgeMemory(
  samples: readonly Sample[],
  roles: readonly string[],
  options: SoakOptions,
  problems: string[],
): { trends: Record<string, Trend>; heapTrends: Record<string, Trend> } {
  const warmupEnd = options.seconds * options.warmupFraction;
  const series = (field: 'rss' | 'heap', role: string) =>
    samples.flatMap((sample) => {
      const bytes = sample[field][role];
      return bytes === null || bytes === undefined ? [] : [{ t: sample.t, bytes }];
    });
  const trends: Record<string, Trend> = {};
  const heapTrends: Record<string, Trend> = {};
  for (const role of roles) {
    const trend = judgeGrowth(series('rss', role), warmupEnd, options.limit);
    trends[role] = trend;
    if (!trend.ok) {
      problems.push(
        `${role} grew: its RSS grew ${megabytes(trend.growthBytes)} MB after warm-up, more than ${megabytes(trend.limitBytes)} MB`,
      );
    }
    // Shown beside the RSS, not judged: only three of the processes tell their heap.
    if (series('heap', role).length > 0) {
      heapTrends[role] = judgeGrowth(series('heap', role), warmupEnd, options.limit);
    }
  }
  return { trends, heapTrends };
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const store = await prepareStore(options.backend);
  let server: ServeProcess | undefined;
  let worker: WorkerProcess | undefined;
  let producer: ProducerProcess | undefined;
  try {
    server = await startServe(store.serveArgs);
    const created = await fetch(`${server.url}/v1/queues`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer() },
      body: JSON.stringify({ name: QUEUE }),
    });
    if (created.status !== 201) throw new Error(`creating the queue: ${created.status}`);
    worker = await startWorker(
      server.url,
      QUEUE,
      WORKER_PROCESSES,
      WORKER_CONCURRENCY,
      options.leakBytes,
    );
    const supervisor = worker.child.pid ?? -1;
    const children = await waitForChildren(supervisor);
    const running = { server, worker };
    producer = startProducer({
      url: server.url,
      token: TEST_ADMIN_TOKEN,
      queue: QUEUE,
      rate: options.rate,
    });
    const pids: Record<string, number> = {
      server: server.child.pid ?? -1,
      supervisor,
      ...Object.fromEntries(children.map((pid, n) => [`child-${n + 1}`, pid])),
      producer: producer.child.pid ?? -1,
    };
    const roles = Object.keys(pids);
    const problems: string[] = [];
    const samples: Sample[] = [];
    const started = performance.now();
    const sampled = producer;
    const take = async (): Promise<Sample> => {
      const [progress, fromWorker, heapOfServer, backlog] = await Promise.all([
        sampled.progress(),
        workerReading(running.worker),
        serverHeap(running.server),
        queueBacklog(running.server),
      ]);
      const sample: Sample = {
        t: Math.round((performance.now() - started) / 100) / 10,
        rss: Object.fromEntries(roles.map((role) => [role, rssBytes(pids[role] ?? -1)])),
        heap: {
          server: heapOfServer.used,
          supervisor: fromWorker.heap.used,
          producer: progress.heapUsedBytes,
        },
        heapTotal: {
          server: heapOfServer.total,
          supervisor: fromWorker.heap.total,
          producer: progress.heapTotalBytes,
        },
        cpu: Object.fromEntries(roles.map((role) => [role, cpuTicks(pids[role] ?? -1)])),
        inserted: progress.inserted,
        processed: fromWorker.processed,
        backlog,
      };
      samples.push(sample);
      options.onSample?.(sample, roles);
      return sample;
    };

    await take();
    for (let n = 1; n * options.sampleSeconds <= options.seconds; n += 1) {
      // Sample times are fixed from the start, so a slow sample does not shift the rest.
      const due = started + n * options.sampleSeconds * 1000;
      await sleep(Math.max(0, due - performance.now()));
      await take();
      const now = childPids(supervisor);
      if (now.join() !== children.join()) {
        problems.push(`worker children changed from ${children.join(', ')} to ${now.join(', ')}`);
        break;
      }
    }

    const final = await producer.stop();
    const drainStart = performance.now();
    let drainedInSeconds: number | null = null;
    let processed: number | null = null;
    while (performance.now() - drainStart < options.drainSeconds * 1000) {
      processed = (await workerReading(worker)).processed;
      if (processed !== null && processed >= final.inserted && (await queueBacklog(server)) === 0) {
        drainedInSeconds = Math.round(performance.now() - drainStart) / 1000;
        break;
      }
      await sleep(200);
    }
    await endChild(worker.child);
    await worker.closed;
    const summary = JSON.parse(worker.stdout().trim().split('\n').at(-1) ?? 'null') as {
      processed?: number;
      failed?: number;
    } | null;
    processed = summary?.processed ?? processed;

    if (final.failed > 0) problems.push(`${final.failed} puts failed`);
    if (final.skipped > final.inserted / 100) {
      problems.push(
        `rate not sustained: ${final.skipped} tasks skipped (${final.inserted} inserted)`,
      );
    }
    if (drainedInSeconds === null)
      problems.push(`the queue did not drain in ${options.drainSeconds} s`);
    if (processed !== final.inserted) {
      problems.push(`processed ${processed} tasks, inserted ${final.inserted}`);
    }
    if ((summary?.failed ?? 0) > 0) problems.push(`${summary?.failed} handler attempts failed`);
    const { trends, heapTrends } = judgeMemory(samples, roles, options, problems);
    return {
      options: {
        seconds: options.seconds,
        rate: options.rate,
        backend: options.backend,
        sampleSeconds: options.sampleSeconds,
        warmupFraction: options.warmupFraction,
        limit: options.limit,
        drainSeconds: options.drainSeconds,
        leakBytes: options.leakBytes,
      },
      roles,
      pids,
      samples,
      trends,
      heapTrends,
      inserted: final.inserted,
      failedPuts: final.failed,
      skipped: final.skipped,
      producerSeconds: final.seconds,
      processed,
      drainedInSeconds,
      problems,
      ok: problems.length === 0,
    };
  } finally {
    if (producer !== undefined) await endChild(producer.child);
    if (worker !== undefined) await endChild(worker.child);
    await server?.stop();
    await store.drop();
  }
}
