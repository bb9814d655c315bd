/**
 * The SQL of the PostgreSQL backend, built once per backend with its schema in every table
 * name (so no statement depends on search_path). Times are parameters from the backend's clock, never
 * now(). Batch verbs pass their items as arrays and unnest them: a batch of 100 is one round
 * trip, not 100.
 *
 * Locking, in short (each choice is explained where it is made):
 * - A lease takes its rows with FOR UPDATE SKIP LOCKED: concurrent leases, on any server,
 *   skip each other's rows instead of waiting, and never hand out a task twice.
 * - An insert (and a move into a queue) locks the queue row FOR KEY SHARE, deleteQueue locks
 *   it FOR UPDATE: a queue is never deleted under a task being put into it. updateQueue locks
 *   it FOR NO KEY UPDATE, which inserts do not wait for; leases and acks take no lock on it.
 */
import type { Statement } from './database.ts';
import { META } from './rows.ts';

/**
 * The lease of `max` tasks in one statement, when no candidate is past maxLeases. Rows are
 * updated by `seq = ANY(array)` on the primary key: joining the picked rows back to tasks
 * let the planner choose a hash join over a scan of the whole queue (EXPLAIN, 20,000 tasks).
 * Each leased row gets the token at its position in the lease order, which comes back as `n`.
 *
 * When it leases nothing it returns one row instead, `n` = 0, whose `id` says why: `missing`
 * (no such queue), `paused`, `limited` (a candidate is past maxLeases: the slow path
 * dead-letters it) or `empty`. An idle long-poll looks again every 250 ms: one round trip a
 * look rather than two.
 */
function fastLease(s: string, tagged: boolean): string {
  return `WITH q AS (
      SELECT paused, max_leases FROM ${s}.queues WHERE name = $1
    ), picked AS (
      SELECT seq, eta, attempts FROM ${s}.tasks
      WHERE queue = $1 AND NOT dead AND eta <= $2 ${tagged ? 'AND tag = $6' : ''}
        AND EXISTS (SELECT 1 FROM q WHERE NOT paused)
      ORDER BY eta, seq LIMIT $3
      FOR UPDATE SKIP LOCKED
    ), limited AS (
      SELECT EXISTS (SELECT 1 FROM picked p, q WHERE p.attempts >= q.max_leases) AS yes
    ), chosen AS (
      SELECT array_agg(seq ORDER BY eta, seq) AS seqs FROM picked
      WHERE NOT (SELECT yes FROM limited)
    ), leased AS (
      UPDATE ${s}.tasks t
      SET attempts = t.attempts + 1, eta = $4,
        lease_token = ($5::text[])[array_position((SELECT seqs FROM chosen), t.seq)]
      WHERE t.queue = $1 AND t.seq = ANY ((SELECT seqs FROM chosen)::bigint[])
      RETURNING array_position((SELECT seqs FROM chosen), t.seq) AS n, t.id, t.tag,
        t.enqueued_at, t.attempts, t.lease_token, t.last_error, t.dead_lettered_from, t.payload
    ), counted AS (
      INSERT INTO ${s}.lease_counts AS c (queue, at, n)
      SELECT $1, $2, count(*) FROM leased HAVING count(*) > 0
      ON CONFLICT (queue, at) DO UPDATE SET n = c.n + excluded.n
    )
    SELECT * FROM leased
    UNION ALL
    SELECT 0, CASE
        WHEN NOT EXISTS (SELECT 1 FROM q) THEN 'missing'
        WHEN (SELECT paused FROM q) THEN 'paused'
        WHEN (SELECT yes FROM limited) THEN 'limited'
        ELSE 'empty' END,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL
    WHERE NOT EXISTS (SELECT 1 FROM leased)
    ORDER BY n`;
}

