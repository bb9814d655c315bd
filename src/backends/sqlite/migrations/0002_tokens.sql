-- pullq schema, version 2: access tokens (src/auth/tokens.ts). Only each token's SHA-256 is
-- stored; the token itself is shown once, when it is made, and kept nowhere.

CREATE TABLE tokens (
  name TEXT PRIMARY KEY,
  -- UNIQUE is also the index of the lookup every authenticated request makes.
  token_hash TEXT NOT NULL UNIQUE,
  -- Comma-separated, in the order producer, consumer, admin.
  roles TEXT NOT NULL,
  queue_pattern TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
