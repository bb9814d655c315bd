/**
 * `pullq_operation_duration_seconds{operation}`: how long store calls take, as a Prometheus
 * histogram kept in plain arrays. An observation is a bucket search and three additions; the
 * registry reads it at scrape through the metric shape prom-client's own metrics return
 * (`get()`). prom-client's Histogram hashes its labels on every observation: measured in a CPU
 * profile of single-task insert/lease/ack requests, that was 1.3% of the server process's CPU.
 */
import type { Metric, MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import { TIMED_OPERATIONS, type TimedOperation } from './instrumented-backend.ts';

/** Store calls from 0.1 ms (memory) to a minute (a long-poll's whole wait). */
const BUCKETS = [
  0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

interface Observed {
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

type Labels = 'operation' | 'le';

export class Durations {
  readonly name = 'pullq_operation_duration_seconds';
  readonly help =
    'Duration of store calls; lease_wait is a lease with waitSeconds, its wait included';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #observed = new Map<TimedOperation, Observed>();

  constructor() {
    this.reset();
  }

  observe(operation: TimedOperation, seconds: number): void {
    const observed = this.#observed.get(operation);
    if (!observed) return;
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > BUCKETS[bucket]!) bucket++;
    observed.buckets[bucket]!++;
    observed.sum += seconds;
    observed.count++;
  }

  /** Operations never observed are left out, as prom-client leaves out unseen label sets. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<Labels>>> {
    const values: MetricValueWithName<Labels>[] = [];
    for (const [operation, { buckets, sum, count }] of this.#observed) {
      if (count === 0) continue;
      let cumulative = 0;
      BUCKETS.forEach((bound, index) => {
        cumulative += buckets[index]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { operation, le: bound },
          value: cumulative,
        });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { operation, le: '+Inf' },
        value: count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { operation }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { operation }, value: count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      // prom-client types `type` as an enum it does not export at run time.
      type: this.type as unknown as MetricType,
      aggregator: this.aggregator,
      collect: () => {},
      values,
    });
  }

  reset(): void {
    for (const operation of TIMED_OPERATIONS) {
      this.#observed.set(operation, {
        buckets: new Float64Array(BUCKETS.length + 1),
        sum: 0,
        count: 0,
      });
    }
  }

  /** What the registry takes: it reads metrics only through get() and reset(). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
