-- Records one batch of grooming-signal observations (all in one Cluster slot) and
-- detects the crossings they cause, atomically, so concurrent batches from many
-- processes raise one crossing per (subject, signal, window) between them.
--
-- KEYS[1]   the batch's receipt: a replayed batch returns its first answer, counts nothing twice
-- ARGV[1]   evidence entries kept per (subject, signal)
-- ARGV[2]   receipt TTL in seconds
-- ARGV[3]   one JSON array (one argument: cheap to send) [counts, rates, hashes, operations]:
--   counts[c]  {distinct, window, bucket, threshold (0: never alerts), cap, pending field prefix, key suffix}
--   rates[r]   {host side (1 numerator, 2 denominator), marker TTL, marker field,
--               min denominator, threshold, window, pending field prefix}
--   hashes     flat, three values per (subject, signal) hash k = 1, 2, ...: its count c, the
--              subject's pseudonym and the subject sealed (see pseudonyms.py); the hash is
--              named like the receipt up to its hash tag: {prefix}{{pseudonym}}{key suffix}
--   operations, in order, flat (one after the other in one array):
--     k, at, other, evidence entry, decision                          count one event in hash k
--     0, rate r, numerator hash, denominator hash, at, decision               check one rate
--     -1, subject's pseudonym, at, other, memory        remember that other accepted subject
--     -2, within, memory, then a count operation (k, ...): count it only if other accepted
--         the subject's request at most `within` seconds before `at`
--
-- Acceptances are kept per subject in `{prefix}{{pseudonym}}:accepted/{memory}:{period}`
-- (other -> time), one hash per fixed period of `memory` seconds, expiring two periods
-- after its last write: an event reads its own period's and the one before, which hold
-- every acceptance at most `memory` before it. The same hash tag: the same Cluster slot.
--
-- The hashes are not passed in KEYS: redis-py packs every argument in Python, at about a
-- microsecond each, a third of what building the rest of a call costs. They share the
-- receipt's hash tag, hence its Cluster slot, which is all Redis Cluster asks of keys a
-- script uses without declaring them (the pending hash below relies on the same).
--
-- Returns one entry per crossing: {operation number, count (or numerator), denominator,
-- evidence, more evidence}, evidence newest first. (A -2 prefix and its count are one
-- operation.)
--
-- A crossing is also kept *pending* in its subject's `...{tag}:pending` hash (field: kind,
-- signal and window; value: what it takes to raise the alert again) in the execution that
-- sets its marker, until the worker acknowledges it once the alert is in SQL: a worker
-- killed in between leaves it for another to find, instead of a marker with no alert.
--
-- A hash holds bucket -> count (or, for distinct others, other -> last bucket seen), and
-- beside them fields in braces, which no bucket, account id or pseudonym can look like:
-- `{h}` the newest bucket, `{f}` the window's floor (buckets at or below it are out) and
-- `{t}` the count above it, kept as a running total so that a write touches only its own
-- bucket; `{a}` the alerted marker (the time of the live alert) and `{r:ID}` a rate's;
-- `{e}K` the evidence ring and `{n}` how many entries it has seen. When the floor moves,
-- the buckets it passes are subtracted and deleted (distinct others: one scan). Time is
-- the events' own (`at`): a replayed backlog counts in the windows it happened in, and
-- Redis TTLs only collect what went quiet.
--
-- What each event costs here is most of what recording costs, so a hash is read once per
-- call (one HMGET, its current bucket included) and written once (one HSET of only the
-- fields that changed), and counts are passed to Redis as text made with '%d': a Lua
-- number handed to redis.call is printed with '%.17g', several times slower.

local receipt = redis.call('GET', KEYS[1])
if receipt then
  return cjson.decode(receipt)
end

local keep = tonumber(ARGV[1])
local request = cjson.decode(ARGV[3])
local counts, rates, hashes, ops = request[1], request[2], request[3], request[4]

-- Hash k's name, count signal and subject, sealed.
local HASH = {}
local prefix = string.match(KEYS[1], '^[^{]*')
for k = 1, #hashes / 3 do
  HASH[k] = prefix .. '{' .. hashes[3 * k - 1] .. counts[hashes[3 * k - 2]][7]
end
local function count_of(k) return counts[hashes[3 * k - 2]] end
local function sealed_of(k) return hashes[3 * k] end

