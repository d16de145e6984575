-- json: parse and serialise JSON (port of wasm-functions/src/json.rs: its own parser and compact
-- serialiser, Lua has no JSON library) on a seeded 24-record document.
-- Checks: 1 = a fixed document with escapes parses to known values and serialises canonically;
-- 2 = ten malformed texts are refused; 3 = the parsed tree equals the built one; 4 = serialising
-- it again gives the same text; 5 = the prices add up. Supported: objects (member order kept),
-- arrays, strings with every escape (UTF-16 surrogate pairs too), integers that fit 64 bits,
-- true, false, null. With FLAG_CORRUPT one digit of the text changes before parsing.
local STREAM, RECORDS, MAX_DEPTH = 0, 24, 32
local NULL = setmetatable({}, { __name = "null" })

local function Array(t) t.kind = "array"; return t end
-- An object: keys[i], vals[i] in member order.
local function Object(keys, vals) return { kind = "object", keys = keys, vals = vals } end
local function get(o, key)
  if type(o) ~= "table" or o.kind ~= "object" then return nil end
  for i, k in ipairs(o.keys) do if k == key then return o.vals[i] end end
end

local function equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" or a == NULL or b == NULL then return a == b end
  if a.kind ~= b.kind then return false end
  if a.kind == "array" then
    if #a ~= #b then return false end
    for i = 1, #a do if not equal(a[i], b[i]) then return false end end
    return true
  end
  if #a.keys ~= #b.keys then return false end
  for i = 1, #a.keys do
    if a.keys[i] ~= b.keys[i] or not equal(a.vals[i], b.vals[i]) then return false end
  end
  return true
end

