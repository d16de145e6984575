-- sha256: SHA-256 of 4 KiB, whole and in uneven pieces (port of wasm-functions/src/sha256.rs).
-- Checks: 1 = FIPS 180-2 appendix B vectors ("abc", the 448-bit message, the empty message);
-- 2 = the whole input and its pieces give one digest. With FLAG_CORRUPT one byte changes
-- between the two passes (check 2 fails).
local STREAM, INPUT_BYTES, PIECE_MAX_BYTES = 4, 4096, 97
local M = 0xffffffff
local K = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2}

local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & M end

-- An incremental hasher: update(bytes, i, j) adds bytes[i..j]; finish() returns the digest bytes.
local function Sha256()
  local h = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19}
  local block, filled, total = {}, 0, 0
  local w = {}
  local function compress()
    for t = 0, 15 do
      w[t] = (block[4*t+1] << 24) | (block[4*t+2] << 16) | (block[4*t+3] << 8) | block[4*t+4]
    end
    for t = 16, 63 do
      local a, b = w[t-15], w[t-2]
      local s0 = rotr(a, 7) ~ rotr(a, 18) ~ (a >> 3)
      local s1 = rotr(b, 17) ~ rotr(b, 19) ~ (b >> 10)
      w[t] = (w[t-16] + s0 + w[t-7] + s1) & M
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for t = 0, 63 do
      local s1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
      local ch = (e & f) ~ ((~e) & g)
      local t1 = (hh + s1 + ch + K[t+1] + w[t]) & M
      local s0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (s0 + maj) & M
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M, c, b, a, (t1 + t2) & M
    end
    h[1] = (h[1] + a) & M; h[2] = (h[2] + b) & M; h[3] = (h[3] + c) & M; h[4] = (h[4] + d) & M
    h[5] = (h[5] + e) & M; h[6] = (h[6] + f) & M; h[7] = (h[7] + g) & M; h[8] = (h[8] + hh) & M
  end
  local s = {}
  function s.update(bytes, i, j)
    for k = i, j do
      filled = filled + 1
      block[filled] = bytes[k]
      if filled == 64 then compress(); filled = 0 end
    end
    total = total + (j - i + 1)
  end
  function s.finish()
    local bits = total * 8
    local pad = {0x80}
    while (filled + #pad) % 64 ~= 56 do pad[#pad + 1] = 0 end
    for k = 7, 0, -1 do pad[#pad + 1] = (bits >> (8 * k)) & 0xff end
    local keep = total
    s.update(pad, 1, #pad)
    total = keep
    local out = {}
    for k = 1, 8 do for b = 3, 0, -1 do out[#out + 1] = (h[k] >> (8 * b)) & 0xff end end
    return out
  end
  return s
end

local function digest(bytes)
  local s = Sha256(); s.update(bytes, 1, #bytes); return s.finish()
end

local function hex(bytes)
  local t = {}
  for i = 1, #bytes do t[i] = string.format("%02x", bytes[i]) end
  return table.concat(t)
end

local KNOWN = {
  {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
  {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
}

function handle(seed, flags)
  for _, known in ipairs(KNOWN) do
    if hex(digest(string_bytes(known[1]))) ~= known[2] then return -1 end
  end
  local random = Rng(seed, STREAM)
  local data = random.bytes(INPUT_BYTES)
  local whole = digest(data)
  if corrupt_flag(flags) then
    local position = random.index(INPUT_BYTES) + 1
    data[position] = data[position] ~ 1
  end
  local s, at = Sha256(), 1
  while at <= INPUT_BYTES do
    local piece = math.min(1 + random.index(PIECE_MAX_BYTES), INPUT_BYTES - at + 1)
    s.update(data, at, at + piece - 1)
    at = at + piece
  end
  if not bytes_equal(whole, s.finish()) then return -2 end
  return checksum_outcome(fnv_bytes(FNV_BASIS, whole))
end
