/**
 * The server's observability, put together once per server by buildServer
 * (docs/metrics.md): the instrumented backend every route uses, the counts and
 * history it feeds, the backlog sampler, the Prometheus metrics, and the routes that serve
 * them (`GET /v1/stats/history`, `GET /metrics`).
 */
import type { FastifyInstance } from 'fastify';
import type { Backend, Clock } from '../../backends/backend.ts';
import { Activity } from './activity.ts';
import { historyRoutes } from './history-route.ts';
import { ResponseCounts, registerRequestHooks } from './http-hooks.ts';
import { InstrumentedBackend } from './instrumented-backend.ts';
import { metricsRoutes } from './metrics-route.ts';
import { serverMetrics } from './prometheus.ts';
import { DEFAULT_SAMPLE_SECONDS, Sampler } from './sampler.ts';
import { StatsCache } from './stats-cache.ts';

export interface ObservabilityOptions {
  /** Seconds between backlog rounds. Default 5; 0: only when `sample()` is called (tests). */
  sampleSeconds?: number;
  /** How old the stats of a queue nothing changed may be in `/metrics`, in ms. Default 5000. */
  statsMaxAgeMs?: number;
  /**
   * Serve `GET /metrics` on the server's port (admins only). Default true; false when it is
   * served on a listener of its own (`pullq serve --metrics-port`).
   */
  metricsRoute?: boolean;
}

export interface ServerObservability {
  /** The store with counting around it: what every route calls. */
  readonly backend: Backend;
  readonly activity: Activity;
  /** The Prometheus text of the server's metrics and the process metrics. */
  renderMetrics: () => Promise<string>;
  readonly metricsContentType: string;
  /** Runs a backlog round now (the sampler also runs them every `sampleSeconds`). */
  sample: () => Promise<void>;
}

export interface ObservabilityParts extends ServerObservability {
  /** Registers the request hooks (before auth's, so refusals carry a request id). */
  registerHooks(app: FastifyInstance): void;
  /** Registers the history route and, unless served elsewhere, `/metrics`. */
  registerRoutes(app: FastifyInstance): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createObservability(
  store: Backend,
  clock: Clock,
  options: ObservabilityOptions,
  onSampleError: (error: unknown) => void,
): ObservabilityParts {
  const activity = new Activity();
  const stats = new StatsCache(store, activity);
  const responses = new ResponseCounts();
  const metrics = serverMetrics({
    activity,
    stats,
    backend: store,
    responses,
    statsMaxAgeMs: options.statsMaxAgeMs ?? 5000,
  });
  const backend = new InstrumentedBackend(store, {
    activity,
    stats,
    clock,
    observe: metrics.observe,
  });
  const sampler = new Sampler({
    activity,
    stats,
    backend: store,
    clock,
    intervalSeconds: options.sampleSeconds ?? DEFAULT_SAMPLE_SECONDS,
    onError: onSampleError,
  });
  return {
    backend,
    activity,
    renderMetrics: () => metrics.render(),
    metricsContentType: metrics.contentType,
    sample: () => sampler.round(),
    registerHooks: (app) => registerRequestHooks(app, responses),
    async registerRoutes(app) {
      await app.register(historyRoutes, { activity, backend: store, clock, prefix: '/v1' });
      if (options.metricsRoute ?? true) {
        await app.register(metricsRoutes, {
          metrics: { render: () => metrics.render(), contentType: metrics.contentType },
        });
      }
    },
    start: () => sampler.start(),
    stop: () => sampler.stop(),
  };
}
