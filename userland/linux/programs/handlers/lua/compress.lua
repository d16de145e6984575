-- compress: LZ77 compression of 4 KiB of seeded text, then decompression (after
-- wasm-functions/src/compress.rs, which uses DEFLATE from miniz_oxide). NOT DEFLATE: Lua has no
-- compression library and there was no time to check a DEFLATE inflater against the Rust
-- known-answer stream, so this is a byte-oriented LZ77 with its own known-answer stream.
-- Format: a control byte c < 0x80 is followed by c+1 literal bytes; c >= 0x80 is a match of
-- (c & 0x7f) + 3 bytes at distance d (the next two bytes, little-endian, 1 <= d <= output).
-- Checks: 1 = a fixed stream decompresses to its text; 2 = the text compresses to fewer bytes;
-- 3 = decompression gives the text back. With FLAG_CORRUPT one byte of the compressed stream
-- changes before decompression (check 3 fails).
local STREAM, INPUT_BYTES, MIN_MATCH, MAX_MATCH = 2, 4096, 3, 130
local KNOWN_TEXT = "shoal shoal shoal!"
local KNOWN_STREAM = { 5, 115, 104, 111, 97, 108, 32, 0x88, 6, 0, 0, 33 }
local WORDS = { "function", "instance", "warm", "cold", "start", "page", "table", "global", "segment", "translation", "lookaside", "buffer",
  "process", "kernel", "runtime", "invocation", "density", "memory", "frame", "address", "space", "switch", "context", "the" }

local function text_of(random)
  local out = {}
  while #out < INPUT_BYTES do
    local word = WORDS[random.index(#WORDS) + 1]
    for i = 1, #word do out[#out + 1] = word:byte(i) end
    local r = random.below(16)
    out[#out + 1] = r == 0 and 10 or ((r == 1 or r == 2) and 46 or 32)
  end
  for i = #out, INPUT_BYTES + 1, -1 do out[i] = nil end
  return out
end

local function compress(input)
  local out, head, literals = {}, {}, {}
  local function flush()
    local at = 1
    while at <= #literals do
      local n = math.min(128, #literals - at + 1)
      out[#out + 1] = n - 1
      for k = at, at + n - 1 do out[#out + 1] = literals[k] end
      at = at + n
    end
    literals = {}
  end
  local i, n = 1, #input
  while i <= n do
    local best, distance = 0, 0
    if i + 2 <= n then
      local key = input[i] << 16 | input[i + 1] << 8 | input[i + 2]
      local candidate = head[key]
      head[key] = i
      if candidate and i - candidate <= 0xffff then
        local length = 0
        while length < MAX_MATCH and i + length <= n and input[candidate + length] == input[i + length] do length = length + 1 end
        if length >= MIN_MATCH then best, distance = length, i - candidate end
      end
    end
    if best > 0 then
      flush()
      out[#out + 1] = 0x80 | (best - MIN_MATCH)
      out[#out + 1] = distance & 0xff
      out[#out + 1] = distance >> 8
      for k = i + 1, math.min(i + best - 1, n - 2) do head[input[k] << 16 | input[k + 1] << 8 | input[k + 2]] = k end
      i = i + best
    else
      literals[#literals + 1] = input[i]
      i = i + 1
    end
  end
  flush()
  return out
end

-- Returns the decompressed bytes, or nil for a malformed stream or one longer than limit.
local function decompress(stream, limit)
  local out, i = {}, 1
  while i <= #stream do
    local c = stream[i]
    if c < 0x80 then
      if i + c + 1 > #stream or #out + c + 1 > limit then return nil end
      for k = i + 1, i + c + 1 do out[#out + 1] = stream[k] end
      i = i + c + 2
    else
      if i + 2 > #stream then return nil end
      local length, distance = (c & 0x7f) + MIN_MATCH, stream[i + 1] | stream[i + 2] << 8
      if distance == 0 or distance > #out or #out + length > limit then return nil end
      for _ = 1, length do out[#out + 1] = out[#out + 1 - distance] end
      i = i + 3
    end
  end
  return out
end

function handle(seed, flags)
  local known = decompress(KNOWN_STREAM, #KNOWN_TEXT)
  if known == nil or not bytes_equal(known, string_bytes(KNOWN_TEXT)) then return -1 end
  local random = Rng(seed, STREAM)
  local input = text_of(random)
  local compressed = compress(input)
  if #compressed >= #input then return -2 end
  local checksum = fnv_value(fnv_bytes(FNV_BASIS, compressed), #compressed)
  if corrupt_flag(flags) then
    local p = random.index(#compressed) + 1
    compressed[p] = compressed[p] ~ 0x5a
  end
  local output = decompress(compressed, INPUT_BYTES)
  if output == nil or not bytes_equal(output, input) then return -3 end
  return checksum_outcome(checksum)
end
