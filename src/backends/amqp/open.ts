/**
 * Opens the amqp backend for a connection URL: `amqp://user:pass@host:port/vhost` (RabbitMQ;
 * `amqps://` for TLS). amqplib is an optional peer dependency, loaded here, on first use.
 */
import type { Backend } from '../backend.ts';
import type { TransportSettings } from '../../client/registry.ts';
import { loadOptional } from '../optional-dependency.ts';
import { AmqpBackend } from './amqp-backend.ts';
import type { AmqpDriver } from './link.ts';

export async function openAmqp(settings: TransportSettings): Promise<Backend> {
  const driver = await loadOptional<AmqpDriver>('amqplib', 'the amqp:// transport');
  return new AmqpBackend({ url: settings.href, driver, timeoutMs: settings.timeoutMs });
}
