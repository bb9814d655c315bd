/**
 * Authentication from the command line, each command a real process: the first start of
 * `pullq serve` writes the credentials file that later commands use with no token typed,
 * `pullq login` switches them to another server, and `pullq token` manages tokens.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PULLQ_BIN,
  bearer,
  runCli,
  startServe,
  type CliResult,
  type ServeProcess,
} from './serve-process.ts';

const SECOND_ADMIN_TOKEN = 'pq_second-server-admin-token';

describe('pullq serve, login and token from the command line', () => {
  let dir: string;
  /** This test's own config folder: where the first server writes the credentials file. */
  let config: string;
  let first: ServeProcess;
  let second: ServeProcess;
  const credentialsFile = (): string => join(config, 'pullq', 'credentials.json');
  /** A command as a user types it: no --server, no --token, no PULLQ_* in the environment. */
  const pullq = (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, { env: { XDG_CONFIG_HOME: config }, ...(input === undefined ? {} : { input }) });
  const ok = (result: CliResult, what: string): string => {
    assert.equal(result.code, 0, `${what} failed: ${result.stderr}`);
    return result.stdout;
  };
  const savedCredentials = async (): Promise<{ server: string; token: string }> =>
    JSON.parse(await readFile(credentialsFile(), 'utf8')) as { server: string; token: string };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullq-auth-cli-'));
    config = join(dir, 'config');
    // No PULLQ_ADMIN_TOKEN: a first start on a fresh data folder, as a user runs it.
    [first, second] = await Promise.all([
      startServe(['--data', join(dir, 'data')], {
        env: { PULLQ_ADMIN_TOKEN: '', XDG_CONFIG_HOME: config },
      }),
      startServe(['--backend', 'memory://'], { env: { PULLQ_ADMIN_TOKEN: SECOND_ADMIN_TOKEN } }),
    ]);
  });

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('the first start writes the admin token to a credentials file of mode 0600, and shows it nowhere', async () => {
    const saved = await savedCredentials();
    assert.equal(saved.server, first.url);
    assert.match(saved.token, /^pq_[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(credentialsFile())).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(credentialsFile()))).mode & 0o777, 0o700);
    assert.ok(first.stderr().includes(credentialsFile()), 'it says where it wrote the token');
    assert.ok(!first.stderr().includes(saved.token), 'the token is not on stderr');
    assert.ok(!first.stdout().includes(saved.token), 'the token is not on stdout');
  });

  it('put and lease work with no token typed: the credentials file gives server and token', async () => {
    const id = ok(await pullq(['put', 'typed-nothing', 'hello']), 'put').trim();
    const leased = JSON.parse(ok(await pullq(['lease', 'typed-nothing', '--json']), 'lease')) as {
      tasks: { id: string; text: string }[];
    };
    assert.deepEqual(
      leased.tasks.map((task) => [task.id, task.text]),
      [[id, 'hello']],
    );
  });

  it('token create prints a token once; it works within its queue pattern and is refused outside it', async () => {
    const created = await pullq([
      'token',
      'create',
      '--name',
      'jobs-worker',
      '--role',
      'producer,consumer',
      '--queue',
      'jobs-*',
      '--expires',
      '30d',
    ]);
    const token = ok(created, 'token create').trim();
    assert.match(token, /^pq_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /cannot be shown again/);
    assert.ok(!created.stderr.includes(token), 'the token is printed once, on stdout');

    const asWorker = (args: string[]): Promise<CliResult> => pullq([...args, '--token', token]);
    ok(await asWorker(['put', 'jobs-a', 'work']), 'put within the pattern');
    const outside = await asWorker(['put', 'billing', 'work']);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^error: permission_denied: /);
    assert.match(outside.stderr, /\nhint: this token's roles or queue pattern do not allow it/);

    const listed = JSON.parse(ok(await pullq(['token', 'list', '--json']), 'token list')) as {
      tokens: { name: string; roles: string[]; queue: string; expiresAt: number | null }[];
    };
    const worker = listed.tokens.find((item) => item.name === 'jobs-worker');
    assert.deepEqual([worker?.roles, worker?.queue], [['producer', 'consumer'], 'jobs-*']);
    const days = ((worker?.expiresAt ?? 0) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in 30 days, not ${days}`);
    assert.deepEqual(
      listed.tokens.map((item) => item.name),
      ['admin', 'jobs-worker'],
    );
    assert.ok(!JSON.stringify(listed).includes(token), 'a listing never holds a token');
    const table = ok(await pullq(['token', 'list']), 'token list');
    assert.match(table, /^NAME\s+ROLES\s+QUEUE\s+CREATED\s+EXPIRES\n/);
    assert.match(table, /\njobs-worker\s+producer,consumer\s+jobs-\*\s+/);
  });

  it('a revoked token gets unauthenticated through the CLI, with a hint to log in', async () => {
    const token = ok(
      await pullq(['token', 'create', '--name', 'short-lived', '--role', 'consumer']),
      'token create',
    ).trim();
    ok(await pullq(['stats', '--token', token]), 'stats before revoking');
    const revoked = await pullq(['token', 'revoke', 'short-lived']);
    ok(revoked, 'token revoke');
    assert.match(revoked.stderr, /revoked token "short-lived"/);

    const refused = await pullq(['stats', '--token', token]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: unauthenticated: /);
    assert.match(refused.stderr, /\nhint: .*`pullq login --server /);
    assert.ok(!refused.stderr.includes(token), 'the error does not echo the token');

    const again = await pullq(['token', 'revoke', 'short-lived']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: token_not_found: /);
  });

  it('a command with no token for the server is told to log in', async () => {
    // The credentials file's token goes only to its own server, not to another one.
    const result = await pullq(['stats', '--server', second.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: unauthenticated: /);
    assert.match(
      result.stderr,
      new RegExp(`hint: this server needs a token: run \`pullq login --server ${second.url}\``),
    );
  });

  it('token create refuses an unknown role or duration before asking the server', async () => {
    const role = await pullq(['token', 'create', '--name', 'x', '--role', 'owner']);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /--role takes one or more of producer, consumer, admin/);
    const expires = await pullq([
      'token',
      'create',
      '--name',
      'x',
      '--role',
      'admin',
      '--expires',
      'soon',
    ]);
    assert.equal(expires.code, 2);
    assert.match(expires.stderr, /--expires takes a duration/);
  });

  it('login with a token the server refuses saves nothing', async () => {
    const before = await readFile(credentialsFile(), 'utf8');
    const refused = await pullq([
      'login',
      '--server',
      second.url,
      '--token',
      'pq_not-a-token-of-that-server',
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: unauthenticated: .* refused this token/);
    assert.match(refused.stderr, /nothing was saved/);
    assert.equal(await readFile(credentialsFile(), 'utf8'), before);
  });

  it('login against a second server switches the CLI to it; the token may come on stdin', async () => {
    const firstAdmin = (await savedCredentials()).token;
    const login = await pullq(['login', '--server', second.url, '--token', SECOND_ADMIN_TOKEN]);
    ok(login, 'login');
    assert.match(login.stderr, new RegExp(`logged in to ${second.url}`));
    assert.deepEqual(await savedCredentials(), { server: second.url, token: SECOND_ADMIN_TOKEN });
    assert.equal((await stat(credentialsFile())).mode & 0o777, 0o600);

    ok(await pullq(['put', 'on-second', 'x']), 'put after login');
    const stats = async (server: ServeProcess, token: string): Promise<Response> =>
      fetch(`${server.url}/v1/queues/on-second/stats`, { headers: bearer(token) });
    const onSecond = await stats(second, SECOND_ADMIN_TOKEN);
    assert.equal(((await onSecond.json()) as { ready: number }).ready, 1);
    const onFirst = await stats(first, firstAdmin);
    assert.equal(onFirst.status, 404, 'the task went to the second server only');

    // Back to the first server, the token piped in as a script would.
    const back = await pullq(['login', '--server', first.url], `${firstAdmin}\n`);
    ok(back, 'login with the token on stdin');
    assert.deepEqual(await savedCredentials(), { server: first.url, token: firstAdmin });
    ok(await pullq(['put', 'typed-nothing', 'again']), 'put after logging back in');
  });

  it(
    'login on a terminal asks for the token without echoing it',
    {
      skip: existsSync('/usr/bin/script') ? false : 'needs script(1) for a terminal',
    },
    async () => {
      const folder = join(dir, 'terminal');
      // script(1) gives the command a pseudo-terminal; what it shows comes back on stdout.
      const child = spawn(
        '/usr/bin/script',
        ['-qec', `"${process.execPath}" "${PULLQ_BIN}" login --server ${second.url}`, '/dev/null'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: {
            ...Object.fromEntries(
              Object.entries(process.env).filter(([name]) => !name.startsWith('PULLQ_')),
            ),
            XDG_CONFIG_HOME: folder,
          },
        },
      );
      let screen = '';
      child.stdout.setEncoding('utf8');
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          screen += chunk;
          if (screen.includes('token for ')) resolve();
        });
        void exited.then(() => reject(new Error(`login ended before asking:\n${screen}`)));
      });
      child.stdin.write(`${SECOND_ADMIN_TOKEN}\r`);
      assert.equal(await exited, 0, screen);
      assert.match(screen, new RegExp(`logged in to ${second.url}`));
      assert.ok(!screen.includes(SECOND_ADMIN_TOKEN), 'the token was echoed');
      const saved = JSON.parse(
        await readFile(join(folder, 'pullq', 'credentials.json'), 'utf8'),
      ) as unknown;
      assert.deepEqual(saved, { server: second.url, token: SECOND_ADMIN_TOKEN });
    },
  );
});
