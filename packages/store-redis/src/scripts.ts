/**
 * The Lua scripts that make each store operation atomic. KEYS[1] is the topic's key base `<ns>:{<topic>}`: every
 * key of a topic and of its subscriptions starts with it, so with the hash tag they live in one Redis Cluster slot
 * and one script can touch them all.
 *
 * Layout under the base B:
 *   B:m                  hash   n = partitions; s<p> first retained offset, e<p> next offset, c<p> count, b<p> bytes
 *   B:s<p>               stream the partition's events; entry id 0-<offset+1>, fields t (publish time), d (data), k (key)
 *   B:d, B:dt            hash (source,id) -> "partition:offset:time" and zset of the same by time: the dedupe window
 *   B:c:<sub>            hash   partition -> cursor (next offset never delivered)
 *   B:l:<sub>:<p>        hash   offset -> lease "attempt|token|deadline|held|haskey|key"
 *   B:v:<sub>:<p>        zset   offset scored by the time the lease is visible again (deadline or nack time)
 *   B:k:<sub>:<p>:<key>  zset   offsets of the key's leases, for ordered delivery
 *
 * Numbers are formatted with %d: Lua's tostring would write publish times in scientific notation.
 */

const common = `
local B = KEYS[1]
local function fmt(n) return string.format('%d', n) end
local function parseLease(s)
  local a, t, d, h, hk, k = string.match(s, '^(%d+)|([^|]*)|(%d+)|(%d)|(%d)|(.*)$')
  local lease = { a = tonumber(a), t = t, d = tonumber(d), h = tonumber(h) }
  if hk == '1' then lease.k = k end
  return lease
end
local function formatLease(l)
  return fmt(l.a) .. '|' .. l.t .. '|' .. fmt(l.d) .. '|' .. fmt(l.h) .. '|' .. (l.k and ('1|' .. l.k) or '0|')
end
local function entryFields(entry)
  local f = {}
  local list = entry[2]
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  return f
end
local function entryAt(p, off)
  local id = '0-' .. fmt(off + 1)
  return redis.call('XRANGE', B .. ':s' .. p, id, id)[1]
end
`;

/** ARGV: now, dedupeSince, dedupe (1/0), n, then per event: partition, dedupeKey, hasKey, key, data. */
export const appendScript = `${common}
local now = tonumber(ARGV[1])
local since = tonumber(ARGV[2])
local dedupe = ARGV[3] == '1'
local n = tonumber(ARGV[4])
local parts = tonumber(redis.call('HGET', B .. ':m', 'n'))
if not parts then return redis.error_reply('NOTOPIC') end
for i = 0, n - 1 do
  local p = tonumber(ARGV[5 + i * 5])
  if p >= parts then return redis.error_reply('PARTITION ' .. i .. ' ' .. p .. ' ' .. parts) end
end
local out = {}
local nextOffset, added, bytes = {}, {}, {}
for i = 0, n - 1 do
  local o = 5 + i * 5
  local p, dk, hasKey, key, data = tonumber(ARGV[o]), ARGV[o + 1], ARGV[o + 2] == '1', ARGV[o + 3], ARGV[o + 4]
  local seen = dedupe and redis.call('HGET', B .. ':d', dk) or nil
  local sp, so, st
  if seen then sp, so, st = string.match(seen, '^(%d+):(%d+):(%d+)$') end
  if seen and tonumber(st) >= since then
    out[#out + 1] = tonumber(sp); out[#out + 1] = tonumber(so); out[#out + 1] = 1
  else
    if nextOffset[p] == nil then nextOffset[p] = tonumber(redis.call('HGET', B .. ':m', 'e' .. p)) end
    local off = nextOffset[p]
    if hasKey then
      redis.call('XADD', B .. ':s' .. p, '0-' .. fmt(off + 1), 't', ARGV[1], 'd', data, 'k', key)
    else
      redis.call('XADD', B .. ':s' .. p, '0-' .. fmt(off + 1), 't', ARGV[1], 'd', data)
    end
    if dedupe then
      redis.call('HSET', B .. ':d', dk, p .. ':' .. fmt(off) .. ':' .. ARGV[1])
      redis.call('ZADD', B .. ':dt', now, dk)
    end
    nextOffset[p] = off + 1
    added[p] = (added[p] or 0) + 1
    bytes[p] = (bytes[p] or 0) + #data
    out[#out + 1] = p; out[#out + 1] = off; out[#out + 1] = 0
  end
end
for p, off in pairs(nextOffset) do
  redis.call('HSET', B .. ':m', 'e' .. p, fmt(off))
  redis.call('HINCRBY', B .. ':m', 'c' .. p, added[p] or 0)
  redis.call('HINCRBY', B .. ':m', 'b' .. p, bytes[p] or 0)
end
return out
`;