-- Parses text; returns the value, or nil and a reason.
local function parse(text)
  local pos = 1
  local function fail(why) error({ why = why, at = pos }, 0) end
  local function peek() return text:byte(pos) end
  local function skip()
    while true do
      local b = peek()
      if b == 32 or b == 9 or b == 10 or b == 13 then pos = pos + 1 else return end
    end
  end
  local function expect(b)
    if peek() ~= b then fail("unexpected") end
    pos = pos + 1
  end
  local value
  local function hex4()
    local digits = text:sub(pos, pos + 3)
    if #digits < 4 or not digits:match("^%x%x%x%x$") then fail("bad string") end
    pos = pos + 4
    return tonumber(digits, 16)
  end
  local function str()
    expect(34)
    local parts = {}
    while true do
      local start = pos
      while true do
        local b = peek()
        if b == nil or b == 34 or b == 92 or b < 0x20 then break end
        pos = pos + 1
      end
      local run = text:sub(start, pos - 1)
      if not utf8.len(run) then fail("bad string") end
      parts[#parts + 1] = run
      local b = peek()
      if b == nil then fail("end")
      elseif b == 34 then pos = pos + 1; return table.concat(parts)
      elseif b == 92 then
        local e = text:byte(pos + 1)
        pos = pos + 2
        if e == nil then fail("end") end
        local simple = ({ [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" })[e]
        if simple then parts[#parts + 1] = simple
        elseif e == 117 then
          local first = hex4()
          local code = first
          if first >= 0xd800 and first <= 0xdbff then
            if text:sub(pos, pos + 1) ~= "\\u" then fail("bad string") end
            pos = pos + 2
            local second = hex4()
            if second < 0xdc00 or second > 0xdfff then fail("bad string") end
            code = 0x10000 + (((first - 0xd800) << 10) | (second - 0xdc00))
          elseif first >= 0xdc00 and first <= 0xdfff then fail("bad string") end
          parts[#parts + 1] = utf8.char(code)
        else fail("bad escape") end
      else fail("bad string") end
    end
  end
  local function number()
    local neg = peek() == 45
    if neg then pos = pos + 1 end
    local digits = text:match("^%d*", pos)
    pos = pos + #digits
    local b = peek()
    if #digits == 0 or (#digits > 1 and digits:byte(1) == 48) or b == 46 or b == 101 or b == 69 then fail("bad number") end
    local limit = neg and "9223372036854775808" or "9223372036854775807"
    if #digits > 19 or (#digits == 19 and digits > limit) then fail("bad number") end
    return math.tointeger(tonumber((neg and "-" or "") .. digits))
  end
  function value(depth)
    if depth > MAX_DEPTH then fail("too deep") end
    skip()
    local b = peek()
    if b == nil then fail("end")
    elseif b == 123 then
      pos = pos + 1
      local keys, vals = {}, {}
      skip()
      if peek() == 125 then pos = pos + 1; return Object(keys, vals) end
      while true do
        skip()
        local key = str()
        skip(); expect(58)
        keys[#keys + 1] = key
        vals[#vals + 1] = value(depth + 1)
        skip()
        local c = peek()
        if c == 44 then pos = pos + 1
        elseif c == 125 then pos = pos + 1; return Object(keys, vals)
        else fail("unexpected") end
      end
    elseif b == 91 then
      pos = pos + 1
      local elements = Array({})
      skip()
      if peek() == 93 then pos = pos + 1; return elements end
      while true do
        elements[#elements + 1] = value(depth + 1)
        skip()
        local c = peek()
        if c == 44 then pos = pos + 1
        elseif c == 93 then pos = pos + 1; return elements
        else fail("unexpected") end
      end
    elseif b == 34 then return str()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then pos = pos + 4; return NULL
    elseif b == 45 or (b >= 48 and b <= 57) then return number()
    else fail("unexpected") end
  end
  local ok, result = pcall(function()
    local v = value(0)
    skip()
    if pos <= #text then fail("trailing") end
    return v
  end)
  if ok then return result end
  if type(result) ~= "table" then error(result, 0) end
  return nil, result.why
end

local ESCAPES = { [34] = '\\"', [92] = "\\\\", [10] = "\\n", [13] = "\\r", [9] = "\\t" }
local function serialise_string(s, out)
  out[#out + 1] = '"'
  out[#out + 1] = (s:gsub('[%z\1-\31"\\]', function(c)
    return ESCAPES[c:byte()] or string.format("\\u%04x", c:byte())
  end))
  out[#out + 1] = '"'
end

local function serialise(v, out)
  local t = type(v)
  if v == NULL then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then out[#out + 1] = string.format("%d", v)
  elseif t == "string" then serialise_string(v, out)
  elseif v.kind == "array" then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      serialise(v[i], out)
    end
    out[#out + 1] = "]"
  else
    out[#out + 1] = "{"
    for i = 1, #v.keys do
      if i > 1 then out[#out + 1] = "," end
      serialise_string(v.keys[i], out)
      out[#out + 1] = ":"
      serialise(v.vals[i], out)
    end
    out[#out + 1] = "}"
  end
  return out
end
local function to_text(v) return table.concat(serialise(v, {})) end

local KNOWN_TEXT = [==[ { "a" : [1, -2, {"b": null}, []], "c": "x\"y\\z\u0041\n\ud83d\ude00\/", "d": true, "e": {}, "f": -9223372036854775808 } ]==]
local SMILE = utf8.char(0x1f600)
local KNOWN_CANONICAL = '{"a":[1,-2,{"b":null},[]],"c":"x\\"y\\\\zA\\n' .. SMILE .. '/","d":true,"e":{},"f":-9223372036854775808}'
local MALFORMED = { '{"a":}', "[1,2", '"open', "[1 2]", '{"a" 1}', "01", "1.5", "[true, nul]", '"\\ud800"', "[9223372036854775808]" }

local function known_answers()
  local v = parse(KNOWN_TEXT)
  if v == nil then return -1 end
  local a = get(v, "a")
  local known = a ~= nil and a[2] == -2 and get(a[3], "b") == NULL
    and get(v, "c") == 'x"y\\zA\n' .. SMILE .. "/" and get(v, "d") == true
    and get(v, "f") == math.mininteger
  if not (known and to_text(v) == KNOWN_CANONICAL) then return -1 end
  for _, text in ipairs(MALFORMED) do if parse(text) ~= nil then return -2 end end
  return 0
end

local NAMES = { "kelp", "reef", "tide", "coral", "drift", "brine", "shoal", "surf" }
local function document(random)
  local total, records = 0, Array({})
  for id = 0, RECORDS - 1 do
    local price = random.below(100000) - 20000
    total = total + price
    local tags = Array({})
    for _ = 1, random.below(4) do tags[#tags + 1] = NAMES[random.index(#NAMES) + 1] end
    local first = NAMES[random.index(#NAMES) + 1]
    local second = NAMES[random.index(#NAMES) + 1]
    local name = string.format('%s-%s "n\u{e9}%d"\t\\', first, second, id)
    local active = random.below(2) == 0
    local parent = id == 0 and NULL or random.below(id)
    records[#records + 1] = Object({ "id", "name", "price", "active", "tags", "parent" }, { id, name, price, active, tags, parent })
  end
  local meta = Object({ "seed" }, { string.format("%x", random.next()) })
  return Object({ "service", "version", "records", "meta" }, { "shoal-inventory", 3, records, meta }), total
end

local function total_price(doc)
  local records = get(doc, "records")
  if type(records) ~= "table" or records.kind ~= "array" then return nil end
  local total = 0
  for _, record in ipairs(records) do
    local price = get(record, "price")
    if math.type(price) ~= "integer" then return nil end
    total = total + price
  end
  return total
end

function handle(seed, flags)
  local known = known_answers()
  if known ~= 0 then return known end
  local random = Rng(seed, STREAM)
  local built, total = document(random)
  local text = to_text(built)
  if corrupt_flag(flags) then
    local digits = {}
    for i = 1, #text do
      local b = text:byte(i)
      if b >= 48 and b <= 57 then digits[#digits + 1] = i end
    end
    local at = digits[random.index(#digits) + 1]
    local digit = (text:byte(at) - 48 + 1) % 10
    text = text:sub(1, at - 1) .. string.char(48 + digit) .. text:sub(at + 1)
  end
  local parsed = parse(text)
  if parsed == nil or not equal(parsed, built) then return -3 end
  local again = to_text(parsed)
  if again ~= text then return -4 end
  if total_price(parsed) ~= total then return -5 end
  return checksum_outcome(fnv_value(fnv_string(FNV_BASIS, again), total))
end
