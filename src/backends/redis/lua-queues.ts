/**
 * The scripts that read tasks (get, list, stats), administer queues and keep tokens, for the
 * Redis backend (keys and helpers in lua-prelude.ts). Reads are scripts too, so each answer
 * is one consistent look at the queue, as a transaction would give.
 */

/** ARGV[3] queue, [4] id. */
export const GET = `
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
local m = redis.call('HGET', qk(q, 'ids'), ARGV[4])
if not m then return {'ok'} end
local t = load(m, true)
return {'ok', view(q, t, t.payload)}
`;

/**
 * ARGV[3] queue, [4] seq to start after, [5] limit, [6] state ('' any), [7] '1' with a tag
 * filter, [8] the tag, [9] '1' with payloads. Returns up to limit + 1 tasks in seq order (one
 * more than the page, so the caller knows whether another page follows). A filter other than
 * `dead` reads the queue in seq order and keeps what matches: its cost grows with the tasks
 * it passes over, as a scan would.
 */
export const LIST = `
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
local after, limit, state = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local tag = nil
if ARGV[7] == '1' then tag = ARGV[8] end
local with_payload = ARGV[9] == '1'
local source = qk(q, 'all')
if state == 'dead' then source = qk(q, 'dead') end
local chunk = limit + 1
if state ~= '' or tag then chunk = 500 end
local function state_of(t)
  if t.dead then return 'dead' end
  if t.eta <= NOW then return 'ready' end
  if t.tok then return 'leased' end
  return 'delayed'
end
local out = {'ok'}
local offset = 0
while #out <= limit + 1 do
  local rows = redis.call('ZRANGE', source, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', offset, chunk)
  for _, m in ipairs(rows) do
    local t = load(m, with_payload)
    if (state == '' or state_of(t) == state) and (not tag or t.tag == tag) then
      out[#out + 1] = view(q, t, t.payload)
      if #out > limit + 1 then break end
    end
  end
  if #rows < chunk then break end
  offset = offset + chunk
end
return out
`;

/**
 * ARGV[3] queue. Counts come from the indexes: ready = ETA reached; of the rest, those with
 * a lease token are leased and the others delayed. Rolls the lease counts forward first.
 */
export const STATS = `
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
roll(q)
local eta = qk(q, 'eta')
local ready = redis.call('ZCOUNT', eta, '-inf', NOW_S)
local waiting = redis.call('ZCOUNT', eta, '(' .. NOW_S, '+inf')
local leased = redis.call('ZCOUNT', qk(q, 'leased'), '(' .. NOW_S, '+inf')
local dead = redis.call('ZCARD', qk(q, 'dead'))
local oldest = redis.call('ZRANGE', eta, 0, 0, 'WITHSCORES')[2] or false
local counts = redis.call('HMGET', qk(q), 'lm', 'lh')
return {'ok', ready, waiting - leased, leased, dead, oldest, counts[1], counts[2]}
`;

/**
 * Deletes every task of queue q with its indexes (not its tombstones or lease counts);
 * returns how many there were. Task hashes go by UNLINK, freed off Redis's main thread.
 */
const DROP_TASKS = `
local function drop_tasks(q)
  local all = qk(q, 'all')
  local count = redis.call('ZCARD', all)
  for start = 0, count - 1, 500 do
    local keys = {}
    for i, m in ipairs(redis.call('ZRANGE', all, start, start + 499)) do keys[i] = tk(m) end
    if #keys > 0 then redis.call('UNLINK', unpack(keys)) end
  end
  for _, tag in ipairs(redis.call('SMEMBERS', qk(q, 'tags'))) do
    redis.call('UNLINK', qk(q, 'tag:' .. tag))
  end
  redis.call('UNLINK', all, qk(q, 'ids'), qk(q, 'eta'), qk(q, 'untagged'), qk(q, 'leased'),
    qk(q, 'dead'), qk(q, 'moved'), qk(q, 'tags'))
  return count
end
`;

/** ARGV[3] queue. */
export const PURGE_QUEUE = `${DROP_TASKS}
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
return {'ok', drop_tasks(q)}
`;

/** ARGV[3] queue. Wakes its long-polls, which then fail with queue_not_found. */
export const DELETE_QUEUE = `${DROP_TASKS}
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
drop_tasks(q)
redis.call('UNLINK', qk(q, 'tombs'), qk(q, 'lm'), qk(q, 'lh'), qk(q))
redis.call('SREM', P .. ':queues', q)
wake(q)
return {'ok'}
`;

/** ARGV[3] queue, [4] maxLeases ('' none), [5] dead-letter queue ('' none), [6] dedup
 * window in seconds, [7] '1' paused. */
export const CREATE_QUEUE = `
local q = ARGV[3]
if queue_info(q) then return {'already_exists'} end
local max_leases, dlq = nil, nil
if ARGV[4] ~= '' then max_leases = tonumber(ARGV[4]) end
if ARGV[5] ~= '' then dlq = ARGV[5] end
return {'ok', info_reply(create_queue(q, max_leases, dlq, tonumber(ARGV[6]), ARGV[7] == '1'))}
`;

/** ARGV[3] queue. */
export const GET_QUEUE = `
local info = queue_info(ARGV[3])
if not info then return {'ok'} end
return {'ok', info_reply(info)}
`;

export const LIST_QUEUES = `
local out = {'ok'}
for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
  local info = queue_info(q)
  if info then out[#out + 1] = info_reply(info) end
end
return out
`;

/**
 * ARGV[3] queue; then maxLeases, dead-letter queue, dedup window, paused, each '-' to keep
 * it, '' for null, or the new value ('0'/'1' for paused). Resuming wakes long-polls.
 */
export const UPDATE_QUEUE = `
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
local function patch(field, value)
  if value == '-' then return end
  if value == '' then redis.call('HDEL', qk(q), field) else redis.call('HSET', qk(q), field, value) end
end
patch('maxLeases', ARGV[4])
patch('dlq', ARGV[5])
patch('dedup', ARGV[6])
patch('paused', ARGV[7])
if ARGV[7] == '0' then wake(q) end
return {'ok', info_reply(queue_info(q))}
`;

/** ARGV[3] name, [4] token hash, [5] the record as JSON. */
export const CREATE_TOKEN = `
if redis.call('HEXISTS', P .. ':tokens', ARGV[3]) == 1 then return 'name_taken' end
if redis.call('HEXISTS', P .. ':token-hashes', ARGV[4]) == 1 then return 'hash_taken' end
redis.call('HSET', P .. ':tokens', ARGV[3], ARGV[5])
redis.call('HSET', P .. ':token-hashes', ARGV[4], ARGV[3])
return 'ok'
`;

/** ARGV[3] token hash. Returns the record's JSON, or nil. */
export const FIND_TOKEN = `
local name = redis.call('HGET', P .. ':token-hashes', ARGV[3])
if not name then return false end
return redis.call('HGET', P .. ':tokens', name)
`;

/** ARGV[3] name. Returns 1 when a token was deleted, 0 when none had that name. */
export const REVOKE_TOKEN = `
local record = redis.call('HGET', P .. ':tokens', ARGV[3])
if not record then return 0 end
redis.call('HDEL', P .. ':token-hashes', cjson.decode(record).tokenHash)
redis.call('HDEL', P .. ':tokens', ARGV[3])
return 1
`;
