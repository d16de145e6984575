//! `shoal iso`: a bootable ISO for UEFI machines (a CD, or a server's virtual media).
//!
//! The bootloader's UEFI system partition (a FAT image holding `efi/boot/bootx64.efi`, the
//! kernel, its `boot.json` and the ramdisk) becomes the El Torito EFI boot image `efi.img`
//! (no emulation) of an ISO 9660 file system made by xorriso.
//!
//! A real machine has no fw_cfg, so the kernel takes its arguments from the ramdisk's `args` file
//! (`kernel/src/config.rs`). With `--args` (and/or `--bench`, which starts from the bench image's
//! ramdisk with the 8 and 64 MiB runtimes), the partition is rebuilt: its files are copied out
//! with mtools, the ramdisk is rewritten with `args` first, and a fresh FAT32 image receives them.
//! The kernel checks the arguments when it boots and stops with a message naming a bad one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// What goes into the ISO.
pub(crate) struct IsoOptions<'a> {
    /// Where to write it.
    pub(crate) out: &'a Path,
    /// The UEFI system partition the bootloader made.
    pub(crate) partition: &'a Path,
    /// The ramdisk to put in it instead of the partition's own (the bench ramdisk), if any.
    pub(crate) ramdisk: Option<&'a Path>,
    /// Kernel arguments for the ramdisk's `args` file, if any.
    pub(crate) args: Option<&'a str>,
}

/// Bytes of one MiB.
const MIB: u64 = 1 << 20;
/// Smallest FAT32 image mformat makes reliably (FAT32 needs 65525 clusters or more).
const MIN_FAT_BYTES: u64 = 64 * MIB;
/// Room left in a rebuilt FAT image besides its files (directories, FAT tables, slack).
const FAT_SLACK_BYTES: u64 = 8 * MIB;
/// Longest `args` file the kernel accepts (`kernel_args::MAX_ARGS_BYTES`).
const MAX_ARGS_BYTES: usize = 4096;

/// Checks a kernel argument string before it goes into an image.
///
/// # Errors
/// Returns a message when it is empty, too long, or not printable ASCII on one line.
pub(crate) fn check_args(args: &str) -> Result<(), String> {
    if args.trim().is_empty() {
        return Err("--args is empty".into());
    }
    if args.len() > MAX_ARGS_BYTES {
        return Err(format!("--args is {} bytes long; the kernel accepts at most {MAX_ARGS_BYTES}", args.len()));
    }
    if let Some(bad) = args.chars().find(|character| !(character.is_ascii_graphic() || *character == ' ')) {
        return Err(format!("--args may hold printable ASCII and spaces only, not {bad:?}"));
    }
    Ok(())
}

/// Returns `ramdisk` with an `args` file holding `args` in front of its entries (replacing an
/// `args` file it already has).
///
/// # Errors
/// Returns a message when `ramdisk` is not a valid archive or an entry cannot be added.
pub(crate) fn ramdisk_with_args(ramdisk: &[u8], args: &str) -> Result<Vec<u8>, String> {
    const ARGS_FILE: &str = "args";
    let archive = ramdisk::Ramdisk::parse(ramdisk).map_err(|error| format!("reading the ramdisk: {error:?}"))?;
    let mut builder = ramdisk::Builder::new();
    builder.add(ARGS_FILE, args.as_bytes()).map_err(|error| format!("adding args: {error:?}"))?;
    for entry in archive.entries().filter(|entry| entry.name != ARGS_FILE) {
        builder.add(entry.name, entry.bytes).map_err(|error| format!("adding {}: {error:?}", entry.name))?;
    }
    Ok(builder.finish())
}

