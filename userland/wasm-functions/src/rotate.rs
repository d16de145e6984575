//! Rotation of a 32×24 RGBA image by 90°, as an image-processing function does (the pixels are
//! `u32`s in row-major order). Checked geometrically: the corners land where a clockwise turn
//! puts them, four turns give the image back, and two turns equal a 180° turn done directly.

use alloc::vec::Vec;

use crate::{Checksum, Rng, ensure};

/// Width of the input image in pixels.
pub const WIDTH: usize = 32;
/// Height of the input image in pixels.
pub const HEIGHT: usize = 24;
/// Bytes of the module's arena ([`crate::arena`]): the four images (a peak of
/// 15 KiB on wasm32).
pub const ARENA_BYTES: usize = 24 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 6;

/// Self-check: the corners of the turned image are the right pixels.
pub const CHECK_CORNERS: u32 = 1;
/// Self-check: two quarter turns equal a half turn.
pub const CHECK_HALF_TURN: u32 = 2;
/// Self-check: four quarter turns give the image back.
pub const CHECK_FULL_TURN: u32 = 3;

/// An image: width, height and row-major pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height` RGBA pixels, row after row.
    pub pixels: Vec<u32>,
}

impl Image {
    /// Returns the pixel at column `x` of row `y`.
    pub fn at(&self, x: usize, y: usize) -> u32 {
        self.pixels[y * self.width + x]
    }

    /// Returns the image turned 90° clockwise: the bottom-left pixel becomes the top-left one.
    pub fn quarter_turn(&self) -> Image {
        let (width, height) = (self.height, self.width);
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                pixels.push(self.at(y, self.height - 1 - x));
            }
        }
        Image { width, height, pixels }
    }

    /// Returns the image turned 180°.
    pub fn half_turn(&self) -> Image {
        let pixels = self.pixels.iter().rev().copied().collect();
        Image { width: self.width, height: self.height, pixels }
    }
}

/// Returns a seeded image: smooth gradients plus noise, like a photograph's pixels.
fn picture(random: &mut Rng) -> Image {
    let mut pixels = Vec::with_capacity(WIDTH * HEIGHT);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let noise = random.next_u64() as u32 & 0x0f0f_0f0f;
            let red = (x * 255 / WIDTH) as u32;
            let green = (y * 255 / HEIGHT) as u32;
            let blue = ((x + y) * 255 / (WIDTH + HEIGHT)) as u32;
            pixels.push((red << 24 | green << 16 | blue << 8 | 0xff) ^ noise);
        }
    }
    Image { width: WIDTH, height: HEIGHT, pixels }
}

/// Rotates a seeded image and checks the turns; returns a checksum of the turned image.
///
/// # Errors
/// Returns the failed check ([`CHECK_CORNERS`], [`CHECK_HALF_TURN`] or [`CHECK_FULL_TURN`]).
/// With `corrupt`, one pixel of the twice-turned image changes.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    let mut random = Rng::new(seed, STREAM);
    let image = picture(&mut random);
    let once = image.quarter_turn();
    let corners_ok = once.width == HEIGHT
        && once.height == WIDTH
        && once.at(0, 0) == image.at(0, HEIGHT - 1)
        && once.at(HEIGHT - 1, 0) == image.at(0, 0)
        && once.at(HEIGHT - 1, WIDTH - 1) == image.at(WIDTH - 1, 0)
        && once.at(0, WIDTH - 1) == image.at(WIDTH - 1, HEIGHT - 1);
    ensure(corners_ok, CHECK_CORNERS)?;

    let mut twice = once.quarter_turn();
    if corrupt {
        let pixel = random.index(twice.pixels.len());
        twice.pixels[pixel] ^= 0x0100_0000;
    }
    ensure(twice == image.half_turn(), CHECK_HALF_TURN)?;
    let four = twice.quarter_turn().quarter_turn();
    ensure(four == image, CHECK_FULL_TURN)?;
    Ok(once.pixels.iter().fold(Checksum::new(), |checksum, &pixel| checksum.value(u64::from(pixel))).finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_2x3_image_turns_clockwise() {
        // A 2-wide, 3-high image   turned clockwise: 3 wide, 2 high
        //   1 2                      5 3 1
        //   3 4                      6 4 2
        //   5 6
        let image = Image { width: 2, height: 3, pixels: alloc::vec![1, 2, 3, 4, 5, 6] };
        let turned = image.quarter_turn();
        assert_eq!((turned.width, turned.height), (3, 2));
        assert_eq!(turned.pixels, [5, 3, 1, 6, 4, 2]);
        assert_eq!(image.half_turn().pixels, [6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn a_changed_pixel_fails_the_half_turn_check() {
        assert_eq!(handle(13, true), Err(CHECK_HALF_TURN));
    }
}
