/**
 * The dashboard at scale, measured (not a pass/fail test): `pullq serve` on SQLite with
 * 1,000 queues and one queue of 1,000,000 tasks.
 *
 * - Overview: `GET /v1/stats` for every queue in one request, and, in Debian's chromium, the
 *   time from signing in to 1,001 rows drawn, then a sort and a filter.
 * - Task browser: the first page of the big queue by state and by tag, then the whole queue
 *   walked with the cursor, 1,000 tasks a page: the time per page stays flat from the first
 *   page to the last, because each page starts at its cursor in an index (no scan, no OFFSET).
 *
 *   node scripts/node24.mjs bench/dashboard.ts [--queues 1000] [--tasks 1000000] [--quick]
 *
 * The store is filled straight through SqliteBackend before the server starts (the figures
 * are about reading). Progress goes to stderr; stdout gets the figures and one JSON line.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { NewTask } from '../src/backends/backend.ts';
import { SqliteBackend } from '../src/backends/sqlite/sqlite-backend.ts';
import { formatTable } from '../src/cli/output.ts';

const PULLQ_BIN = fileURLToPath(new URL('../bin/pullq.mjs', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const BIG = 'bench-big';
const INSERT_BATCH = 1000;

export interface Server {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** `pullq serve` on `dataDir` with a random admin token, on a free port. */
export async function startServer(dataDir: string, extraArgs: string[] = []): Promise<Server> {
  const token = `pq_${randomBytes(32).toString('base64url')}`;
  const child = spawn(
    process.execPath,
    [
      PULLQ_BIN,
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--print-address-json',
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PULLQ_ADMIN_TOKEN: token, XDG_CONFIG_HOME: join(dataDir, 'config') },
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /\{"listening":"([^"]+)"\}/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`pullq serve exited before listening:\n${stderr}`)));
  });
  return {
    url,
    token,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Chromium with a fresh profile in `profileDir`. */
export function launchBrowser(
  profileDir: string,
  viewport = { width: 1280, height: 860 },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
}

/** Opens /ui in a new tab and signs in; resolves once the header shows the token. */
export async function signIn(context: BrowserContext, server: Server): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/ui`);
  await page.fill('input[name=token]', server.token);
  await page.press('input[name=token]', 'Enter');
  await page.waitForSelector('#who:not([hidden])');
  return page;
}

/** An authorized request; the parsed answer and the time it took (ms). */
export async function call(
  server: Server,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ json: Record<string, unknown>; ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return {
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    ms,
    bytes: text.length,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function timed(runs: number, run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let index = 0; index < runs; index++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

/**
 * `count` queues of 20 tasks (5 delayed, 2 leased), one dead task in every tenth; and BIG with
 * `tasks` tasks tagged t0..t9, one in a hundred `rare` instead, 1,000 leased and 100 dead.
 */
async function fill(backend: SqliteBackend, queues: number, tasks: number): Promise<void> {
  const now = Date.now();
  for (let index = 0; index < queues; index++) {
    const name = `bench-q-${String(index).padStart(4, '0')}`;
    const batch: NewTask[] = Array.from({ length: 20 }, (_, n) => ({
      payload: Buffer.from(`{"n":${n}}`),
      ...(n < 5 ? { eta: now + 3_600_000 } : {}),
    }));
    await backend.insert(name, batch, { createQueue: true });
    const leased = await backend.lease(name, { max: index % 10 === 0 ? 3 : 2, leaseSeconds: 3600 });
    if (index % 10 === 0 && leased[0]) {
      await backend.release(name, [
        {
          ref: { id: leased[0].id, token: leased[0].leaseToken },
          deadLetter: true,
          error: 'bench',
        },
      ]);
    }
  }
  const started = performance.now();
  for (let done = 0; done < tasks; done += INSERT_BATCH) {
    const batch: NewTask[] = [];
    for (let n = done; n < Math.min(tasks, done + INSERT_BATCH); n++) {
      batch.push({ payload: Buffer.from(`task ${n}`), tag: n % 100 === 0 ? 'rare' : `t${n % 10}` });
    }
    await backend.insert(BIG, batch, { createQueue: true });
    if (done % 100_000 === 0) log(`  ${BIG}: ${done.toLocaleString('en-US')} tasks`);
  }
  log(
    `  ${BIG}: ${tasks.toLocaleString('en-US')} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const leased = await backend.lease(BIG, { max: 1000, leaseSeconds: 3600 });
  await backend.release(
    BIG,
    leased
      .slice(0, 100)
      .map((task) => ({ ref: { id: task.id, token: task.leaseToken }, deadLetter: true })),
  );
}

