/**
 * A queue's settings on the broker. AMQP cannot read a queue's arguments back, so the settings
 * another process needs (maxLeases, the dead-letter queue, paused) are kept as one JSON message
 * in `q.settings`, a queue of at most one message: publishing new settings drops the old.
 * Reading takes the message (basic.get) and puts it straight back (nack with requeue); a
 * reader that finds it out at that moment (another reader holds it for one round trip) tries
 * again. A queue declared by another tool has no settings queue: it reads as the defaults.
 */
import { DEFAULT_QUEUE_CONFIG, type QueueInfo } from '../backend.ts';
import { queueNotFound } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import type { AmqpLink } from './link.ts';
import { settingsQueueOf } from './topology.ts';

export type QueueSettings = QueueInfo;

/** Another reader holds the settings message for one round trip: retry this often, this long. */
const SETTINGS_RETRY_MS = 20;
const SETTINGS_TRIES = 50;

/** The settings message's JSON, or null when the queue has none (another tool declared it). */
export async function readSettings(link: AmqpLink, queue: string): Promise<QueueSettings | null> {
  const name = settingsQueueOf(queue);
  const read = await link
    .withChannel(`reading the settings of ${queue}`, async (channel) => {
      for (let tries = 0; tries < SETTINGS_TRIES; tries++) {
        const message = await channel.get(name, { noAck: false });
        if (message !== false) {
          channel.nack(message, false, true);
          return message.content.toString('utf8');
        }
        await new Promise((resolve) => setTimeout(resolve, SETTINGS_RETRY_MS));
      }
      throw new PullqError(
        'unavailable',
        `the settings of queue ${JSON.stringify(queue)} stayed out of ${name} for a second (other clients reading them, or the message was removed): try again`,
      );
    })
    .catch((error: unknown) => {
      if ((error as PullqError).details?.amqpCode === 404) return null; // another tool's queue
      throw error;
    });
  return read === null ? null : parseSettings(queue, read);
}

/** Publishes the settings (confirmed); the queue keeps the last one only. */
export async function writeSettings(link: AmqpLink, settings: QueueSettings): Promise<void> {
  const publisher = await link.publisher();
  const [routed] = await publisher.publish(
    [
      {
        exchange: '',
        routingKey: settingsQueueOf(settings.name),
        content: Buffer.from(JSON.stringify(settings)),
        options: { messageId: `settings-${settings.name}`, contentType: 'application/json' },
      },
    ],
    `saving the settings of ${settings.name}`,
  );
  if (routed !== true) throw queueNotFound(settings.name);
}

export function defaultSettings(name: string): Omit<QueueSettings, 'createdAt'> {
  return { ...DEFAULT_QUEUE_CONFIG, name };
}

/** The stored JSON, each field checked; a field missing or of the wrong type reads as default. */
function parseSettings(queue: string, text: string): QueueSettings {
  let stored: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) stored = parsed as Record<string, unknown>;
  } catch {
    // Not ours: the defaults below.
  }
  const base = defaultSettings(queue);
  const intOr = (value: unknown, fallback: number | null): number | null =>
    Number.isInteger(value) ? (value as number) : fallback;
  return {
    ...base,
    maxLeases: intOr(stored.maxLeases, base.maxLeases),
    deadLetterQueue:
      typeof stored.deadLetterQueue === 'string' ? stored.deadLetterQueue : base.deadLetterQueue,
    dedupWindowSeconds: intOr(stored.dedupWindowSeconds, null) ?? base.dedupWindowSeconds,
    paused: typeof stored.paused === 'boolean' ? stored.paused : base.paused,
    createdAt: intOr(stored.createdAt, null) ?? 0,
  };
}
