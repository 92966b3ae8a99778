-- Records one batch of grooming-signal observations (all in one Cluster slot) and
-- detects the crossings they cause, atomically, so concurrent batches from many
-- processes raise one crossing per (subject, signal, window) between them.
--
-- KEYS[1]      the batch's receipt: a replayed batch returns its first answer, counts nothing twice
-- KEYS[2..]    signal keys, referred to by index from the operations below
-- ARGV[1]      evidence entries kept per (subject, signal)
-- ARGV[2]      receipt TTL in seconds
-- ARGV[3..]    operations, in order:
--   C data evidence marker distinct window bucket threshold cap at other entry   (count one event)
--   R marker num num_distinct num_window num_bucket num_cap num_evidence
--     den den_distinct den_window den_bucket den_cap den_evidence min_den threshold window at
--                                                                               (check one rate)
-- Returns one entry per crossing: {operation number, count (or numerator), denominator,
-- evidence, more evidence}.
--
-- Time is the events' own (`at`), so a replayed backlog counts in the windows it happened
-- in; Redis TTLs only collect what went quiet. A data key is a hash: bucket -> count, or
-- (distinct) other -> last bucket seen, trimmed here to one window and `cap` others.

local receipt = redis.call('GET', KEYS[1])
if receipt then
  return cjson.decode(receipt)
end

local keep = tonumber(ARGV[1])
local series = {}   -- key index -> {values, newest, dirty, gone, ttl}
local markers = {}  -- key index -> time of the live alert, or false
local evidence_keys = {}

local function load(i)
  local s = series[i]
  if s == nil then
    local flat = redis.call('HGETALL', KEYS[i])
    s = {values = {}, dirty = {}, gone = {}, ttl = 0, newest = nil}
    series[i] = s
    for j = 1, #flat, 2 do
      s.values[flat[j]] = tonumber(flat[j + 1])
    end
  end
  return s
end

local function newest(s, distinct)
  if s.newest == nil then
    for field, value in pairs(s.values) do
      local idx = distinct and value or tonumber(field)
      if s.newest == nil or idx > s.newest then s.newest = idx end
    end
  end
  return s.newest
end

local function drop(s, field)
  s.values[field] = nil
  s.dirty[field] = nil
  s.gone[field] = true
end

-- The count in the window at `at`, after dropping what fell out of it.
local function count(s, distinct, window, bucket, cap, at)
  local top = newest(s, distinct)
  if top == nil then return 0 end
  local ref = math.max(top, math.floor(at / bucket))
  local floor = ref - math.ceil(window / bucket)
  local total = 0
  for field, value in pairs(s.values) do
    local idx = distinct and value or tonumber(field)
    if idx <= floor then
      drop(s, field)
    elseif distinct then
      total = total + 1
    else
      total = total + value
    end
  end
  if distinct then
    -- Beyond `cap` others, forget the least recently seen: the count stays at `cap`,
    -- well above the threshold, and exact below it.
    while total > cap do
      local oldest, oldest_idx = nil, nil
      for field, idx in pairs(s.values) do
        if oldest_idx == nil or idx < oldest_idx then oldest, oldest_idx = field, idx end
      end
      drop(s, oldest)
      total = total - 1
    end
  end
  return total
end

local function alerted(i, at, window)
  local m = markers[i]
  if m == nil then
    m = tonumber(redis.call('GET', KEYS[i]) or '') or false
    markers[i] = m
  end
  return m and at < m + window
end

local function mark(i, at, window)
  markers[i] = at
  redis.call('SET', KEYS[i], tostring(at), 'EX', window)
end

local function recent(i)
  return redis.call('LRANGE', KEYS[i], 0, keep - 1)
end

local crossings = {}
local p = 3
local op = 0
while p <= #ARGV do
  op = op + 1
  if ARGV[p] == 'C' then
    local data, ev, marker = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
    local distinct = ARGV[p + 4] == '1'
    local window, bucket = tonumber(ARGV[p + 5]), tonumber(ARGV[p + 6])
    local threshold, cap = tonumber(ARGV[p + 7]), tonumber(ARGV[p + 8])
    local at, other, entry = tonumber(ARGV[p + 9]), ARGV[p + 10], ARGV[p + 11]
    p = p + 12

    local s = load(data)
    local idx = math.floor(at / bucket)
    local top = newest(s, distinct)
    if distinct then
      local seen = s.values[other]
      if seen == nil or idx > seen then
        s.values[other] = idx
        s.dirty[other] = true
        s.gone[other] = nil
      end
    else
      local field = tostring(idx)
      s.values[field] = (s.values[field] or 0) + 1
      s.dirty[field] = true
      s.gone[field] = nil
    end
    if top == nil or idx > top then s.newest = idx end
    s.ttl = window + bucket
    redis.call('LPUSH', KEYS[ev], entry)
    evidence_keys[ev] = window + bucket

    local n = count(s, distinct, window, bucket, cap, at)
    if n >= threshold and not alerted(marker, at, window) then
      mark(marker, at, window)
      crossings[#crossings + 1] = {op, n, 0, recent(ev), {}}
    end
  else
    local marker = tonumber(ARGV[p + 1])
    local num, num_distinct = tonumber(ARGV[p + 2]), ARGV[p + 3] == '1'
    local num_window, num_bucket, num_cap = tonumber(ARGV[p + 4]), tonumber(ARGV[p + 5]), tonumber(ARGV[p + 6])
    local num_ev = tonumber(ARGV[p + 7])
    local den, den_distinct = tonumber(ARGV[p + 8]), ARGV[p + 9] == '1'
    local den_window, den_bucket, den_cap = tonumber(ARGV[p + 10]), tonumber(ARGV[p + 11]), tonumber(ARGV[p + 12])
    local den_ev = tonumber(ARGV[p + 13])
    local min_den, threshold = tonumber(ARGV[p + 14]), tonumber(ARGV[p + 15])
    local window, at = tonumber(ARGV[p + 16]), tonumber(ARGV[p + 17])
    p = p + 18

    local a = count(load(num), num_distinct, num_window, num_bucket, num_cap, at)
    local b = count(load(den), den_distinct, den_window, den_bucket, den_cap, at)
    if b >= min_den and a >= threshold * b and not alerted(marker, at, window) then
      mark(marker, at, window)
      crossings[#crossings + 1] = {op, a, b, recent(num_ev), recent(den_ev)}
    end
  end
end

for i, s in pairs(series) do
  local set = {}
  for field in pairs(s.dirty) do
    set[#set + 1] = field
    set[#set + 1] = s.values[field]
  end
  if #set > 0 then redis.call('HSET', KEYS[i], unpack(set)) end
  local gone = {}
  for field in pairs(s.gone) do gone[#gone + 1] = field end
  if #gone > 0 then redis.call('HDEL', KEYS[i], unpack(gone)) end
  if s.ttl > 0 then redis.call('EXPIRE', KEYS[i], s.ttl) end
end
for i, ttl in pairs(evidence_keys) do
  redis.call('LTRIM', KEYS[i], 0, keep - 1)
  redis.call('EXPIRE', KEYS[i], ttl)
end

redis.call('SET', KEYS[1], cjson.encode(crossings), 'EX', tonumber(ARGV[2]))
return crossings
