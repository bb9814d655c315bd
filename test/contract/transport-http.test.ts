/**
 * The transport contract against a real `pullq serve` process (port 0, SQLite in a temp
 * folder, tokens required): once over the native API (`pullq://`), once over the v1beta2 API
 * (`http://` with `protocol: 'v1beta2'`), as an App Engine-era client would. Raw payloads go
 * in through v1beta2 tasks.insert, the way the App Engine SDK and the seed's users put them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from '../../src/client/connection.ts';
import { transportContract, type TransportHarness } from '../../src/testing/index.ts';
import { TEST_ADMIN_TOKEN, bearer, startServe } from '../e2e/serve-process.ts';

const PROJECT = 'transport-tests';

async function serverHarness(
  options: (url: string) => ConnectionOptions,
): Promise<TransportHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-transport-http-'));
  const server = await startServe(['--data', join(dir, 'data')]);
  const send = async (method: string, path: string, body: unknown): Promise<void> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  return {
    connectionOptions: () => ({ token: TEST_ADMIN_TOKEN, ...options(server.url) }),
    createQueue: (name) => send('POST', '/v1/queues', { name }),
    insertRaw: (queue, payload) =>
      send('POST', `/taskqueue/v1beta2/projects/${PROJECT}/taskqueues/${queue}/tasks`, {
        queueName: queue,
        payloadBase64: Buffer.from(payload).toString('base64url'),
      }),
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

transportContract('pullq server (native API)', () =>
  serverHarness((url) => ({ url: url.replace(/^http:/, 'pullq:') })),
);

transportContract('pullq server (v1beta2 API)', () =>
  serverHarness((url) => ({ url, protocol: 'v1beta2', project: PROJECT, pollingInterval: 0.1 })),
);