/**
 * ARGV: sub, partition, max, maxBytes, now, leaseMs, token, autoAck, ordered, nDelays, delays (ms after an expired
 * lease of attempt 1, 2, ...; the last repeats). Returns per lease: offset, attempt, publishTime, hasKey, key, data.
 */
export const claimScript = `${common}
local sub, p = ARGV[1], ARGV[2]
local max, maxBytes, now, leaseMs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local token, autoAck, ordered, nd = ARGV[7], ARGV[8] == '1', ARGV[9] == '1', tonumber(ARGV[10])
local lh, lv = B .. ':l:' .. sub .. ':' .. p, B .. ':v:' .. sub .. ':' .. p
local function kz(key) return B .. ':k:' .. sub .. ':' .. p .. ':' .. key end
local deadline = now + leaseMs
local out, count, size = {}, 0, 0
local function fits(n) return count == 0 or size + n <= maxBytes end
local function delay(attempt)
  if nd == 0 then return 0 end
  return tonumber(ARGV[10 + math.min(math.max(attempt, 1), nd)])
end
local function emit(off, attempt, f)
  out[#out + 1] = off; out[#out + 1] = attempt; out[#out + 1] = tonumber(f.t)
  out[#out + 1] = f.k and 1 or 0; out[#out + 1] = f.k or ''; out[#out + 1] = f.d
  count = count + 1
  size = size + #f.d
end
local cursor = redis.call('HGET', B .. ':c:' .. sub, p)
if not cursor then return redis.error_reply('NOSUB') end
if not autoAck then
  local visible = redis.call('ZRANGEBYSCORE', lv, '-inf', now)
  table.sort(visible, function(a, b) return tonumber(a) < tonumber(b) end)
  for _, m in ipairs(visible) do
    if count >= max then break end
    local off = tonumber(m)
    local l = parseLease(redis.call('HGET', lh, m))
    local skip = false
    if ordered and l.k then
      local first = redis.call('ZRANGE', kz(l.k), 0, 0)[1]
      if first and tonumber(first) < off then skip = true end
    end
    if not skip and l.h == 1 and nd > 0 then
      local retryAt = l.d + delay(l.a)
      if retryAt > now then
        l.h = 0; l.d = retryAt
        redis.call('HSET', lh, m, formatLease(l))
        redis.call('ZADD', lv, retryAt, m)
        skip = true
      end
    end
    if not skip then
      local entry = entryAt(p, off)
      if not entry then
        redis.call('HDEL', lh, m); redis.call('ZREM', lv, m)
        if l.k then redis.call('ZREM', kz(l.k), m) end
      else
        local f = entryFields(entry)
        if not fits(#f.d) then return out end
        l.a = l.a + 1; l.t = token; l.d = deadline; l.h = 1
        redis.call('HSET', lh, m, formatLease(l))
        redis.call('ZADD', lv, deadline, m)
        emit(off, l.a, f)
      end
    end
  end
end
local room = max - count
if room <= 0 then return out end
cursor = tonumber(cursor)
local fresh = redis.call('XRANGE', B .. ':s' .. p, '0-' .. fmt(cursor + 1), '+', 'COUNT', room)
for _, entry in ipairs(fresh) do
  local off = tonumber(string.match(entry[1], '^0%-(%d+)$')) - 1
  local f = entryFields(entry)
  local m = fmt(off)
  if ordered and not autoAck and f.k and redis.call('EXISTS', kz(f.k)) == 1 then
    redis.call('HSET', lh, m, formatLease({ a = 0, t = '', d = 0, h = 0, k = f.k }))
    redis.call('ZADD', lv, 0, m)
    redis.call('ZADD', kz(f.k), off, m)
    cursor = off + 1
  else
    if not fits(#f.d) then break end
    if not autoAck then
      redis.call('HSET', lh, m, formatLease({ a = 1, t = token, d = deadline, h = 1, k = f.k }))
      redis.call('ZADD', lv, deadline, m)
      if ordered and f.k then redis.call('ZADD', kz(f.k), off, m) end
    end
    emit(off, 1, f)
    cursor = off + 1
  end
end
redis.call('HSET', B .. ':c:' .. sub, p, fmt(cursor))
return out
`;

