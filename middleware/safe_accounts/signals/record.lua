-- Records one batch of grooming-signal observations (all in one Cluster slot) and
-- detects the crossings they cause, atomically, so concurrent batches from many
-- processes raise one crossing per (subject, signal, window) between them.
--
-- KEYS[1]   the batch's receipt: a replayed batch returns its first answer, counts nothing twice
-- KEYS[2..] one hash per (subject, signal), referred to by index from the operations
-- ARGV[1]   evidence entries kept per (subject, signal)
-- ARGV[2]   receipt TTL in seconds
-- ARGV[3]   the operations, in order, as one JSON array (one argument: cheap to send):
--   ["C", key, distinct, window, bucket, threshold, cap, at, other, entry, decision] count one event
--   ["R", marker_key, marker_ttl, marker_field,
--         num, num_distinct, num_window, num_bucket, num_cap,
--         den, den_distinct, den_window, den_bucket, den_cap,
--         min_den, threshold, window, at, field_prefix, decision]               check one rate
-- ARGV[4]   JSON object: count key index -> [the subject, sealed (see pseudonyms.py), field prefix]
-- Returns one entry per crossing: {operation number, count (or numerator), denominator,
-- evidence, more evidence}, evidence newest first.
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

local receipt = redis.call('GET', KEYS[1])
if receipt then
  return cjson.decode(receipt)
end

local keep = tonumber(ARGV[1])
local BRACE = 123  -- '{'
local series = {}  -- key index -> state: h, f, t, n, a, marks, pending fields, ttl

local function load(i)
  local s = series[i]
  if s == nil then
    local v = redis.call('HMGET', KEYS[i], '{h}', '{f}', '{t}', '{n}', '{a}')
    s = {h = tonumber(v[1]), f = tonumber(v[2]), t = tonumber(v[3]) or 0, n = tonumber(v[4]) or 0,
         a = tonumber(v[5]), fresh = not v[1], marks = {}, pending = {}, ttl = 0, dirty = false}
    series[i] = s
  end
  return s
end

-- Recount from scratch above `floor`, dropping everything at or below it.
local function rescan(i, s, distinct, floor)
  local flat = redis.call('HGETALL', KEYS[i])
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
  if #gone > 0 then redis.call('HDEL', KEYS[i], unpack(gone)) end
  s.t = total
end

