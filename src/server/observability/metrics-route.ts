/**
 * Where Prometheus scrapes the server's metrics (./prometheus.ts):
 *
 * - by default `GET /metrics` on the server's own port, for tokens with the admin role on `*`
 *   (the metrics name every queue; src/server/auth.ts, METRICS_AUTH);
 * - with `pullq serve --metrics-port P [--metrics-host H]`, on a listener of its own without
 *   authentication (default host 127.0.0.1), and not on the server's port at all: for a
 *   Prometheus that cannot send a token, on a port the network keeps private.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { METRICS_AUTH } from '../auth.ts';

export interface MetricsText {
  render(): Promise<string>;
  readonly contentType: string;
}

export function metricsRoutes(
  app: FastifyInstance,
  options: { metrics: MetricsText },
): Promise<void> {
  const { metrics } = options;
  app.get('/metrics', { config: { auth: METRICS_AUTH } }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
  return Promise.resolve();
}

export interface MetricsListener {
  /** `http://host:port/metrics` */
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics, without authentication, on a port of its own; anything else is 404. */
export async function listenMetrics(
  metrics: MetricsText,
  options: { port: number; host: string },
): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    metrics.render().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (error: unknown) => {
        response
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`the metrics could not be read: ${(error as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
