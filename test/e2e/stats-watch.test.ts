/**
 * `pullq stats --watch` as a real process against a real `pullq serve`: off a terminal it
 * prints one table (or, with --json, one JSON line) per interval, shows what changed since,
 * and exits 0 on Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  NO_CONFIG_HOME,
  PULLQ_BIN,
  TEST_ADMIN_TOKEN,
  bearer,
  startServe,
  type ServeProcess,
} from './serve-process.ts';

interface Watching {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout satisfies `done`; fails after `timeoutMs`. */
  until(done: (stdout: string) => boolean, timeoutMs?: number): Promise<void>;
  exited: Promise<number | string>;
}

describe('pullq stats --watch', () => {
  let server: ServeProcess;
  const queue = `watch-${process.pid}`;

  const insert = async (count: number): Promise<void> => {
    const tasks = Array.from({ length: count }, (_, index) => ({ text: `task ${index}` }));
    const response = await fetch(`${server.url}/v1/queues/${queue}/tasks`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ tasks }),
    });
    assert.equal(response.status, 200, await response.text());
  };

  /** Starts `pullq stats ...args` with the server and token in its environment. */
  const watch = (args: string[]): Watching => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
    const child = spawn(process.execPath, [PULLQ_BIN, 'stats', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        XDG_CONFIG_HOME: NO_CONFIG_HOME,
        PULLQ_SERVER: server.url,
        PULLQ_TOKEN: TEST_ADMIN_TOKEN,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit').then(([code, signal]) =>
      code === null ? String(signal) : Number(code),
    );
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exited,
      async until(done, timeoutMs = 15_000) {
        const deadline = Date.now() + timeoutMs;
        while (!done(stdout)) {
          if (Date.now() > deadline || child.exitCode !== null) {
            assert.fail(`pullq stats ${args.join(' ')} printed:\n${stdout}\nstderr:\n${stderr}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    };
  };

  before(async () => {
    server = await startServe(['--backend', 'memory://']);
    await insert(1);
  });

  after(async () => {
    await server.stop();
  });

  it('off a terminal prints a table per interval, shows new counts, and exits 0 on SIGINT', async () => {
    const watching = watch(['--watch', '--interval', '0.2']);
    try {
      const row = (ready: number) => new RegExp(`^${queue} +${ready} +0 +0 +0 `, 'm');
      await watching.until((stdout) => row(1).test(stdout));
      await insert(2);
      await watching.until((stdout) => row(3).test(stdout));
      watching.child.kill('SIGINT');
      assert.equal(await watching.exited, 0, watching.stderr());
    } finally {
      watching.child.kill('SIGKILL');
    }
    const output = watching.stdout();
    const tables = output.match(
      /^QUEUE +READY +DELAYED +LEASED +DEAD +OLDEST READY +LEASED\/MIN$/gm,
    );
    assert.ok(tables && tables.length >= 2, output);
    assert.equal(output.match(/^pullq stats /gm)?.length, tables.length, 'a header per table');
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(output, /\x1b\[/, 'no terminal control sequences off a terminal');
  });

  it('with --json prints one JSON line per interval, and exits 0 on SIGINT', async () => {
    const stats = await fetch(`${server.url}/v1/queues/${queue}/stats`, { headers: bearer() });
    const { ready } = (await stats.json()) as { ready: number };
    const watching = watch([queue, '--watch', '--interval', '0.2', '--json']);
    try {
      await watching.until((stdout) => stdout.split('\n').length > 2);
      watching.child.kill('SIGINT');
      assert.equal(await watching.exited, 0, watching.stderr());
    } finally {
      watching.child.kill('SIGKILL');
    }
    const lines = watching
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .map(
        (line) => JSON.parse(line) as { at: number; queues: { queue: string; ready: number }[] },
      );
    assert.ok(lines.length >= 2);
    for (const line of lines) {
      assert.equal(typeof line.at, 'number');
      assert.deepEqual(
        line.queues.map((row) => [row.queue, row.ready]),
        [[queue, ready]],
      );
    }
  });

  it('--interval without --watch is a usage error (exit 2)', async () => {
    const watching = watch(['--interval', '2']);
    assert.equal(await watching.exited, 2);
    assert.match(watching.stderr(), /--interval goes with --watch/);
  });
});