-- Bring the window's floor up to date for `at`; return the count in the window.
local function sync(i, s, distinct, window, bucket, at)
  local n = math.ceil(window / bucket)
  local floor = math.max(s.h or math.floor(at / bucket), math.floor(at / bucket)) - n
  if s.f == nil then
    if s.fresh then s.t = 0 else rescan(i, s, distinct, floor) end
  elseif floor > s.f then
    if distinct or floor - s.f > n then
      rescan(i, s, distinct, floor)
    else
      local passed = {}
      for b = s.f + 1, floor do passed[#passed + 1] = tostring(b) end
      local counts = redis.call('HMGET', KEYS[i], unpack(passed))
      for k = 1, #passed do s.t = s.t - (tonumber(counts[k]) or 0) end
      redis.call('HDEL', KEYS[i], unpack(passed))
    end
  else
    return s.t  -- an older event: the window stays where the newest put it
  end
  s.f = floor
  s.dirty = true
  return s.t
end

-- Beyond `cap` distinct others, forget the least recently seen: the count stays at `cap`,
-- well above the threshold, and exact below it.
local function evict(i, s, cap)
  if s.t <= cap then return end
  local flat = redis.call('HGETALL', KEYS[i])
  local others = {}
  for j = 1, #flat, 2 do
    if string.byte(flat[j], 1) ~= BRACE then others[#others + 1] = {tonumber(flat[j + 1]), flat[j]} end
  end
  table.sort(others, function(x, y) return x[1] < y[1] end)
  local gone = {}
  for k = 1, #others - cap do gone[#gone + 1] = others[k][2] end
  if #gone > 0 then redis.call('HDEL', KEYS[i], unpack(gone)) end
  s.t = math.min(#others, cap)
  s.dirty = true
end

local function write(i, s)
  local fields = {}
  if s.dirty and s.h ~= nil then  -- a hash only ever read (a rate's empty side) stays unwritten
    fields = {'{h}', s.h, '{f}', s.f, '{t}', s.t, '{n}', s.n}
    if s.a ~= nil then fields[#fields + 1] = '{a}'; fields[#fields + 1] = s.a end
  end
  for field, value in pairs(s.marks) do fields[#fields + 1] = field; fields[#fields + 1] = value end
  for field, value in pairs(s.pending) do fields[#fields + 1] = field; fields[#fields + 1] = value end
  if #fields > 0 then redis.call('HSET', KEYS[i], unpack(fields)) end
  s.marks, s.pending, s.dirty = {}, {}, false
  if s.ttl > 0 then
    redis.call('EXPIRE', KEYS[i], s.ttl)
    s.ttl = 0
  end
end

local function evidence(i, s)
  write(i, s)
  local fields = {}
  for k = s.n - 1, math.max(0, s.n - keep), -1 do fields[#fields + 1] = '{e}' .. (k % keep) end
  if #fields == 0 then return {} end
  return redis.call('HMGET', KEYS[i], unpack(fields))
end

local function mark_of(i, s, field)
  local m = s.marks[field]
  if m == nil then m = tonumber(redis.call('HGET', KEYS[i], field)) end
  return m
end

-- Keep a crossing pending, for at least as long as its marker lives. Its field names the
-- fixed window like signals.crossing.window_key: floor(at / window), computed as Python's
-- float floor division does, so the field the worker acknowledges is this one. The pending
-- hash is the subject's: the count hash's name up to its hash tag, then `:pending` (same
-- slot; not passed in KEYS, where every key costs the client a few µs).
local holds = cjson.decode(ARGV[4])
local function hold(i, prefix, window, ttl, decision, at, first, second, ev, more)
  local key = string.match(KEYS[i], '^[^{]*{[^}]*}') .. ':pending'
  local field = prefix .. string.format('%d', math.floor((at - math.fmod(at, window)) / window + 0.5))
  -- The time as text: cjson keeps only 14 significant digits of a number.
  local exact = string.format('%.17g', at)
  local subject = holds[tostring(i)][1]
  redis.call('HSET', key, field, cjson.encode({subject, decision, exact, first, second, ev, more}))
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end

local crossings = {}
local ops = cjson.decode(ARGV[3])
for op = 1, #ops do
  local o = ops[op]
  if o[1] == 'C' then
    local i, distinct, window, bucket, threshold, cap = o[2], o[3] == 1, o[4], o[5], o[6], o[7]
    local at, other = o[8], o[9]
    local s = load(i)
    local idx = math.floor(at / bucket)
    if s.h == nil or idx > s.h then
      s.h = idx
      -- From a new newest bucket on, window + bucket is when all the hash holds is out.
      s.ttl = window + bucket
    end
    sync(i, s, distinct, window, bucket, at)
    if idx > s.f then
      if distinct then
        local seen = tonumber(redis.call('HGET', KEYS[i], other))
        if seen == nil or seen <= s.f then s.t = s.t + 1 end
        if seen == nil or idx > seen then redis.call('HSET', KEYS[i], other, idx) end
        evict(i, s, cap)
      else
        redis.call('HINCRBY', KEYS[i], tostring(idx), 1)
        s.t = s.t + 1
      end
    end
    s.pending['{e}' .. (s.n % keep)] = o[10]
    s.n = s.n + 1
    s.dirty = true

    if s.t >= threshold and not (s.a ~= nil and at < s.a + window) then
      s.a = at
      local ev = evidence(i, s)
      hold(i, holds[tostring(i)][2], window, window + bucket, o[11], at, s.t, 0, ev, {})
      crossings[#crossings + 1] = {op, s.t, 0, ev, {}}
    end
  else
    local at = o[18]
    local num, den = load(o[5]), load(o[10])
    local a = sync(o[5], num, o[6] == 1, o[7], o[8], at)
    local b = sync(o[10], den, o[11] == 1, o[12], o[13], at)
    if b >= o[15] and a >= o[16] * b then
      local host = load(o[2])
      local m = mark_of(o[2], host, o[4])
      if not (m ~= nil and at < m + o[17]) then
        host.marks[o[4]] = at
        host.ttl = math.max(host.ttl, o[3])
        local ev, more = evidence(o[5], num), evidence(o[10], den)
        hold(o[2], o[19], o[17], o[3], o[20], at, a, b, ev, more)
        crossings[#crossings + 1] = {op, a, b, ev, more}
      end
    end
  end
end

for i, s in pairs(series) do write(i, s) end

redis.call('SET', KEYS[1], cjson.encode(crossings), 'EX', tonumber(ARGV[2]))
return crossings