/// Writes the ISO.
///
/// # Errors
/// Returns a message when a tool is missing or fails, or a file cannot be read or written.
pub(crate) fn write_iso(options: &IsoOptions<'_>) -> Result<(), String> {
    if let Some(parent) = options.out.parent().filter(|parent| !parent.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(format!("the directory {} does not exist", parent.display()));
    }
    if let Some(args) = options.args {
        check_args(args)?;
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    let staging = std::env::temp_dir().join(format!("shoal-iso-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&staging).map_err(|error| format!("creating {}: {error}", staging.display()))?;
    let result = (|| {
        // The ISO holds `root/` (just `efi.img`); the partition's files are staged beside it.
        let root = staging.join("root");
        std::fs::create_dir(&root).map_err(|error| format!("creating {}: {error}", root.display()))?;
        let efi_image = root.join("efi.img");
        if options.args.is_none() && options.ramdisk.is_none() {
            std::fs::copy(options.partition, &efi_image)
                .map_err(|error| format!("copying {} to {}: {error}", options.partition.display(), efi_image.display()))?;
        } else {
            rebuild_partition(options, &staging, &efi_image)?;
        }
        let mut command = Command::new("xorriso");
        command.args(["-as", "mkisofs", "-e", "efi.img", "-no-emul-boot", "-o"]).arg(options.out).arg(&root);
        run(&mut command, "xorriso")
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Copies the partition's files out, replaces the ramdisk, and makes a FAT32 `efi_image` of them.
fn rebuild_partition(options: &IsoOptions<'_>, staging: &Path, efi_image: &Path) -> Result<(), String> {
    let files = staging.join("files");
    std::fs::create_dir(&files).map_err(|error| format!("creating {}: {error}", files.display()))?;
    let partition = options.partition.display().to_string();
    run(Command::new("mcopy").args(["-s", "-i", &partition, "::*"]).arg(format!("{}/", files.display())), "mcopy")?;
    let ramdisk_path = files.join("ramdisk");
    let ramdisk = match options.ramdisk {
        Some(path) => std::fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))?,
        None => std::fs::read(&ramdisk_path).map_err(|error| format!("reading the partition's ramdisk: {error}"))?,
    };
    let ramdisk = match options.args {
        Some(args) => ramdisk_with_args(&ramdisk, args)?,
        None => ramdisk,
    };
    std::fs::write(&ramdisk_path, &ramdisk).map_err(|error| format!("writing {}: {error}", ramdisk_path.display()))?;
    let contents: u64 = walk(&files)?.iter().map(|path| std::fs::metadata(path).map_or(0, |metadata| metadata.len())).sum();
    let size = (contents + FAT_SLACK_BYTES).div_ceil(MIB) * MIB;
    let image = std::fs::File::create(efi_image).map_err(|error| format!("creating {}: {error}", efi_image.display()))?;
    image.set_len(size.max(MIN_FAT_BYTES)).map_err(|error| format!("sizing {}: {error}", efi_image.display()))?;
    let image_path = efi_image.display().to_string();
    run(Command::new("mformat").args(["-i", &image_path, "-F", "-v", "SHOAL", "::"]), "mformat")?;
    let mut copy = Command::new("mcopy");
    copy.args(["-s", "-i", &image_path]);
    for entry in std::fs::read_dir(&files).map_err(|error| format!("listing {}: {error}", files.display()))? {
        copy.arg(entry.map_err(|error| format!("listing {}: {error}", files.display()))?.path());
    }
    copy.arg("::");
    run(&mut copy, "mcopy")
}

/// Returns every file under `directory`.
fn walk(directory: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).map_err(|error| format!("listing {}: {error}", directory.display()))? {
        let path = entry.map_err(|error| format!("listing {}: {error}", directory.display()))?.path();
        if path.is_dir() { files.extend(walk(&path)?) } else { files.push(path) }
    }
    Ok(files)
}

/// Runs `command`, printing it first; a failure carries its standard error.
fn run(command: &mut Command, tool: &str) -> Result<(), String> {
    eprintln!("shoal: {}", crate::describe(command));
    let output = command.output().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => format!("{tool} not found: run ./setup.sh"),
        _ => format!("running {tool}: {error}"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{tool} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_go_first_and_replace_an_older_args_file() {
        let mut original = ramdisk::Builder::new();
        original.add("args", b"test=old").expect("adding");
        original.add("bin/hello", b"\x7fELF").expect("adding");
        let rewritten = ramdisk_with_args(&original.finish(), "test=timer").expect("rewriting");
        let archive = ramdisk::Ramdisk::parse(&rewritten).expect("a valid archive");
        let names: Vec<&str> = archive.entries().map(|entry| entry.name).collect();
        assert_eq!(names, ["args", "bin/hello"]);
        assert_eq!(archive.get("args"), Some(&b"test=timer"[..]));
        assert_eq!(archive.get("bin/hello"), Some(&b"\x7fELF"[..]));
    }

    #[test]
    fn bad_args_are_refused_before_anything_is_written() {
        assert_eq!(check_args("test=density instances=1,64"), Ok(()));
        assert_eq!(check_args("  "), Err("--args is empty".into()));
        assert_eq!(check_args("test=timer\nlog=debug"), Err("--args may hold printable ASCII and spaces only, not '\\n'".into()));
        assert_eq!(check_args(&"x".repeat(4097)), Err("--args is 4097 bytes long; the kernel accepts at most 4096".into()));
        assert!(ramdisk_with_args(b"not a tar archive", "test=timer").is_err());
    }
}