/** Lease candidates for the slow path (maxLeases, groupByTag), a keyset page from (eta, seq). */
function candidates(s: string, filter: string): string {
  return `SELECT ${META}, payload FROM ${s}.tasks
    WHERE queue = $1 AND NOT dead AND eta <= $2 AND (eta, seq) > ($3, $4) ${filter}
    ORDER BY eta, seq LIMIT $5
    FOR UPDATE SKIP LOCKED`;
}

/**
 * Tasks of a batch of refs with unique ids ($3 ids, $4 tokens, $5 lease ends) whose lease
 * the ref names: by token, or (v1beta2) by the running lease's end, at time $2. `id = ANY`
 * reads tasks_by_id; joining the refs to tasks instead let the planner choose a scan of the
 * whole table (EXPLAIN, 20,000 tasks). A dead task holds no lease, so `lease_token IS NOT
 * NULL` leaves it out; writing `NOT dead` as well made tasks_ready match, and before the
 * first ANALYZE the planner read the whole queue from it.
 */
const LEASED_BY_REFS = `t.queue = $1 AND t.id = ANY ($3::text[]) AND t.lease_token IS NOT NULL
  AND EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[], $5::bigint[]) AS r(id, token, expires)
    WHERE r.id = t.id
      AND (t.lease_token = r.token OR (r.token IS NULL AND t.eta = r.expires AND t.eta > $2)))`;

/** The position of a row's seq in the array $n: where its own values are in the others. */
const AT = (n: number): string => `array_position($${n}::bigint[], t.seq)`;

export type ListState = 'all' | 'ready' | 'delayed' | 'leased' | 'dead';

