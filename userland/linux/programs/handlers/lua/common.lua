-- Shared by every Lua handler (evaluated before the handler's own file): the seeded generator
-- (SplitMix64, as `wasm_functions::Rng`), the FNV-1a 64 checksum and the outcome encoding.
-- Lua 5.4 integers are 64-bit two's complement and wrap on overflow; `>>` is a logical shift.

-- x mod b for x read as an unsigned 64-bit integer (0 < b < 2^62).
function umod(x, b)
  if x >= 0 then return x % b end
  return ((x >> 1) % b * 2 + (x & 1)) % b
end

-- Returns a generator for `seed` and the handler's `stream`.
function Rng(seed, stream)
  local state = seed ~ (stream * 0xd1b54a32d192ed03)
  local r = {}
  function r.next()
    state = state + 0x9e3779b97f4a7c15
    local z = state
    z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
    z = (z ~ (z >> 27)) * 0x94d049bb133111eb
    return z ~ (z >> 31)
  end
  -- A number in 0..bound-1.
  function r.below(bound) return umod(r.next(), bound) end
  r.index = r.below
  -- Returns a table of n random bytes, indexes 1..n (little-endian words, as `Rng::fill`).
  function r.bytes(n)
    local t, i = {}, 1
    while i <= n do
      local w = r.next()
      for k = 0, 7 do
        if i > n then break end
        t[i] = (w >> (8 * k)) & 0xff
        i = i + 1
      end
    end
    return t
  end
  return r
end

FNV_BASIS = 0xcbf29ce484222325
local FNV_PRIME = 0x100000001b3

-- Adds bytes t[i..j] to checksum h.
function fnv_bytes(h, t, i, j)
  for k = i or 1, j or #t do h = (h ~ t[k]) * FNV_PRIME end
  return h
end

-- Adds the bytes of string s to checksum h.
function fnv_string(h, s)
  for k = 1, #s do h = (h ~ s:byte(k)) * FNV_PRIME end
  return h
end

-- Adds the 8 little-endian bytes of integer v to checksum h.
function fnv_value(h, v)
  for k = 0, 7 do h = (h ~ ((v >> (8 * k)) & 0xff)) * FNV_PRIME end
  return h
end

-- The outcome of a successful handler: the low 63 bits of the checksum.
function checksum_outcome(h) return h & 0x7fffffffffffffff end

-- Whether the invocation's flags ask for a perturbed computation (abi::wasm::FLAG_CORRUPT).
function corrupt_flag(flags) return (flags & 1) ~= 0 end

-- Whether byte tables a and b (1-based) are equal.
function bytes_equal(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Byte table (1-based) of string s.
function string_bytes(s)
  local t = {}
  for i = 1, #s do t[i] = s:byte(i) end
  return t
end
