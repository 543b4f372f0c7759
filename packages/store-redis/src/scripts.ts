/**
 * The Lua scripts of the Redis store. None holds a delivery rule: the log scripts (append with dedupe, topic
 * creation, retention of the log, offset for a time) keep the Redis Streams and their counters, and `commit` is a
 * generic compare-and-set that writes delivery states decided in TypeScript by `@cebus/store/delivery`.
 *
 * The key layout is in redis-keys.ts. Numbers are formatted with %d: Lua's tostring would write publish times in
 * scientific notation.
 */

const common = `
local function fmt(n) return string.format('%d', n) end
local function entryFields(entry)
  local f = {}
  local list = entry[2]
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  return f
end
-- nil when every event targets a partition of the topic under base B, else the error to reply
local function checkEvents(B, events)
  local parts = tonumber(redis.call('HGET', B .. ':m', 'n'))
  if not parts then return 'NOTOPIC' end
  for i, e in ipairs(events) do
    if e.p >= parts then return 'PARTITION ' .. (i - 1) .. ' ' .. e.p .. ' ' .. parts end
  end
  return nil
end
-- events from ARGV at 'at' on, 'count' of them, 5 values each: partition, dedupe key, has key, key, data
local function parseEvents(at, count)
  local events = {}
  for i = 0, count - 1 do
    local o = at + i * 5
    events[#events + 1] = { p = tonumber(ARGV[o]), dk = ARGV[o + 1], hasKey = ARGV[o + 2] == '1', key = ARGV[o + 3], data = ARGV[o + 4] }
  end
  return events
end
-- appends to the topic under base B (checked first); returns partition, offset, duplicate (1/0) per event
local function appendEvents(B, now, since, dedupe, events)
  local out = {}
  local nextOffset, added, bytes = {}, {}, {}
  for _, e in ipairs(events) do
    local seen = dedupe and redis.call('HGET', B .. ':d', e.dk) or nil
    local sp, so, st
    if seen then sp, so, st = string.match(seen, '^(%d+):(%d+):(%d+)$') end
    if seen and tonumber(st) >= since then
      out[#out + 1] = tonumber(sp); out[#out + 1] = tonumber(so); out[#out + 1] = 1
    else
      local p = e.p
      if nextOffset[p] == nil then nextOffset[p] = tonumber(redis.call('HGET', B .. ':m', 'e' .. p)) end
      local off = nextOffset[p]
      if e.hasKey then
        redis.call('XADD', B .. ':s' .. p, '0-' .. fmt(off + 1), 't', fmt(now), 'd', e.data, 'k', e.key)
      else
        redis.call('XADD', B .. ':s' .. p, '0-' .. fmt(off + 1), 't', fmt(now), 'd', e.data)
      end
      if dedupe then
        redis.call('HSET', B .. ':d', e.dk, p .. ':' .. fmt(off) .. ':' .. fmt(now))
        redis.call('ZADD', B .. ':dt', now, e.dk)
      end
      nextOffset[p] = off + 1
      added[p] = (added[p] or 0) + 1
      bytes[p] = (bytes[p] or 0) + #e.data
      out[#out + 1] = p; out[#out + 1] = off; out[#out + 1] = 0
    end
  end
  for p, off in pairs(nextOffset) do
    redis.call('HSET', B .. ':m', 'e' .. p, fmt(off))
    redis.call('HINCRBY', B .. ':m', 'c' .. p, added[p] or 0)
    redis.call('HINCRBY', B .. ':m', 'b' .. p, bytes[p] or 0)
  end
  return out
end
`;

/**
 * KEYS[1]: the topic's base. ARGV: now, dedupeSince, dedupe (1/0), n, then per event: partition, dedupe key,
 * has key, key, data. Returns partition, offset, duplicate per event.
 */
export const appendScript = `${common}
local B = KEYS[1]
local events = parseEvents(5, tonumber(ARGV[4]))
local problem = checkEvents(B, events)
if problem then return redis.error_reply(problem) end
return appendEvents(B, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', events)
`;

/**
 * Compare-and-set of delivery states, with the deletes and the appends that belong to the same step.
 * KEYS: n state keys (hashes: v = version, s = encoded state), then d keys to delete, then, when appending, the
 * base of the topic to append to. ARGV: n, d, appending (1/0), then per state: expected version ("" = must not
 * exist), new version ("" = only check the version), encoded state; then, when appending: now and the events as appendScript takes them (never
 * deduplicated). Nothing is written unless every state still has its expected version (returns {0}) and every
 * event targets a partition of the topic (an error reply). Returns {1, partition, offset, duplicate, ...}.
 */