/** ARGV: sub, kind, now, until, allOrNothing, n, then per lease: partition, offset, token. Returns 1/0 per lease. */
export const settleScript = `${common}
local sub, kind, now, untilAt, all, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[6])
local matches, leases = {}, {}
local any = true
for i = 0, n - 1 do
  local p, off, token = ARGV[7 + i * 3], ARGV[8 + i * 3], ARGV[9 + i * 3]
  local s = redis.call('HGET', B .. ':l:' .. sub .. ':' .. p, off)
  local ok = 0
  if s then
    local l = parseLease(s)
    if l.t == token and l.h == 1 and l.d > now then ok = 1; leases[i] = l end
  end
  matches[#matches + 1] = ok
  if ok == 0 then any = false end
end
if all and not any then return matches end
for i = 0, n - 1 do
  local l = leases[i]
  if l then
    local p, m = ARGV[7 + i * 3], ARGV[8 + i * 3]
    local lh, lv = B .. ':l:' .. sub .. ':' .. p, B .. ':v:' .. sub .. ':' .. p
    if kind == 'ack' or kind == 'term' then
      redis.call('HDEL', lh, m); redis.call('ZREM', lv, m)
      if l.k then redis.call('ZREM', B .. ':k:' .. sub .. ':' .. p .. ':' .. l.k, m) end
    else
      if kind == 'nack' then l.h = 0 end
      l.d = untilAt
      redis.call('HSET', lh, m, formatLease(l))
      redis.call('ZADD', lv, untilAt, m)
    end
  end
end
return matches
`;

/** ARGV: sub, now, n, then per event: partition, offset. Returns how many were requeued. */
export const requeueScript = `${common}
local sub, now, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', B .. ':c:' .. sub) == 0 then return redis.error_reply('NOSUB') end
local count = 0
for i = 0, n - 1 do
  local p, off = ARGV[4 + i * 2], tonumber(ARGV[5 + i * 2])
  local lh, m = B .. ':l:' .. sub .. ':' .. p, fmt(off)
  if redis.call('HEXISTS', lh, m) == 0 then
    local entry = entryAt(p, off)
    if entry then
      local f = entryFields(entry)
      redis.call('HSET', lh, m, formatLease({ a = 0, t = '', d = now, h = 0, k = f.k }))
      redis.call('ZADD', B .. ':v:' .. sub .. ':' .. p, now, m)
      if f.k then redis.call('ZADD', B .. ':k:' .. sub .. ':' .. p .. ':' .. f.k, off, m) end
      count = count + 1
    end
  end
end
return count
`;

/** Drops every lease of a subscription (all partitions). ARGV: sub, partitions. */
const dropLeases = `
local function dropLeases(sub, parts)
  for p = 0, parts - 1 do
    local lh = B .. ':l:' .. sub .. ':' .. p
    for _, s in ipairs(redis.call('HVALS', lh)) do
      local l = parseLease(s)
      if l.k then redis.call('DEL', B .. ':k:' .. sub .. ':' .. p .. ':' .. l.k) end
    end
    redis.call('DEL', lh, B .. ':v:' .. sub .. ':' .. p)
  end
end
`;

