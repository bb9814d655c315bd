/**
 * Dead letters over JetStream, and the note that gives them their lastError.
 *
 * - A dead letter is published before the original delivery is acknowledged (a crash between
 *   the two leaves a copy, never a loss): to the queue's dead-letter queue as a ready task
 *   (created when missing; a new id when the id is live there), else to the queue's own
 *   `dead.<id>` subject, counted by the `dead` consumer and kept until redriven or deleted.
 * - A note (the error of a release) is a message on `note.<id>`, replaced by the next one
 *   (`Nats-Rollup: sub`) and removed with the task: a dead letter made later, by any process
 *   (a lease past maxLeases), carries it as its lastError.
 * - redrive publishes a dead letter back to `ready.<id>` (refused while that id is live
 *   there: it then stays dead) and purges `dead.<id>`. Tasks moved into a dead-letter queue
 *   are ready tasks there and are leased from it.
 */
import type { Task } from '../backend.ts';
import { randomId } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { natsError } from './errors.ts';
import type { HeaderValues, Movable, NatsParts, NatsTasks } from './tasks.ts';

export class NatsDeadLetters {
  readonly #parts: NatsParts;
  readonly #tasks: NatsTasks;

  constructor(parts: NatsParts, tasks: NatsTasks) {
    this.#parts = parts;
    this.#tasks = tasks;
  }

  async writeNote(queue: string, id: string, note: string): Promise<void> {
    const subject = this.#parts.layout.subject(queue, 'note', id);
    await this.#tasks.publish(queue, subject, new TextEncoder().encode(note), { rollup: true });
  }

  async readNote(queue: string, id: string): Promise<string | null> {
    const note = await this.#tasks.last(queue, 'note', id);
    return note === null ? null : new TextDecoder().decode(note.data);
  }

  async dropNote(queue: string, id: string): Promise<void> {
    await this.#parts.queues.purge(queue, 'note', id);
  }

  /** Publishes the dead letter of `task` (the caller then acknowledges the original). */
  async publish(
    queue: string,
    target: string | null,
    task: Movable,
    attempts: number,
    error: string,
  ): Promise<Task> {
    const headers: HeaderValues = {
      tag: task.tag,
      enqueuedAt: task.enqueuedAt,
      error,
      deadLetteredFrom: target === null ? task.deadLetteredFrom : queue,
    };
    const { payload, tag, enqueuedAt } = task;
    const view = { payload, tag, enqueuedAt, eta: this.#parts.clock.now(), lastError: error };
    if (target === null) {
      const subject = this.#parts.layout.subject(queue, 'dead', task.id);
      await this.#tasks.publish(queue, subject, payload, { headers: { ...headers, attempts } });
      const { deadLetteredFrom } = task;
      return { ...view, queue, id: task.id, attempts, state: 'dead', deadLetteredFrom };
    }
    let id = task.id;
    for (let tries = 0; ; tries++) {
      const subject = this.#parts.layout.subject(target, 'ready', id);
      let outcome: 'stored' | 'duplicate' | 'taken';
      try {
        outcome = await this.#tasks.publish(target, subject, payload, { headers, fresh: true });
      } catch (failure) {
        const missing = failure instanceof PullqError && failure.code === 'queue_not_found';
        if (!missing || tries > 0) throw failure;
        await this.#parts.queues.ensure(target);
        continue;
      }
      if (outcome === 'stored') break;
      id = randomId();
    }
    return { ...view, queue: target, id, attempts: 0, state: 'ready', deadLetteredFrom: queue };
  }

  /** Dead letters back to ready (all of the queue's when `ids` is absent); how many moved. */
  async redrive(queue: string, ids?: string[]): Promise<number> {
    await this.#parts.queues.need(queue);
    const wanted = ids ?? (await this.#deadIds(queue));
    let moved = 0;
    for (const id of wanted) {
      const dead = await this.#tasks.last(queue, 'dead', id);
      if (dead === null) continue;
      const task = this.#tasks.carried(dead.subject, dead.data, dead.header, dead.time.getTime());
      const subject = this.#parts.layout.subject(queue, 'ready', id);
      const { tag, enqueuedAt, deadLetteredFrom } = task;
      const headers = { tag, enqueuedAt, deadLetteredFrom };
      const outcome = await this.#tasks.publish(queue, subject, task.payload, {
        headers,
        fresh: true,
      });
      if (outcome !== 'stored') continue;
      await this.#parts.queues.purge(queue, 'dead', id);
      await this.dropNote(queue, id);
      moved += 1;
    }
    return moved;
  }

  /** The ids on the queue's dead subjects (the stream's per-subject counts). */
  async #deadIds(queue: string): Promise<string[]> {
    const { jsm, layout } = this.#parts;
    try {
      const info = await jsm.streams.info(layout.stream(queue), {
        subjects_filter: layout.filter(queue, 'dead'),
      });
      return Object.keys(info.state.subjects ?? {})
        .map((subject) => layout.parse(subject)?.id)
        .filter((id): id is string => id !== undefined);
    } catch (error) {
      throw natsError(error, `listing the dead letters of queue ${queue}`);
    }
  }
}
