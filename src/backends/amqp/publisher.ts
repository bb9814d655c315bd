/**
 * Publishing with publisher confirms: every message is persistent and mandatory, and a publish
 * resolves only when the broker confirmed it, which for a durable queue means it is on disk
 * (for a quorum queue, on a majority of its replicas). A message no queue would take comes back
 * (basic.return, sent before its confirm) and is reported as not routed instead of vanishing.
 */
import { once } from 'node:events';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { PullqError } from '../../protocol/errors.ts';
import { amqpError } from './errors.ts';

export interface Outgoing {
  exchange: string;
  routingKey: string;
  content: Buffer;
  /** `messageId` is required: it pairs a returned message with its publish. */
  options: Options.Publish & { messageId: string };
}

export class Publisher {
  readonly #channel: ConfirmChannel;
  readonly #timeoutMs: number;
  /** Returned messages whose confirm has not been seen yet, in publish order. */
  readonly #returned: Message[] = [];
  #closed = false;

  constructor(channel: ConfirmChannel, timeoutMs: number) {
    this.#channel = channel;
    this.#timeoutMs = timeoutMs;
    channel.on('return', (message: Message) => this.#returned.push(message));
    channel.on('close', () => {
      this.#closed = true;
    });
  }

  /**
   * Publishes in order and waits for every confirm; resolves with, per message, true when a
   * queue took it and false when none did. Throws `unavailable` when the channel closes before
   * the confirms came (some messages may have been stored), `timeout` after `timeoutMs`.
   */
  async publish(messages: readonly Outgoing[], doing: string): Promise<boolean[]> {
    const confirms: Promise<boolean>[] = [];
    for (const message of messages) {
      const { promise, resolve, reject } = Promise.withResolvers<boolean>();
      // A failure is read from the Promise.all below; this keeps the rest from going unhandled.
      promise.catch(() => undefined);
      confirms.push(promise);
      let written: boolean;
      try {
        written = this.#channel.publish(
          message.exchange,
          message.routingKey,
          message.content,
          { ...message.options, persistent: true, mandatory: true },
          (error: unknown) => {
            if (error === null || error === undefined) resolve(!this.#wasReturned(message));
            else reject(confirmError(error, doing));
          },
        );
      } catch (error) {
        throw amqpError(error, doing);
      }
      if (!written) await this.#drained(doing);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new PullqError(
            'timeout',
            `RabbitMQ did not confirm ${messages.length} message(s) within ${this.#timeoutMs} ms while ${doing}; some may have been stored`,
          ),
        );
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([Promise.all(confirms), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A return comes before its confirm, so the earliest return with this id is this one's. */
  #wasReturned(message: Outgoing): boolean {
    const id = message.options.messageId;
    const index = this.#returned.findIndex((returned) => returned.properties.messageId === id);
    if (index < 0) return false;
    this.#returned.splice(index, 1);
    return true;
  }

  /** Waits for the socket buffer to drain (backpressure), or fails if the channel closes. */
  async #drained(doing: string): Promise<void> {
    if (this.#closed) throw amqpError(new Error('channel closed'), doing);
    const controller = new AbortController();
    const { signal } = controller;
    try {
      await Promise.race([
        once(this.#channel, 'drain', { signal }),
        once(this.#channel, 'close', { signal }).then(() => {
          throw amqpError(new Error('channel closed'), doing);
        }),
      ]);
    } finally {
      controller.abort(); // removes the listener that did not fire
    }
  }
}

function confirmError(error: unknown, doing: string): PullqError {
  if (error instanceof Error && error.message === 'message nacked') {
    return new PullqError(
      'unavailable',
      `RabbitMQ could not store a message while ${doing} (it answered nack): try again`,
      { cause: error },
    );
  }
  return amqpError(error, doing);
}
