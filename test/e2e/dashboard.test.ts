/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * `pullq serve`: sign in with a token, watch a queue's counts follow inserts, leases and acks
 * made through the API, open a dead task and redrive it, manage tokens; and a consumer token
 * that sees only its queues, no tokens page, and the API's 403 when it strays.
 *
 * Screenshots land in test-artifacts/dashboard-*.png. Chromium missing: the file is skipped,
 * or fails under CI=true.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from './serve-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
/** The flags the CI image needs: no sandbox (root in a container), no GPU, nothing online. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const missing = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is not installed (apt-get install chromium)`;
if (missing !== null && process.env['CI'] === 'true') throw new Error(missing);

const QUEUE = `e2e-${process.pid}`;

/** Retries `check` until it passes: the page refreshes every 1.5 s. */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('the dashboard in a browser', { skip: missing ?? false }, () => {
  let server: ServeProcess;
  let dataDir: string;
  let profileDir: string;
  let context: BrowserContext;

  const api = async (method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...bearer(token),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
  };

  /** A new tab (its own sessionStorage), signed in with `token`. */
  const signIn = async (token: string): Promise<Page> => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/ui`);
    await page.fill('input[name=token]', token);
    await page.press('input[name=token]', 'Enter');
    await page.waitForSelector('#who:not([hidden])');
    assert.deepEqual(errors, []);
    return page;
  };

  /** The numbers of a queue's row in the overview: ready, delayed, leased, dead. */
  const counts = async (page: Page, queue: string): Promise<string[]> =>
    page
      .locator(`#queue-table tr[data-queue="${queue}"] td`)
      .allInnerTexts()
      .then((cells) => cells.slice(1, 5));

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'pullq-dashboard-e2e-'));
    profileDir = await mkdtemp(join(tmpdir(), 'pullq-chromium-'));
    server = await startServe(['--data', dataDir]);
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 860 },
    });
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(profileDir, { recursive: true, force: true });
  });

  it('follows a queue as tasks are inserted, leased and acked, and redrives a dead task', async () => {
    const page = await signIn(TEST_ADMIN_TOKEN);
    assert.match(await page.locator('#who').innerText(), /admin/);
    assert.equal(await page.evaluate(() => location.href.includes('pq_')), false);

    await api('POST', `/v1/queues/${QUEUE}/tasks`, {
      tasks: [
        { text: '{"to":"ada@example.com","template":"welcome"}', tag: 'eu' },
        { text: 'second' },
        { text: 'third' },
      ],
    });
    await eventually(async () => assert.deepEqual(await counts(page, QUEUE), ['3', '0', '0', '0']));

    const leased = (await api('POST', `/v1/queues/${QUEUE}/lease`, { max: 3, leaseSeconds: 300 }))[
      'tasks'
    ] as { id: string; leaseToken: string; tag: string | null }[];
    await eventually(async () => assert.deepEqual(await counts(page, QUEUE), ['0', '0', '3', '0']));

    const [first, second, third] = leased;
    assert.ok(first && second && third);
    await api('POST', `/v1/queues/${QUEUE}/ack`, {
      leases: [{ id: second.id, token: second.leaseToken }],
    });
    await api('POST', `/v1/queues/${QUEUE}/release`, {
      leases: [
        {
          id: first.id,
          token: first.leaseToken,
          deadLetter: true,
          error: 'smtp: 550 mailbox unavailable',
        },
      ],
    });
    await eventually(async () => assert.deepEqual(await counts(page, QUEUE), ['0', '0', '1', '1']));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png') });

    await page.click(`#queue-table a[href="#/queues/${QUEUE}"]`);
    await page.waitForSelector('.queue-page');
    await page.click('.tab:has-text("dead")');
    const deadRow = page.locator(`#task-table tr[data-task="${first.id}"]`);
    await eventually(async () => assert.equal(await deadRow.locator('.badge').innerText(), 'dead'));
    await deadRow.locator('button.link').click();
    const dialog = page.locator('dialog[open]');
    await eventually(async () =>
      assert.match(await dialog.innerText(), /smtp: 550 mailbox unavailable/),
    );
    const detail = await dialog.innerText();
    assert.match(detail, /"to": "ada@example.com"/, 'the JSON payload is shown pretty');
    assert.match(detail, /Attempts\s+1/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-dead-task.png') });
    await dialog.locator('button:has-text("Redrive")').click();
    await page.waitForSelector('dialog[open]', { state: 'detached' });

    await eventually(async () => assert.equal(await deadRow.count(), 0));
    const task = await api('GET', `/v1/queues/${QUEUE}/tasks/${first.id}`);
    assert.equal(task['state'], 'ready');
    await eventually(async () =>
      assert.equal(await page.locator('[data-count="dead"]').innerText(), '0'),
    );
    // The charts draw the queue's history (GET /v1/stats/history): two uPlot charts.
    await eventually(async () => assert.equal(await page.locator('.charts .uplot').count(), 2));
    await page.click('.tab:has-text("all")');
    await eventually(async () =>
      assert.equal(await page.locator('#task-table tbody tr').count(), 2),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-queue.png'), fullPage: true });
    await page.close();
  });

  it('a page opened while the last page is still refreshing refreshes too', async () => {
    await api('POST', '/v1/queues/slow-1/tasks', { tasks: [{ text: 'a' }, { text: 'b' }] });
    const page = await signIn(TEST_ADMIN_TOKEN);
    await page.waitForSelector('#queue-table tr[data-queue="slow-1"]');
    // Every overview refresh now takes 1.5 s: the next page opens while one is running.
    await page.route(/\/v1\/stats(\?|$)/, async (route) => {
      await sleep(1500);
      await route.continue();
    });
    await page.waitForRequest(/\/v1\/stats(\?|$)/);
    await page.evaluate(() => (location.hash = '#/queues/slow-1'));
    await eventually(async () =>
      assert.equal(await page.locator('#task-table tbody tr').count(), 2),
    );
    await page.close();
  });

  it('charts say "No data yet" when the server keeps no history', async () => {
    const page = await context.newPage();
    await page.route(/\/v1\/stats\/history/, (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({
          error: { code: 'route_not_found', message: 'no route', retryable: false },
        }),
      }),
    );
    await page.goto(`${server.url}/ui`);
    await page.fill('input[name=token]', TEST_ADMIN_TOKEN);
    const history = page.waitForResponse(/\/v1\/stats\/history/);
    await page.press('input[name=token]', 'Enter');
    assert.equal((await history).status(), 404);
    // A refresh has ended (the 404 included) once the header says when.
    await page.waitForFunction(() => document.getElementById('live')?.textContent !== '');
    await eventually(async () =>
      assert.deepEqual(await page.locator('.chart-empty').allInnerTexts(), [
        'No data yet',
        'No data yet',
      ]),
    );
    assert.equal(await page.locator('.charts .uplot').count(), 0);
    assert.equal(await page.locator('#alerts .alert').count(), 0, 'no error is shown');
    await page.close();
  });

  it('creates a queue, pauses it, edits its settings, and purges it after its name is typed', async () => {
    const page = await signIn(TEST_ADMIN_TOKEN);
    await page.click('button:has-text("Create queue")');
    await page.fill('dialog[open] input[name=name]', 'orders');
    await page.click('dialog[open] button[type=submit]');
    await page.waitForSelector('.queue-page h1:has-text("orders")');
    await api('POST', '/v1/queues/orders/tasks', { tasks: [{ text: '1' }, { text: '2' }] });

    await page.click('.actions button:has-text("Pause")');
    await page.waitForSelector('.queue-page h1 .badge.paused:not(.hidden)');
    assert.equal((await api('GET', '/v1/queues/orders'))['paused'], true);

    await page.click('.actions button:has-text("Settings")');
    await page.fill('dialog[open] input[name=maxLeases]', '3');
    await page.fill('dialog[open] input[name=deadLetterQueue]', 'orders-dead');
    await page.click('dialog[open] button[type=submit]');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    const settings = await api('GET', '/v1/queues/orders');
    assert.deepEqual([settings['maxLeases'], settings['deadLetterQueue']], [3, 'orders-dead']);

    await page.click('.actions button:has-text("Purge")');
    const purge = page.locator('dialog[open] button[type=submit]');
    assert.equal(await purge.isDisabled(), true, 'no purge before the name is typed');
    await page.fill('dialog[open] input[name=confirm]', 'order');
    assert.equal(await purge.isDisabled(), true, 'a prefix of the name is not enough');
    await page.fill('dialog[open] input[name=confirm]', 'orders');
    await purge.click();
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    await eventually(async () =>
      assert.equal(await page.locator('[data-count="ready"]').innerText(), '0'),
    );
    assert.equal((await api('GET', '/v1/queues/orders/stats'))['ready'], 0);
    await page.close();
  });

  it('creates a token, shows it once, and revokes it', async () => {
    const page = await signIn(TEST_ADMIN_TOKEN);
    await page.click('a[data-nav="tokens"]');
    await page.fill('.token-form input[name=name]', 'e2e-worker');
    await page.fill('.token-form input[name=queue]', 'e2e-*');
    await page.click('.token-form button[type=submit]');
    const shown = await page.locator('.new-token input').inputValue();
    assert.match(shown, /^pq_[A-Za-z0-9_-]{43}$/);
    const who = await fetch(`${server.url}/v1/whoami`, { headers: bearer(shown) });
    assert.equal(((await who.json()) as { name: string }).name, 'e2e-worker');
    await page
      .locator('#token-table tr[data-token="e2e-worker"] button:has-text("Revoke")')
      .click();
    await page.locator('dialog[open] button[type=submit]').click();
    await page.waitForSelector('#token-table tr[data-token="e2e-worker"]', { state: 'detached' });
    assert.equal((await fetch(`${server.url}/v1/whoami`, { headers: bearer(shown) })).status, 401);
    await page.close();
  });

  it('a consumer token sees only its queues and no tokens page, and a 403 is shown as the API says it', async () => {
    for (const queue of ['team-a-1', 'team-a-2', 'team-b-1']) {
      await api('POST', '/v1/queues', { name: queue });
    }
    const { token } = (await api('POST', '/v1/tokens', {
      name: 'team-a-worker',
      roles: ['consumer'],
      queue: 'team-a-*',
    })) as { token: string };
    const page = await signIn(token);
    await eventually(async () =>
      assert.deepEqual(
        await page
          .locator('#queue-table tbody tr')
          .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-queue'))),
        ['team-a-1', 'team-a-2'],
      ),
    );
    assert.equal(await page.locator('a[data-nav="tokens"]').isVisible(), false);
    assert.equal(await page.locator('button:has-text("Create queue")').count(), 0);

    await page.click('#queue-table a[href="#/queues/team-a-1"]');
    await page.waitForSelector('.queue-page');
    for (const label of ['Pause', 'Purge', 'Delete', 'Settings']) {
      assert.equal(await page.locator(`.actions button:has-text("${label}")`).count(), 0, label);
    }

    await page.evaluate(() => (location.hash = '#/tokens'));
    await eventually(async () =>
      assert.match(await page.locator('main').innerText(), /needs the admin role/),
    );

    await page.evaluate(() => (location.hash = '#/queues/team-b-1'));
    await eventually(async () =>
      assert.match(
        await page.locator('#alerts').innerText(),
        /team-a-worker.*may not.*team-b-1.*\(permission_denied\)/s,
      ),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-forbidden.png') });
    await page.close();
  });
});
