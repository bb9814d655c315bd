/**
 * The README's dashboard screenshots, from a real `pullq serve` with realistic traffic:
 * several queues fed and drained at rates that wander, a few percent of tasks failing (retried,
 * then dead-lettered into `emails-dead` past three leases), a paused queue, a delayed backlog.
 * After `--seconds` of that (the charts need history), it saves
 *
 *   docs/images/dashboard-overview.png   the queues overview
 *   docs/images/dashboard-queue.png      the `webhooks` queue page (its dead letters stay in it)
 *
 *   node scripts/node24.mjs bench/dashboard-screenshots.ts [--seconds 150] [--out docs/images]
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { call, launchBrowser, signIn, startServer, type Server } from './dashboard.ts';

const OUT = fileURLToPath(new URL('../docs/images/', import.meta.url));

/** Each queue's traffic: tasks inserted per tick at the peak, and the share that fails. */
const QUEUES: readonly { name: string; peak: number; failRate: number; tags: string[] }[] = [
  { name: 'emails', peak: 9, failRate: 0.08, tags: ['welcome', 'receipt', 'digest'] },
  { name: 'thumbnails', peak: 14, failRate: 0.01, tags: ['small', 'large'] },
  { name: 'billing-eu', peak: 4, failRate: 0.02, tags: ['invoice', 'refund'] },
  { name: 'billing-us', peak: 3, failRate: 0.02, tags: ['invoice', 'refund'] },
  { name: 'webhooks', peak: 6, failRate: 0.05, tags: ['github', 'stripe'] },
];
const TICK_MS = 250;

interface Leased {
  id: string;
  leaseToken: string;
  payload: string;
}

/** One task in POISON always fails: they end as dead letters. */
const POISON = 41;

function payloadFor(queue: string, n: number, tag: string): string {
  switch (queue) {
    case 'emails': {
      const to = n % POISON === 0 ? `bounce${n}@example.org` : `user${n}@example.com`;
      return JSON.stringify({ to, template: tag, locale: 'en' });
    }
    case 'thumbnails':
      return JSON.stringify({ image: `uploads/${n}.jpg`, size: tag === 'small' ? 128 : 1024 });
    case 'webhooks': {
      const host = n % POISON === 0 ? 'gone.example.net' : 'hooks.example.com';
      return JSON.stringify({ url: `https://${host}/${tag}`, event: 'push', id: n });
    }
    default:
      return JSON.stringify({ account: `acct_${n % 97}`, kind: tag, amount: (n % 50) * 10 });
  }
}

function errorFor(queue: string, poisoned: boolean): string {
  if (queue === 'emails') {
    return poisoned
      ? 'smtp: 550 5.1.1 mailbox unavailable (bounce)'
      : 'smtp: 451 4.7.1 temporary failure, try again later';
  }
  if (queue === 'webhooks' && poisoned) return 'POST https://gone.example.net/…: 410 Gone';
  return 'upstream timed out after 10 s';
}

async function setUp(server: Server): Promise<void> {
  await call(server, 'POST', '/v1/queues', { name: 'emails-dead' });
  await call(server, 'POST', '/v1/queues', {
    name: 'emails',
    maxLeases: 3,
    deadLetterQueue: 'emails-dead',
  });
  for (const queue of QUEUES.slice(1)) {
    await call(server, 'POST', '/v1/queues', { name: queue.name, maxLeases: 5 });
  }
  // A paused queue with work waiting, and reports scheduled for later.
  await call(server, 'POST', '/v1/queues', { name: 'exports', paused: true });
  await call(server, 'POST', '/v1/queues/exports/tasks', {
    tasks: Array.from({ length: 37 }, (_, n) => ({ text: JSON.stringify({ export: n }) })),
  });
  await call(server, 'POST', '/v1/queues/reports/tasks', {
    tasks: Array.from({ length: 24 }, (_, n) => ({
      text: JSON.stringify({ report: 'daily', day: n }),
      tag: 'daily',
      delaySeconds: 600 + n * 60,
    })),
  });
}

/** Tasks leased on the last tick, worked on until this one: a few are always leased. */
const working = new Map<string, Leased[]>();

