/**
 * The contract suite against HttpBackend in front of a real server (port 0) over a
 * MemoryBackend on the suite's manual clock. One server serves the whole file: building one
 * compiles every route's schemas (about 50 ms), so each test only swaps in its own fresh
 * MemoryBackend behind it. Tests in a file run one at a time, so the swap is safe.
 */
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { systemClock, type Backend, type Clock } from '../../src/backends/backend.ts';
import { HttpBackend } from '../../src/backends/http.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { backendContract } from '../../src/testing/index.ts';

let current = new MemoryBackend();
let currentClock: Clock = systemClock;
const behind = new Proxy({} as Backend, {
  get: (_target, key) => {
    const value: unknown = Reflect.get(current, key);
    return typeof value === 'function' ? (value as () => unknown).bind(current) : value;
  },
});

let server: Promise<{ server: PullqServer; url: string }> | undefined;
function start(): Promise<{ server: PullqServer; url: string }> {
  server ??= (async () => {
    const built = await buildServer({ backend: behind, clock: { now: () => currentClock.now() } });
    await built.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = built.app.server.address() as AddressInfo;
    return { server: built, url: `http://127.0.0.1:${port}` };
  })();
  return server;
}

after(async () => {
  if (!server) return;
  const { server: built } = await server;
  built.beginShutdown();
  await built.app.close();
});

/** Closing the client also closes the memory backend it fronts, as closing memory would. */
class FrontingHttpBackend extends HttpBackend {
  readonly #memory: MemoryBackend;

  constructor(url: string, memory: MemoryBackend) {
    super({ url });
    this.#memory = memory;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#memory.close();
  }
}

backendContract('http (server over memory)', async (clock) => {
  const { url } = await start();
  current = new MemoryBackend({ clock });
  currentClock = clock;
  return new FrontingHttpBackend(url, current);
});
