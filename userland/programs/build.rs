//! Links every user program so that its segments with different permissions never share a
//! 2 MiB region: each PT_LOAD starts on its own 2 MiB boundary (plus its offset within the page,
//! as the ELF rules want). The kernel loads a binary once into a slot of the global window and
//! shares whole page tables (each maps 2 MiB) of its read-only segments between processes; a
//! writable page in the same 2 MiB would force a private table. The file does not grow: lld
//! places segments by virtual address only. (1 GiB alignment, which would let whole page
//! directories be shared, breaks the small code model: text and data end up more than 2 GiB
//! apart for RIP-relative references.)
fn main() {
    const TWO_MIB: u64 = 2 << 20;
    println!("cargo:rustc-link-arg-bins=-zmax-page-size={TWO_MIB:#x}");
}
