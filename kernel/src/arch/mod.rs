//! Architecture support. shoal runs on x86_64 only; the split keeps the hardware edge in one
//! directory, where `unsafe` is allowed.

pub mod x86_64;
