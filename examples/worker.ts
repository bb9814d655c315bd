/**
 * The seed's "Processing Tasks": one connection, one queue, and a loop that gets a task,
 * processes it and acks it, so it is deleted. Prints one line per task.
 *
 *   node examples/worker.ts [--idle <seconds>]
 *
 * Unlike the seed's `while True`, it stops once the queue has stayed empty for `--idle` seconds
 * (default 2), so a script or CI job can run it to the end. SIGINT or SIGTERM stops it after
 * the task in hand: closing the connection gives the tasks it had prefetched back to the queue
 * at once. A second signal exits at once; the task in hand goes back when its lease runs out.
 *
 * Environment: PULLQ_URL (default pullq://127.0.0.1:8080), PULLQ_TOKEN (a token with the
 * consumer role; not needed on a server run with --no-auth), PULLQ_QUEUE (default pull-queue).
 *
 * examples/pool.ts runs several of these as child processes; this file tells that parent how
 * many tasks it processed, and stops when the parent goes away.
 */
import { parseArgs } from 'node:util';
import { Connection, isPullqError } from 'pullq';

interface Task {
  message: string;
}

const url = process.env['PULLQ_URL'] ?? 'pullq://127.0.0.1:8080';
const token = process.env['PULLQ_TOKEN'];
const queueName = process.env['PULLQ_QUEUE'] ?? 'pull-queue';

const { values } = parseArgs({ options: { idle: { type: 'string', default: '2' } } });
const idleSeconds = Number(values.idle);
if (!(idleSeconds > 0)) {
  console.error('usage: node examples/worker.ts [--idle <seconds>]: seconds is a number > 0');
  process.exit(2);
}

const name = `worker ${process.pid}`;
const stopping = new AbortController();
function stop(signal: NodeJS.Signals): void {
  if (stopping.signal.aborted) {
    console.error(`${name}: second ${signal}, exiting now`);
    process.exit(130);
  }
  console.error(`${name}: ${signal}, stopping after the task in hand`);
  stopping.abort();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// A pool whose parent died has no one left to stop it.
if (process.send !== undefined) process.on('disconnect', () => stopping.abort());

let processed = 0;
let why = `idle for ${idleSeconds} s`;
try {
  // Prefetch 10 (the seed's `num_tasks`): one lease request brings up to 10 tasks.
  await using connection = new Connection(url, { token, numTasks: 10 });
  const queue = connection.simpleQueue<Task>(queueName);
  console.log(`${name} waiting for tasks in ${queueName} at ${connection.url}`);

  while (!stopping.signal.aborted) {
    const message = await queue
      .get({ timeout: idleSeconds, signal: stopping.signal })
      .catch((error: unknown) => {
        if (stopping.signal.aborted) return null;
        throw error;
      });
    if (message === null) break;

    if (message.decodeError !== null) {
      // Not JSON (put by curl, say): retrying will not help, so it becomes a dead letter.
      await message.reject({ error: message.decodeError.message });
      console.log(`${name} rejected task ${message.id}: ${message.decodeError.message}`);
      continue;
    }
    // The task's work goes here; this example's work is the line it prints.
    const task = message.body;
    await message.ack();
    processed++;
    console.log(`${name} processed task ${message.id}: ${JSON.stringify(task)}`);
  }
  if (stopping.signal.aborted) why = 'stopped';
} catch (error) {
  if (isPullqError(error, 'queue_not_found')) {
    // A consumer token may not create queues; the first insert does.
    console.error(`${name}: queue ${queueName} does not exist yet: run examples/insert.ts first`);
  } else {
    console.error(`${name} failed:`, error);
  }
  why = 'failed';
  process.exitCode = 1;
}
// Leaving the block closed the connection: prefetched tasks went back to the queue.
console.log(`${name} done (${why}): processed ${processed} tasks`);

// Run by pool.ts: report, then let go of the channel, or it would keep this process alive.
if (process.send !== undefined && process.connected) {
  process.send({ processed }, () => {
    if (process.connected) process.disconnect();
  });
}
