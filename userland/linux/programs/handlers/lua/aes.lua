-- aes: AES-128 in CBC mode over 1 KiB, then decryption (port of wasm-functions/src/aes_cbc.rs).
-- Checks: 1 = FIPS-197 appendix C.1 (AES-128) and C.3 (AES-256) known answers both ways;
-- 2 = every ciphertext block differs from its plaintext; 3 = decryption gives the message back.
-- With FLAG_CORRUPT one ciphertext bit flips before decryption (check 3 fails).
local STREAM, MESSAGE_BYTES = 1, 1024

-- S-box and inverse, computed (multiplicative inverse in GF(2^8) and the affine map).
local SBOX, INV = {}, {}
do
  local p, q = 1, 1
  repeat
    p = (p ~ (p << 1) ~ ((p & 0x80) ~= 0 and 0x1b or 0)) & 0xff
    q = q ~ (q << 1); q = q ~ (q << 2); q = q ~ (q << 4); q = q & 0xff
    if (q & 0x80) ~= 0 then q = q ~ 0x09 end
    local function rotl(x, s) return ((x << s) | (x >> (8 - s))) & 0xff end
    local x = q ~ rotl(q, 1) ~ rotl(q, 2) ~ rotl(q, 3) ~ rotl(q, 4)
    SBOX[p] = x ~ 0x63
  until p == 1
  SBOX[0] = 0x63
  for i = 0, 255 do INV[SBOX[i]] = i end
end

local function xtime(a) return ((a << 1) ~ ((a & 0x80) ~= 0 and 0x1b or 0)) & 0xff end
local function mul(a, b)
  local r = 0
  while b > 0 do
    if (b & 1) ~= 0 then r = r ~ a end
    a = xtime(a); b = b >> 1
  end
  return r
end

-- Returns the expanded key (bytes 0..16*(rounds+1)-1) and the number of rounds.
local function expand(key)
  local nk = #key // 4
  local rounds = nk + 6
  local w = {}
  for i = 0, #key - 1 do w[i] = key[i + 1] end
  local rcon = 1
  for i = nk, 4 * (rounds + 1) - 1 do
    local t0, t1, t2, t3 = w[4*i-4], w[4*i-3], w[4*i-2], w[4*i-1]
    if i % nk == 0 then
      t0, t1, t2, t3 = SBOX[t1] ~ rcon, SBOX[t2], SBOX[t3], SBOX[t0]
      rcon = xtime(rcon)
    elseif nk > 6 and i % nk == 4 then
      t0, t1, t2, t3 = SBOX[t0], SBOX[t1], SBOX[t2], SBOX[t3]
    end
    local b = 4 * (i - nk)
    w[4*i], w[4*i+1], w[4*i+2], w[4*i+3] = w[b] ~ t0, w[b+1] ~ t1, w[b+2] ~ t2, w[b+3] ~ t3
  end
  return { w = w, rounds = rounds }
end

-- Encrypts the 16 bytes s[o+1..o+16] in place.
local function encrypt(k, s, o)
  local w, st = k.w, {}
  for i = 0, 15 do st[i] = s[o + i + 1] ~ w[i] end
  for round = 1, k.rounds do
    local t = {}
    for c = 0, 3 do for r = 0, 3 do t[r + 4*c] = SBOX[st[r + 4*((c + r) % 4)]] end end
    if round ~= k.rounds then
      for c = 0, 3 do
        local a0, a1, a2, a3 = t[4*c], t[4*c+1], t[4*c+2], t[4*c+3]
        local x = a0 ~ a1 ~ a2 ~ a3
        t[4*c] = a0 ~ x ~ xtime(a0 ~ a1)
        t[4*c+1] = a1 ~ x ~ xtime(a1 ~ a2)
        t[4*c+2] = a2 ~ x ~ xtime(a2 ~ a3)
        t[4*c+3] = a3 ~ x ~ xtime(a3 ~ a0)
      end
    end
    for i = 0, 15 do st[i] = t[i] ~ w[16*round + i] end
  end
  for i = 0, 15 do s[o + i + 1] = st[i] end
