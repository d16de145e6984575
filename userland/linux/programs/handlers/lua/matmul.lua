-- matmul: 16x16 matrix product in floats (port of wasm-functions/src/matmul.rs). The entries
-- are small integers, so sums are exact and every evaluation order must agree exactly.
-- Checks: 1 = A*I = A; 2 = the i-k-j order gives the same product; 3 = Freivalds C*x = A*(B*x).
-- With FLAG_CORRUPT one entry of the product is off by one (check 2 fails).
local STREAM, SIZE, BOUND = 5, 16, 8

local function random_matrix(random)
  local m = {}
  for i = 1, SIZE do
    m[i] = {}
    for j = 1, SIZE do m[i][j] = (random.below(2 * BOUND + 1) - BOUND) + 0.0 end
  end
  return m
end

local function multiply(a, b)
  local p = {}
  for i = 1, SIZE do
    p[i] = {}
    for j = 1, SIZE do
      local sum = 0.0
      for k = 1, SIZE do sum = sum + a[i][k] * b[k][j] end
      p[i][j] = sum
    end
  end
  return p
end

local function multiply_ikj(a, b)
  local p = {}
  for i = 1, SIZE do
    local row = {}
    for j = 1, SIZE do row[j] = 0.0 end
    for k = 1, SIZE do
      local factor, other = a[i][k], b[k]
      for j = 1, SIZE do row[j] = row[j] + factor * other[j] end
    end
    p[i] = row
  end
  return p
end

local function apply(m, x)
  local y = {}
  for i = 1, SIZE do
    local sum = 0.0
    for j = 1, SIZE do sum = sum + m[i][j] * x[j] end
    y[i] = sum
  end
  return y
end

local function equal(a, b)
  for i = 1, SIZE do
    if type(a[i]) == "table" then
      for j = 1, SIZE do if a[i][j] ~= b[i][j] then return false end end
    elseif a[i] ~= b[i] then return false end
  end
  return true
end

function handle(seed, flags)
  local random = Rng(seed, STREAM)
  local a = random_matrix(random)
  local b = random_matrix(random)
  local identity = {}
  for i = 1, SIZE do
    identity[i] = {}
    for j = 1, SIZE do identity[i][j] = i == j and 1.0 or 0.0 end
  end
  if not equal(multiply(a, identity), a) then return -1 end
  local product = multiply(a, b)
  if corrupt_flag(flags) then
    local i = random.index(SIZE) + 1
    local j = random.index(SIZE) + 1
    product[i][j] = product[i][j] + 1.0
  end
  if not equal(multiply_ikj(a, b), product) then return -2 end
  local x = {}
  for i = 1, SIZE do x[i] = random.below(5) + 1.0 end
  if not equal(apply(product, x), apply(a, apply(b, x))) then return -3 end
  local h = FNV_BASIS
  for i = 1, SIZE do for j = 1, SIZE do h = fnv_value(h, math.tointeger(product[i][j])) end end
  return checksum_outcome(h)
end
