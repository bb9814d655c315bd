/**
 * Queue administration for the Redis backend: create, get, update, delete, list and purge,
 * each one script (lua-queues.ts). RedisBackend checks that it is open and delegates here.
 */
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
import { DEFAULT_QUEUE_CONFIG, type Clock, type QueueConfig, type QueueInfo } from '../backend.ts';
import { checkQueueConfig, type Wakeups } from '../common.ts';
import { definedOnly } from '../memory.ts';
import { int, list, okItems, text, toInfo } from './replies.ts';
import type { SCRIPTS } from './scripts.ts';

/** Runs a script with the prefix and the time as its first two arguments. */
export type RunScript = (
  name: keyof typeof SCRIPTS,
  now: number,
  args: (string | Buffer)[],
) => Promise<unknown>;

/** A patch field as the UPDATE_QUEUE script takes it: '-' keep, '' null, else the value. */
function patchField(value: string | number | boolean | null | undefined): string {
  if (value === undefined) return '-';
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

export class RedisQueueAdmin {
  readonly #run: RunScript;
  readonly #clock: Clock;
  readonly #wakeups: Wakeups;

  constructor(run: RunScript, clock: Clock, wakeups: Wakeups) {
    this.#run = run;
    this.#clock = clock;
    this.#wakeups = wakeups;
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    checkQueueName(name);
    checkQueueConfig(config, name);
    const full: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, ...definedOnly(config) };
    const reply = list(
      await this.#run('createQueue', this.#clock.now(), [
        name,
        full.maxLeases === null ? '' : String(full.maxLeases),
        full.deadLetterQueue ?? '',
        String(full.dedupWindowSeconds),
        full.paused ? '1' : '0',
      ]),
    );
    if (text(reply[0]) === 'already_exists') {
      throw new PullqError('already_exists', `queue ${JSON.stringify(name)} already exists`, {
        details: { queue: name },
      });
    }
    return toInfo(reply[1]);
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    checkQueueName(name);
    const [info] = okItems(await this.#run('getQueue', this.#clock.now(), [name]), name);
    return info === undefined ? null : toInfo(info);
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    checkQueueName(name);
    checkQueueConfig(patch, name);
    const [info] = okItems(
      await this.#run('updateQueue', this.#clock.now(), [
        name,
        patchField(patch.maxLeases),
        patchField(patch.deadLetterQueue),
        patchField(patch.dedupWindowSeconds),
        patchField(patch.paused),
      ]),
      name,
    );
    if (patch.paused === false) this.#wakeups.notify(name);
    return toInfo(info);
  }

  async deleteQueue(name: string): Promise<void> {
    checkQueueName(name);
    okItems(await this.#run('deleteQueue', this.#clock.now(), [name]), name);
    this.#wakeups.notify(name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    const infos = okItems(await this.#run('listQueues', this.#clock.now(), []), '').map(toInfo);
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async purgeQueue(name: string): Promise<number> {
    checkQueueName(name);
    const [count] = okItems(await this.#run('purgeQueue', this.#clock.now(), [name]), name);
    return int(count);
  }
}