/** ARGV: sub, n, cursors... Moves the cursors and drops every lease. */
export const seekScript = `${common}${dropLeases}
local sub, n = ARGV[1], tonumber(ARGV[2])
dropLeases(sub, n)
for p = 0, n - 1 do redis.call('HSET', B .. ':c:' .. sub, p, ARGV[3 + p]) end
return 1
`;

/** ARGV: sub, n, cursors... Creates the cursors unless they exist (returns 0 then). */
export const createCursorsScript = `${common}
local sub, n = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', B .. ':c:' .. sub) == 1 then return 0 end
for p = 0, n - 1 do redis.call('HSET', B .. ':c:' .. sub, p, ARGV[3 + p]) end
return 1
`;

/** ARGV: sub, partitions. Removes the subscription's cursors and leases. */
export const deleteSubscriptionScript = `${common}${dropLeases}
local sub, n = ARGV[1], tonumber(ARGV[2])
dropLeases(sub, n)
redis.call('DEL', B .. ':c:' .. sub)
return 1
`;

/** ARGV: partitions. Creates the partition counters unless the topic exists (returns 0 then). */
export const createTopicScript = `${common}
local n = tonumber(ARGV[1])
if redis.call('EXISTS', B .. ':m') == 1 then return 0 end
redis.call('HSET', B .. ':m', 'n', n)
for p = 0, n - 1 do
  redis.call('HSET', B .. ':m', 's' .. p, 0, 'e' .. p, 0, 'c' .. p, 0, 'b' .. p, 0)
end
return 1
`;

/**
 * Retention for one partition. ARGV: partition, olderThan, maxBytes, dedupeBefore. Removes events published before
 * olderThan, then the oldest while the partition holds more than maxBytes (0 = no cap). Returns events removed.
 */
export const trimScript = `${common}
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
 * ARGV: sub, partitions, now. Returns backlog, inFlight, oldest unacked publish time (-1 when none). The backlog
 * rule of @cebus/store (backlog.ts): a lease not in flight counts while its event is retained (offset at or after
 * the start offset); events past the cursor count from the start offset when retention removed some it had not
 * reached.
 */
export const statsScript = `${common}
local sub, n, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local backlog, inFlight, oldest = 0, 0, -1
local function older(t) if oldest < 0 or t < oldest then oldest = t end end
for p = 0, n - 1 do
  local start = tonumber(redis.call('HGET', B .. ':m', 's' .. p) or '0')
  local first = nil
  local all = redis.call('HGETALL', B .. ':l:' .. sub .. ':' .. p)
  for i = 1, #all, 2 do
    local off, l = tonumber(all[i]), parseLease(all[i + 1])
    if l.h == 1 and l.d > now then inFlight = inFlight + 1
    elseif off >= start then backlog = backlog + 1 end
    if off >= start and (not first or off < first) then first = off end
  end
  if first then
    local entry = entryAt(p, first)
    if entry then older(tonumber(entryFields(entry).t)) end
  end
  local cursor = math.max(tonumber(redis.call('HGET', B .. ':c:' .. sub, p) or '0'), start)
  local nextOffset = tonumber(redis.call('HGET', B .. ':m', 'e' .. p) or '0')
  if nextOffset > cursor then
    backlog = backlog + nextOffset - cursor
    local e = redis.call('XRANGE', B .. ':s' .. p, '0-' .. fmt(cursor + 1), '+', 'COUNT', 1)[1]
    if e then older(tonumber(entryFields(e).t)) end
  end
end
return { backlog, inFlight, oldest }
`;

/** ARGV: partition, time. The first offset published at or after time (binary search; times grow with offsets). */
export const offsetForTimeScript = `${common}
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
