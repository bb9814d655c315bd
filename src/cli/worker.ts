/**
 * `pullq worker MODULE --queue NAME`: runs the supervised multi-process Worker from the
 * command line. First SIGINT/SIGTERM drains (exit 0), a second one forces (exit 1) and says
 * which tasks it gave back.
 */
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Connection } from '../client/connection.ts';
import { LIMITS } from '../protocol/limits.ts';
import { DEFAULT_BACKOFF } from '../worker/policy.ts';
import type { MetricsServer } from '../worker/metrics.ts';
import type { StopReport, WorkerStats } from '../worker/worker-events.ts';
import {
  addClientOptions,
  commandPath,
  errorContext,
  intOption,
  resolveClientSettings,
  secondsOption,
  type ClientFlags,
  type ClientSettings,
} from './client.ts';
import { withoutPassword } from '../client/registry.ts';
import { UsageError, reportError } from './errors.ts';
import { humanLogLine } from '../server/log-lines.ts';
import { note, printJson } from './output.ts';
import { StatusLine, workerStatus } from './status-line.ts';
import { autoPrefetchRange } from '../worker/prefetch.ts';

interface WorkerFlags extends ClientFlags {
  queue: string;
  /** A connection URL (any transport) instead of --server. */
  url?: string;
  processes: number;
  concurrency: number;
  prefetch?: number;
  leaseSeconds: number;
  backoffBase: number;
  backoffMax: number;
  timeout?: number;
  grace: number;
  once?: boolean;
  logLevel: string;
  /** undefined: on a terminal only. */
  status?: boolean;
  metricsPort?: number;
  metricsHost: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Released ids printed after a forced stop; the count is always exact. */
const LISTED_IDS = 20;

export function workerCommand(): Command {
  const command = new Command('worker')
    .description('run the handlers of MODULE on the tasks of a queue, in supervised processes')
    .argument('<module>', 'handler module (.ts or .js): a default export, or defineTask tasks')
    .requiredOption('--queue <name>', 'the queue to work on')
    .option(
      '--url <url>',
      'work on a store or broker directly instead of a pullq server: sqlite:///path, postgres://, redis://, amqp://, nats://',
    )
    .option(
      '--processes <n>',
      'child processes running handlers: the CPU count unless given (see below why)',
      intOption('--processes', 1, 1024),
      availableParallelism(),
    )
    .option(
      '--concurrency <n>',
      'handlers each process runs at once',
      intOption('--concurrency', 1, 10_000),
      10,
    )
    .option(
      '--prefetch <n>',
      'tasks leased ahead of a free slot (default: automatic, about 20 ms of work, at least processes x concurrency)',
      intOption('--prefetch', 1, 100_000),
    )
    .option(
      '--lease-seconds <s>',
      'lease length; the worker renews it while a task is held',
      secondsOption('--lease-seconds', 1, LIMITS.maxLeaseSeconds),
      60,
    )
    .option(
      '--backoff-base <ms>',
      'retry delay of a failed attempt: random below base x 2^(attempt-1)',
      intOption('--backoff-base', 0, 86_400_000),
      DEFAULT_BACKOFF.baseMs,
    )
    .option(
      '--backoff-max <ms>',
      'retry delays never exceed this',
      intOption('--backoff-max', 0, LIMITS.maxEtaAheadSeconds * 1000),
      DEFAULT_BACKOFF.maxMs,
    )
    .option(
      '--timeout <s>',
      'abort an attempt running this long and count it as failed (default: no limit)',
      secondsOption('--timeout', 0.001, LIMITS.maxLeaseSeconds),
    )
    .option(
      '--grace <s>',
      'on the first SIGINT/SIGTERM, how long running handlers get to finish',
      secondsOption('--grace', 0, 86_400),
      30,
    )
    .option('--once', 'stop once the queue has nothing ready and nothing is running')
    .option('--log-level <level>', `pino log level: ${LOG_LEVELS.join(', ')}`, logLevel, 'info')
    .option('--status', 'show the live status line and readable logs (default: on a terminal)')
    .option('--no-status', 'JSON log lines only, even on a terminal')
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port, printed)',
      intOption('--metrics-port', 0, 65_535),
    )
    .option('--metrics-host <host>', 'interface of the metrics endpoint', '127.0.0.1')
    .addHelpText(
      'after',
      `
Processes: the default is the CPU count, not the seed's cpu_count * 2 + 1. Handlers are
async, so the --concurrency slots inside each process give the parallelism while handlers
wait on I/O; processes beyond the CPU count only add memory and context switches.

Output: on a terminal, a status line (processed/s, in flight, failed, retried, dead, lease
renewals) under readable log lines; otherwise pino JSON log lines on stderr.

Stopping: the first SIGINT or SIGTERM stops leasing, gives back the tasks not started, and
lets running handlers finish for up to --grace seconds (exit 0). A second signal aborts them,
gives their tasks back at once and exits 1, listing what was released.
`,
    );
  addClientOptions(command);
  return command.action(async (module: string, flags: WorkerFlags, self: Command) => {
    process.exitCode = await runWorker(self, module, flags);
  });
}