export function buildStatements(schema: string) {
  const s = `"${schema}"`;
  const named = (name: string, text: string): Statement => ({ name: `pullq_${name}`, text });
  return {
    queueGet: named('queue_get', `SELECT * FROM ${s}.queues WHERE name = $1`),
    queueCreate: named(
      'queue_create',
      `INSERT INTO ${s}.queues
        (name, created_at, max_leases, dead_letter_queue, dedup_window_seconds, paused)
      VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING *`,
    ),
    /** Creates a queue with default settings if it is missing, for a move into it. */
    queueEnsure: named(
      'queue_ensure',
      `INSERT INTO ${s}.queues (name, created_at, dedup_window_seconds) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO NOTHING`,
    ),
    queueKeyShare: named(
      'queue_key_share',
      `SELECT name FROM ${s}.queues WHERE name = $1 FOR KEY SHARE`,
    ),
    /** For deleteQueue: waits for inserts into the queue, and holds off new ones. */
    queueLock: named('queue_lock', `SELECT * FROM ${s}.queues WHERE name = $1 FOR UPDATE`),
    /** For updateQueue: one change of settings at a time; inserts go on. */
    queueLockSettings: named(
      'queue_lock_settings',
      `SELECT * FROM ${s}.queues WHERE name = $1 FOR NO KEY UPDATE`,
    ),
    queueUpdate: named(
      'queue_update',
      `UPDATE ${s}.queues
      SET max_leases = $2, dead_letter_queue = $3, dedup_window_seconds = $4, paused = $5
      WHERE name = $1`,
    ),
    queueDelete: named(
      'queue_delete',
      `WITH t AS (DELETE FROM ${s}.tasks WHERE queue = $1),
        s AS (DELETE FROM ${s}.tombstones WHERE queue = $1),
        c AS (DELETE FROM ${s}.lease_counts WHERE queue = $1)
      DELETE FROM ${s}.queues WHERE name = $1`,
    ),
    // COLLATE "C": names sort by code point, as everywhere else in pullq, not by the
    // database's locale.
    queueList: named('queue_list', `SELECT * FROM ${s}.queues ORDER BY name COLLATE "C"`),
    purge: named(
      'purge',
      `WITH q AS (SELECT name FROM ${s}.queues WHERE name = $1),
        gone AS (DELETE FROM ${s}.tasks WHERE queue = $1 AND EXISTS (SELECT 1 FROM q) RETURNING 1)
      SELECT EXISTS (SELECT 1 FROM q) AS queue_found, (SELECT count(*) FROM gone) AS n`,
    ),

    /**
     * Inserts a batch: $3..$7 are the tasks' ids, named flags, tags, ETAs and payloads. An id
     * that is live or tombstoned is skipped (ON CONFLICT DO NOTHING, NOT EXISTS): the rows are
     * inserted in batch order, so of two items with one id the first wins, as in memory.ts.
     * With $8 the queue is created first ($9: its dedup window).
     */
    insert: named(
      'insert',
      `WITH made AS (
        INSERT INTO ${s}.queues (name, created_at, dedup_window_seconds)
        SELECT $1, $2, $9 WHERE $8::boolean
        ON CONFLICT (name) DO NOTHING RETURNING name
      ), locked AS (
        SELECT name FROM ${s}.queues WHERE name = $1 FOR KEY SHARE
      ), q AS (
        SELECT name FROM locked UNION ALL SELECT name FROM made
      ), ins AS (
        INSERT INTO ${s}.tasks (queue, id, named, tag, enqueued_at, eta, payload)
        SELECT $1, u.id, u.named, u.tag, $2, u.eta, u.payload
        FROM unnest($3::text[], $4::boolean[], $5::text[], $6::bigint[], $7::bytea[])
          WITH ORDINALITY AS u(id, named, tag, eta, payload, ord)
        WHERE EXISTS (SELECT 1 FROM q) AND NOT EXISTS (
          SELECT 1 FROM ${s}.tombstones b WHERE b.queue = $1 AND b.id = u.id AND b.expires_at > $2)
        ORDER BY u.ord
        ON CONFLICT (queue, id) DO NOTHING
        RETURNING id, eta
      )
      SELECT EXISTS (SELECT 1 FROM q) AS queue_found, array(SELECT id FROM ins) AS ids,
        EXISTS (SELECT 1 FROM ins WHERE eta <= $2) AS ready`,
    ),
    /** Why some ids of a batch were refused or failed: live tasks among them, and whether the
     * queue exists. */
    liveIds: named(
      'live_ids',
      `SELECT EXISTS (SELECT 1 FROM ${s}.queues WHERE name = $1) AS queue_found,
        array(SELECT id FROM ${s}.tasks WHERE queue = $1 AND id = ANY($2::text[])) AS ids`,
    ),

    leaseFast: named('lease_fast', fastLease(s, false)),
    leaseFastOfTag: named('lease_fast_tag', fastLease(s, true)),
    firstReadyTag: named(
      'first_ready_tag',
      `SELECT tag FROM ${s}.tasks WHERE queue = $1 AND NOT dead AND eta <= $2
      ORDER BY eta, seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
    ),
    candidates: named('candidates', candidates(s, '')),
    candidatesOfTag: named('candidates_tag', candidates(s, 'AND tag = $6')),
    // The untagged group reads tasks_ready (tasks_by_tag leaves NULL tags out).
    candidatesUntagged: named('candidates_untagged', candidates(s, 'AND tag IS NULL')),
    leaseRows: named(
      'lease_rows',
      `UPDATE ${s}.tasks t SET attempts = t.attempts + 1, eta = $2,
        lease_token = ($4::text[])[${AT(3)}]
      WHERE t.queue = $1 AND t.seq = ANY ($3::bigint[])`,
    ),
    countLeases: named(
      'count_leases',
      `INSERT INTO ${s}.lease_counts AS c (queue, at, n) VALUES ($1, $2, $3)
      ON CONFLICT (queue, at) DO UPDATE SET n = c.n + excluded.n`,
    ),
    pruneLeaseCounts: named(
      'prune_lease_counts',
      `DELETE FROM ${s}.lease_counts WHERE queue = $1 AND at <= $2`,
    ),

    /** Acks a batch of refs with unique ids ($3..$5, see LEASED_BY_REFS) at time $2; named tasks leave a
     * tombstone for the queue's dedup window. */
    ack: named(
      'ack',
      `WITH q AS (SELECT dedup_window_seconds FROM ${s}.queues WHERE name = $1),
      gone AS (
        DELETE FROM ${s}.tasks t WHERE ${LEASED_BY_REFS}
        RETURNING t.id, t.named
      ), stones AS (
        INSERT INTO ${s}.tombstones AS b (queue, id, expires_at)
        SELECT $1, gone.id, $2 + q.dedup_window_seconds * 1000::bigint FROM gone, q
        WHERE gone.named
        ON CONFLICT (queue, id) DO UPDATE SET expires_at = excluded.expires_at
      )
      SELECT array(SELECT id FROM gone) AS ids`,
    ),
    /** Sets the lease of a batch of refs with unique ids to end at $6. */
    extend: named(
      'extend',
      `UPDATE ${s}.tasks t SET eta = $6 WHERE ${LEASED_BY_REFS}
      RETURNING ${META.replace(/(\w+)/g, 't.$1')}`,
    ),
    /** The tasks of a batch of ids, locked for the rest of the transaction. */
    lockTasks: named(
      'lock_tasks',
      `SELECT ${META} FROM ${s}.tasks WHERE queue = $1 AND id = ANY($2::text[]) FOR UPDATE`,
    ),
    releaseRows: named(
      'release_rows',
      `UPDATE ${s}.tasks t SET lease_token = NULL, eta = ($3::bigint[])[${AT(2)}],
        last_error = ($4::text[])[${AT(2)}]
      WHERE t.queue = $1 AND t.seq = ANY ($2::bigint[])`,
    ),
    markDead: named(
      'mark_dead',
      `UPDATE ${s}.tasks SET dead = true, lease_token = NULL, eta = $3, last_error = $4
      WHERE queue = $1 AND seq = $2`,
    ),
    /**
     * Moves task ($1, $2) into queue $3 as a new ready task (new seq, attempts 0, ETA $5),
     * under its id unless $3 has that id already ($4 then). The payload never leaves the
     * database.
     */
    move: named(
      'move',
      `WITH gone AS (DELETE FROM ${s}.tasks WHERE queue = $1 AND seq = $2 RETURNING *)
      INSERT INTO ${s}.tasks (queue, id, named, tag, enqueued_at, eta, attempts, dead,
        lease_token, last_error, dead_lettered_from, payload)
      SELECT $3,
        CASE WHEN EXISTS (SELECT 1 FROM ${s}.tasks WHERE queue = $3 AND id = gone.id)
          THEN $4 ELSE gone.id END,
        named, tag, enqueued_at, $5, 0, false, NULL, $6, $7, payload
      FROM gone RETURNING id`,
    ),
    tombstoneSet: named(
      'tombstone_set',
      `INSERT INTO ${s}.tombstones (queue, id, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (queue, id) DO UPDATE SET expires_at = excluded.expires_at`,
    ),
    /** Deletes tasks $2 whatever their state; named ones leave a tombstone. Also says which of
     * the ids were tombstoned before (deleting one again succeeds within the window). */
    delete: named(
      'delete',
      `WITH q AS (SELECT dedup_window_seconds FROM ${s}.queues WHERE name = $1),
      gone AS (
        DELETE FROM ${s}.tasks WHERE queue = $1 AND id = ANY($2::text[]) RETURNING id, named
      ), stones AS (
        INSERT INTO ${s}.tombstones AS b (queue, id, expires_at)
        SELECT $1, gone.id, $3 + q.dedup_window_seconds * 1000::bigint FROM gone, q
        WHERE gone.named
        ON CONFLICT (queue, id) DO UPDATE SET expires_at = excluded.expires_at
      )
      SELECT EXISTS (SELECT 1 FROM q) AS queue_found, array(SELECT id FROM gone) AS ids,
        array(SELECT id FROM ${s}.tombstones
          WHERE queue = $1 AND id = ANY($2::text[]) AND expires_at > $3) AS tombstoned`,
    ),
    pruneTombstones: named(
      'prune_tombstones',
      `DELETE FROM ${s}.tombstones WHERE (queue, id) IN
        (SELECT queue, id FROM ${s}.tombstones WHERE expires_at <= $1 LIMIT $2)`,
    ),
    redriveCandidates: named(
      'redrive_candidates',
      `SELECT ${META} FROM ${s}.tasks
      WHERE queue = $1 AND (dead OR dead_lettered_from IS NOT NULL) ORDER BY seq FOR UPDATE`,
    ),
    revive: named(
      'revive',
      `UPDATE ${s}.tasks SET dead = false, eta = $2, attempts = 0, lease_token = NULL
      WHERE queue = $1 AND seq = ANY($3::bigint[])`,
    ),
    /** Wakes the long-polls of queues $2 on every server (notifier.ts): a transaction of its
     * own, which need not wait for a WAL flush. */
    notify: named(
      'notify',
      `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, q)
      FROM unnest($2::text[]) AS q`,
    ),

    get: named(
      'get',
      `SELECT q.name AS queue_name, t.* FROM ${s}.queues q
      LEFT JOIN ${s}.tasks t ON t.queue = $1 AND t.id = $2 WHERE q.name = $1`,
    ),
    stats: named(
      'stats',
      `SELECT r.n AS ready, r.oldest AS oldest_ready, w.delayed, w.leased,
        w.oldest AS oldest_waiting, d.n AS dead, l.minute, l.hour
      FROM ${s}.queues q,
        LATERAL (SELECT count(*) AS n, min(eta) AS oldest FROM ${s}.tasks
          WHERE queue = $1 AND NOT dead AND eta <= $2) r,
        LATERAL (SELECT count(*) FILTER (WHERE lease_token IS NULL) AS delayed,
            count(*) FILTER (WHERE lease_token IS NOT NULL) AS leased, min(eta) AS oldest
          FROM ${s}.tasks WHERE queue = $1 AND NOT dead AND eta > $2) w,
        LATERAL (SELECT count(*) AS n FROM ${s}.tasks
          WHERE queue = $1 AND (dead OR dead_lettered_from IS NOT NULL) AND dead) d,
        LATERAL (SELECT COALESCE(sum(n) FILTER (WHERE at > $3), 0) AS minute,
            COALESCE(sum(n), 0) AS hour
          FROM ${s}.lease_counts WHERE queue = $1 AND at > $4) l
      WHERE q.name = $1`,
    ),
    /**
     * A page of a queue in seq order after seq $2, filtered by state and tag; the queue's row
     * comes back (with NULL task columns) even when the page is empty, so a missing queue is
     * told from an empty one in the same statement.
     * Parameters: queue, after, limit, then now (for ready, delayed and leased), then tag.
     */
    list(state: ListState, tagged: boolean, withPayload: boolean): Statement {
      const timed = state === 'ready' || state === 'delayed' || state === 'leased';
      const where = {
        all: '',
        ready: 'AND NOT dead AND eta <= $4',
        delayed: 'AND NOT dead AND eta > $4 AND lease_token IS NULL',
        leased: 'AND NOT dead AND eta > $4 AND lease_token IS NOT NULL',
        dead: 'AND (dead OR dead_lettered_from IS NOT NULL) AND dead',
      }[state];
      const tag = tagged ? `AND tag = $${timed ? 5 : 4}` : '';
      return named(
        `list_${state}_${tagged}_${withPayload}`,
        `SELECT t.* FROM ${s}.queues q LEFT JOIN LATERAL (
          SELECT ${META}${withPayload ? ', payload' : ''} FROM ${s}.tasks
          WHERE queue = $1 AND seq > $2 ${where} ${tag}
          ORDER BY seq LIMIT $3
        ) t ON true WHERE q.name = $1`,
      );
    },
  };
}

export type Statements = ReturnType<typeof buildStatements>;
