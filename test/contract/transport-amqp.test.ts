/**
 * The transport contract over `amqp://`, against the RabbitMQ at PULLQ_TEST_AMQP_URL (default
 * amqp://guest:guest@127.0.0.1:5672). Queue names are unique per run and every queue the suite
 * made is deleted afterwards. Raw inserts are published with amqplib directly, as another
 * program would. A broker that cannot be reached skips the suite, or fails it under CI=true.
 */
import { test } from 'node:test';
import * as amqplib from 'amqplib';
import { AmqpBackend } from '../../src/backends/amqp/amqp-backend.ts';
import { transportContract } from '../../src/testing/index.ts';

const url = process.env.PULLQ_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function reachable(): Promise<string | null> {
  try {
    const connection = await amqplib.connect(url, { timeout: 2000 });
    await connection.close();
    return null;
  } catch (error) {
    return `RabbitMQ is not reachable at ${url}: ${(error as Error).message}`;
  }
}

const unreachable = await reachable();
if (unreachable === null) {
  transportContract('amqp', () => {
    const admin = new AmqpBackend({ url, driver: amqplib });
    const created = new Set<string>();
    return {
      connectionOptions: () => ({ url }),
      createQueue: async (name) => {
        created.add(name);
        await admin.createQueue(name);
      },
      insertRaw: async (queue, payload) => {
        const connection = await amqplib.connect(url);
        try {
          const channel = await connection.createConfirmChannel();
          channel.sendToQueue(queue, Buffer.from(payload), { persistent: true });
          await channel.waitForConfirms();
        } finally {
          await connection.close();
        }
      },
      close: async () => {
        // The harness names queues tc-<run>-<n>; a scenario may create one itself (first use),
        // so every number up to past the last one created here is tried.
        const numbers = [...created].map((name) => Number(name.split('-').at(-1)));
        const prefix = [...created][0]?.replace(/\d+$/, '');
        for (let n = 1; prefix !== undefined && n <= Math.max(...numbers) + 3; n++) {
          await admin.deleteQueue(`${prefix}${n}`).catch(() => undefined);
        }
        await admin.close();
      },
    };
  });
} else if (process.env.CI === 'true') {
  test('RabbitMQ is reachable for the amqp transport contract', () => {
    throw new Error(unreachable);
  });
} else {
  test('amqp transport contract', { skip: unreachable }, () => undefined);
}
