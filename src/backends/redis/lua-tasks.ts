/**
 * The scripts that change tasks: one per verb, each run whole by Redis (see lua-prelude.ts
 * for the keys and helpers). Arguments after ARGV[1] (prefix) and ARGV[2] (now) are listed
 * above each; a reply starts with 'ok', or with an error code for the whole call
 * ('queue_not_found'). Per-item outcomes are codes: 'ok', 'not_found', 'lease_lost',
 * 'live' and 'tomb' (the id is taken by a task, or by a tombstone).
 */

/** ARGV[3] queue, [4] '1' to create it; then per task: id, named, has tag, tag, eta, payload. */
export const INSERT = `
local q = ARGV[3]
if not queue_info(q) then
  if ARGV[4] ~= '1' then return {'queue_not_found'} end
  ensure_queue(q)
end
local out = {'ok'}
for i = 5, #ARGV, 6 do
  local id, named = ARGV[i], ARGV[i + 1] == '1'
  local status = 'ok'
  if named then
    if redis.call('HEXISTS', qk(q, 'ids'), id) == 1 then
      status = 'live'
    elseif tombstoned(q, id) then
      status = 'tomb'
    else
      redis.call('ZREM', qk(q, 'tombs'), id)
    end
  end
  if status == 'ok' then
    local t = {m = pad(redis.call('INCR', P .. ':seq')), id = id, eta = tonumber(ARGV[i + 4])}
    if ARGV[i + 2] == '1' then t.tag = ARGV[i + 3] end
    local fields = {'id', id, 'named', named and '1' or '0', 'payload', ARGV[i + 5],
      'enq', NOW_S, 'eta', ARGV[i + 4], 'att', '0', 'dead', '0'}
    if t.tag then fields[#fields + 1] = 'tag'; fields[#fields + 1] = t.tag end
    redis.call('HSET', tk(t.m), unpack(fields))
    enter(q, t)
  end
  out[#out + 1] = status
end
wake(q)
return out
`;

/**
 * ARGV[3] queue, [4] max, [5] lease length in ms, [6] 'all' | 'tag' | 'group', [7] the tag,
 * [8] max lease tokens of 16 characters back to back, [9] a salt for ids of moved tasks.
 *
 * Candidates come in ETA-then-seq order from the index, a page at a time; a task leased for
 * 0 ms stays in the ready range (its new ETA is now), so pages ask for that many more and
 * `seen` keeps it from being leased twice. Tasks past the queue's maxLeases are dead-lettered
 * on the way and do not count, as in memory.ts.
 */
export const LEASE = `
local q = ARGV[3]
local max, lease_ms, mode = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local tokens, salt = ARGV[8], ARGV[9]
local info = queue_info(q)
if not info then return {'queue_not_found'} end
if info.paused then return {'ok'} end
local index = qk(q, 'eta')
if mode == 'tag' then
  index = group_key(q, ARGV[7])
elseif mode == 'group' then
  local first = redis.call('ZRANGE', index, '-inf', NOW_S, 'BYSCORE', 'LIMIT', 0, 1)[1]
  if not first then return {'ok'} end
  index = group_key(q, redis.call('HGET', tk(first), 'tag') or nil)
end
local ends = NOW + lease_ms
local out = {'ok'}
local leased, zero, seen = 0, 0, {}
while leased < max do
  local asked = max - leased + zero
  local rows = redis.call('ZRANGE', index, '-inf', NOW_S, 'BYSCORE', 'LIMIT', 0, asked)
  local fresh = false
  for _, m in ipairs(rows) do
    if not seen[m] then
      seen[m] = true
      fresh = true
      local t = load(m, true)
      if info.maxLeases and t.att >= info.maxLeases then
        dead_letter(q, info, t, 'leased ' .. num(t.att) .. " times, the queue's maxLeases", salt)
      else
        leased = leased + 1
        t.att = t.att + 1
        t.eta = ends
        t.tok = string.sub(tokens, leased * 16 - 15, leased * 16)
        redis.call('HSET', tk(m), 'att', num(t.att), 'eta', num(ends), 'tok', t.tok)
        place(q, t, 'leased')
        if ends <= NOW then zero = zero + 1 end
        out[#out + 1] = {t.id, t.tag or false, t.enq, num(ends), num(t.att), t.err or false,
          t.from or false, t.payload, t.tok}
        if leased >= max then break end
      end
    end
  end
  if not fresh or #rows < asked then break end
end
if leased > 0 then count_leases(q, leased) end
return out
`;

