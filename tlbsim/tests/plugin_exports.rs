//! Checks that the plugin library exports what QEMU looks up when it loads a plugin.
//!
//! Loading the plugin needs QEMU, so this only inspects the `cdylib` Cargo built with the
//! test: QEMU resolves `qemu_plugin_version` (an
//! `int`, the API version) and `qemu_plugin_install` by name with `g_module_symbol`, so both must
//! be defined in the dynamic symbol table.

use std::path::PathBuf;

use goblin::elf::Elf;

/// The file name of the plugin library.
const PLUGIN_FILE: &str = "libtlbsim.so";

/// The symbols QEMU looks up.
const REQUIRED_SYMBOLS: [&str; 2] = ["qemu_plugin_version", "qemu_plugin_install"];

/// Returns the plugin library Cargo built with this test. Cargo places the `cdylib` where the
/// test executable's layout says: next to `deps/` in the classic layout
/// (`target/<profile>/deps/<test>` and `target/<profile>/libtlbsim.so`), in a sibling unit
/// directory in the newer build-dir layout (`target/<profile>/build/tlbsim/<hash>/out/`). The
/// newest candidate is the one this `cargo test` built.
fn plugin_path() -> PathBuf {
    let executable = std::env::current_exe().expect("test executable path");
    let mut candidates = Vec::new();
    for ancestor in executable.ancestors().skip(1).take(4) {
        candidates.push(ancestor.join(PLUGIN_FILE));
        if let Ok(entries) = std::fs::read_dir(ancestor) {
            for entry in entries.flatten() {
                candidates.push(entry.path().join("out").join(PLUGIN_FILE));
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|path| {
            let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
            Some((modified, path))
        })
        .max()
        .map(|(_, path)| path)
        .unwrap_or_else(|| panic!("no {PLUGIN_FILE} near {}", executable.display()))
}

#[test]
fn the_plugin_exports_the_entry_points_qemu_looks_up() {
    let path = plugin_path();
    let bytes =
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let elf = Elf::parse(&bytes).expect("the plugin is an ELF file");
    let defined: Vec<&str> = elf
        .dynsyms
        .iter()
        .filter(|symbol| symbol.st_shndx != 0)
        .filter_map(|symbol| elf.dynstrtab.get_at(symbol.st_name))
        .collect();
    for name in REQUIRED_SYMBOLS {
        assert!(
            defined.contains(&name),
            "{} does not define {name}",
            path.display()
        );
    }
}
