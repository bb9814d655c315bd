/**
 * Queues over AMQP: declaring a pullq queue's RabbitMQ objects (topology.ts), its settings
 * (settings-store.ts), counts, purge and delete, and the delay ladder's levels as delays need
 * them. Settings are cached for SETTINGS_TTL_MS, so a pause or resume reaches consumers in
 * other processes within that.
 */
import type { Clock, QueueConfig, QueueInfo } from '../backend.ts';
import { checkQueueConfig, queueNotFound } from '../common.ts';
import { PullqError, isPullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
import type { AmqpLink } from './link.ts';
import {
  defaultSettings,
  readSettings,
  writeSettings,
  type QueueSettings,
} from './settings-store.ts';
import {
  DELAY_LEVELS,
  SETTINGS_QUEUE_ARGUMENTS,
  arrivalBindingPattern,
  deadQueueArguments,
  deadQueueOf,
  delayExchange,
  delayQueueArguments,
  delayQueueOf,
  levelBindingPattern,
  mainQueueArguments,
  settingsQueueOf,
  skipBindingPattern,
  topLevelOf,
} from './topology.ts';

/** How long settings read from the broker are trusted. */
export const SETTINGS_TTL_MS = 5000;

export interface QueueCounts {
  ready: number;
  delayed: number;
  dead: number;
}

export class QueueAdmin {
  readonly #link: AmqpLink;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { settings: QueueSettings; readAt: number }>();
  readonly #reading = new Map<string, Promise<QueueSettings>>();
  /** The highest delay level declared per queue by this backend. */
  readonly #levels = new Map<string, number>();
  #ladderDeclared = false;

  constructor(link: AmqpLink, clock: Clock) {
    this.#link = link;
    this.#clock = clock;
  }

  /** The queue's settings (cached up to SETTINGS_TTL_MS unless `fresh`); queue_not_found. */
  async settings(queue: string, fresh = false): Promise<QueueSettings> {
    const cached = this.#cache.get(queue);
    if (!fresh && cached !== undefined && this.#clock.now() - cached.readAt < SETTINGS_TTL_MS) {
      return cached.settings;
    }
    // Leases that find the cache stale together share one read.
    let reading = this.#reading.get(queue);
    if (reading === undefined) {
      reading = this.#read(queue).finally(() => this.#reading.delete(queue));
      this.#reading.set(queue, reading);
    }
    return reading;
  }

  async #read(queue: string): Promise<QueueSettings> {
    const readAt = this.#clock.now();
    if (!(await this.exists(queue))) {
      this.forget(queue);
      throw queueNotFound(queue);
    }
    const settings = (await readSettings(this.#link, queue)) ?? {
      ...defaultSettings(queue),
      createdAt: 0,
    };
    this.#cache.set(queue, { settings, readAt });
    return settings;
  }

  async exists(queue: string): Promise<boolean> {
    try {
      await this.#link.withChannel(`checking queue ${queue}`, (ch) => ch.checkQueue(queue), queue);
      return true;
    } catch (error) {
      if (isPullqError(error, 'queue_not_found')) return false;
      throw error;
    }
  }

  async create(queue: string, config: Partial<QueueConfig>): Promise<QueueInfo> {
    checkQueueName(queue);
    checkQueueConfig(config, queue);
    if (await this.exists(queue)) {
      throw new PullqError('already_exists', `queue ${JSON.stringify(queue)} already exists`, {
        details: { queue },
      });
    }
    const settings: QueueSettings = {
      ...defaultSettings(queue),
      ...definedOnly(config),
      createdAt: this.#clock.now(),
    };
    if (settings.deadLetterQueue !== null) await this.ensure(settings.deadLetterQueue);
    await this.#link.withChannel(`declaring queue ${queue}`, async (channel) => {
      const features = this.#link.features;
      await channel.assertQueue(deadQueueOf(queue), {
        durable: true,
        arguments: deadQueueArguments(features),
      });
      await channel.assertQueue(settingsQueueOf(queue), {
        durable: true,
        arguments: SETTINGS_QUEUE_ARGUMENTS,
      });
    });
    // Settings before the queue: whoever sees the queue finds its settings.
    await writeSettings(this.#link, settings);
    await this.#link.withChannel(`declaring queue ${queue}`, async (channel) => {
      const target = settings.deadLetterQueue ?? deadQueueOf(queue);
      await channel.assertQueue(queue, {
        durable: true,
        arguments: mainQueueArguments(this.#link.features, settings.maxLeases, target),
      });
    });
    this.#cache.set(queue, { settings, readAt: this.#clock.now() });
    return { ...settings };
  }

  /** Creates the queue with default settings unless it exists. */
  async ensure(queue: string): Promise<void> {
    const cached = this.#cache.get(queue);
    if (cached !== undefined && this.#clock.now() - cached.readAt < SETTINGS_TTL_MS) return;
    try {
      await this.create(queue, {});
    } catch (error) {
      if (!isPullqError(error, 'already_exists')) throw error;
      await this.settings(queue); // remembered, so the next inserts skip the check
    }
  }

  /** Only `paused` and `dedupWindowSeconds` can change: the rest are the queue's arguments. */
  async update(queue: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    checkQueueName(queue);
    checkQueueConfig(patch, queue);
    const current = await this.settings(queue, true);
    for (const field of ['maxLeases', 'deadLetterQueue'] as const) {
      if (patch[field] !== undefined && patch[field] !== current[field]) {
        throw new PullqError(
          'unsupported',
          `changing ${field} is not available over AMQP: RabbitMQ fixes a queue's arguments when it is declared; delete the queue and create it again with the new ${field}`,
          { details: { field, transport: 'amqp' } },
        );
      }
    }
    const settings: QueueSettings = { ...current, ...definedOnly(patch) };
    // A queue another tool declared gets its settings queue now.
    await this.#link.withChannel(`declaring the settings of ${queue}`, (channel) =>
      channel.assertQueue(settingsQueueOf(queue), {
        durable: true,
        arguments: SETTINGS_QUEUE_ARGUMENTS,
      }),
    );
    await writeSettings(this.#link, settings);
    this.#cache.set(queue, { settings, readAt: this.#clock.now() });
    return { ...settings };
  }

  async delete(queue: string): Promise<void> {
    checkQueueName(queue);
    if (!(await this.exists(queue))) throw queueNotFound(queue);
    const names = [queue, deadQueueOf(queue), settingsQueueOf(queue)];
    for (let level = 0; level < DELAY_LEVELS; level++) names.push(delayQueueOf(queue, level));
    await this.#link.withChannel(`deleting queue ${queue}`, async (channel) => {
      // Deleting a queue that does not exist succeeds: levels never declared are fine.
      for (const name of names) await channel.deleteQueue(name);
    });
    this.forget(queue);
  }

  /** Purges the ready, delayed and dead messages; leased ones stay with their consumers. */
  async purge(queue: string): Promise<number> {
    checkQueueName(queue);
    if (!(await this.exists(queue))) throw queueNotFound(queue);
    // A queue another tool declared has no dead or delay queues: only those that exist.
    const names = [queue, ...(await this.#existing([deadQueueOf(queue)], allLevels(queue)))];
    return this.#link.withChannel(`purging queue ${queue}`, async (channel) => {
      let purged = 0;
      for (const name of names) purged += (await channel.purgeQueue(name)).messageCount;
      return purged;
    });
  }

  async counts(queue: string): Promise<QueueCounts> {
    checkQueueName(queue);
    const [ready] = await this.#countUntilMissing([queue]);
    if (ready === undefined) throw queueNotFound(queue);
    const [dead = 0] = await this.#countUntilMissing([deadQueueOf(queue)]);
    const levels = await this.#countUntilMissing(allLevels(queue));
    return { ready, delayed: levels.reduce((sum, count) => sum + count, 0), dead };
  }

  /** Declares the ladder and the queue's levels a delay of `seconds` passes through. */
  async ensureDelay(queue: string, seconds: number): Promise<void> {
    const top = topLevelOf(seconds);
    const have = this.#levels.get(queue) ?? -1;
    if (have >= top) return;
    await this.#link.withChannel(
      `declaring the delay levels of ${queue}`,
      async (channel) => {
        if (!this.#ladderDeclared) {
          for (let level = 0; level < DELAY_LEVELS; level++) {
            await channel.assertExchange(delayExchange(level), 'topic', { durable: true });
          }
          for (let level = 1; level < DELAY_LEVELS; level++) {
            const from = delayExchange(level);
            await channel.bindExchange(delayExchange(level - 1), from, skipBindingPattern(level));
          }
          this.#ladderDeclared = true;
        }
        if (have < 0)
          await channel.bindQueue(queue, delayExchange(0), arrivalBindingPattern(queue));
        // In order from the bottom, so the levels that exist are always 0..n (counts rely on it).
        for (let level = have + 1; level <= top; level++) {
          const name = delayQueueOf(queue, level);
          await channel.assertQueue(name, {
            durable: true,
            arguments: delayQueueArguments(queue, level),
          });
          await channel.bindQueue(name, delayExchange(level), levelBindingPattern(level, queue));
        }
      },
      queue,
    );
    this.#levels.set(queue, top);
  }

  /** Drops what this backend remembers of a queue (after a delete, or when it went missing). */
  forget(queue: string): void {
    this.#cache.delete(queue);
    this.#levels.delete(queue);
  }

  /** Which of `single` exist (each checked alone), then the levels up to the first missing. */
  async #existing(single: string[], levels: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const name of single) {
      if ((await this.#countUntilMissing([name])).length > 0) found.push(name);
    }
    const counted = await this.#countUntilMissing(levels);
    return [...found, ...levels.slice(0, counted.length)];
  }

  /** Message counts of `names` in order, up to the first that does not exist. */
  async #countUntilMissing(names: string[]): Promise<number[]> {
    const counts: number[] = [];
    await this.#link
      .withChannel('counting messages', async (channel) => {
        for (const name of names) counts.push((await channel.checkQueue(name)).messageCount);
      })
      .catch((error: unknown) => {
        // A 404 (a queue that does not exist) closed the channel: the count stops there.
        if ((error as PullqError).details?.amqpCode !== 404) throw error;
      });
    return counts;
  }
}

function allLevels(queue: string): string[] {
  return Array.from({ length: DELAY_LEVELS }, (_, level) => delayQueueOf(queue, level));
}

function definedOnly(config: Partial<QueueConfig>): Partial<QueueConfig> {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined));
}
