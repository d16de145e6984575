-- rotate: turn a 32x24 RGBA image by 90 degrees (port of wasm-functions/src/rotate.rs).
-- Checks: 1 = the corners land where a clockwise turn puts them; 2 = two quarter turns equal a
-- half turn; 3 = four quarter turns give the image back. With FLAG_CORRUPT one pixel of the
-- twice-turned image changes (check 2 fails).
local STREAM, WIDTH, HEIGHT = 6, 32, 24

-- An image: {width, height, pixels (row-major, 1-based)}; at(x, y) is 0-based.
local function at(image, x, y) return image.pixels[y * image.width + x + 1] end

local function quarter_turn(image)
  local width, height, pixels = image.height, image.width, {}
  for y = 0, height - 1 do
    for x = 0, width - 1 do pixels[#pixels + 1] = at(image, y, image.height - 1 - x) end
  end
  return { width = width, height = height, pixels = pixels }
end

local function half_turn(image)
  local pixels, n = {}, #image.pixels
  for i = 1, n do pixels[i] = image.pixels[n + 1 - i] end
  return { width = image.width, height = image.height, pixels = pixels }
end

local function same(a, b)
  return a.width == b.width and a.height == b.height and bytes_equal(a.pixels, b.pixels)
end

local function picture(random)
  local pixels = {}
  for y = 0, HEIGHT - 1 do
    for x = 0, WIDTH - 1 do
      local noise = random.next() & 0x0f0f0f0f
      local red = x * 255 // WIDTH
      local green = y * 255 // HEIGHT
      local blue = (x + y) * 255 // (WIDTH + HEIGHT)
      pixels[#pixels + 1] = ((red << 24) | (green << 16) | (blue << 8) | 0xff) ~ noise
    end
  end
  return { width = WIDTH, height = HEIGHT, pixels = pixels }
end

function handle(seed, flags)
  local random = Rng(seed, STREAM)
  local image = picture(random)
  local once = quarter_turn(image)
  local corners = once.width == HEIGHT and once.height == WIDTH
    and at(once, 0, 0) == at(image, 0, HEIGHT - 1)
    and at(once, HEIGHT - 1, 0) == at(image, 0, 0)
    and at(once, HEIGHT - 1, WIDTH - 1) == at(image, WIDTH - 1, 0)
    and at(once, 0, WIDTH - 1) == at(image, WIDTH - 1, HEIGHT - 1)
  if not corners then return -1 end
  local twice = quarter_turn(once)
  if corrupt_flag(flags) then
    local pixel = random.index(#twice.pixels) + 1
    twice.pixels[pixel] = twice.pixels[pixel] ~ 0x01000000
  end
  if not same(twice, half_turn(image)) then return -2 end
  if not same(quarter_turn(quarter_turn(twice)), image) then return -3 end
  local h = FNV_BASIS
  for i = 1, #once.pixels do h = fnv_value(h, once.pixels[i]) end
  return checksum_outcome(h)
end
