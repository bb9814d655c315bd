/**
 * The Lua helpers every script of the Redis backend starts with: key names, loading a task,
 * keeping its indexes, tombstones, dead letters and lease counts. Each script is this prelude
 * plus its own body (lua-tasks.ts, lua-queues.ts), so one state change is one script: Redis
 * runs it to the end before any other command, which is what makes it atomic.
 *
 * Keys (P is the deployment's prefix, `pullq` unless configured; docs/redis.md has the list):
 * - `P:seq`: the insertion counter. A task's seq, zero-padded to 16 digits, is its member in
 *   every sorted set (m below), so ties of score order by seq, as the Backend rules ask.
 * - `P:t:<m>`: a hash per task: id, named, payload, tag, enq, eta, att, dead, tok, err, from.
 *   A missing field is null (so the empty tag stays a tag).
 * - `P:queues`: the set of queue names; `P:q:<name>`: the queue's hash (created, maxLeases,
 *   dlq, dedup, paused, and the lease counters lm and lh).
 * - per queue `P:q:<name>:...`: `ids` (hash id -> m), `all` (every task by seq), `eta` (tasks
 *   not dead, by ETA), `tag:<tag>` and `untagged` (the same split by tag, for tag leases),
 *   `tags` (the set of tags with a `tag:` key), `leased` (tasks holding a lease token, by
 *   ETA: they are `leased` while it is in the future), `dead` (by seq), `moved` (tasks moved
 *   here as dead letters, by seq), `tombs` (id -> end of its dedup window), `lm`/`lh` (lease
 *   counts of the last minute and the hour before it, as "time:count" entries).
 * - `P:wake`: the pub/sub channel that carries the name of a queue that may have gained a
 *   ready task, to wake long-polls in every process.
 *
 * Time: ARGV[2] is the caller's clock (never Redis TIME), so injected clocks work. Numbers
 * are written with `%.0f` (exact for integers up to 2^53; Lua's own formatting keeps only 14
 * digits).
 */
import { DEFAULT_QUEUE_CONFIG } from '../backend.ts';

const defaults = DEFAULT_QUEUE_CONFIG;

