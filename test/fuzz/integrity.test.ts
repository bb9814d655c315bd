/**
 * The integrity check finds what it looks for: each kind of damage, written into a SQLite
 * store behind the backend's back (and undone after), is reported; a sound store reports
 * nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, it } from 'node:test';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';
import { checkIntegrity } from './integrity.ts';

let dir = '';
let dbPath = '';
let clock: ManualClock;
let backend: SqliteBackend;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pullq-integrity-'));
  dbPath = join(dir, 'pullq.db');
  clock = new ManualClock();
  backend = new SqliteBackend({ path: dbPath, clock });
  await backend.insert('q1', [{ payload: new Uint8Array([1]) }, { payload: new Uint8Array([2]) }], {
    createQueue: true,
  });
  await backend.lease('q1', { max: 1, leaseSeconds: 60 });
});
after(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `damage` into the file through a connection of its own, then checks. */
async function problemsAfter(damage: string): Promise<string[]> {
  const db = new DatabaseSync(dbPath);
  try {
    db.exec(damage);
  } finally {
    db.close();
  }
  return (await checkIntegrity(dbPath, backend, clock.now())).problems;
}

it('a sound store has no problems, and the counts are its rows', async () => {
  const report = await checkIntegrity(dbPath, backend, clock.now());
  assert.deepEqual(report.problems, []);
  assert.equal(report.tasks, 2);
  assert.equal(report.queues, 1);
});

for (const [rule, damage, undo, expected] of [
  [
    'a task in no state (dead = 2) is reported',
    'UPDATE tasks SET dead = 2 WHERE id = (SELECT id FROM tasks WHERE lease_token IS NULL)',
    'UPDATE tasks SET dead = 0 WHERE dead = 2',
    /in no state or in several/,
  ],
  [
    'a dead task holding a lease token is reported',
    'UPDATE tasks SET dead = 1 WHERE lease_token IS NOT NULL',
    'UPDATE tasks SET dead = 0 WHERE lease_token IS NOT NULL',
    /dead task that holds a lease token/,
  ],
  [
    'a task of a queue that does not exist is reported',
    "INSERT INTO tasks (queue, id, named, enqueued_at, eta, payload) VALUES ('gone', 'orphan', 1, 0, 0, x'00')",
    "DELETE FROM tasks WHERE queue = 'gone'",
    /row of tasks whose queue does not exist/,
  ],
  [
    'a text ETA is reported',
    "UPDATE tasks SET eta = 'soon' WHERE lease_token IS NULL",
    "UPDATE tasks SET eta = 0 WHERE typeof(eta) = 'text'",
    /wrong type or range/,
  ],
  [
    'a task id outside the pattern is reported',
    "UPDATE tasks SET id = 'a b' WHERE lease_token IS NULL",
    "UPDATE tasks SET id = 'restored' WHERE id = 'a b'",
    /task ids out of the pattern/,
  ],
] as const) {
  it(rule, async () => {
    const problems = await problemsAfter(damage);
    const db = new DatabaseSync(dbPath);
    db.exec(undo);
    db.close();
    assert.ok(
      problems.some((problem) => expected.test(problem)),
      `expected ${String(expected)} in ${JSON.stringify(problems)}`,
    );
  });
}

it('stats that disagree with the rows are reported (rows read a minute after the lease ended)', async () => {
  const problems = (await checkIntegrity(dbPath, backend, clock.now() + 120_000)).problems;
  assert.ok(
    problems.some((problem) => /stats\.leased is 1, the rows say 0/.test(problem)),
    JSON.stringify(problems),
  );
});

it('after the damage is undone the store is sound again', async () => {
  assert.deepEqual((await checkIntegrity(dbPath, backend, clock.now())).problems, []);
});
