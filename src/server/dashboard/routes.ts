/**
 * The dashboard at /ui (docs/dashboard.md): a static page, public like any static file. It
 * holds nothing secret: the person signs in with a token, which the page keeps in
 * sessionStorage and sends as `Authorization: Bearer` on each API call, checked as any other.
 *
 * - `GET /ui`: the page. `Cache-Control: no-cache`, so a new version shows on the next load.
 * - `GET /ui/assets/<build>/<file>`: modules, styles, uPlot. Cached for a year (`immutable`)
 *   when `<build>` is the current build id; an older id (a page loaded before an upgrade)
 *   gets the current file, not cached.
 * - Anything else under /ui: 404, never a file from disk (assets are looked up in a map).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PullqError } from '../../protocol/errors.ts';
import type { ServerContext } from '../app.ts';
import { dashboardAssets, STATIC_DIR, type DashboardAssets } from './assets.ts';

export interface DashboardRouteOptions {
  context: ServerContext;
  /** The folder of the page's files; default: ./static next to this module. */
  staticDir?: string;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

export function dashboardRoutes(
  app: FastifyInstance,
  options: DashboardRouteOptions,
): Promise<void> {
  const assets = (): Promise<DashboardAssets> => dashboardAssets(options.staticDir ?? STATIC_DIR);

  app.get('/ui', async (_request, reply) => {
    const { indexHtml, contentSecurityPolicy } = await assets();
    return secured(reply, contentSecurityPolicy)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(indexHtml);
  });

  app.get<{ Params: { build: string; '*': string } }>(
    '/ui/assets/:build/*',
    async (request, reply) => {
      const { build, files } = await assets();
      const file = files.get(request.params['*']);
      if (!file) throw notFound(request.url);
      return reply
        .header('cache-control', request.params.build === build ? IMMUTABLE : 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .type(file.contentType)
        .send(file.body);
    },
  );

  // Unknown paths under /ui answer 404 here rather than in the not-found handler, which asks
  // for a token first: the dashboard's paths are public.
  app.get('/ui/*', (request) => Promise.reject(notFound(request.url)));
  return Promise.resolve();
}

function notFound(url: string): PullqError {
  return new PullqError(
    'route_not_found',
    `no dashboard file at ${url.split('?')[0] ?? ''}; the page is at /ui`,
  );
}

function secured(reply: FastifyReply, contentSecurityPolicy: string): FastifyReply {
  return reply
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer');
}
