//! Measurement harnesses: the density study.
//!
//! `density` sweeps translation modes and instance counts for a function workload and prints
//! one machine-readable `result: density ...` line per configuration; each configuration is one
//! tlbsim phase (the simulator's counts are joined with the line by the phase id).

pub mod density;
