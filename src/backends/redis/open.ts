/** Opens the redis backend for a connection URL. A placeholder until the backend lands. */
import type { Backend } from '../backend.ts';
import type { TransportSettings } from '../../client/registry.ts';
import { PullqError } from '../../protocol/errors.ts';

export async function openRedis(settings: TransportSettings): Promise<Backend> {
  throw new PullqError(
    'unsupported',
    `the redis backend is not built yet (${settings.url.protocol})`,
  );
}
