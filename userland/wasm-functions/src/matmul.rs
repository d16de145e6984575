//! A 16×16 matrix product in `f64`, as a numeric function does. The entries are small integers,
//! so every sum is exact and results of different evaluation orders must be equal, not merely
//! close: the product is checked against the identity, against the i-k-j loop order, and with
//! Freivalds' test C·x = A·(B·x).

use crate::{Checksum, Rng, ensure};

/// Rows and columns of the matrices.
pub const SIZE: usize = 16;
/// Entries are integers in `-ENTRY_BOUND..=ENTRY_BOUND`.
const ENTRY_BOUND: u64 = 8;
/// Bytes of the module's arena ([`crate::arena`]): the handler allocates nothing (it works on
/// the stack), but the allocator must exist.
pub const ARENA_BYTES: usize = 4 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 5;

/// Self-check: A·I = A.
pub const CHECK_IDENTITY: u32 = 1;
/// Self-check: the i-k-j order gives the same product.
pub const CHECK_LOOP_ORDER: u32 = 2;
/// Self-check: Freivalds' test C·x = A·(B·x).
pub const CHECK_FREIVALDS: u32 = 3;

/// A square matrix, row-major.
type Matrix = [[f64; SIZE]; SIZE];

/// Returns a seeded matrix of small integers.
fn random_matrix(random: &mut Rng) -> Matrix {
    let mut matrix = [[0.0; SIZE]; SIZE];
    for row in matrix.iter_mut() {
        for entry in row.iter_mut() {
            *entry = random.below(2 * ENTRY_BOUND + 1) as f64 - ENTRY_BOUND as f64;
        }
    }
    matrix
}

/// Returns `a·b`, summing in i-j-k order (one dot product per entry).
fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    let mut product = [[0.0; SIZE]; SIZE];
    for (row, product_row) in a.iter().zip(product.iter_mut()) {
        for (column, entry) in product_row.iter_mut().enumerate() {
            *entry = (0..SIZE).map(|k| row[k] * b[k][column]).sum();
        }
    }
    product
}

/// Returns `a·b`, accumulating rows in i-k-j order (the cache-friendly order).
fn multiply_ikj(a: &Matrix, b: &Matrix) -> Matrix {
    let mut product = [[0.0; SIZE]; SIZE];
    for (row, product_row) in a.iter().zip(product.iter_mut()) {
        for (k, &factor) in row.iter().enumerate() {
            for (entry, &other) in product_row.iter_mut().zip(b[k].iter()) {
                *entry += factor * other;
            }
        }
    }
    product
}

/// Returns `m·x`.
fn apply(m: &Matrix, x: &[f64; SIZE]) -> [f64; SIZE] {
    core::array::from_fn(|row| m[row].iter().zip(x).map(|(entry, value)| entry * value).sum())
}

/// Multiplies two seeded matrices and checks the product; returns a checksum of it.
///
/// # Errors
/// Returns the failed check ([`CHECK_IDENTITY`], [`CHECK_LOOP_ORDER`] or [`CHECK_FREIVALDS`]).
/// With `corrupt`, one entry of the product is off by one.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    let mut random = Rng::new(seed, STREAM);
    let a = random_matrix(&mut random);
    let b = random_matrix(&mut random);
    let identity: Matrix = core::array::from_fn(|row| core::array::from_fn(|column| if row == column { 1.0 } else { 0.0 }));
    ensure(multiply(&a, &identity) == a, CHECK_IDENTITY)?;

    let mut product = multiply(&a, &b);
    if corrupt {
        product[random.index(SIZE)][random.index(SIZE)] += 1.0;
    }
    ensure(multiply_ikj(&a, &b) == product, CHECK_LOOP_ORDER)?;
    let x: [f64; SIZE] = core::array::from_fn(|_| random.below(5) as f64 + 1.0);
    ensure(apply(&product, &x) == apply(&a, &apply(&b, &x)), CHECK_FREIVALDS)?;

    let checksum = product.iter().flatten().fold(Checksum::new(), |checksum, &entry| checksum.value(entry as i64 as u64));
    Ok(checksum.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_product() {
        let mut a = [[0.0; SIZE]; SIZE];
        let mut b = [[0.0; SIZE]; SIZE];
        a[0][0] = 2.0;
        a[0][1] = 3.0;
        b[0][0] = 5.0;
        b[1][0] = 7.0;
        assert_eq!(multiply(&a, &b)[0][0], 31.0);
        assert_eq!(multiply_ikj(&a, &b)[0][0], 31.0);
    }

    #[test]
    fn a_changed_entry_fails_the_loop_order_check() {
        assert_eq!(handle(11, true), Err(CHECK_LOOP_ORDER));
    }
}
