// rotate: turn a 32x24 RGBA image by 90 degrees (port of wasm-functions/src/rotate.rs).
// Checks: 1 = the corners land where a clockwise turn puts them; 2 = two quarter turns equal a
// half turn; 3 = four quarter turns give the image back. With FLAG_CORRUPT one pixel of the
// twice-turned image changes (check 2 fails).
"use strict";
const ROT_STREAM = 6, WIDTH = 32, HEIGHT = 24;
const at = (image, x, y) => image.pixels[y * image.width + x];
function quarterTurn(image) {
  const width = image.height, height = image.width, pixels = new Uint32Array(width * height);
  let n = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[n++] = at(image, y, image.height - 1 - x);
  return { width, height, pixels };
}
const halfTurn = (image) => ({ width: image.width, height: image.height, pixels: image.pixels.slice().reverse() });
const same = (a, b) => a.width === b.width && a.height === b.height && bytesEqual(a.pixels, b.pixels);
function picture(random) {
  const pixels = new Uint32Array(WIDTH * HEIGHT);
  let n = 0;
  for (let y = 0; y < HEIGHT; y++) for (let x = 0; x < WIDTH; x++) {
    const noise = random.low32() & 0x0f0f0f0f;
    const red = Math.floor(x * 255 / WIDTH), green = Math.floor(y * 255 / HEIGHT), blue = Math.floor((x + y) * 255 / (WIDTH + HEIGHT));
    pixels[n++] = ((red << 24) | (green << 16) | (blue << 8) | 0xff) ^ noise;
  }
  return { width: WIDTH, height: HEIGHT, pixels };
}
function handle(seed, flags) {
  const random = Rng(seed, ROT_STREAM);
  const image = picture(random);
  const once = quarterTurn(image);
  const corners = once.width === HEIGHT && once.height === WIDTH && at(once, 0, 0) === at(image, 0, HEIGHT - 1)
    && at(once, HEIGHT - 1, 0) === at(image, 0, 0) && at(once, HEIGHT - 1, WIDTH - 1) === at(image, WIDTH - 1, 0)
    && at(once, 0, WIDTH - 1) === at(image, WIDTH - 1, HEIGHT - 1);
  if (!corners) return -1n;
  const twice = quarterTurn(once);
  if (corruptFlag(flags)) twice.pixels[random.index(twice.pixels.length)] ^= 0x01000000;
  if (!same(twice, halfTurn(image))) return -2n;
  if (!same(quarterTurn(quarterTurn(twice)), image)) return -3n;
  const c = new Checksum();
  for (const pixel of once.pixels) c.value(pixel);
  return c.outcome();
}