local BRACE = 123  -- '{'

local function int(x)
  return string.format('%d', x)
end

local EVIDENCE = {}  -- ring slot -> field name
for k = 0, keep - 1 do EVIDENCE[k] = '{e}' .. int(k) end

local names = {}  -- bucket number -> its field name (most events of a call share a few)
local function name_of(idx)
  local name = names[idx]
  if name == nil then
    name = int(idx)
    names[idx] = name
  end
  return name
end

-- hash index -> state: h, f, t, n (and sh, sf, st, sn: what the hash holds), the alerted
-- marker `a` (read when first needed), one bucket's count (bn, bc; bd: changed), others
-- seen by a distinct count (`seen`), `out`: other fields to write, and the TTL to set.
local series = {}

-- `bucket`: the name of the bucket a count is about to add to, read in the same HMGET.
local function load(i, bucket)
  local s = series[i]
  if s == nil then
    local v
    if bucket == nil then
      v = redis.call('HMGET', HASH[i], '{h}', '{f}', '{t}', '{n}')
    else
      v = redis.call('HMGET', HASH[i], '{h}', '{f}', '{t}', '{n}', bucket)
    end
    local h, f, t, n = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
    s = {h = h, f = f, t = t or 0, n = n or 0, sh = h, sf = f, st = t, sn = n, fresh = not v[1],
         a_read = false, bn = bucket, bc = bucket and (tonumber(v[5]) or 0), bd = false,
         out = {}, ttl = 0}
    series[i] = s
  end
  return s
end

