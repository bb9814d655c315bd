/**
 * What the SQLite backend adds to the contract suite (test/contract/sqlite.test.ts): its file
 * survives close and crashes, its schema migrates once however many processes open it, two
 * connections share one store, SQLite failures come out as catalog errors, and the lease
 * queries read an index instead of scanning and sorting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LeasedTask } from '../../src/backends/backend.ts';
import { loadMigrations, migrate } from '../../src/backends/sqlite/migrate.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { Statements } from '../../src/backends/sqlite/statements.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);
const ref = (task: LeasedTask) => ({ id: task.id, token: task.leaseToken });
const BACKEND_URL = new URL('../../src/backends/sqlite/sqlite-backend.ts', import.meta.url).href;

let dir = '';
let path = '';
const opened: { close(): unknown }[] = [];

function open(clock?: ManualClock): SqliteBackend {
  const backend = new SqliteBackend({ path, clock });
  opened.push(backend);
  return backend;
}

function raw(): DatabaseSync {
  const db = new DatabaseSync(path);
  opened.push(db);
  return db;
}

void beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pullq-sqlite-unit-'));
  path = join(dir, 'nested', 'folder', 'pullq.db');
});

void afterEach(async () => {
  for (const handle of opened.splice(0).reverse()) {
    try {
      await handle.close();
    } catch {
      // already closed by the test
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a script in a new Node process; resolves with its exit code, signal and output. */
function runNode(
  script: string,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
}

describe('sqlite backend: the file', () => {
  it('reopening the file keeps queues, tasks, leases and tombstones', async () => {
    const clock = new ManualClock();
    const first = open(clock);
    await first.createQueue('jobs', { maxLeases: 3, dedupWindowSeconds: 600 });
    await first.insert('jobs', [
      { payload: bytes('kept'), id: 'kept', tag: 'a' },
      { payload: bytes('leased'), id: 'leased' },
      { payload: bytes('acked'), id: 'acked' },
    ]);
    const leased = await first.lease('jobs', { max: 3, leaseSeconds: 60 });
    const byId = new Map(leased.map((task) => [task.id, task]));
    await first.ack('jobs', [ref(byId.get('acked')!)]);
    await first.release('jobs', [{ ref: ref(byId.get('kept')!), error: 'try later' }]);
    await first.close();

    const second = open(clock);
    assert.deepEqual(await second.getQueue('jobs'), {
      name: 'jobs',
      createdAt: clock.now(),
      maxLeases: 3,
      deadLetterQueue: null,
      dedupWindowSeconds: 600,
      paused: false,
    });
    const kept = await second.get('jobs', 'kept');
    assert.equal(text(kept!.payload), 'kept');
    assert.equal(kept!.state, 'ready');
    assert.equal(kept!.lastError, 'try later');
    assert.equal(kept!.attempts, 1);
    // The lease taken before the restart is still the task's lease.
    assert.deepEqual(await second.ack('jobs', [ref(byId.get('leased')!)]), [
      { ok: true, value: null },
    ]);
    const [again] = await second.insert('jobs', [{ payload: bytes('x'), id: 'acked' }]);
    assert.ok(again && !again.ok && again.error.code === 'already_exists');
    assert.equal(again.error.details?.['tombstoned'], true);
    assert.equal((await second.stats('jobs')).leasedLastMinute, 3);
  });

  it('a task acked before the process is killed stays acked, and one inserted stays', async () => {
    // The child inserts two tasks, acks one, and SIGKILLs itself: no close, no checkpoint.
    const result = await runNode(`
      const { SqliteBackend } = await import(${JSON.stringify(BACKEND_URL)});
      const backend = new SqliteBackend({ path: ${JSON.stringify(path)} });
      const payload = new TextEncoder().encode('x');
      await backend.insert('jobs', [{ payload, id: 'done' }, { payload, id: 'todo' }], { createQueue: true });
      const [task] = await backend.lease('jobs', { max: 1, leaseSeconds: 60 });
      await backend.ack('jobs', [{ id: task.id, token: task.leaseToken }]);
      process.kill(process.pid, 'SIGKILL');
    `);
    assert.equal(result.signal, 'SIGKILL', result.out);
    const backend = open();
    assert.equal(await backend.get('jobs', 'done'), null);
    assert.equal((await backend.get('jobs', 'todo'))?.state, 'ready');
  });

  it('migrations are recorded in the migrations table and applied once', () => {
    open();
    const db = raw();
    const rows = db.prepare('SELECT version, name FROM migrations ORDER BY version').all();
    const shipped = loadMigrations();
    assert.ok(shipped.length >= 1);
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      shipped.map(({ version, name }) => ({ version, name })),
    );
    assert.deepEqual(migrate(db, 0), [], 'an up-to-date database has nothing to apply');
  });

  it('a database from a newer pullq is refused rather than used', async () => {
    await open().close();
    const db = raw();
    db.prepare(
      "INSERT INTO migrations (version, name, applied_at) VALUES (9999, 'future', 0)",
    ).run();
    assert.throws(
      () => new SqliteBackend({ path }),
      (error: unknown) => isPullqError(error, 'internal') && /newer/.test(error.message),
    );
  });

  it('four processes opening a new file at once all succeed and migrate it once', async () => {
    const script = `
      const { SqliteBackend } = await import(${JSON.stringify(BACKEND_URL)});
      const backend = new SqliteBackend({ path: ${JSON.stringify(path)} });
      await backend.insert('jobs', [{ payload: new Uint8Array([1]) }], { createQueue: true });
      await backend.close();
    `;
    const results = await Promise.all([1, 2, 3, 4].map(() => runNode(script)));
    for (const result of results) assert.equal(result.code, 0, result.out);
    const db = raw();
    const { n } = db.prepare('SELECT COUNT(*) AS n FROM migrations').get() as { n: number };
    assert.equal(n, loadMigrations().length);
    assert.equal((await open().stats('jobs')).ready, 4);
  });
});

