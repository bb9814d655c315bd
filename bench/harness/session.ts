/**
 * One run of one contender: fresh state from `prepare`, a record folder, the producer and
 * consumer processes it spawns, and the teardown of all of them (also after a failure or a
 * Ctrl-C): processes stopped, `dispose` called, folders removed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contender, Prepared } from './contender.ts';
import { CpuMeter } from './cpu.ts';
import type { DeliveryCounts } from './exactly-once.ts';
import { runJob } from './jobs.ts';
import { RecordReader } from './recorder.ts';
import { RoleProcess } from './role-process.ts';

/** Thrown when no task was recorded for `stallMs`: the run is reported with what is missing. */
export class Stalled extends Error {}

/** Thrown when a follow reaches its deadline while tasks are still coming. */
export class TimeLimit extends Error {}

export interface FollowOptions {
  /** Stop following once this holds. */
  until: () => boolean;
  /** No new record for this long ends the follow with Stalled. */
  stallMs: number;
  /** performance.now() after which the follow ends with TimeLimit. */
  deadline?: number;
  /** How often to look at the record files. */
  pollMs?: number;
  /** Called once, when the first records arrive. */
  onFirst?: () => void;
  /** Called after each poll that found records, with how many. */
  onRecords?: (count: number) => void;
}

export class RunSession {
  readonly contender: Contender;
  readonly prepared: Prepared;
  readonly recordDir: string;
  readonly reader: RecordReader;
  readonly meter: CpuMeter;
  readonly #signal: AbortSignal;
  readonly #roles: RoleProcess[] = [];
  /** Records already counted by `follow`. */
  #followed = 0;

  private constructor(
    contender: Contender,
    prepared: Prepared,
    recordDir: string,
    signal: AbortSignal,
  ) {
    this.contender = contender;
    this.prepared = prepared;
    this.recordDir = recordDir;
    this.reader = new RecordReader(recordDir);
    this.meter = new CpuMeter({
      serverPids: prepared.pids,
      brokerNames: contender.info.brokerProcesses,
    });
    this.#signal = signal;
  }

  static async open(contender: Contender, runId: string, signal: AbortSignal): Promise<RunSession> {
    const recordDir = await mkdtemp(join(tmpdir(), `pullq-bench-records-${runId}-`));
    try {
      const prepared = await contender.prepare({ runId });
      return new RunSession(contender, prepared, recordDir, signal);
    } catch (error) {
      await rm(recordDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Inserts tasks 0..count-1 from this process (not measured): batches of 1,000, 2 at once. */
  async preload(count: number): Promise<void> {
    const producer = await this.contender.producer(this.prepared.config);
    try {
      await runJob(producer, { kind: 'batches', from: 0, to: count, batch: 1000, inFlight: 2 });
    } finally {
      await producer.close();
    }
  }

  async producer(): Promise<RoleProcess> {
    return this.#start({ role: 'producer', concurrency: 0 });
  }

  /** Starts `count` consumer processes, and once all are loaded, their consumers at once. */
  async consumers(count: number, concurrency: number): Promise<RoleProcess[]> {
    const roles = await Promise.all(
      Array.from({ length: count }, async () => this.#start({ role: 'consumer', concurrency })),
    );
    await Promise.all(roles.map(async (role) => role.request({ type: 'go' }, 'done')));
    return roles;
  }

  async #start(options: {
    role: 'producer' | 'consumer';
    concurrency: number;
  }): Promise<RoleProcess> {
    this.#signal.throwIfAborted();
    const role = await RoleProcess.start({
      ...options,
      contender: this.contender.info.name,
      config: this.prepared.config,
      recordDir: this.recordDir,
    });
    this.#roles.push(role);
    return role;
  }

  /** Reads new records into `counts` until `until()` holds. */
  async follow(counts: DeliveryCounts, options: FollowOptions): Promise<void> {
    const pollMs = options.pollMs ?? 20;
    let lastNews = performance.now();
    let first = this.#followed === 0;
    for (;;) {
      const found = this.reader.poll();
      if (found > 0) {
        for (let index = this.#followed; index < this.reader.length; index += 1) {
          counts.add(this.reader.id(index));
        }
        this.#followed = this.reader.length;
        lastNews = performance.now();
        if (first) {
          first = false;
          options.onFirst?.();
        }
        options.onRecords?.(found);
      }
      if (options.until()) return;
      this.#signal.throwIfAborted();
      if (performance.now() > (options.deadline ?? Infinity)) {
        throw new TimeLimit(`the run's time limit ran out`);
      }
      if (performance.now() - lastNews > options.stallMs) {
        throw new Stalled(`no task was recorded for ${Math.round(options.stallMs / 1000)} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** Stops the consumers (they finish and ack what they run), then reads the last records. */
  async stopRoles(counts: DeliveryCounts | null): Promise<void> {
    await Promise.all(this.#roles.splice(0).map(async (role) => role.stop()));
    if (counts === null) return;
    this.reader.poll();
    for (let index = this.#followed; index < this.reader.length; index += 1) {
      counts.add(this.reader.id(index));
    }
    this.#followed = this.reader.length;
  }

  async close(): Promise<void> {
    try {
      await this.stopRoles(null);
    } finally {
      this.reader.close();
      try {
        await this.prepared.dispose();
      } finally {
        await rm(this.recordDir, { recursive: true, force: true });
      }
    }
  }
}
