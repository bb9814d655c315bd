/** App Engine Task Queue REST API v1beta2 (docs/protocol.md). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../app.ts';

export function v1beta2Routes(
  _app: FastifyInstance,
  _options: { context: ServerContext },
): Promise<void> {
  return Promise.resolve();
}