end

-- Decrypts the 16 bytes s[o+1..o+16] in place.
local function decrypt(k, s, o)
  local w, st = k.w, {}
  for i = 0, 15 do st[i] = s[o + i + 1] ~ w[16*k.rounds + i] end
  for round = k.rounds - 1, 0, -1 do
    local t = {}
    for c = 0, 3 do for r = 0, 3 do t[r + 4*((c + r) % 4)] = INV[st[r + 4*c]] end end
    for i = 0, 15 do t[i] = t[i] ~ w[16*round + i] end
    if round ~= 0 then
      for c = 0, 3 do
        local a0, a1, a2, a3 = t[4*c], t[4*c+1], t[4*c+2], t[4*c+3]
        t[4*c] = mul(a0, 14) ~ mul(a1, 11) ~ mul(a2, 13) ~ mul(a3, 9)
        t[4*c+1] = mul(a0, 9) ~ mul(a1, 14) ~ mul(a2, 11) ~ mul(a3, 13)
        t[4*c+2] = mul(a0, 13) ~ mul(a1, 9) ~ mul(a2, 14) ~ mul(a3, 11)
        t[4*c+3] = mul(a0, 11) ~ mul(a1, 13) ~ mul(a2, 9) ~ mul(a3, 14)
      end
    end
    st = t
  end
  for i = 0, 15 do s[o + i + 1] = st[i] end
end

local PLAIN = {0x00,0x11,0x22,0x33,0x44,0x55,0x66,0x77,0x88,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff}
local C1 = {0x69,0xc4,0xe0,0xd8,0x6a,0x7b,0x04,0x30,0xd8,0xcd,0xb7,0x80,0x70,0xb4,0xc5,0x5a}
local C3 = {0x8e,0xa2,0xb7,0xca,0x51,0x67,0x45,0xbf,0xea,0xfc,0x49,0x90,0x4b,0x49,0x60,0x89}

local function known_answers()
  local k16, k32 = {}, {}
  for i = 1, 16 do k16[i] = i - 1 end
  for i = 1, 32 do k32[i] = i - 1 end
  local a128, a256 = expand(k16), expand(k32)
  local b = {table.unpack(PLAIN)}
  encrypt(a128, b, 0); local ok1 = bytes_equal(b, C1)
  decrypt(a128, b, 0); local back1 = bytes_equal(b, PLAIN)
  encrypt(a256, b, 0); local ok3 = bytes_equal(b, C3)
  decrypt(a256, b, 0)
  return ok1 and back1 and ok3 and bytes_equal(b, PLAIN)
end

function handle(seed, flags)
  if not known_answers() then return -1 end
  local random = Rng(seed, STREAM)
  local key, iv, message = random.bytes(16), random.bytes(16), random.bytes(MESSAGE_BYTES)
  local cipher = expand(key)
  local data = {table.unpack(message)}
  local chain = iv
  for o = 0, MESSAGE_BYTES - 16, 16 do
    for i = 1, 16 do data[o + i] = data[o + i] ~ chain[i] end
    encrypt(cipher, data, o)
    chain = {table.unpack(data, o + 1, o + 16)}
  end
  for o = 0, MESSAGE_BYTES - 16, 16 do
    local same = true
    for i = 1, 16 do if data[o + i] ~= message[o + i] then same = false break end end
    if same then return -2 end
  end
  local checksum = fnv_bytes(FNV_BASIS, data)
  if corrupt_flag(flags) then
    local bit = random.index(MESSAGE_BYTES * 8)
    data[bit // 8 + 1] = data[bit // 8 + 1] ~ (1 << (bit % 8))
  end
  chain = iv
  for o = 0, MESSAGE_BYTES - 16, 16 do
    local next_chain = {table.unpack(data, o + 1, o + 16)}
    decrypt(cipher, data, o)
    for i = 1, 16 do data[o + i] = data[o + i] ~ chain[i] end
    chain = next_chain
  end
  if not bytes_equal(data, message) then return -3 end
  return checksum_outcome(checksum)
end
