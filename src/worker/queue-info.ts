/**
 * The worker reads its queue's settings once at start (maxLeases decides when a failure is a
 * dead letter). A missing queue is created when the connection allows it, as a consumer of a
 * SimpleQueue would; another worker creating it first is fine.
 */
import type { QueueInfo } from '../backends/backend.ts';
import type { Connection } from '../client/connection.ts';
import { isPullqError, PullqError } from '../protocol/errors.ts';

export async function workerQueueInfo(connection: Connection, queue: string): Promise<QueueInfo> {
  const found = await connection.ensure(async (backend) => backend.getQueue(queue));
  if (found !== null) return found;
  if (!connection.options.autoCreateQueues) {
    throw new PullqError(
      'queue_not_found',
      `queue ${queue} does not exist: create it (pullq queue create ${queue}) or let the connection create it (autoCreateQueues)`,
    );
  }
  try {
    return await connection.ensure(async (backend) => backend.createQueue(queue));
  } catch (error) {
    if (!isPullqError(error, 'already_exists')) throw error;
    const info = await connection.ensure(async (backend) => backend.getQueue(queue));
    if (info === null) throw error;
    return info;
  }
}
