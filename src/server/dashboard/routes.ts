/** The dashboard at /ui: static files, public; the page signs in with a token. A placeholder
 * page until the dashboard lands. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../app.ts';

export function dashboardRoutes(
  app: FastifyInstance,
  _options: { context: ServerContext },
): Promise<void> {
  app.get('/ui', (_request, reply) =>
    reply.type('text/plain').send('The pullq dashboard is not built yet.\n'),
  );
  return Promise.resolve();
}
