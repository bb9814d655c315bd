/** The native v1 API (docs/protocol.md). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../app.ts';

export function v1Routes(
  _app: FastifyInstance,
  _options: { context: ServerContext },
): Promise<void> {
  return Promise.resolve();
}