/**
 * One tick of one queue: insert, settle what the last tick leased (ack most, fail a few,
 * retried after a short delay), lease the next batch.
 */
async function tick(
  server: Server,
  queue: (typeof QUEUES)[number],
  t: number,
  n: number,
): Promise<number> {
  // Rates wander: a slow wave plus a faster one, never negative.
  const wave = 0.55 + 0.35 * Math.sin(t / 40 + queue.peak) + 0.1 * Math.sin(t / 7);
  const inserts = Math.max(0, Math.round(queue.peak * wave));
  if (inserts > 0) {
    await call(server, 'POST', `/v1/queues/${queue.name}/tasks`, {
      tasks: Array.from({ length: inserts }, (_, index) => {
        const tag = queue.tags[(n + index) % queue.tags.length] ?? 'x';
        return { text: payloadFor(queue.name, n + index, tag), tag };
      }),
    });
  }
  const poisoned = (task: Leased): boolean =>
    /bounce|gone\./.test(Buffer.from(task.payload, 'base64').toString());
  const previous = working.get(queue.name) ?? [];
  const failed = previous.filter((task) => poisoned(task) || Math.random() < queue.failRate);
  const done = previous.filter((task) => !failed.includes(task));
  if (done.length > 0) {
    await call(server, 'POST', `/v1/queues/${queue.name}/ack`, {
      leases: done.map((task) => ({ id: task.id, token: task.leaseToken })),
    });
  }
  if (failed.length > 0) {
    await call(server, 'POST', `/v1/queues/${queue.name}/release`, {
      leases: failed.map((task) => ({
        id: task.id,
        token: task.leaseToken,
        delaySeconds: 2,
        error: errorFor(queue.name, poisoned(task)),
      })),
    });
  }
  // Consumers keep up most of the time, and fall behind at the peaks.
  const max = Math.max(1, Math.round(queue.peak * 0.8));
  const leased = (
    await call(server, 'POST', `/v1/queues/${queue.name}/lease`, { max, leaseSeconds: 30 })
  ).json['tasks'] as Leased[];
  working.set(queue.name, leased);
  return inserts;
}

/** Runs the traffic until `stop` is aborted. */
async function traffic(server: Server, stop: AbortSignal): Promise<void> {
  let n = 0;
  for (let t = 0; !stop.aborted; t++) {
    const started = performance.now();
    const counts = await Promise.all(QUEUES.map((queue) => tick(server, queue, t, n)));
    n += counts.reduce((sum, count) => sum + count, 0);
    await sleep(Math.max(0, TICK_MS - (performance.now() - started)));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, out: { type: 'string' } },
  });
  const seconds = Number(values.seconds ?? 150);
  const out = values.out ?? OUT;
  const dataDir = await mkdtemp(join(tmpdir(), 'pullq-screenshots-'));
  const profile = await mkdtemp(join(tmpdir(), 'pullq-screenshots-chromium-'));
  const server = await startServer(dataDir);
  try {
    await setUp(server);
    process.stderr.write(`traffic for ${seconds} s on ${server.url}\n`);
    // The traffic goes on while the pictures are taken: the charts end on live rates.
    const stop = new AbortController();
    const running = traffic(server, stop.signal);
    await sleep(seconds * 1000);

    const context = await launchBrowser(profile, { width: 1280, height: 900 });
    const page = await signIn(context, server);
    await page.waitForSelector('#queue-table tr[data-queue="emails"]');
    await page.click('.segment:has-text("5m")');
    // The pointer rests off the page's controls: nothing is drawn hovered.
    await page.mouse.move(640, 30);
    await page.waitForTimeout(2500);
    const overview = join(out, 'dashboard-overview.png');
    await page.screenshot({ path: overview });

    await page.evaluate(() => (location.hash = '#/queues/webhooks'));
    await page.waitForSelector('#task-table tbody tr');
    await page.waitForTimeout(2500);
    const queue = join(out, 'dashboard-queue.png');
    await page.screenshot({ path: queue });
    stop.abort();
    await running;
    await context.close();
    for (const file of [overview, queue]) {
      process.stdout.write(`${file}: ${(statSync(file).size / 1024).toFixed(0)} KiB\n`);
    }
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  }
}

await main();
