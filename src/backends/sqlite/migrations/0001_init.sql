-- pullq schema, version 1. Times are milliseconds since the epoch (INTEGER).

CREATE TABLE queues (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  max_leases INTEGER,
  dead_letter_queue TEXT,
  dedup_window_seconds INTEGER NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0
);

-- seq is the rowid: AUTOINCREMENT so a seq is never reused, even after the newest task is
-- deleted (a list cursor names a seq; a reused one would hide the next task from it).
-- The payload is the last column: SQLite reads a row's columns in order, so the small ones
-- come from the row's first page and a large payload's overflow pages are read only when
-- the payload is asked for.
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  named INTEGER NOT NULL,
  tag TEXT,
  enqueued_at INTEGER NOT NULL,
  eta INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  dead INTEGER NOT NULL DEFAULT 0,
  lease_token TEXT,
  last_error TEXT,
  dead_lettered_from TEXT,
  payload BLOB NOT NULL
);

-- Ids are unique per queue; also the lookup of ack, extend, release, get and delete.
CREATE UNIQUE INDEX tasks_by_id ON tasks (queue, id);

-- Lease order. An index on a rowid table ends with the rowid, so entries run in
-- (queue, eta, seq) order: a lease reads the first n entries at or before now and never
-- sorts, whatever the backlog. Dead tasks are left out: they are never leased.
CREATE INDEX tasks_ready ON tasks (queue, eta) WHERE dead = 0;

-- Lease of one tag, and of the group of the oldest ready task (groupByTag). Untagged tasks
-- are in it too (tag NULL), so the untagged group is one range of it as well, rather than a
-- filter through every tagged task ahead of it. Leaving NULL tags out would spare untagged
-- workloads its upkeep, but measured within the noise (under 10% of a lease or an ack).
CREATE INDEX tasks_by_tag ON tasks (queue, tag, eta) WHERE dead = 0;

-- List order (insertion order) and its cursors: without it a page of a big queue sorts the
-- whole queue. Its upkeep on insert and ack measured within the noise.
CREATE INDEX tasks_by_seq ON tasks (queue, seq);

-- Dead tasks and dead letters, for redrive, the dead list and the dead count; few rows.
CREATE INDEX tasks_dead ON tasks (queue) WHERE dead = 1 OR dead_lettered_from IS NOT NULL;

CREATE TABLE tombstones (
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, id)
) WITHOUT ROWID;

-- Pruning of expired tombstones.
CREATE INDEX tombstones_by_expiry ON tombstones (expires_at);

-- How many tasks each lease call handed out, by the time of the call (ms): leasedLastMinute
-- and leasedLastHour count rows newer than now - 60 s and now - 1 h. One upsert per lease
-- call; rows older than an hour are pruned.
CREATE TABLE lease_counts (
  queue TEXT NOT NULL,
  at INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (queue, at)
) WITHOUT ROWID;
