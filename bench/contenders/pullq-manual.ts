/**
 * The manual-loop consumer of pullq (peers.md 4.3): lease a batch through the Backend API,
 * run the handlers, ack the batch in one call; no Worker, no child processes. It compares
 * transport cost with the peers' fetch/complete loops, apples to apples.
 */
import { Connection } from '../../src/client/connection.ts';
import { decodeEnvelope } from '../../src/client/envelope.ts';
import type { Consumer, ConsumerOptions, TaskBody } from '../harness/contender.ts';

/** Tasks per lease and per ack: the most one round of the harness's concurrency holds. */
const MAX_BATCH = 100;
/** A lease's long-poll; a stop aborts it at once. */
const WAIT_SECONDS = 5;
const LEASE_SECONDS = 30;

export async function manualConsumer(
  config: Record<string, string>,
  queue: string,
  options: ConsumerOptions,
): Promise<Consumer> {
  const connection = new Connection(config['url'] as string, { token: config['token'] });
  const backend = await connection.connect();
  const batch = Math.min(MAX_BATCH, options.concurrency);
  const loops = Math.max(1, Math.ceil(options.concurrency / batch));
  const stopping = new AbortController();
  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        const tasks = await backend.lease(queue, {
          max: batch,
          leaseSeconds: LEASE_SECONDS,
          waitSeconds: WAIT_SECONDS,
          signal: stopping.signal,
        });
        if (tasks.length === 0) continue;
        await Promise.all(
          tasks.map(async (task) => options.handler(decodeEnvelope(task.payload).body as TaskBody)),
        );
        const results = await backend.ack(
          queue,
          tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
        );
        const failed = results.filter((result) => !result.ok).length;
        if (failed > 0) process.stderr.write(`pullq manual consumer: ${failed} acks failed\n`);
      } catch (error) {
        if (stopping.signal.aborted) break;
        // A consumer that stops on an error would leave its tasks to the lease timeout: as a
        // user's loop would, say so and go on.
        process.stderr.write(`pullq manual consumer: ${String(error)}; again in 100 ms\n`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const running = Array.from({ length: loops }, loop);
  return {
    close: async () => {
      stopping.abort();
      await Promise.all(running);
      await connection.close();
    },
  };
}