describe('sqlite backend: two connections', () => {
  it("two instances on one file see each other's inserts, leases and acks", async () => {
    const a = open();
    const b = open();
    await a.insert('jobs', [{ payload: bytes('one'), id: 'one' }], { createQueue: true });
    const [task] = await b.lease('jobs', { max: 10, leaseSeconds: 60 });
    assert.equal(task?.id, 'one');
    assert.deepEqual(await a.lease('jobs', { max: 10, leaseSeconds: 60 }), []);
    assert.equal((await a.get('jobs', 'one'))?.state, 'leased');
    await b.ack('jobs', [ref(task)]);
    assert.equal(await a.get('jobs', 'one'), null);
  });

  it('a long-poll sees a task inserted through another connection', async () => {
    const a = open();
    const b = open();
    await a.createQueue('jobs');
    const waiting = a.lease('jobs', { max: 1, leaseSeconds: 60, waitSeconds: 5 });
    await b.insert('jobs', [{ payload: bytes('late') }]);
    const started = performance.now();
    const tasks = await waiting;
    assert.equal(tasks.length, 1);
    // No wake-up crosses connections: the waiting lease finds it on its next look.
    assert.ok(performance.now() - started < 1000);
  });
});

describe('sqlite backend: failures', () => {
  it('a write blocked by another connection past the busy timeout fails with unavailable', async () => {
    const backend = new SqliteBackend({ path, busyTimeoutMs: 50 });
    opened.push(backend);
    await backend.createQueue('jobs');
    const blocker = raw();
    blocker.exec('BEGIN IMMEDIATE');
    await assert.rejects(
      backend.insert('jobs', [{ payload: bytes('x') }]),
      (error: unknown) =>
        isPullqError(error, 'unavailable') && error.retryable && /locked/.test(error.message),
    );
    blocker.exec('ROLLBACK');
    const [inserted] = await backend.insert('jobs', [{ payload: bytes('x') }]);
    assert.equal(inserted?.ok, true, 'the backend works again once the lock is gone');
  });

  it('a write to a read-only database fails with unavailable, saying it is read-only', async () => {
    await open().createQueue('jobs');
    const readOnly = new SqliteBackend({ path: `file:${path}?mode=ro` });
    opened.push(readOnly);
    assert.equal((await readOnly.getQueue('jobs'))?.name, 'jobs', 'reads still work');
    await assert.rejects(
      readOnly.insert('jobs', [{ payload: bytes('x') }]),
      (error: unknown) => isPullqError(error, 'unavailable') && /read-only/.test(error.message),
    );
  });

  it('a path under a file fails with unavailable, not a raw error', async () => {
    await open().close();
    assert.throws(
      () => new SqliteBackend({ path: join(path, 'below-a-file.db') }),
      (error: unknown) => isPullqError(error, 'unavailable'),
    );
  });
});

