/**
 * Deletes every key of one deployment (all keys under `<prefix>:`): its queues, tasks,
 * tombstones and tokens. For tearing down a test or a retired deployment; the servers of
 * that prefix should be stopped first, since this is not one atomic step (keys are found
 * with SCAN, 1000 at a time, and unlinked as they are found).
 */
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.ts';

/** Returns how many keys were deleted. */
export async function dropPrefix(options: RedisConnectionOptions, prefix: string): Promise<number> {
  const redis = new RedisConnection(options);
  try {
    return await redis.call(async (client) => {
      // Glob characters in a prefix are matched literally.
      const match = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}:*`;
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.unlink(...keys);
      } while (cursor !== '0');
      return deleted;
    });
  } finally {
    await redis.close();
  }
}