/** ARGV[3] queue; then per ref: id, fence kind ('t' token, 'e' lease end), value. */
export const ACK = `
local q = ARGV[3]
local info = queue_info(q)
if not info then return {'queue_not_found'} end
local out = {'ok'}
for i = 4, #ARGV, 3 do
  local t = find(q, ARGV[i])
  if not t then
    out[#out + 1] = 'not_found'
  elseif t.dead or not matches(t, ARGV[i + 1], ARGV[i + 2]) then
    out[#out + 1] = 'lease_lost'
  else
    leave(q, t)
    redis.call('UNLINK', tk(t.m))
    if t.named then tombstone(q, info, t.id) end
    out[#out + 1] = 'ok'
  end
end
return out
`;

/** ARGV[3] queue, [4] lease length in ms; then per ref: id, fence kind, value. */
export const EXTEND = `
local q = ARGV[3]
if not queue_info(q) then return {'queue_not_found'} end
local ends = NOW + tonumber(ARGV[4])
local out = {'ok'}
for i = 5, #ARGV, 3 do
  local t = find(q, ARGV[i])
  if not t then
    out[#out + 1] = {'not_found'}
  elseif t.dead or not matches(t, ARGV[i + 1], ARGV[i + 2]) then
    out[#out + 1] = {'lease_lost'}
  else
    t.eta = ends
    redis.call('HSET', tk(t.m), 'eta', num(ends))
    place(q, t, 'leased')
    out[#out + 1] = {'ok', view(q, t)}
  end
end
return out
`;

/**
 * ARGV[3] queue, [4] salt for ids of moved tasks; then per release: id, fence kind, value,
 * delay in ms, '1' if it leaves a note, the note, '1' to dead-letter.
 */
export const RELEASE = `
local q, salt = ARGV[3], ARGV[4]
local info = queue_info(q)
if not info then return {'queue_not_found'} end
local out = {'ok'}
for i = 5, #ARGV, 7 do
  local t = find(q, ARGV[i])
  if not t then
    out[#out + 1] = {'not_found'}
  elseif t.dead or not matches(t, ARGV[i + 1], ARGV[i + 2]) then
    out[#out + 1] = {'lease_lost'}
  else
    if ARGV[i + 4] == '1' then
      t.err = ARGV[i + 5]
      redis.call('HSET', tk(t.m), 'err', t.err)
    end
    if ARGV[i + 6] == '1' then
      out[#out + 1] = {'ok', dead_letter(q, info, t, 'rejected by the consumer', salt)}
    else
      t.tok = nil
      t.eta = NOW + tonumber(ARGV[i + 3])
      redis.call('HSET', tk(t.m), 'eta', num(t.eta))
      redis.call('HDEL', tk(t.m), 'tok')
      place(q, t, 'free')
      out[#out + 1] = {'ok', view(q, t)}
    end
  end
end
wake(q)
return out
`;

/** ARGV[3] queue; then ids. Deleting an id again within its dedup window succeeds. */
export const DELETE = `
local q = ARGV[3]
local info = queue_info(q)
if not info then return {'queue_not_found'} end
local out = {'ok'}
for i = 4, #ARGV do
  local t = find(q, ARGV[i])
  if t then
    leave(q, t)
    redis.call('UNLINK', tk(t.m))
    if t.named then tombstone(q, info, t.id) end
    out[#out + 1] = 'ok'
  elseif tombstoned(q, ARGV[i]) then
    out[#out + 1] = 'ok'
  else
    out[#out + 1] = 'not_found'
  end
end
return out
`;

/**
 * ARGV[3] queue, [4] salt for ids of moved tasks, [5] '1' when ids follow (else every dead
 * letter). Dead tasks here become ready in place (their seq kept); tasks moved here as dead
 * letters go back to their queue; both in seq order, as memory.ts walks them.
 */
export const REDRIVE = `
local q, salt = ARGV[3], ARGV[4]
if not queue_info(q) then return {'queue_not_found'} end
local members, taken = {}, {}
local function add(m)
  if m and not taken[m] then taken[m] = true; members[#members + 1] = m end
end
if ARGV[5] == '1' then
  for i = 6, #ARGV do add(redis.call('HGET', qk(q, 'ids'), ARGV[i])) end
else
  for _, m in ipairs(redis.call('ZRANGE', qk(q, 'dead'), 0, -1)) do add(m) end
  for _, m in ipairs(redis.call('ZRANGE', qk(q, 'moved'), 0, -1)) do add(m) end
end
table.sort(members)
local moved = 0
for _, m in ipairs(members) do
  local t = load(m)
  if t.dead then
    redis.call('HSET', tk(m), 'dead', '0', 'eta', NOW_S, 'att', '0')
    redis.call('ZREM', qk(q, 'dead'), m)
    t.dead = false; t.eta = NOW
    place(q, t, 'new')
    moved = moved + 1
  elseif t.from then
    leave(q, t)
    local origin = t.from
    t.from = nil
    move_into(origin, t, salt)
    moved = moved + 1
  end
end
wake(q)
return {'ok', moved}
`;
