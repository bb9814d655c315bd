/** Liveness and readiness, open to every caller (no auth). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../app.ts';

export function healthRoutes(
  app: FastifyInstance,
  options: { context: ServerContext },
): Promise<void> {
  const { context } = options;
  /** Liveness: the process answers. */
  app.get('/healthz', () => ({ status: 'ok' }));
  /** Readiness: the backend answers and the server is not shutting down. */
  app.get('/readyz', async (_request, reply) => {
    if (context.shutdown.aborted) return reply.code(503).send({ status: 'shutting_down' });
    await context.backend.listQueues();
    return { status: 'ready' };
  });
  return Promise.resolve();
}
