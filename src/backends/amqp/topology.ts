/**
 * The RabbitMQ objects behind a pullq queue, their names and arguments, and the delay ladder.
 *
 * For a pullq queue `q` (pullq names have no dot, so none of these can be a pullq queue):
 * - `q`: a quorum queue: durable, replicated, and it counts redeliveries in the
 *   `x-delivery-count` header, which is what makes attempts survive a consumer crash. Its
 *   delivery limit is maxLeases - 1 (the broker allows limit + 1 deliveries), and it
 *   dead-letters (at-least-once, RabbitMQ >= 3.10) into its dead-letter target.
 * - `q.dead`: a quorum queue: q's dead letters, its `dead` state.
 * - `q.settings`: a classic queue holding one message, q's settings as JSON. AMQP cannot read
 *   a queue's arguments back, so the settings a later process needs (maxLeases, paused) live
 *   here; `x-max-length: 1` drops the old message when a new one is published.
 * - `q.delay.<k>`: classic queues holding delayed tasks, created in order from k = 0 up to the
 *   highest one a delay needed.
 *
 * Delays without plugins: a delay of D whole seconds travels down a ladder of 22 levels, one
 * per bit of D (2^22 s is 48 days, past the 30-day ETA limit). Level k is a topic exchange
 * `pullq.delay.<k>` (shared by every queue of the vhost) and, per queue, a queue
 * `q.delay.<k>` whose message TTL is 2^k s. The routing key spells D's bits, highest first,
 * then the queue: `0.0. ... .1.0.1.q`. A message enters at level 21; at each level a set bit
 * routes it into that level's queue, where it waits 2^k s and is dead-lettered into the next
 * level down; a clear bit routes it straight on (an exchange-to-exchange binding). Past level
 * 0 it lands in `q`. All messages of one level queue have the same TTL, so they expire in
 * arrival order and none waits behind a longer one. Granularity: 1 s, rounded up (a task is
 * never early, at most 1 s late, plus a few ms per hop).
 */
import { PullqError } from '../../protocol/errors.ts';

/** Levels 0..21: delays up to 2^22 - 1 s (48 days). */
export const DELAY_LEVELS = 22;
export const MAX_DELAY_SECONDS = 2 ** DELAY_LEVELS - 1;

export function deadQueueOf(queue: string): string {
  return `${queue}.dead`;
}

export function settingsQueueOf(queue: string): string {
  return `${queue}.settings`;
}

export function delayQueueOf(queue: string, level: number): string {
  return `${queue}.delay.${level}`;
}

export function delayExchange(level: number): string {
  return `pullq.delay.${level}`;
}

/** What the broker offers, read from its server properties when the connection opens. */
export interface BrokerFeatures {
  /** Quorum queues and `x-delivery-count` (RabbitMQ 3.8). */
  quorum: boolean;
  /** At-least-once dead-lettering out of quorum queues (RabbitMQ 3.10). */
  safeDeadLetters: boolean;
  /** Quorum queues get a delivery limit of 20 unless told otherwise, -1 for none (RabbitMQ 4). */
  defaultDeliveryLimit: boolean;
}

export function brokerFeatures(serverProperties: Record<string, unknown>): BrokerFeatures {
  const { product, version } = serverProperties;
  const [major = 0, minor = 0] = (typeof version === 'string' ? version : '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
  const atLeast = (wantMajor: number, wantMinor: number): boolean =>
    product === 'RabbitMQ' && (major > wantMajor || (major === wantMajor && minor >= wantMinor));
  return {
    quorum: atLeast(3, 8),
    safeDeadLetters: atLeast(3, 10),
    defaultDeliveryLimit: atLeast(4, 0),
  };
}

/** The arguments of `q` itself; fixed once declared (RabbitMQ refuses to redeclare them). */
export function mainQueueArguments(
  features: BrokerFeatures,
  maxLeases: number | null,
  deadLetterTarget: string,
): Record<string, unknown> {
  const args: Record<string, unknown> = {
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': deadLetterTarget,
  };
  if (!features.quorum) return args;
  args['x-queue-type'] = 'quorum';
  if (maxLeases !== null) args['x-delivery-limit'] = maxLeases - 1;
  else if (features.defaultDeliveryLimit) args['x-delivery-limit'] = -1;
  if (features.safeDeadLetters) {
    args['x-dead-letter-strategy'] = 'at-least-once';
    // At-least-once dead-lettering requires it; without a length limit it changes nothing.
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

export function deadQueueArguments(features: BrokerFeatures): Record<string, unknown> {
  return features.quorum ? { 'x-queue-type': 'quorum' } : {};
}

export const SETTINGS_QUEUE_ARGUMENTS = { 'x-max-length': 1 } as const;

export function delayQueueArguments(queue: string, level: number): Record<string, unknown> {
  return {
    'x-message-ttl': 2 ** level * 1000,
    'x-dead-letter-exchange': level === 0 ? '' : delayExchange(level - 1),
    // Level 0 hands the task to its queue; higher levels keep the bits to route on.
    ...(level === 0 ? { 'x-dead-letter-routing-key': queue } : {}),
  };
}

/** Whole seconds a task waits for an ETA `etaMs` at `nowMs`: 0 when due, else rounded up. */
export function delaySecondsUntil(etaMs: number, nowMs: number): number {
  if (etaMs <= nowMs) return 0;
  const seconds = Math.ceil((etaMs - nowMs) / 1000);
  if (seconds > MAX_DELAY_SECONDS) {
    throw new PullqError('invalid_argument', `a delay of ${seconds} s is past the AMQP limit`, {
      details: { field: 'eta' },
    });
  }
  return seconds;
}

/** The highest level a delay passes through. */
export function topLevelOf(seconds: number): number {
  return Math.floor(Math.log2(seconds));
}

/** `b21. ... .b0.<queue>`: the delay's bits, highest first, then the queue. */
export function delayRoutingKey(seconds: number, queue: string): string {
  const bits: string[] = [];
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    bits.push(Math.floor(seconds / 2 ** level) % 2 === 1 ? '1' : '0');
  }
  return `${bits.join('.')}.${queue}`;
}

/** A topic pattern naming one bit of the routing key (`*` for the others), then `last`. */
function bitPattern(level: number, bit: '0' | '1', last: string): string {
  const words: string[] = [];
  for (let at = DELAY_LEVELS - 1; at >= 0; at--) words.push(at === level ? bit : '*');
  return `${words.join('.')}.${last}`;
}

/** Binds level `level` to `q.delay.<level>`: tasks of `queue` with that bit set. */
export function levelBindingPattern(level: number, queue: string): string {
  return bitPattern(level, '1', queue);
}

/** Binds level `level` to level `level - 1`: that bit clear, any queue. */
export function skipBindingPattern(level: number): string {
  return bitPattern(level, '0', '*');
}

/** Binds level 0 to `q` itself: the last bit clear, the delay is over. */
export function arrivalBindingPattern(queue: string): string {
  return bitPattern(0, '0', queue);
}