-- Everything this call changed in the hash, written in one HSET (of `fields`, reused: a
-- table per write is garbage for Lua to collect).
local fields = {}
local function write(i, s)
  local n = 0
  if s.h ~= nil then  -- a hash only ever read (a rate's empty side) stays unwritten
    if s.h ~= s.sh then fields[n + 1] = '{h}'; fields[n + 2] = int(s.h); n = n + 2; s.sh = s.h end
    if s.f ~= s.sf then fields[n + 1] = '{f}'; fields[n + 2] = int(s.f); n = n + 2; s.sf = s.f end
    if s.t ~= s.st then fields[n + 1] = '{t}'; fields[n + 2] = int(s.t); n = n + 2; s.st = s.t end
    if s.n ~= s.sn then fields[n + 1] = '{n}'; fields[n + 2] = int(s.n); n = n + 2; s.sn = s.n end
    if s.a_read and s.a ~= s.sa then
      fields[n + 1] = '{a}'; fields[n + 2] = string.format('%.17g', s.a); n = n + 2; s.sa = s.a
    end
  end
  if s.bd then
    fields[n + 1] = s.bn; fields[n + 2] = int(s.bc); n = n + 2; s.bd = false
  end
  if s.seen ~= nil then
    for other, idx in pairs(s.seen) do fields[n + 1] = other; fields[n + 2] = name_of(idx); n = n + 2 end
    s.seen = nil
  end
  for field, value in pairs(s.out) do
    fields[n + 1] = field; fields[n + 2] = value; n = n + 2
    s.out[field] = nil
  end
  if n > 0 then redis.call('HSET', HASH[i], unpack(fields, 1, n)) end
  if s.ttl > 0 then
    redis.call('EXPIRE', HASH[i], int(s.ttl))
    s.ttl = 0
  end
end

-- Recount from scratch above `floor`, dropping everything at or below it.
local function rescan(i, s, distinct, floor)
  local flat = redis.call('HGETALL', HASH[i])
  local total, gone = 0, {}
  for j = 1, #flat, 2 do
    local field = flat[j]
    if string.byte(field, 1) ~= BRACE then
      local idx = distinct and tonumber(flat[j + 1]) or tonumber(field)
      if idx <= floor then
        gone[#gone + 1] = field
      else
        total = total + (distinct and 1 or tonumber(flat[j + 1]))
      end
    end
  end
  if #gone > 0 then redis.call('HDEL', HASH[i], unpack(gone)) end
  s.t = total
end

-- Bring the window's floor up to date for `at`; return the count in the window.
local function sync(i, s, distinct, window, bucket, at)
  local n = math.ceil(window / bucket)
  local floor = math.max(s.h or math.floor(at / bucket), math.floor(at / bucket)) - n
  if s.f ~= nil and floor <= s.f then
    return s.t  -- an older event, or the same window: the floor stays where the newest put it
  end
  if s.f == nil and s.fresh then
    s.t = 0
  else
    -- Buckets are about to be read and deleted in the hash: what this call added goes
    -- there first, and the bucket held here may be one of those deleted.
    write(i, s)
    s.bn, s.bc = nil, nil
    if s.f == nil or distinct or floor - s.f > n then
      rescan(i, s, distinct, floor)
    else
      local passed = {}
      for b = s.f + 1, floor do passed[#passed + 1] = name_of(b) end
      local values = redis.call('HMGET', HASH[i], unpack(passed))
      for k = 1, #passed do s.t = s.t - (tonumber(values[k]) or 0) end
      redis.call('HDEL', HASH[i], unpack(passed))
    end
  end
  s.f = floor
  return s.t
end

-- Beyond `cap` distinct others, forget the least recently seen: the count stays at `cap`,
-- well above the threshold, and exact below it.
local function evict(i, s, cap)
  if s.t <= cap then return end
  write(i, s)
  local flat = redis.call('HGETALL', HASH[i])
  local others = {}
  for j = 1, #flat, 2 do
    if string.byte(flat[j], 1) ~= BRACE then others[#others + 1] = {tonumber(flat[j + 1]), flat[j]} end
  end
  table.sort(others, function(x, y) return x[1] < y[1] end)
  local gone = {}
  for k = 1, #others - cap do gone[#gone + 1] = others[k][2] end
  if #gone > 0 then redis.call('HDEL', HASH[i], unpack(gone)) end
  s.t = math.min(#others, cap)
end

-- The bucket `name`'s count as this call has it.
local function bucket_count(i, s, name)
  if s.bn ~= name then
    if s.bd then s.out[s.bn] = int(s.bc) end  -- another bucket (an older event): kept to write
    local held = s.out[name]
    if held == nil then held = redis.call('HGET', HASH[i], name) end
    s.out[name] = nil
    s.bn, s.bc, s.bd = name, tonumber(held) or 0, false
  end
  return s.bc
end

-- The last bucket `other` was seen in, as this call has it.
local function seen_in(i, s, other)
  local idx = s.seen and s.seen[other]
  if idx == nil then idx = tonumber(redis.call('HGET', HASH[i], other)) end
  return idx
end

local function alerted(i, s)
  if not s.a_read then  -- read only when a count reaches its threshold: rarely
    s.a = tonumber(redis.call('HGET', HASH[i], '{a}'))
    s.sa, s.a_read = s.a, true
  end
  return s.a
end

local function evidence(i, s)
  write(i, s)
  local fields = {}
  for k = s.n - 1, math.max(0, s.n - keep), -1 do fields[#fields + 1] = EVIDENCE[k % keep] end
  if #fields == 0 then return {} end
  return redis.call('HMGET', HASH[i], unpack(fields))
end

local function mark_of(i, s, field)
  local m = s.out[field]
  if m == nil then m = redis.call('HGET', HASH[i], field) end
  return tonumber(m)
end

-- Keep a crossing pending, for at least as long as its marker lives. Its field names the
-- fixed window like signals.crossing.window_key: math.floor(at / window), computed as Python's
-- float floor division does, so the field the worker acknowledges is this one. The pending
-- hash is the subject's: the count hash's name up to its hash tag, then `:pending` (same
-- slot).
local function hold(i, prefix, window, ttl, decision, at, first, second, ev, more)
  local key = string.match(HASH[i], '^[^{]*{[^}]*}') .. ':pending'
  local field = prefix .. string.format('%d', math.floor((at - math.fmod(at, window)) / window + 0.5))
  -- The time as text: cjson keeps only 14 significant digits of a number.
  local exact = string.format('%.17g', at)
  local subject = sealed_of(i)
  redis.call('HSET', key, field, cjson.encode({subject, decision, exact, first, second, ev, more}))
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, int(ttl)) end
end

-- The fixed period of `memory` seconds `at` falls in, as Python's `at // memory` has it.
local function period_of(at, memory)
  return math.floor((at - math.fmod(at, memory)) / memory + 0.5)
end

local function accepted_key(tag, memory, period)
  return tag .. ':accepted/' .. int(memory) .. ':' .. int(period)
end

local function remember(pseudonym, at, other, memory)
  local key = accepted_key(prefix .. '{' .. pseudonym .. '}', memory, period_of(at, memory))
  redis.call('HSET', key, other, string.format('%.17g', at))
  redis.call('EXPIRE', key, int(2 * memory))
end

-- Whether `other` accepted the request of hash i's subject at most `within` before `at`.
local function accepted_soon(i, other, at, within, memory)
  local tag = string.match(HASH[i], '^[^{]*{[^}]*}')
  local period = period_of(at, memory)
  for back = 0, 1 do
    local when = tonumber(redis.call('HGET', accepted_key(tag, memory, period - back), other))
    if when ~= nil and when <= at and at - when <= within then return true end
  end
  return false
end

local crossings = {}
local op = 0
local p = 1  -- the operation's first value in `ops`
while p <= #ops do
  op = op + 1
  local i = ops[p]
  local counts_it = true
  if i == -2 then
    local within, memory = ops[p + 1], ops[p + 2]
    p = p + 3
    i = ops[p]
    counts_it = accepted_soon(i, ops[p + 2], ops[p + 1], within, memory)
  end
  if i == -1 then
    remember(ops[p + 1], ops[p + 2], ops[p + 3], ops[p + 4])
    p = p + 5
  elseif i ~= 0 and not counts_it then
    p = p + 5
  elseif i ~= 0 then
    local at, other, entry, decision = ops[p + 1], ops[p + 2], ops[p + 3], ops[p + 4]
    p = p + 5
    local c = count_of(i)
    local distinct, window, bucket, threshold = c[1] == 1, c[2], c[3], c[4]
    local idx = math.floor(at / bucket)
    local bucket_name = nil
    if not distinct then bucket_name = name_of(idx) end
    local s = load(i, bucket_name)
    if s.h == nil or idx > s.h then
      s.h = idx
      -- From a new newest bucket on, window + bucket is when all the hash holds is out.
      s.ttl = window + bucket
    end
    sync(i, s, distinct, window, bucket, at)
    if idx > s.f then
      if distinct then
        local seen = seen_in(i, s, other)
        if seen == nil or seen <= s.f then s.t = s.t + 1 end
        if seen == nil or idx > seen then
          if s.seen == nil then s.seen = {} end
          s.seen[other] = idx
        end
        evict(i, s, c[5])
      else
        s.bc = bucket_count(i, s, bucket_name) + 1
        s.bd = true
        s.t = s.t + 1
      end
    end
    s.out[EVIDENCE[s.n % keep]] = entry
    s.n = s.n + 1

    if threshold > 0 and s.t >= threshold and not (alerted(i, s) ~= nil and at < s.a + window) then
      s.a = at
      local ev = evidence(i, s)
      hold(i, c[6], window, window + bucket, decision, at, s.t, 0, ev, {})
      crossings[#crossings + 1] = {op, s.t, 0, ev, {}}
    end
  else
    local r, num_key, den_key = rates[ops[p + 1]], ops[p + 2], ops[p + 3]
    local at, decision = ops[p + 4], ops[p + 5]
    p = p + 6
    local nc, dc = count_of(num_key), count_of(den_key)
    local num, den = load(num_key), load(den_key)
    local a = sync(num_key, num, nc[1] == 1, nc[2], nc[3], at)
    local b = sync(den_key, den, dc[1] == 1, dc[2], dc[3], at)
    if b >= r[4] and a >= r[5] * b then
      local host_key = r[1] == 1 and num_key or den_key
      local host = load(host_key)
      local m = mark_of(host_key, host, r[3])
      if not (m ~= nil and at < m + r[6]) then
        host.out[r[3]] = string.format('%.17g', at)
        host.ttl = math.max(host.ttl, r[2])
        local ev, more = evidence(num_key, num), evidence(den_key, den)
        hold(host_key, r[7], r[6], r[2], decision, at, a, b, ev, more)
        crossings[#crossings + 1] = {op, a, b, ev, more}
      end
    end
  end
end

for i, s in pairs(series) do write(i, s) end

redis.call('SET', KEYS[1], cjson.encode(crossings), 'EX', ARGV[2])
return crossings
