//! Reads one byte at the address given as argument (0: a byte of its own read-only data) and
//! exits with 0. With protection keys, reading another binary's read-only data in the global
//! window must fault; reading its own must not.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

static OWN: [u8; 8] = *b"own-data";

fn main(argument: u64) -> u64 {
    let address = if argument == 0 { OWN.as_ptr() as u64 } else { argument };
    shoal_rt::println!("read-address: reading {address:#x}");
    // SAFETY: deliberately reads whatever address it is given; a forbidden read faults.
    let byte = unsafe { core::ptr::read_volatile(address as *const u8) };
    shoal_rt::println!("read-address: read {byte:#x}");
    0
}
