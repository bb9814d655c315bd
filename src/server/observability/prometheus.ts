/**
 * The server's Prometheus metrics, on a registry of its own (never prom-client's global one,
 * so an application embedding the server keeps its metrics apart; docs/metrics.md):
 *
 * - pullq_queue_tasks{queue,state}: tasks by state (ready, delayed, leased, dead), read from
 *   the store's stats at scrape (./stats-cache.ts keeps an idle queue's for up to 5 s)
 * - pullq_queue_oldest_ready_age_seconds{queue}: 0 when nothing is ready
 * - pullq_operations_total{queue,operation}: tasks inserted, leased, acked, extended,
 *   released, failed, dead_lettered, deleted, purged, redriven through this server
 * - pullq_operation_duration_seconds{operation}: insert, lease, lease_wait, ack, extend,
 *   release calls to the store (./durations.ts)
 * - pullq_long_poll_waiters, pullq_lease_expiries_total{queue}, pullq_dead_letters_total{queue}
 * - pullq_http_responses_total{route,method,status}: by route pattern, never the raw URL
 * - the process metrics of prom-client, prefixed pullq_ (one set per process)
 *
 * Counters and durations are kept as plain numbers by ./activity.ts, ./durations.ts and the
 * response hook, and read by prom-client at scrape: the request path pays additions, not label
 * hashes.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import { TASK_STATES, type Backend, type QueueStats } from '../../backends/backend.ts';
import type { Activity, Counted } from './activity.ts';
import { Durations } from './durations.ts';
import type { ResponseCounts } from './http-hooks.ts';
import type { TimedOperation } from './instrumented-backend.ts';
import type { StatsCache } from './stats-cache.ts';

/** The `operation` label of each count in pullq_operations_total. */
const OPERATION_LABELS: Partial<Record<Counted, string>> = {
  inserted: 'inserted',
  leased: 'leased',
  acked: 'acked',
  extended: 'extended',
  released: 'released',
  failed: 'failed',
  deadLettered: 'dead_lettered',
  deleted: 'deleted',
  purged: 'purged',
  redriven: 'redriven',
};

export interface MetricsSources {
  activity: Activity;
  stats: StatsCache;
  /** The store itself, for the list of queues. */
  backend: Backend;
  responses: ResponseCounts;
  /** How old the stats of a queue nothing changed may be at a scrape, in ms. */
  statsMaxAgeMs: number;
}

export interface ServerMetrics {
  readonly registry: Registry;
  /** Records a store call's duration (the instrumented backend calls it). */
  observe: (operation: TimedOperation, seconds: number) => void;
  /** The Prometheus text: the server's metrics, then the process metrics. */
  render: () => Promise<string>;
  readonly contentType: string;
}

export function serverMetrics(sources: MetricsSources): ServerMetrics {
  const { activity } = sources;
  const registry = new Registry();
  const queueStats = sharedSnapshot(sources);

  new Gauge({
    name: 'pullq_queue_tasks',
    help: 'Tasks in the queue by state, from the store at scrape',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const snapshot = await queueStats();
      this.reset();
      for (const [queue, stats] of snapshot) {
        for (const state of TASK_STATES) this.set({ queue, state }, stats[state]);
      }
    },
  });
  new Gauge({
    name: 'pullq_queue_oldest_ready_age_seconds',
    help: 'Age of the oldest ready task (since its ETA); 0 when none is ready',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const snapshot = await queueStats();
      this.reset();
      for (const [queue, stats] of snapshot) {
        this.set({ queue }, stats.oldestReadyAgeSeconds ?? 0);
      }
    },
  });
  new Counter({
    name: 'pullq_operations_total',
    help: 'Tasks each operation succeeded on through this server, since it started',
    labelNames: ['queue', 'operation'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [queue, { counts }] of activity.queues()) {
        for (const [what, operation] of Object.entries(OPERATION_LABELS)) {
          const count = counts[what as Counted];
          if (count > 0) this.inc({ queue, operation }, count);
        }
      }
    },
  });
  perQueueCounter(registry, activity, 'leaseExpiries', {
    name: 'pullq_lease_expiries_total',
    help: 'Leases handed out by this server that ran out (seen when the task is leased again)',
  });
  perQueueCounter(registry, activity, 'deadLettered', {
    name: 'pullq_dead_letters_total',
    help: 'Tasks dead-lettered out of the queue: by a release, or by a lease past maxLeases',
  });
  const durations = new Durations();
  registry.registerMetric(durations.asMetric());
  new Gauge({
    name: 'pullq_long_poll_waiters',
    help: 'Leases waiting for a task to arrive (waitSeconds > 0) right now',
    registers: [registry],
    collect() {
      this.set(activity.waiters);
    },
  });
  new Counter({
    name: 'pullq_http_responses_total',
    help: 'HTTP responses by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, count } of sources.responses.entries()) this.inc(labels, count);
    },
  });

  return {
    registry,
    observe: (operation, seconds) => durations.observe(operation, seconds),
    render: async () => (await registry.metrics()) + (await processRegistry().metrics()),
    contentType: registry.contentType,
  };
}

function perQueueCounter(
  registry: Registry,
  activity: Activity,
  what: Counted,
  { name, help }: { name: string; help: string },
): void {
  new Counter({
    name,
    help,
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [queue, { counts }] of activity.queues()) {
        const labels: LabelValues<'queue'> = { queue };
        this.inc(labels, counts[what]);
      }
    },
  });
}

/**
 * Every queue's stats, read once per scrape: both gauges ask for it in the same tick, and
 * get the same read.
 */
function sharedSnapshot(sources: MetricsSources): () => Promise<Map<string, QueueStats>> {
  let pending: Promise<Map<string, QueueStats>> | null = null;
  const read = async (): Promise<Map<string, QueueStats>> => {
    const names = (await sources.backend.listQueues()).map((queue) => queue.name);
    sources.stats.retain(new Set(names));
    return sources.stats.many(names, sources.statsMaxAgeMs);
  };
  return () => (pending ??= read().finally(() => (pending = null)));
}

let processMetrics: Registry | undefined;

/** prom-client's process metrics, one set per process however many servers it runs. */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'pullq_' });
  }
  return processMetrics;
}
