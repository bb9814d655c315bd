-- pullq schema for PostgreSQL, version 1. It runs with search_path set to the backend's
-- schema (`pullq` unless configured), so names here are unqualified. Times are milliseconds
-- since the epoch (bigint), always passed in by pullq from its clock, never now().

CREATE TABLE queues (
  name text PRIMARY KEY,
  created_at bigint NOT NULL,
  max_leases integer,
  dead_letter_queue text,
  dedup_window_seconds integer NOT NULL,
  paused boolean NOT NULL DEFAULT false
);

-- The hot table: a row per task that is not yet acked or deleted. Acked tasks leave it (a
-- DELETE), so its size is the backlog, not the history.
-- seq is the insertion order (ties of ETA are broken by it) and the list cursor. It comes
-- from a sequence, so it is never reused.
-- There is no foreign key to queues: its check would lock the queue row once per inserted
-- task. Instead an insert locks the queue row once (FOR KEY SHARE) and deleteQueue locks it
-- FOR UPDATE, so no task is ever left behind in a deleted queue.
CREATE TABLE tasks (
  queue text NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text NOT NULL,
  named boolean NOT NULL,
  tag text,
  enqueued_at bigint NOT NULL,
  eta bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  dead boolean NOT NULL DEFAULT false,
  lease_token text,
  last_error text,
  dead_lettered_from text,
  payload bytea NOT NULL,
  -- List order (insertion order) and its cursors, and the key every update uses.
  PRIMARY KEY (queue, seq)
);

-- Ids are unique per queue; also the lookup of ack, extend, release, get and delete.
CREATE UNIQUE INDEX tasks_by_id ON tasks (queue, id);

-- Lease order. A lease reads the first entries at or before now and stops after its batch
-- (FOR UPDATE SKIP LOCKED skips the ones another lease holds), whatever the backlog. Dead
-- tasks are left out: they are never leased.
CREATE INDEX tasks_ready ON tasks (queue, eta, seq) WHERE NOT dead;

-- Lease of one tag. Untagged tasks are left out: every lease of an untagged task rewrites
-- its index entries (the ETA changes), so an entry here would cost every untagged workload
-- on each lease; the untagged group of groupByTag reads tasks_ready instead.
CREATE INDEX tasks_by_tag ON tasks (queue, tag, eta, seq) WHERE NOT dead AND tag IS NOT NULL;

-- Dead tasks and dead letters, for redrive, the dead list and the dead count; few rows.
CREATE INDEX tasks_dead ON tasks (queue, seq) WHERE dead OR dead_lettered_from IS NOT NULL;

-- A queue table turns over its rows all day: vacuum it after 1% of its rows changed rather
-- than the default 20%, so dead index entries at the head of tasks_ready are cleaned while
-- they are few.
ALTER TABLE tasks SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_insert_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.02
);

-- A caller-chosen id that was acked or deleted stays refused until expires_at.
CREATE TABLE tombstones (
  queue text NOT NULL,
  id text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (queue, id)
);

-- Pruning of expired tombstones.
CREATE INDEX tombstones_by_expiry ON tombstones (expires_at);

-- How many tasks each lease call handed out, by the time of the call (ms): leasedLastMinute
-- and leasedLastHour count rows newer than now - 60 s and now - 1 h. One upsert per lease
-- call; rows older than an hour are pruned.
CREATE TABLE lease_counts (
  queue text NOT NULL,
  at bigint NOT NULL,
  n integer NOT NULL,
  PRIMARY KEY (queue, at)
);

-- Access tokens (src/auth/tokens.ts). Only each token's SHA-256 is stored.
CREATE TABLE tokens (
  name text PRIMARY KEY,
  -- UNIQUE is also the index of the lookup every authenticated request makes.
  token_hash text NOT NULL UNIQUE,
  -- Comma-separated, in the order producer, consumer, admin.
  roles text NOT NULL,
  queue_pattern text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint
);
