/** pullq/server: the HTTP server over any Backend, and the `pullq serve` composition root. */
export { buildServer, DEFAULT_BODY_LIMIT } from './app.ts';
export type { PullqServer, ServerOptions } from './app.ts';
export { resolveServeOptions, startServe, DEFAULT_SERVE_OPTIONS } from './serve.ts';
export type { RunningServer, ServeOptions } from './serve.ts';
