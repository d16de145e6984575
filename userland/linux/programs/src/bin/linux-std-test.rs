//! `linux-std-test`: a Rust std program for shoal's Linux personality (static-pie,
//! x86_64-unknown-linux-musl). It exercises std without threads or networking: println!/eprintln!,
//! a HashMap and a Vec (the heap), std::time::Instant (twice: monotonic, non-decreasing) and
//! SystemTime, and std::fs::read_to_string of the file named by argv[2] (default
//! `/scenarios/default`): it prints the file's first line and byte count. It exits with 0 after
//! `linux-std-test: ok` when every check passed, else with 1 after one line per failed check.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let mut failed: Vec<String> = Vec::new();
    let started = Instant::now();
    println!("linux-std-test: hello from std on x86_64-unknown-linux-musl (pid {})", std::process::id());
    eprintln!("linux-std-test: this line goes to stderr");

    let mut squares: HashMap<u64, u64> = HashMap::new();
    for n in 0..1000u64 {
        squares.insert(n, n * n);
    }
    let sum: u64 = (0..1000u64).map(|n| squares[&n]).sum();
    if squares.len() != 1000 || sum != 332_833_500 {
        failed.push(format!("hashmap: {} entries, sum {sum}", squares.len()));
    }
    let mut values: Vec<u32> = (0..4096).rev().collect();
    values.sort_unstable();
    if values.iter().enumerate().any(|(index, &value)| index as u32 != value) {
        failed.push("vec: sort gave a wrong order".into());
    }

    let path = std::env::args().nth(2).unwrap_or_else(|| "/scenarios/default".into());
    match std::fs::read_to_string(&path) {
        Ok(text) => println!("linux-std-test: {path}: {} bytes, first line {:?}", text.len(), text.lines().next().unwrap_or("")),
        Err(error) => failed.push(format!("read {path}: {error}")),
    }

    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => println!("linux-std-test: SystemTime {} s since the epoch", since.as_secs()),
        Err(error) => failed.push(format!("SystemTime before the epoch: {error}")),
    }
    let later = Instant::now();
    if later < started {
        failed.push("Instant went backwards".into());
    }
    println!("linux-std-test: {} ns between the two Instants", later.duration_since(started).as_nanos());

    if failed.is_empty() {
        println!("linux-std-test: ok");
        linux_rt::exit(0);
    }
    for failure in &failed {
        println!("linux-std-test: FAILED: {failure}");
    }
    linux_rt::exit(1);
}