interface Figure {
  what: string;
  value: string;
  note: string;
}

async function measureApi(server: Server, figures: Figure[]): Promise<void> {
  // What the overview reads each refresh: every page of GET /v1/stats.
  const overviewPages = async (): Promise<{ listed: number; bytes: number; pages: number }> => {
    let cursor: string | null = null;
    let listed = 0;
    let bytes = 0;
    let pages = 0;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await call(server, 'GET', `/v1/stats?limit=1000${query}`);
      listed += (page.json['queues'] as unknown[]).length;
      bytes += page.bytes;
      pages++;
      cursor = page.json['nextCursor'] as string | null;
    } while (cursor !== null);
    return { listed, bytes, pages };
  };
  const { listed, bytes, pages } = await overviewPages();
  const overview = await timed(10, overviewPages);
  figures.push({
    what: `GET /v1/stats, all ${listed} queues (${pages} pages)`,
    value: `${overview.toFixed(1)} ms`,
    note: `median of 10; ${(bytes / 1024).toFixed(0)} KiB of JSON`,
  });
  const bigStats = await timed(10, () => call(server, 'GET', `/v1/queues/${BIG}/stats`));
  figures.push({
    what: `GET /v1/queues/${BIG}/stats alone`,
    value: `${bigStats.toFixed(1)} ms`,
    note: 'median of 10: the counts of the big queue are most of the above',
  });
  for (const [label, query] of [
    ['first page, all states', ''],
    ['first page, ready', '&state=ready'],
    ['first page, leased', '&state=leased'],
    ['first page, dead', '&state=dead'],
    ['first page, tag t3 (10%)', '&tag=t3'],
    ['first page, tag rare (1%)', '&tag=rare'],
  ] as const) {
    const ms = await timed(5, () =>
      call(server, 'GET', `/v1/queues/${BIG}/tasks?limit=50${query}`),
    );
    figures.push({
      what: `tasks ${label}`,
      value: `${ms.toFixed(1)} ms`,
      note: '50 tasks, median of 5',
    });
  }

  // The whole queue, 1,000 a page, through the cursor.
  const pageTimes: number[] = [];
  let cursor: string | null = null;
  let seen = 0;
  let lastCursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${cursor}`;
    const page = await call(server, 'GET', `/v1/queues/${BIG}/tasks?limit=1000${query}`);
    pageTimes.push(page.ms);
    seen += (page.json['tasks'] as unknown[]).length;
    lastCursor = cursor;
    cursor = page.json['nextCursor'] as string | null;
    if (pageTimes.length % 200 === 0) log(`  walked ${seen.toLocaleString('en-US')} tasks`);
  } while (cursor !== null);
  const first = median(pageTimes.slice(1, 11));
  const last = median(pageTimes.slice(-10));
  figures.push({
    what: `walk ${BIG} by cursor (${pageTimes.length} pages of 1,000)`,
    value: `${first.toFixed(1)} -> ${last.toFixed(1)} ms`,
    note: `median of pages 2-11 -> of the last 10; ${seen.toLocaleString('en-US')} tasks, slowest ${Math.max(...pageTimes).toFixed(1)} ms`,
  });
  if (lastCursor !== null) {
    const deep = await timed(5, () =>
      call(server, 'GET', `/v1/queues/${BIG}/tasks?limit=50&cursor=${lastCursor}`),
    );
    figures.push({
      what: `tasks page at ${(seen - 1000).toLocaleString('en-US')} (cursor)`,
      value: `${deep.toFixed(1)} ms`,
      note: '50 tasks, median of 5: as the first page',
    });
  }
}

async function measureBrowser(server: Server, figures: Figure[], queues: number): Promise<void> {
  const profile = await mkdtemp(join(tmpdir(), 'pullq-bench-chromium-'));
  const context = await launchBrowser(profile);
  try {
    // In a source checkout the first request for the page transpiles its modules (once per
    // process): that is timed on its own, and the page load after it.
    const firstStarted = performance.now();
    const html = await (await fetch(`${server.url}/ui`)).text();
    const main = /src="(\/ui\/assets\/[^"]+\/main\.js)"/.exec(html)?.[1] ?? '';
    await (await fetch(`${server.url}${main}`)).text();
    figures.push({
      what: 'first GET /ui and main.js of the process',
      value: `${(performance.now() - firstStarted).toFixed(0)} ms`,
      note: 'a source checkout transpiles the modules here; dist serves them as built',
    });
    const started = performance.now();
    const page = await signIn(context, server);
    await page.waitForFunction(
      (count) => document.querySelectorAll('#queue-table tbody tr').length >= count,
      queues + 1,
      { timeout: 60_000 },
    );
    figures.push({
      what: `overview: sign in to ${queues + 1} rows drawn`,
      value: `${(performance.now() - started).toFixed(0)} ms`,
      note: 'chromium, one run',
    });

    // Sort and filter run in the page: timed there, from the event to the layout after it.
    const sortMs = await page.evaluate(() => {
      const started = performance.now();
      document.querySelector<HTMLButtonElement>('#queue-table th:nth-child(2) .sort')?.click();
      void document.body.offsetHeight;
      return performance.now() - started;
    });
    const first = await page.locator('#queue-table tbody tr').first().getAttribute('data-queue');
    if (first !== BIG) throw new Error(`sorted by ready, the first queue is ${first}`);
    figures.push({
      what: `overview: sort ${queues + 1} rows by ready`,
      value: `${sortMs.toFixed(0)} ms`,
      note: 'click to layout, in the page',
    });
    const filterMs = await page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('.queues input[type=search]');
      const started = performance.now();
      if (input) {
        input.value = 'q-09';
        input.dispatchEvent(new Event('input'));
      }
      void document.body.offsetHeight;
      return performance.now() - started;
    });
    const shown = await page.locator('#queue-table tbody tr').count();
    if (shown !== 100) throw new Error(`the filter left ${shown} rows, not 100`);
    figures.push({
      what: 'overview: filter by name',
      value: `${filterMs.toFixed(0)} ms`,
      note: 'input to layout, in the page (100 rows left)',
    });

    await page.waitForTimeout(5000);
    const refreshes = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        // The first page of each refresh (the one with the big queue in it).
        .filter((entry) => /\/v1\/stats(\?(?!.*cursor=)|$)/.test(entry.name))
        .map((entry) => entry.duration),
    );
    figures.push({
      what: 'overview: refresh (GET /v1/stats seen by the page)',
      value: `${median(refreshes).toFixed(0)} ms`,
      note: `median of ${refreshes.length} refreshes in the first ~7 s`,
    });

    const openStarted = performance.now();
    await page.evaluate((queue) => (location.hash = `#/queues/${queue}`), BIG);
    await page.waitForFunction(
      () => document.querySelectorAll('#task-table tbody tr').length === 50,
    );
    figures.push({
      what: `queue page of ${BIG}: first 50 tasks drawn`,
      value: `${(performance.now() - openStarted).toFixed(0)} ms`,
      note: '',
    });
    const nextTimes: number[] = [];
    for (let index = 0; index < 5; index++) {
      const before = await page.locator('#task-table tbody tr').first().getAttribute('data-task');
      const nextStarted = performance.now();
      await page.click('.pager button:has-text("Next")');
      await page.waitForFunction(
        (id) => document.querySelector('#task-table tbody tr')?.getAttribute('data-task') !== id,
        before,
      );
      nextTimes.push(performance.now() - nextStarted);
    }
    figures.push({
      what: 'task browser: Next page',
      value: `${median(nextTimes).toFixed(0)} ms`,
      note: 'median of 5 clicks',
    });
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { queues: { type: 'string' }, tasks: { type: 'string' }, quick: { type: 'boolean' } },
  });
  const quick = values.quick ?? false;
  const queues = Number(values.queues ?? (quick ? 100 : 1000));
  const tasks = Number(values.tasks ?? (quick ? 100_000 : 1_000_000));
  const dataDir = await mkdtemp(join(tmpdir(), 'pullq-bench-dashboard-'));
  try {
    log(
      `filling ${queues} queues and ${BIG} (${tasks.toLocaleString('en-US')} tasks) in ${dataDir}`,
    );
    const backend = new SqliteBackend({ path: join(dataDir, 'pullq.db') });
    await fill(backend, queues, tasks);
    await backend.close();
    const server = await startServer(dataDir);
    const figures: Figure[] = [];
    try {
      log('measuring the API');
      await measureApi(server, figures);
      log('measuring the page in chromium');
      await measureBrowser(server, figures, queues);
    } finally {
      await server.stop();
    }
    process.stdout.write(
      `${formatTable(
        ['measure', 'time', 'how'],
        figures.map((figure) => [figure.what, figure.value, figure.note]),
        ['left', 'right', 'left'],
      )}\n`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'dashboard', queues, tasks, figures })}\n`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
