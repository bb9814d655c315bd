/**
 * Prometheus metrics of a worker, served at `/metrics` on a port of its own (`pullq worker
 * --metrics-port`, or `serveWorkerMetrics(worker, { port })`). Only the supervisor serves them:
 * its counts cover every child. Each registry is the worker's own, never prom-client's global
 * one, so an application embedding a Worker keeps its own metrics apart.
 *
 * - pullq_worker_tasks_total{queue, outcome}: processed, failed, retried, dead, released,
 *   redelivered, lease_lost (counters since start)
 * - pullq_worker_lease_renewals_total{queue}
 * - pullq_worker_in_flight{queue}, pullq_worker_buffered{queue}, pullq_worker_processes{queue}
 * - pullq_worker_task_duration_seconds{queue, outcome}: from hand-off to the child's report
 * - the supervisor's process metrics (prom-client's defaults, prefixed pullq_worker_)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerStats } from './worker-events.ts';
import type { Worker } from './worker.ts';

const OUTCOMES = {
  processed: 'processed',
  failed: 'failed',
  retried: 'retried',
  dead: 'dead',
  released: 'released',
  redelivered: 'redelivered',
  leaseLost: 'lease_lost',
} as const satisfies Partial<Record<keyof WorkerStats, string>>;

/** Task durations from 1 ms to about 5 minutes. */
const DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** A registry holding the worker's metrics, read from its stats at each scrape. */
export function workerRegistry(worker: Worker): Registry {
  const registry = new Registry();
  const queue = worker.queue;
  const counted = new Map<string, number>();
  const advance = (counter: Counter, key: string, labels: Record<string, string>, now: number) => {
    const before = counted.get(key);
    // Every outcome is exported from the first scrape, at 0 until it happens.
    if (before === undefined || now > before) counter.inc(labels, now - (before ?? 0));
    counted.set(key, now);
  };
  new Counter({
    name: 'pullq_worker_tasks_total',
    help: 'Task outcomes in this worker since it started',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
    collect() {
      const stats = worker.stats();
      for (const [field, outcome] of Object.entries(OUTCOMES)) {
        advance(this, outcome, { queue, outcome }, stats[field as keyof typeof OUTCOMES]);
      }
    },
  });
  new Counter({
    name: 'pullq_worker_lease_renewals_total',
    help: 'Leases the lease keeper extended',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      advance(this, 'renewals', { queue }, worker.stats().renewals);
    },
  });
  const gauges: [string, string, (stats: WorkerStats) => number][] = [
    ['pullq_worker_in_flight', 'Tasks running in a child', (stats) => stats.inFlight],
    ['pullq_worker_buffered', 'Tasks leased and waiting for a slot', (stats) => stats.buffered],
    ['pullq_worker_processes', 'Child processes alive', (stats) => stats.pids.length],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      collect() {
        this.set({ queue }, read(worker.stats()));
      },
    });
  }
  const durations = new Histogram({
    name: 'pullq_worker_task_duration_seconds',
    help: 'Time from handing a task to a child to its report, by outcome',
    labelNames: ['queue', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  worker.on('processed', ({ durationMs }) => {
    durations.observe({ queue, outcome: 'processed' }, durationMs / 1000);
  });
  worker.on('failed', ({ durationMs }) => {
    durations.observe({ queue, outcome: 'failed' }, durationMs / 1000);
  });
  collectDefaultMetrics({ register: registry, prefix: 'pullq_worker_' });
  return registry;
}

export interface MetricsServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: only this machine can scrape. */
  host?: string;
}

export interface MetricsServer {
  /** `http://host:port/metrics` */
  url: string;
  close(): Promise<void>;
}

/** Serves the worker's metrics at GET /metrics; anything else gets 404. */
export async function serveWorkerMetrics(
  worker: Worker,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const registry = workerRegistry(worker);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`);
      },
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