function logLevel(value: string): string {
  if (!LOG_LEVELS.includes(value)) {
    throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return value;
}

async function runWorker(self: Command, module: string, flags: WorkerFlags): Promise<number> {
  let settings: ClientSettings;
  try {
    if (flags.url !== undefined && flags.server !== undefined) {
      throw new UsageError('give --url or --server, not both');
    }
    settings = resolveClientSettings(flags, process.env);
  } catch (error) {
    return reportError(error, { command: commandPath(self) });
  }
  const context = errorContext(self, settings);
  // Loaded here, not at the top: other commands never need the worker or its pino.
  const [{ Worker }, { serveWorkerMetrics }, { pino }] = await Promise.all([
    import('../worker/worker.ts'),
    import('../worker/metrics.ts'),
    import('pino'),
  ]);
  let connection: Connection | undefined;
  let detach = (): void => {};
  let status: StatusLine | undefined;
  let metrics: MetricsServer | undefined;
  try {
    const human = flags.status ?? process.stderr.isTTY;
    const say = (line: string): void => (status === undefined ? note(line) : status.log(line));
    const humanLogs = {
      write: (chunk: string) => {
        for (const line of chunk.split('\n')) if (line !== '') say(humanLogLine(line));
      },
    };
    connection =
      flags.url === undefined
        ? new Connection(settings.server, {
            ...(settings.token === undefined ? {} : { token: settings.token }),
          })
        : new Connection(flags.url);
    const worker = new Worker({
      connection,
      queue: flags.queue,
      handler: resolvePath(module),
      processes: flags.processes,
      concurrency: flags.concurrency,
      ...(flags.prefetch === undefined ? {} : { prefetch: flags.prefetch }),
      leaseSeconds: flags.leaseSeconds,
      backoff: { baseMs: flags.backoffBase, maxMs: flags.backoffMax },
      timeoutSeconds: flags.timeout ?? null,
      graceSeconds: flags.grace,
      once: flags.once ?? false,
      logLevel: flags.logLevel,
      ...(human
        ? {
            logger: pino({ level: flags.logLevel, name: 'pullq-worker' }, humanLogs),
            onChildOutput: (line: string) => say(humanLogLine(line)),
          }
        : {}),
    });

    // A signal during start() is acted on once the children exist: stopping earlier would
    // leave the children start() is still forking with no one to end them.
    let signals = 0;
    let started = false;
    const stopFailed = Promise.withResolvers<never>();
    const act = (nth: number): void => {
      if (nth === 1) {
        say(
          `stopping: finishing ${worker.stats().inFlight} running task(s), up to ${flags.grace} s; press Ctrl-C again to force`,
        );
      }
      if (nth <= 2) worker.stop({ force: nth === 2 }).catch(stopFailed.reject);
    };
    const onSignal = (): void => {
      signals += 1;
      if (started) act(signals);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    detach = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };

    await worker.start();
    started = true;
    const auto = autoPrefetchRange(flags.processes * flags.concurrency);
    const prefetch = flags.prefetch ?? `auto (${auto.min} to ${auto.max})`;
    say(
      `worker: queue ${flags.queue} at ${flags.url === undefined ? settings.server : withoutPassword(flags.url)}: ${flags.processes} process(es) x ${flags.concurrency} concurrency, prefetch ${prefetch}, lease ${flags.leaseSeconds} s`,
    );
    if (flags.metricsPort !== undefined) {
      metrics = await serveWorkerMetrics(worker, {
        port: flags.metricsPort,
        host: flags.metricsHost,
      });
      say(`metrics: ${metrics.url}`);
    }
    if (human) {
      status = new StatusLine(
        process.stderr,
        workerStatus(() => worker.stats()),
      );
      status.start();
    }
    for (let nth = 1; nth <= Math.min(signals, 2); nth += 1) act(nth);

    const report = await Promise.race([worker.done, stopFailed.promise]);
    status?.stop();
    status = undefined;
    const forced = signals >= 2;
    printSummary(worker.stats(), report, forced, settings.json);
    return forced ? 1 : 0;
  } catch (error) {
    return reportError(error, context);
  } finally {
    status?.stop();
    detach();
    await metrics?.close();
    await connection?.close();
  }
}

function printSummary(
  stats: WorkerStats,
  report: StopReport,
  forced: boolean,
  json: boolean,
): void {
  const released = [...report.releasedBuffered, ...report.releasedRunning];
  if (json) {
    printJson({
      processed: stats.processed,
      failed: stats.failed,
      retried: stats.retried,
      dead: stats.dead,
      released: report,
      forced,
    });
    return;
  }
  note(
    `stopped: processed ${stats.processed}, failed ${stats.failed}, retried ${stats.retried}, dead ${stats.dead}, released ${released.length}`,
  );
  if (report.releasedRunning.length > 0) {
    note(
      `released ${report.releasedRunning.length} running task(s) unfinished: ${listIds(report.releasedRunning)}`,
    );
  }
  if (forced && report.releasedBuffered.length > 0) {
    note(
      `released ${report.releasedBuffered.length} leased task(s) not started: ${listIds(report.releasedBuffered)}`,
    );
  }
}

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED_IDS).join(', ');
  return ids.length > LISTED_IDS ? `${shown}, ... (${ids.length - LISTED_IDS} more)` : shown;
}
