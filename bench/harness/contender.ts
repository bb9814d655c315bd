/**
 * What every contender in the side-by-side benchmark implements (`npm run bench`): pullq in
 * its deployments, BullMQ and pg-boss. The runner (bench/run.ts) calls `prepare` in its own
 * process for each run; producer and consumer processes, spawned by the runner, import the
 * contender's module again and call `producer` / `consumer` with the config `prepare`
 * returned. Peer libraries are imported inside those functions, never at module load, so
 * loading a contender costs nothing until it runs.
 */

/** The task every contender moves: about 100 bytes of JSON. */
export interface TaskBody {
  /** 0..N-1 within a run: the exactly-once check counts by it. */
  id: number;
  /** When the task was created or scheduled to be sent, in ms since the Unix epoch with
   * sub-ms precision (`performance.timeOrigin + performance.now()`), comparable across
   * processes on one host. */
  t0: number;
  pad: string;
}

export interface ContenderInfo {
  /** Unique, used on the command line: `pullq-sqlite`, `bullmq`, `pg-boss-defaults`... */
  name: string;
  /** The system as the table names it: `pullq`, `BullMQ`, `pg-boss`. */
  system: string;
  /** Exact package versions (and the server's, e.g. Redis 7.0.15) this contender ran. */
  versions: Record<string, string>;
  /** The settings that matter, as published beside the figures. */
  settings: Record<string, unknown>;
  /** Names of already-running system processes whose CPU the run is charged for
   * (`redis-server`, `postgres`), found by name under /proc. */
  brokerProcesses: string[];
  /** Tasks each consumer process runs at once when its fast settings call for a number
   * other than the harness's 100 (the value passed as `ConsumerOptions.concurrency`). */
  concurrency?: number;
}

export interface PrepareOptions {
  /** Unique per run: a queue-name suffix, a schema name, a key prefix. */
  runId: string;
}

export interface Prepared {
  /** Passed to `producer` and `consumer` in the child processes (plain strings only). */
  config: Record<string, string>;
  /** Processes this run started (the pullq server) whose CPU the run is charged for. */
  pids: number[];
  /** Stops what `prepare` started and removes the run's state. */
  dispose(): Promise<void>;
}

export interface Producer {
  /** One task, acknowledged by the system (durably, as far as its settings promise). */
  addOne(task: TaskBody): Promise<void>;
  /** Many tasks with the system's bulk call (`putMany`, `addBulk`, `insert`). */
  addBatch(tasks: TaskBody[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** Run for each task, once per delivery; the consumer acks (completes) it when the
   * returned promise resolves. It records the delivery (bench/harness/recorder.ts). A
   * contender whose handlers run in processes of their own (pullq's Worker forks children)
   * cannot pass this function there: its handler module records with
   * `recorderFromEnvironment()` instead, which those processes inherit. */
  handler: (task: TaskBody) => void | Promise<void>;
  /** Tasks run at once in this process (the system's concurrency setting). */
  concurrency: number;
}

export interface Consumer {
  /** Stops fetching, lets running handlers finish and acks them, then disconnects. */
  close(): Promise<void>;
}

export interface Contender {
  info: ContenderInfo;
  prepare(options: PrepareOptions): Promise<Prepared>;
  producer(config: Record<string, string>): Promise<Producer>;
  consumer(config: Record<string, string>, options: ConsumerOptions): Promise<Consumer>;
}

/** A value `prepare` put in the config; a missing one is the contender's bug. */
export function requiredConfig(config: Record<string, string>, key: string): string {
  const value = config[key];
  if (value === undefined) throw new Error(`contender config lacks ${key}`);
  return value;
}