export const commitScript = `${common}
local n, d, appending = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
for i = 1, n do
  local version = redis.call('HGET', KEYS[i], 'v')
  if (version or '') ~= ARGV[1 + i * 3] then return { 0 } end
end
local events, B, now = {}, nil, 0
if appending then
  local at = 4 + n * 3
  B, now = KEYS[n + d + 1], tonumber(ARGV[at])
  events = parseEvents(at + 2, tonumber(ARGV[at + 1]))
  local problem = checkEvents(B, events)
  if problem then return redis.error_reply(problem) end
end
for i = 1, n do
  if ARGV[2 + i * 3] ~= '' then redis.call('HSET', KEYS[i], 'v', ARGV[2 + i * 3], 's', ARGV[3 + i * 3]) end
end
for i = n + 1, n + d do redis.call('DEL', KEYS[i]) end
local out = { 1 }
if appending then
  for _, value in ipairs(appendEvents(B, now, now + 1, false, events)) do out[#out + 1] = value end
end
return out
`;

/** KEYS[1]: the topic's base. ARGV: partitions. Creates the partition counters unless the topic exists (0 then). */
export const createTopicScript = `${common}
local B = KEYS[1]
local n = tonumber(ARGV[1])
if redis.call('EXISTS', B .. ':m') == 1 then return 0 end
redis.call('HSET', B .. ':m', 'n', n)
for p = 0, n - 1 do
  redis.call('HSET', B .. ':m', 's' .. p, 0, 'e' .. p, 0, 'c' .. p, 0, 'b' .. p, 0)
end
return 1
`;

/**
 * Retention of one partition's log. KEYS[1]: the topic's base. ARGV: partition, olderThan, maxBytes, dedupeBefore.
 * Removes events published before olderThan, then the oldest while the partition holds more than maxBytes (0 = no
 * cap); always a prefix of the stream. Returns events removed. The delivery states are not touched here: the
 * store then drops the waiting leases of removed events through the rules (redis-operations.ts).
 */
export const trimScript = `${common}
local B = KEYS[1]
local p, olderThan, maxBytes, dedupeBefore = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local stream = B .. ':s' .. p
local count = tonumber(redis.call('HGET', B .. ':m', 'c' .. p) or '0')
local bytes = tonumber(redis.call('HGET', B .. ':m', 'b' .. p) or '0')
local removed, cut = 0, nil
local from = '-'
while true do
  local batch = redis.call('XRANGE', stream, from, '+', 'COUNT', 500)
  if #batch == 0 then break end
  local stop = false
  for _, entry in ipairs(batch) do
    local f = entryFields(entry)
    if tonumber(f.t) < olderThan or (maxBytes > 0 and bytes > maxBytes) then
      removed = removed + 1
      bytes = bytes - #f.d
      cut = entry[1]
    else
      stop = true
      break
    end
  end
  if stop or #batch < 500 then break end
  from = '(' .. batch[#batch][1]
end
if cut then
  local off = tonumber(string.match(cut, '^0%-(%d+)$'))
  redis.call('XTRIM', stream, 'MINID', '0-' .. fmt(off + 1))
end
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
local start = first and (tonumber(string.match(first[1], '^0%-(%d+)$')) - 1) or tonumber(redis.call('HGET', B .. ':m', 'e' .. p))
redis.call('HSET', B .. ':m', 's' .. p, fmt(start), 'c' .. p, count - removed, 'b' .. p, bytes)
if p == '0' then
  local old = redis.call('ZRANGEBYSCORE', B .. ':dt', '-inf', '(' .. fmt(dedupeBefore))
  for _, dk in ipairs(old) do redis.call('HDEL', B .. ':d', dk) end
  redis.call('ZREMRANGEBYSCORE', B .. ':dt', '-inf', '(' .. fmt(dedupeBefore))
end
return removed
`;

/**
 * KEYS[1]: the topic's base. ARGV: partition, time. The first offset published at or after time (binary search;
 * times grow with offsets).
 */
export const offsetForTimeScript = `${common}
local B = KEYS[1]
local p, time = ARGV[1], tonumber(ARGV[2])
local lo = tonumber(redis.call('HGET', B .. ':m', 's' .. p))
local hi = tonumber(redis.call('HGET', B .. ':m', 'e' .. p))
if not lo then return redis.error_reply('NOTOPIC') end
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local e = redis.call('XRANGE', B .. ':s' .. p, '0-' .. fmt(mid + 1), '+', 'COUNT', 1)[1]
  if not e then hi = mid
  else
    local off = tonumber(string.match(e[1], '^0%-(%d+)$')) - 1
    if tonumber(entryFields(e).t) >= time then hi = mid else lo = off + 1 end
  end
end
return lo
`;
