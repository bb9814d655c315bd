/**
 * The integrity check of a SQLite store after a fuzz run, read from the database file itself
 * (a read-only connection beside the server's) and compared with what the backend says:
 *
 * - SQLite's own `integrity_check` passes;
 * - every task row is in exactly one state: the four predicates the backend's lists and
 *   stats use (src/backends/sqlite/statements.ts) match each row once, so no row is counted
 *   twice or hidden from every list; its columns hold values of their types and ranges;
 * - no orphans: no task, tombstone or lease count of a queue that does not exist, no lease
 *   token on a dead task;
 * - per queue, the counts of the rows equal `stats` (ready, delayed, leased, dead), and the
 *   queues equal `listQueues`.
 *
 * `now` must be the backend's clock, held still while the check runs.
 */
import { DatabaseSync } from 'node:sqlite';
import type { Backend } from '../../src/backends/backend.ts';
import { LIMITS, QUEUE_NAME_PATTERN, TASK_ID_PATTERN } from '../../src/protocol/limits.ts';

/** The state predicates, as the backend's statements write them. */
const STATE_SQL = {
  ready: 'dead = 0 AND eta <= :now',
  delayed: 'dead = 0 AND eta > :now AND lease_token IS NULL',
  leased: 'dead = 0 AND eta > :now AND lease_token IS NOT NULL',
  dead: 'dead = 1',
} as const;
type CountedState = keyof typeof STATE_SQL;
const STATES = Object.keys(STATE_SQL) as CountedState[];

export interface IntegrityReport {
  /** Each broken rule, with an example; empty when the store is sound. */
  problems: string[];
  tasks: number;
  queues: number;
}

export async function checkIntegrity(
  dbPath: string,
  backend: Backend,
  now: number,
): Promise<IntegrityReport> {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const problems: string[] = [];
    const found = (label: string, sql: string, params: Record<string, number> = {}): void => {
      const rows = db.prepare(sql).all(params);
      if (rows.length > 0)
        problems.push(`${label}: ${rows.length} rows, e.g. ${JSON.stringify(rows[0])}`);
    };

    const check = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    if (check.length !== 1 || check[0]?.integrity_check !== 'ok') {
      problems.push(`integrity_check: ${JSON.stringify(check)}`);
    }

    const matches = STATES.map((state) => `(${STATE_SQL[state]})`).join(' + ');
    found(
      'a task row in no state or in several',
      `SELECT queue, id, dead, eta, lease_token FROM tasks WHERE (${matches}) IS NOT 1 LIMIT 5`,
      { now },
    );
    found(
      'a task row whose columns are of the wrong type or range',
      `SELECT queue, id, typeof(eta) AS eta_type, dead, named, attempts FROM tasks
       WHERE typeof(eta) != 'integer' OR typeof(enqueued_at) != 'integer'
         OR typeof(attempts) != 'integer' OR attempts < 0 OR eta < 0 OR enqueued_at < 0
         OR dead NOT IN (0, 1) OR named NOT IN (0, 1)
         OR typeof(payload) != 'blob' OR length(payload) > ${LIMITS.maxPayloadBytes}
         OR (tag IS NOT NULL AND (typeof(tag) != 'text' OR length(CAST(tag AS BLOB)) > ${LIMITS.maxTagBytes}))
       LIMIT 5`,
    );
    found(
      'a dead task that holds a lease token',
      'SELECT queue, id FROM tasks WHERE dead = 1 AND lease_token IS NOT NULL LIMIT 5',
    );
    for (const table of ['tasks', 'tombstones', 'lease_counts']) {
      found(
        `a row of ${table} whose queue does not exist`,
        `SELECT DISTINCT queue FROM ${table} WHERE queue NOT IN (SELECT name FROM queues) LIMIT 5`,
      );
    }
    found(
      'a queue row out of range',
      `SELECT name FROM queues WHERE paused NOT IN (0, 1) OR dedup_window_seconds < 0
         OR (max_leases IS NOT NULL AND max_leases < 1) LIMIT 5`,
    );

    const names = (
      db.prepare('SELECT name FROM queues ORDER BY name').all() as { name: string }[]
    ).map((row) => row.name);
    for (const name of names) {
      if (!QUEUE_NAME_PATTERN.test(name)) problems.push(`a queue named ${JSON.stringify(name)}`);
    }
    const badIds = (
      db.prepare('SELECT queue, id FROM tasks').all() as { queue: string; id: string }[]
    ).filter((row) => !TASK_ID_PATTERN.test(row.id));
    if (badIds.length > 0)
      problems.push(`task ids out of the pattern: ${JSON.stringify(badIds.slice(0, 5))}`);

    const listed = (await backend.listQueues()).map((queue) => queue.name).sort();
    if (JSON.stringify(listed) !== JSON.stringify(names)) {
      problems.push(
        `listQueues ${JSON.stringify(listed)} is not the queues table ${JSON.stringify(names)}`,
      );
    }

    const counts = db.prepare(
      `SELECT ${STATES.map((state) => `COALESCE(SUM(${STATE_SQL[state]}), 0) AS ${state}`).join(', ')}
       FROM tasks WHERE queue = :queue`,
    );
    for (const name of names) {
      const rows = counts.get({ queue: name, now }) as Record<CountedState, number>;
      const stats = await backend.stats(name);
      for (const state of STATES) {
        if (stats[state] !== rows[state]) {
          problems.push(
            `queue ${name}: stats.${state} is ${stats[state]}, the rows say ${rows[state]}`,
          );
        }
      }
    }
    const tasks = (db.prepare('SELECT COUNT(*) AS n FROM tasks').get() as { n: number }).n;
    return { problems, tasks, queues: names.length };
  } finally {
    db.close();
  }
}