describe('sqlite backend: housekeeping', () => {
  it('expired tombstones and lease counts older than an hour are pruned', async () => {
    const clock = new ManualClock();
    const backend = open(clock);
    await backend.createQueue('jobs', { dedupWindowSeconds: 60 });
    await backend.insert('jobs', [{ payload: bytes('x'), id: 'named' }]);
    const leased = await backend.lease('jobs', { max: 1, leaseSeconds: 60 });
    await backend.ack('jobs', leased.map(ref));
    const db = raw();
    const count = (table: string): number =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.equal(count('tombstones'), 1);
    assert.equal(count('lease_counts'), 1);

    clock.advance(3_600_000 + 1);
    await backend.insert('jobs', [{ payload: bytes('y') }]);
    await backend.lease('jobs', { max: 1, leaseSeconds: 60 });
    assert.equal(count('tombstones'), 0);
    assert.equal(count('lease_counts'), 1, 'only the new lease is counted');
    const stats = await backend.stats('jobs');
    assert.equal(stats.leasedLastHour, 1);
  });
});

describe('sqlite backend: the untagged group', () => {
  it('is leased from the oldest ready tasks, at most 8 per task asked for', async () => {
    const clock = new ManualClock();
    const backend = open(clock);
    await backend.createQueue('jobs');
    const put = async (tag: string | undefined, count: number, name: string): Promise<void> => {
      const tasks = Array.from({ length: count }, (_, i) => ({
        payload: bytes(`${name}${i}`),
        ...(tag === undefined ? {} : { tag }),
      }));
      await backend.insert('jobs', tasks);
      clock.advance(1);
    };
    await put(undefined, 2, 'near');
    await put('red', 30, 'red');
    await put(undefined, 1, 'far');
    const texts = (tasks: LeasedTask[]): string[] => tasks.map((task) => text(task.payload));
    // max 3: 24 ready tasks are read; the untagged task 32 tasks back is not among them.
    const first = await backend.lease('jobs', { max: 3, leaseSeconds: 60, groupByTag: true });
    assert.deepEqual(texts(first), ['near0', 'near1']);
    // The red group goes next; then the far untagged task is the oldest and is leased.
    const red = await backend.lease('jobs', { max: 100, leaseSeconds: 60, groupByTag: true });
    assert.equal(red.length, 30);
    const last = await backend.lease('jobs', { max: 3, leaseSeconds: 60, groupByTag: true });
    assert.deepEqual(texts(last), ['far0']);
  });
});

describe('sqlite backend: query plans', () => {
  /** The plan of a prepared statement, one line per step. */
  function plan(db: DatabaseSync, statement: { sourceSQL: string }): string {
    return db
      .prepare(`EXPLAIN QUERY PLAN ${statement.sourceSQL}`)
      .all()
      .map((row) => String(row['detail']))
      .join('\n');
  }

  it('lease reads tasks_ready or tasks_by_tag in order: no scan, no sort', () => {
    open();
    const db = raw();
    const sql = new Statements(db);
    const cases = [
      [sql.candidates, 'tasks_ready'],
      [sql.firstReady, 'tasks_ready'],
      [sql.candidatesOfTag, 'tasks_by_tag'],
    ] as const;
    for (const [statement, index] of cases) {
      const steps = plan(db, statement);
      assert.match(steps, new RegExp(`SEARCH tasks USING INDEX ${index} \\(queue=\\? AND`));
      assert.doesNotMatch(steps, /SCAN|TEMP B-TREE/, steps);
    }
  });

  it('the untagged group reads a bounded run of tasks_ready, then its rows by seq', () => {
    open();
    const db = raw();
    const steps = plan(db, new Statements(db).candidatesUntagged);
    assert.match(steps, /SEARCH tasks USING INDEX tasks_ready \(queue=\? AND/, steps);
    assert.match(steps, /SEARCH tasks USING INTEGER PRIMARY KEY \(rowid=\?\)/, steps);
    // The only scan is of the subquery's own bounded rows; the only sort, of the leased ones.
    assert.doesNotMatch(steps.replace('SCAN (subquery-1)', ''), /SCAN/, steps);
  });

  it('ack, extend, release and get find a task by its id through tasks_by_id', () => {
    open();
    const db = raw();
    const sql = new Statements(db);
    for (const statement of [sql.ackByToken, sql.ackByExpiry, sql.taskGet, sql.deleteById]) {
      const steps = plan(db, statement);
      assert.match(steps, /USING (COVERING )?INDEX tasks_by_id \(queue=\? AND id=\?\)/, steps);
      assert.doesNotMatch(steps, /SCAN/, steps);
    }
  });

  it('list pages read an index in seq order', () => {
    open();
    const db = raw();
    const sql = new Statements(db);
    for (const tagged of [false, true]) {
      for (const state of [undefined, 'ready', 'dead'] as const) {
        const steps = plan(db, sql.list(state, tagged, true));
        assert.doesNotMatch(steps, /SCAN|TEMP B-TREE/, steps);
      }
    }
  });
});
