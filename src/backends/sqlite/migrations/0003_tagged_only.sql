-- pullq schema, version 3: tasks_by_tag holds tagged tasks only. Most workloads tag nothing,
-- and each untagged task paid for an entry on insert, on every lease (its eta moves) and on
-- ack: leaving them out took a lease + ack of 100 from 1.22-1.33 to 1.12-1.14 ms of CPU
-- (bench/sqlite-backend.ts, docs/decisions.md). The untagged group (groupByTag when the oldest
-- ready task has no tag) is read from tasks_ready instead, among its oldest entries
-- (statements.ts).

DROP INDEX tasks_by_tag;
CREATE INDEX tasks_by_tag ON tasks (queue, tag, eta) WHERE dead = 0 AND tag IS NOT NULL;
