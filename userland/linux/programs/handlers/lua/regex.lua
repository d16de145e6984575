-- regex: count the matches of three patterns in 32 seeded log lines with a small backtracking
-- matcher (port of wasm-functions/src/regex.rs; Lua's own patterns have no alternation).
-- Syntax (bytes): literals; `.`; classes [a-z_] [^0-9]; \d \w \s \D \W \S (also in classes);
-- `\` before punctuation; groups ( ) with |; quantifiers * + ? {n} {n,} {n,m} (greedy); ^ $.
-- A pattern matches a text when it matches at some position. Matching is continuation passing:
-- each node gets the rest of the pattern as a function to call at every position it can end at.
-- Checks: 1 = twenty fixed pattern/text cases; 2 = eight malformed patterns are refused;
-- 3 = the match counts equal the generator's. With FLAG_CORRUPT the first line's timestamp
-- (an error line) is damaged after counting (check 3 fails).
local STREAM, LINES, MAX_DEPTH, MAX_REPEAT = 7, 32, 16, 1000

local DIGITS = { { 48, 57 } }
local WORD = { { 48, 57 }, { 65, 90 }, { 97, 122 }, { 95, 95 } }
local SPACE = { { 32, 32 }, { 9, 13 } }
local SHORTHAND = { [100] = { DIGITS, false }, [119] = { WORD, false }, [115] = { SPACE, false },
  [68] = { DIGITS, true }, [87] = { WORD, true }, [83] = { SPACE, true } }
local function alnum(b) return b and ((b >= 48 and b <= 57) or (b >= 65 and b <= 90) or (b >= 97 and b <= 122)) end

-- Compiles a pattern: returns a list of alternatives (each a list of nodes), or nil.
local function compile(pattern)
  local pos = 1
  local function fail() error("malformed", 0) end
  local function peek() return pattern:byte(pos) end
  local alternation
  local function count()
    local digits = pattern:match("^%d+", pos)
    if not digits then return nil end
    pos = pos + #digits
    local v = tonumber(digits)
    if v > MAX_REPEAT then return nil end
    return v
  end
  local function class()
    pos = pos + 1
    local negated = peek() == 94
    if negated then pos = pos + 1 end
    local ranges, first = {}, true
    while true do
      local b = peek()
      if b == nil then fail() end
      if b == 93 and not first then pos = pos + 1; return { t = "class", ranges = ranges, negated = negated } end
      first = false
      local low, skip_range = nil, false
      if b == 92 then
        local letter = pattern:byte(pos + 1)
        if letter == nil then fail() end
        pos = pos + 2
        local sh = SHORTHAND[letter]
        if sh and not sh[2] then
          for _, r in ipairs(sh[1]) do ranges[#ranges + 1] = r end
          skip_range = true
        elseif alnum(letter) then fail()
        else low = letter end
      else
        pos = pos + 1
        low = b
      end
      if not skip_range then
        local nxt = pattern:byte(pos + 1)
        if peek() == 45 and nxt ~= nil and nxt ~= 93 then
          pos = pos + 2
          if nxt < low then fail() end
          ranges[#ranges + 1] = { low, nxt }
        else
          ranges[#ranges + 1] = { low, low }
        end
      end
    end
  end
  local function escape()
    local letter = pattern:byte(pos + 1)
    if letter == nil then fail() end
    pos = pos + 2
    local sh = SHORTHAND[letter]
    if sh then return { t = "class", ranges = sh[1], negated = sh[2] } end
    if letter == 116 then return { t = "lit", b = 9 } end
    if letter == 110 then return { t = "lit", b = 10 } end
    if alnum(letter) then fail() end
    return { t = "lit", b = letter }
  end
  local function quantified(node)
    local b = peek()
    local min, max
    if b == 42 then min, max = 0, nil
    elseif b == 43 then min, max = 1, nil
    elseif b == 63 then min, max = 0, 1
    elseif b == 123 then
      pos = pos + 1
      min = count()
      if min == nil then fail() end
      if peek() == 44 and pattern:byte(pos + 1) == 125 then pos = pos + 1; max = nil
      elseif peek() == 44 then
        pos = pos + 1
        max = count()
        if max == nil then fail() end
      else max = min end
      if peek() ~= 125 or (max ~= nil and max < min) then fail() end
    else return node end
    pos = pos + 1
    if node.t == "start" or node.t == "end" then fail() end
    return { t = "repeat", node = node, min = min, max = max }
  end
  local function sequence(depth)
    local nodes = {}
    while true do
      local b = peek()
      if b == nil or b == 124 or b == 41 then return nodes end
      local node
      if b == 40 then
        pos = pos + 1
        local group = alternation(depth + 1)
        if peek() ~= 41 then fail() end
        pos = pos + 1
        node = { t = "group", alts = group }
      elseif b == 91 then node = class()
      elseif b == 46 then pos = pos + 1; node = { t = "any" }
      elseif b == 94 then pos = pos + 1; node = { t = "start" }
      elseif b == 36 then pos = pos + 1; node = { t = "end" }
      elseif b == 92 then node = escape()
      elseif b == 42 or b == 43 or b == 63 or b == 123 then fail()
      else pos = pos + 1; node = { t = "lit", b = b } end
      nodes[#nodes + 1] = quantified(node)
    end
  end
  function alternation(depth)
    if depth > MAX_DEPTH then fail() end
    local alts = { sequence(depth) }
    while peek() == 124 do
      pos = pos + 1
      alts[#alts + 1] = sequence(depth)
    end
    return alts
  end
  local ok, alts = pcall(function()
    local a = alternation(0)
    if pos <= #pattern then fail() end
    return a
  end)
  if ok then return alts end
  if alts ~= "malformed" then error(alts, 0) end
  return nil
end

local function class_matches(node, b)
  local inside = false
  for _, r in ipairs(node.ranges) do if b >= r[1] and b <= r[2] then inside = true break end end
  return inside ~= node.negated
end

local match_node
local function match_sequence(nodes, i, text, position, rest)
  local node = nodes[i]
  if node == nil then return rest(position) end
  return match_node(node, text, position, function(nxt) return match_sequence(nodes, i + 1, text, nxt, rest) end)
end

local function match_repeat(node, count, text, position, rest)
  if node.max == nil or count < node.max then
    local more = match_node(node.node, text, position, function(nxt)
      return (nxt ~= position or count < node.min) and match_repeat(node, count + 1, text, nxt, rest)
    end)
    if more then return true end
  end
  return count >= node.min and rest(position)
end

function match_node(node, text, position, rest)
  local t = node.t
  if t == "lit" then return text:byte(position + 1) == node.b and rest(position + 1)
  elseif t == "any" then return position < #text and rest(position + 1)
  elseif t == "class" then
    local b = text:byte(position + 1)
    return b ~= nil and class_matches(node, b) and rest(position + 1)
  elseif t == "start" then return position == 0 and rest(position)
  elseif t == "end" then return position == #text and rest(position)
  elseif t == "group" then
    for _, seq in ipairs(node.alts) do if match_sequence(seq, 1, text, position, rest) then return true end end
    return false
  else return match_repeat(node, 0, text, position, rest) end
end

local function always() return true end
local function is_match(alts, text)
  for start = 0, #text do
    for _, seq in ipairs(alts) do if match_sequence(seq, 1, text, start, always) then return true end end
  end
  return false
end

local KNOWN_CASES = {
  { "a.c", "xxabcxx", true }, { "a.c", "ac", false }, { "^ab*c$", "ac", true }, { "^ab*c$", "abbbbc", true },
  { "^ab*c$", "abbbd", false }, { "^ab+c$", "ac", false }, { "colou?r", "the color red", true },
  { "[0-9]+x", "ab12x", true }, { "^[^a-z]+$", "ABC-12", true }, { "^[^a-z]+$", "ABc-12", false },
  { "(cat|dog)s?$", "hotdogs", true }, { "(cat|dog)s?$", "dogsled", false }, { "^x{2,3}y", "xxxy", true },
  { "^x{2,3}y", "xy", false }, { "^x{2,3}y", "xxxxy", false }, { [[\w+@\w+\.com]], "mail bob@example.com now", true },
  { [[\w+@\w+\.com]], "mail bob@example.org now", false }, { [[^(a|ab)(c|bcd)(d*)$]], "abcd", true },
  { [[^\s*[\d\-]{3,}\s*$]], "  12-34 ", true }, { "^(a*)*b$", "aaaaaaac", false },
}
local MALFORMED = { "(ab", "ab)", "[a-z", "*a", "a{3,1}", "a{x}", [[a\q]], "^*" }
local PATTERNS = {
  [[^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|WARN) ]],
  [[user=(alice|bob) .*took=[1-9][0-9]{2,}ms$]],
  [[\s(DEBUG|INFO)\s+user=\w+\s+id=\d*7\s]],
}
local LEVELS = { "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "INFO" }
local USERS = { "alice", "bob", "carol", "dave", "erin" }

local function log_lines(random)
  local counts, lines = { 0, 0, 0 }, {}
  for index = 0, LINES - 1 do
    local level = index == 0 and "ERROR" or LEVELS[random.index(#LEVELS) + 1]
    local user = USERS[random.index(#USERS) + 1]
    local id = random.below(100000)
    local took = 1 + random.below(999)
    if level == "ERROR" or level == "WARN" then counts[1] = counts[1] + 1 end
    if (user == "alice" or user == "bob") and took >= 100 then counts[2] = counts[2] + 1 end
    if (level == "DEBUG" or level == "INFO") and id % 10 == 7 then counts[3] = counts[3] + 1 end
    local month = 1 + random.below(12)
    local day = 1 + random.below(28)
    local hour, minute, second = random.below(24), random.below(60), random.below(60)
    lines[#lines + 1] = string.format("2026-%02d-%02d %02d:%02d:%02d %s user=%s id=%d took=%dms",
      month, day, hour, minute, second, level, user, id, took)
  end
  return lines, counts
end

function handle(seed, flags)
  for _, case in ipairs(KNOWN_CASES) do
    local alts = compile(case[1])
    if alts == nil or is_match(alts, case[2]) ~= case[3] then return -1 end
  end
  for _, pattern in ipairs(MALFORMED) do if compile(pattern) ~= nil then return -2 end end
  local random = Rng(seed, STREAM)
  local lines, expected = log_lines(random)
  if corrupt_flag(flags) then lines[1] = "X" .. lines[1]:sub(2) end
  local h = FNV_BASIS
  for p, pattern in ipairs(PATTERNS) do
    local alts = compile(pattern)
    if alts == nil then return -3 end
    local matches = {}
    for index, line in ipairs(lines) do if is_match(alts, line) then matches[#matches + 1] = index - 1 end end
    if #matches ~= expected[p] then return -3 end
    h = fnv_value(h, #matches)
    for _, index in ipairs(matches) do h = fnv_value(h, index) end
  end
  return checksum_outcome(h)
end
