/**
 * Deletes every queue of a prefix (the streams named `<prefix>_*`), tasks and all: for test
 * suites that give each run a prefix, and for removing an installation. Fails `unavailable`
 * when NATS cannot be reached, so it doubles as a reachability check.
 */
import { connectNats, type NatsBackendOptions } from './open.ts';

/** Resolves with the names of the queues deleted. */
export async function dropNatsPrefix(
  options: NatsBackendOptions,
  prefix: string,
): Promise<string[]> {
  const backend = await connectNats({ ...options, prefix });
  try {
    const queues = await backend.listQueues();
    for (const queue of queues) await backend.deleteQueue(queue.name);
    return queues.map((queue) => queue.name);
  } finally {
    await backend.close();
  }
}
