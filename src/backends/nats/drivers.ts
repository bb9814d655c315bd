/**
 * The NATS drivers, @nats-io/transport-node (the connection) and @nats-io/jetstream (streams,
 * consumers, publish acks), are optional peer dependencies: loaded when a `nats://` URL is
 * opened, with one error naming both packages when either is missing.
 */
import type * as JetStreamModule from '@nats-io/jetstream';
import type * as TransportModule from '@nats-io/transport-node';
import { PullqError } from '../../protocol/errors.ts';
import { loadOptional } from '../optional-dependency.ts';

export interface NatsDrivers {
  transport: typeof TransportModule;
  jetstream: typeof JetStreamModule;
}

export const NATS_PACKAGES = ['@nats-io/jetstream', '@nats-io/transport-node'] as const;

type Loader = <T>(pkg: string, usedBy: string) => Promise<T>;

/** Loads both drivers; `load` is replaceable so the missing-package message can be tested. */
export async function loadNatsDrivers(load: Loader = loadOptional): Promise<NatsDrivers> {
  const missing: string[] = [];
  const attempt = async <T>(pkg: string): Promise<T | undefined> => {
    try {
      return await load<T>(pkg, 'the nats transport');
    } catch (error) {
      if (error instanceof PullqError && error.code === 'unsupported') {
        missing.push(pkg);
        return undefined;
      }
      throw error;
    }
  };
  const jetstream = await attempt<typeof JetStreamModule>(NATS_PACKAGES[0]);
  const transport = await attempt<typeof TransportModule>(NATS_PACKAGES[1]);
  if (jetstream === undefined || transport === undefined) {
    throw new PullqError(
      'unsupported',
      `the nats transport needs the packages ${NATS_PACKAGES.join(' and ')} (missing: ${missing.join(', ')}): run npm install ${NATS_PACKAGES.join(' ')}`,
      { details: { packages: missing } },
    );
  }
  return { transport, jetstream };
}