export const LUA_PRELUDE = `
local P = ARGV[1]
local NOW_S = ARGV[2]
local NOW = tonumber(NOW_S)

local function num(x) return string.format('%.0f', x) end
local function pad(seq) return string.format('%016d', seq) end
local function qk(q, part)
  if part then return P .. ':q:' .. q .. ':' .. part end
  return P .. ':q:' .. q
end
local function tk(m) return P .. ':t:' .. m end
local function group_key(q, tag)
  if tag then return qk(q, 'tag:' .. tag) end
  return qk(q, 'untagged')
end

-- Queues ----------------------------------------------------------------------------------

local function queue_info(q)
  local v = redis.call('HMGET', qk(q), 'created', 'maxLeases', 'dlq', 'dedup', 'paused')
  if not v[1] then return nil end
  return {
    name = q, created = v[1], maxLeases = v[2] and tonumber(v[2]) or nil,
    dlq = v[3] or nil, dedup = tonumber(v[4]), paused = v[5] == '1',
  }
end

local function info_reply(info)
  return {info.name, info.created, info.maxLeases and num(info.maxLeases) or false,
    info.dlq or false, num(info.dedup), info.paused and 1 or 0}
end

local function create_queue(q, maxLeases, dlq, dedup, paused)
  local fields = {'created', NOW_S, 'dedup', num(dedup), 'paused', paused and '1' or '0',
    'lm', '0', 'lh', '0'}
  if maxLeases then fields[#fields + 1] = 'maxLeases'; fields[#fields + 1] = num(maxLeases) end
  if dlq then fields[#fields + 1] = 'dlq'; fields[#fields + 1] = dlq end
  redis.call('HSET', qk(q), unpack(fields))
  redis.call('SADD', P .. ':queues', q)
  return queue_info(q)
end

local function ensure_queue(q)
  return queue_info(q) or create_queue(q, ${defaults.maxLeases ?? 'nil'}, ${
    defaults.deadLetterQueue === null ? 'nil' : JSON.stringify(defaults.deadLetterQueue)
  }, ${defaults.dedupWindowSeconds}, ${String(defaults.paused)})
end

local function wake(q) redis.call('PUBLISH', P .. ':wake', q) end

-- Tasks -----------------------------------------------------------------------------------

-- The task's fields (and its payload when asked: leases want it, the rest do not).
local function load(m, with_payload)
  local v = redis.call('HMGET', tk(m), 'id', 'named', 'tag', 'enq', 'eta', 'att', 'dead',
    'tok', 'err', 'from', with_payload and 'payload' or 'id')
  if not v[1] then return nil end
  return {
    m = m, id = v[1], named = v[2] == '1', tag = v[3] or nil, enq = v[4],
    eta = tonumber(v[5]), att = tonumber(v[6]), dead = v[7] == '1', tok = v[8] or nil,
    err = v[9] or nil, from = v[10] or nil, payload = with_payload and v[11] or nil,
  }
end

local function find(q, id)
  local m = redis.call('HGET', qk(q, 'ids'), id)
  if not m then return nil end
  return load(m)
end

-- What the TypeScript side reads back (replies.ts): the task where it is now.
local function view(q, t, payload)
  return {t.m, q, t.id, t.tag or false, t.enq, num(t.eta), num(t.att), t.dead and 1 or 0,
    t.tok and 1 or 0, t.err or false, t.from or false, payload or false}
end

-- Puts a task that is not dead at its ETA in the ETA indexes. lease: 'leased' (it holds a
-- token), 'free' (it may have held one), 'new' (it never did here).
local function place(q, t, lease)
  local s = num(t.eta)
  redis.call('ZADD', qk(q, 'eta'), s, t.m)
  redis.call('ZADD', group_key(q, t.tag), s, t.m)
  if lease == 'leased' then
    redis.call('ZADD', qk(q, 'leased'), s, t.m)
  elseif lease == 'free' then
    redis.call('ZREM', qk(q, 'leased'), t.m)
  end
end

local function unplace(q, t)
  redis.call('ZREM', qk(q, 'eta'), t.m)
  local group = group_key(q, t.tag)
  redis.call('ZREM', group, t.m)
  if t.tag and redis.call('EXISTS', group) == 0 then redis.call('SREM', qk(q, 'tags'), t.tag) end
  redis.call('ZREM', qk(q, 'leased'), t.m)
end

-- Adds a task (its hash written, not dead, no lease) to the indexes of queue q.
local function enter(q, t)
  redis.call('HSET', qk(q, 'ids'), t.id, t.m)
  redis.call('ZADD', qk(q, 'all'), t.m, t.m)
  if t.from then redis.call('ZADD', qk(q, 'moved'), t.m, t.m) end
  if t.tag then redis.call('SADD', qk(q, 'tags'), t.tag) end
  place(q, t, 'new')
end

-- Takes a task out of the indexes of queue q (its hash is left to the caller).
local function leave(q, t)
  redis.call('HDEL', qk(q, 'ids'), t.id)
  redis.call('ZREM', qk(q, 'all'), t.m)
  if t.from then redis.call('ZREM', qk(q, 'moved'), t.m) end
  if t.dead then redis.call('ZREM', qk(q, 'dead'), t.m) else unplace(q, t) end
end

-- A caller-chosen id stays refused for the queue's dedup window once its task is gone.
-- Expired tombstones are dropped here, where new ones are written.
local function tombstone(q, info, id)
  local key = qk(q, 'tombs')
  redis.call('ZREMRANGEBYSCORE', key, '-inf', NOW_S)
  redis.call('ZADD', key, num(NOW + info.dedup * 1000), id)
end

local function tombstoned(q, id)
  local ends = redis.call('ZSCORE', qk(q, 'tombs'), id)
  return ends and tonumber(ends) > NOW
end

-- Does (kind, value) name the lease the task holds now? kind 't': its token; 'e': the end
-- of its lease (the v1beta2 leaseTimestamp), valid only while that lease runs.
local function matches(t, kind, value)
  if not t.tok then return false end
  if kind == 't' then return value == t.tok end
  return tonumber(value) == t.eta and t.eta > NOW
end

-- Moves a task into queue target (created with defaults when missing) as a new ready task:
-- a new seq, no lease, attempts 0; its id unless target has that id (then salt .. seq). The
-- caller took it out of its queue's indexes and set t.err and t.from as they should end up.
local function move_into(target, t, salt)
  ensure_queue(target)
  local seq = redis.call('INCR', P .. ':seq')
  local m = pad(seq)
  local id = t.id
  if redis.call('HEXISTS', qk(target, 'ids'), id) == 1 then id = salt .. seq end
  redis.call('RENAME', tk(t.m), tk(m))
  local fields = {'id', id, 'eta', NOW_S, 'att', '0', 'dead', '0'}
  if t.err then fields[#fields + 1] = 'err'; fields[#fields + 1] = t.err end
  if t.from then fields[#fields + 1] = 'from'; fields[#fields + 1] = t.from end
  redis.call('HSET', tk(m), unpack(fields))
  if t.from then redis.call('HDEL', tk(m), 'tok') else redis.call('HDEL', tk(m), 'tok', 'from') end
  t.m = m; t.id = id; t.eta = NOW; t.att = 0; t.dead = false; t.tok = nil
  enter(target, t)
  wake(target)
  return view(target, t)
end

-- Moves a task out of the running: to the queue's dead-letter queue, or to the dead state
-- in place. It keeps the note it has, else gets this one. Returns its view where it ends.
local function dead_letter(q, info, t, note, salt)
  t.err = t.err or note
  if not info.dlq then
    unplace(q, t)
    redis.call('HSET', tk(t.m), 'dead', '1', 'eta', NOW_S, 'err', t.err)
    redis.call('HDEL', tk(t.m), 'tok')
    redis.call('ZADD', qk(q, 'dead'), t.m, t.m)
    t.dead = true; t.tok = nil; t.eta = NOW
    return view(q, t)
  end
  leave(q, t)
  if t.named then tombstone(q, info, t.id) end
  t.from = q
  return move_into(info.dlq, t, salt)
end

-- Lease counts ----------------------------------------------------------------------------
-- Exact counts of the leases of the last minute and hour at millisecond resolution, in
-- memory bounded by the distinct lease times of the last hour: entries "time:count" join
-- lm, pass to lh once a minute old and are dropped once an hour old; the queue hash keeps
-- each list's total. (Ordered by time as long as the clocks of the writers agree.)

local function entry(text)
  local at, count = string.match(text, '^(%d+):(%d+)$')
  return tonumber(at), tonumber(count)
end

local function roll(q)
  local lm, lh = qk(q, 'lm'), qk(q, 'lh')
  local moved, dropped = 0, 0
  while true do
    local head = redis.call('LINDEX', lm, 0)
    if not head then break end
    local at, count = entry(head)
    if at > NOW - 60000 then break end
    redis.call('LPOP', lm)
    redis.call('RPUSH', lh, head)
    moved = moved + count
  end
  while true do
    local head = redis.call('LINDEX', lh, 0)
    if not head then break end
    local at, count = entry(head)
    if at > NOW - 3600000 then break end
    redis.call('LPOP', lh)
    dropped = dropped + count
  end
  if moved > 0 then redis.call('HINCRBY', qk(q), 'lm', -moved) end
  if moved ~= dropped then redis.call('HINCRBY', qk(q), 'lh', moved - dropped) end
end

local function count_leases(q, count)
  local lm = qk(q, 'lm')
  local tail = redis.call('LINDEX', lm, -1)
  local at, before = nil, 0
  if tail then at, before = entry(tail) end
  if at == NOW then
    redis.call('LSET', lm, -1, NOW_S .. ':' .. num(before + count))
  else
    redis.call('RPUSH', lm, NOW_S .. ':' .. num(count))
  end
  redis.call('HINCRBY', qk(q), 'lm', count)
  roll(q)
end
`;
