/**
 * Where a pullq queue lives in JetStream: one stream per queue, subjects per task, three
 * durable pull consumers, and the queue's settings in the stream's description.
 *
 *   stream   <prefix>_<queue>            subjects <prefix>.<queue>.*.*, work-queue retention
 *   subject  <prefix>.<queue>.ready.<id>    a task that can be leased (consumer `ready`)
 *            <prefix>.<queue>.delayed.<id>  a task inserted with a future ETA (consumer `delayed`)
 *            <prefix>.<queue>.dead.<id>     a dead letter kept in its queue (consumer `dead`)
 *            <prefix>.<queue>.note.<id>     the note of the task's last release (no consumer)
 *
 * A stream per queue, not one stream for all: JetStream's dedup window (duplicate_window) is a
 * stream setting and is the queue's dedupWindowSeconds; deleting or purging a queue is one
 * call; a queue's load and storage show on its own in `nats stream report`.
 * A subject per task: JetStream can then find a task by id (last message of its subject), refuse
 * a second live task with the same id (`Nats-Expected-Last-Subject-Sequence: 0`) and delete one
 * (purge by subject), none of which it can do by header.
 * Queue names (`[a-zA-Z0-9-]`) and task ids (`[a-zA-Z0-9_-]`) are valid subject tokens and
 * stream-name characters; the prefix may not hold `_`, so `<prefix>_<queue>` reads back
 * unambiguously.
 */
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type QueueInfo } from '../backend.ts';
import { PullqError } from '../../protocol/errors.ts';

export type TaskKind = 'ready' | 'delayed' | 'dead' | 'note';
export type ConsumerName = 'ready' | 'delayed' | 'dead';
export const CONSUMERS: readonly ConsumerName[] = ['ready', 'delayed', 'dead'];

/** Headers pullq writes; values are URI-encoded (a header value cannot hold a newline). */
export const HEADERS = {
  tag: 'Pullq-Tag',
  /** Milliseconds since the epoch; on delayed tasks. */
  eta: 'Pullq-Eta',
  /** Milliseconds since the epoch; on copies (promoted, dead-lettered, redriven tasks), whose
   * stream timestamp is the copy's. */
  enqueuedAt: 'Pullq-Enqueued-At',
  error: 'Pullq-Error',
  deadLetteredFrom: 'Pullq-Dead-Lettered-From',
  /** On dead letters kept in their queue: the leases the task had. */
  attempts: 'Pullq-Attempts',
} as const;

/**
 * JetStream keeps every id of the dedup window in the server's memory (one entry per insert,
 * and SimpleQueue names every task); pullq's 7 days would hold a week of ids. A queue created
 * here without a dedupWindowSeconds gets JetStream's own default, 2 minutes.
 */
export const NATS_DEFAULT_DEDUP_SECONDS = 120;

const PREFIX_PATTERN = /^[a-zA-Z0-9-]{1,32}$/;
const DESCRIPTION_MARK = 'pullq queue ';

export function checkPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new PullqError(
      'invalid_argument',
      `invalid NATS prefix ${JSON.stringify(prefix)}: use 1 to 32 of a-z, A-Z, 0-9 and - (it starts every stream name and subject)`,
      { details: { field: 'prefix' } },
    );
  }
}

export class Layout {
  readonly prefix: string;

  constructor(prefix: string) {
    checkPrefix(prefix);
    this.prefix = prefix;
  }

  stream(queue: string): string {
    return `${this.prefix}_${queue}`;
  }

  /** The queue a stream holds, or null when the stream is not one of this prefix's. */
  queueOf(stream: string): string | null {
    const head = `${this.prefix}_`;
    return stream.startsWith(head) ? stream.slice(head.length) : null;
  }

  /** What the stream stores: exactly four tokens, so a publish to any other shape is refused
   * (no responders) instead of stored where no consumer reads it. */
  streamSubjects(queue: string): string[] {
    return [`${this.prefix}.${queue}.*.*`];
  }

  subject(queue: string, kind: TaskKind, id: string): string {
    return `${this.prefix}.${queue}.${kind}.${id}`;
  }

  filter(queue: string, kind: TaskKind): string {
    return `${this.prefix}.${queue}.${kind}.*`;
  }

  /** Every subject of one task id (its task, wherever it is, and its note). */
  anyKind(queue: string, id: string): string {
    return `${this.prefix}.${queue}.*.${id}`;
  }

  /** The id and kind a stored subject names. */
  parse(subject: string): { kind: TaskKind; id: string } | null {
    const tokens = subject.split('.');
    const kind = tokens[2];
    const id = tokens[3];
    if (tokens.length !== 4 || id === undefined) return null;
    if (kind !== 'ready' && kind !== 'delayed' && kind !== 'dead' && kind !== 'note') return null;
    return { kind, id };
  }

  pullSubject(queue: string, consumer: ConsumerName): string {
    return `$JS.API.CONSUMER.MSG.NEXT.${this.stream(queue)}.${consumer}`;
  }
}

/** The settings JetStream has no field for, as the stream's description. */
interface StoredSettings {
  maxLeases: number | null;
  deadLetterQueue: string | null;
  paused: boolean;
  createdAt: number;
}

export function describeQueue(settings: StoredSettings): string {
  return DESCRIPTION_MARK + JSON.stringify(settings);
}

/** The queue a stream holds, from its description and duplicate window; null when the stream
 * was not made by pullq. */
export function queueInfoOf(
  name: string,
  description: string | undefined,
  duplicateWindowNanos: number | undefined,
): QueueInfo | null {
  if (description === undefined || !description.startsWith(DESCRIPTION_MARK)) return null;
  let stored: Partial<StoredSettings>;
  try {
    stored = JSON.parse(description.slice(DESCRIPTION_MARK.length)) as Partial<StoredSettings>;
  } catch {
    return null;
  }
  return {
    name,
    maxLeases: typeof stored.maxLeases === 'number' ? stored.maxLeases : null,
    deadLetterQueue: typeof stored.deadLetterQueue === 'string' ? stored.deadLetterQueue : null,
    dedupWindowSeconds: Math.round((duplicateWindowNanos ?? 0) / 1e9),
    paused: stored.paused === true,
    createdAt: typeof stored.createdAt === 'number' ? stored.createdAt : 0,
  };
}

/** A new queue's settings: pullq's defaults, except the dedup window (see above). */
export function newQueueConfig(config: Partial<QueueConfig>): QueueConfig {
  const defined = Object.fromEntries(
    Object.entries(config).filter(([, value]) => value !== undefined),
  ) as Partial<QueueConfig>;
  return {
    ...DEFAULT_QUEUE_CONFIG,
    dedupWindowSeconds: NATS_DEFAULT_DEDUP_SECONDS,
    ...defined,
  };
}

export function settingsOf(config: QueueConfig, createdAt: number): StoredSettings {
  return {
    maxLeases: config.maxLeases,
    deadLetterQueue: config.deadLetterQueue,
    paused: config.paused,
    createdAt,
  };
}

export function encodeHeader(value: string): string {
  return encodeURIComponent(value);
}

export function decodeHeader(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
