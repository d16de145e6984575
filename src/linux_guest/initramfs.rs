//! The Linux guest's initramfs: an uncompressed cpio archive in the "newc" format.
//!
//! Linux unpacks the archive that QEMU loads with `-initrd` into its root file system and runs
//! `rdinit=` from it (`Documentation/driver-api/early-userspace/buffer-format.rst` in the kernel
//! tree describes the format). [`Initramfs`] collects the entries (directories, regular files,
//! character devices) and [`Initramfs::to_bytes`] writes them with the `cpio` crate's newc
//! writer. Every archive starts with `dev/` and `dev/console` (character device 5:1): the kernel
//! opens `/dev/console` as the init process's standard input, output and error, and without it
//! init has no console.
//!
//! The output depends on the entries only: modification times are 0, owners are root, inode
//! numbers count up from 1 in entry order, so two builds of the same inputs are byte-identical
//! and a run can be repeated from its archive's digest.
//!
//! Linux's unpacker creates nothing implicitly: a file whose directory is missing is dropped. So
//! every entry's parent must be an earlier entry, and [`Initramfs`] refuses one that is not.

use std::io::Write;
use std::path::Path;

/// The file-type bits of a directory (`S_IFDIR`).
const MODE_DIRECTORY: u32 = 0o040_000;
/// The file-type bits of a regular file (`S_IFREG`).
const MODE_REGULAR_FILE: u32 = 0o100_000;
/// The file-type bits of a character device (`S_IFCHR`).
const MODE_CHARACTER_DEVICE: u32 = 0o020_000;
/// The permission bits a mode may carry (set-user-ID, set-group-ID, sticky, rwx for three).
const PERMISSION_BITS: u32 = 0o7777;

/// The directory that holds the device nodes.
pub(crate) const DEVICE_DIRECTORY: &str = "dev";
/// The console device node every archive holds.
pub(crate) const CONSOLE_PATH: &str = "dev/console";
/// The console's major device number (`TTYAUX_MAJOR`, `Documentation/admin-guide/devices.txt`).
pub(crate) const CONSOLE_MAJOR: u32 = 5;
/// The console's minor device number.
pub(crate) const CONSOLE_MINOR: u32 = 1;
/// The console's permissions: read and write for root only, as the kernel's built-in initramfs.
pub(crate) const CONSOLE_PERMISSIONS: u32 = 0o600;
/// The permissions of `dev/`.
const DEVICE_DIRECTORY_PERMISSIONS: u32 = 0o755;

/// What went wrong while collecting or writing an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InitramfsError {
    /// The path is empty or absolute, has an empty, `.` or `..` component, or holds a NUL byte.
    BadPath(String),
    /// The path is already in the archive.
    DuplicatePath(String),
    /// The path's parent directory is not an earlier entry.
    MissingParent(String),
    /// The mode has bits outside the permission bits (0o7777).
    BadPermissions {
        /// The entry.
        path: String,
        /// The bits given.
        permissions: u32,
    },
    /// The file is larger than newc's 32-bit size field can say.
    TooLarge {
        /// The entry.
        path: String,
        /// Its size.
        size_bytes: usize,
    },
    /// Writing the archive failed.
    Io(String),
}

impl std::fmt::Display for InitramfsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitramfsError::BadPath(path) => write!(
                formatter,
                "initramfs path {path:?} is not a relative path of plain components"
            ),
            InitramfsError::DuplicatePath(path) => write!(formatter, "initramfs path {path:?} is given twice"),
            InitramfsError::MissingParent(path) => {
                write!(formatter, "initramfs path {path:?} comes before its parent directory")
            }
            InitramfsError::BadPermissions { path, permissions } => write!(
                formatter,
                "initramfs path {path:?}: permissions {permissions:#o} have bits outside {PERMISSION_BITS:#o}"
            ),
            InitramfsError::TooLarge { path, size_bytes } => write!(
                formatter,
                "initramfs file {path:?} has {size_bytes} bytes; newc holds at most {} per file",
                u32::MAX
            ),
            InitramfsError::Io(message) => write!(formatter, "writing the initramfs: {message}"),
        }
    }
}

impl std::error::Error for InitramfsError {}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file with these contents.
    File(Vec<u8>),
    /// A character device node.
    CharacterDevice {
        /// The major device number.
        major: u32,
        /// The minor device number.
        minor: u32,
    },
}

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Its path, relative to the root (`dev/console`).
    path: String,
    /// Its permission bits (the type bits come from `kind`).
    permissions: u32,
    /// What it is.
    kind: EntryKind,
}

/// The entries of an initramfs, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Initramfs {
    /// The entries, parents before children.
    entries: Vec<Entry>,
}

impl Initramfs {
    /// Returns an archive holding `dev/` and the console node `dev/console`.
    pub(crate) fn new() -> Self {
        let entries = vec![
            Entry {
                path: DEVICE_DIRECTORY.to_owned(),
                permissions: DEVICE_DIRECTORY_PERMISSIONS,
                kind: EntryKind::Directory,
            },
            Entry {
                path: CONSOLE_PATH.to_owned(),
                permissions: CONSOLE_PERMISSIONS,
                kind: EntryKind::CharacterDevice { major: CONSOLE_MAJOR, minor: CONSOLE_MINOR },
            },
        ];
        Initramfs { entries }
    }

    /// Adds a directory, e.g. `add_directory("bin", 0o755)`.
    ///
    /// # Errors
    /// Returns an error for a bad or duplicate path, a missing parent, or bad permissions.
    pub(crate) fn add_directory(&mut self, path: &str, permissions: u32) -> Result<(), InitramfsError> {
        self.push(path, permissions, EntryKind::Directory)
    }

    /// Adds a regular file with these contents, e.g. `add_file("init", &program, 0o755)`.
    ///
    /// # Errors
    /// Returns an error for a bad or duplicate path, a missing parent, bad permissions, or a file
    /// of 4 GiB or more.
    pub(crate) fn add_file(&mut self, path: &str, contents: &[u8], permissions: u32) -> Result<(), InitramfsError> {
        if u32::try_from(contents.len()).is_err() {
            return Err(InitramfsError::TooLarge { path: path.to_owned(), size_bytes: contents.len() });
        }
        self.push(path, permissions, EntryKind::File(contents.to_vec()))
    }

    /// Adds a character device node, e.g. `add_character_device("dev/null", 1, 3, 0o666)`.
    ///
    /// # Errors
    /// Returns an error for a bad or duplicate path, a missing parent, or bad permissions.
    #[allow(dead_code, reason = "the baseline's archive needs only the console node, which `new` adds")]
    pub(crate) fn add_character_device(
        &mut self,
        path: &str,
        major: u32,
        minor: u32,
        permissions: u32,
    ) -> Result<(), InitramfsError> {
        self.push(path, permissions, EntryKind::CharacterDevice { major, minor })
    }

    /// Checks an entry against the archive so far and appends it.
    fn push(&mut self, path: &str, permissions: u32, kind: EntryKind) -> Result<(), InitramfsError> {
        let plain_component = |component: &str| !component.is_empty() && component != "." && component != "..";
        if path.contains('\0') || !path.split('/').all(plain_component) {
            return Err(InitramfsError::BadPath(path.to_owned()));
        }
        if permissions & !PERMISSION_BITS != 0 {
            return Err(InitramfsError::BadPermissions { path: path.to_owned(), permissions });
        }
        if self.entries.iter().any(|entry| entry.path == path) {
            return Err(InitramfsError::DuplicatePath(path.to_owned()));
        }
        if let Some((parent, _)) = path.rsplit_once('/')
            && !self.entries.iter().any(|entry| entry.path == parent && entry.kind == EntryKind::Directory)
        {
            return Err(InitramfsError::MissingParent(path.to_owned()));
        }
        self.entries.push(Entry { path: path.to_owned(), permissions, kind });
        Ok(())
    }

    /// Returns the archive: one newc record per entry in order, then the `TRAILER!!!` record.
    ///
    /// Each record has inode number (its index + 1), owner 0:0, modification time 0, and one
    /// link (two for a directory: itself and its `.`, as `gen_init_cpio` writes them).
    ///
    /// # Errors
    /// Returns [`InitramfsError::Io`] if the `cpio` writer fails (it refuses a short or long file).
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, InitramfsError> {
        let io_error = |error: std::io::Error| InitramfsError::Io(error.to_string());
        let mut archive = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let inode = u32::try_from(index + 1).map_err(|_| InitramfsError::Io("more than 2^32 entries".into()))?;
            let (type_bits, links, contents, (major, minor)): (u32, u32, &[u8], (u32, u32)) = match &entry.kind {
                EntryKind::Directory => (MODE_DIRECTORY, 2, &[], (0, 0)),
                EntryKind::File(contents) => (MODE_REGULAR_FILE, 1, contents, (0, 0)),
                EntryKind::CharacterDevice { major, minor } => (MODE_CHARACTER_DEVICE, 1, &[], (*major, *minor)),
            };
            // add_file checked that the size fits.
            let size_bytes = u32::try_from(contents.len())
                .map_err(|_| InitramfsError::TooLarge { path: entry.path.clone(), size_bytes: contents.len() })?;
            let mut writer = cpio::NewcBuilder::new(&entry.path)
                .ino(inode)
                .mode(type_bits | entry.permissions)
                .uid(0)
                .gid(0)
                .nlink(links)
                .mtime(0)
                .rdev_major(major)
                .rdev_minor(minor)
                .write(&mut archive, size_bytes);
            writer.write_all(contents).map_err(io_error)?;
            writer.finish().map_err(io_error)?;
        }
        cpio::newc::trailer(&mut archive).map_err(io_error)?;
        Ok(archive)
    }

    /// Writes the archive to a file.
    ///
    /// # Errors
    /// Returns [`InitramfsError::Io`] naming the file when it cannot be written.
    pub(crate) fn write(&self, path: &Path) -> Result<(), InitramfsError> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|error| InitramfsError::Io(format!("{}: {error}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    /// The length of a newc header: the magic and 13 fields of 8 hex digits.
    const HEADER_BYTES: usize = 6 + 13 * 8;

    /// One record read back from an archive.
    #[derive(Debug)]
    struct Record {
        /// The 13 header fields in order: ino, mode, uid, gid, nlink, mtime, filesize,
        /// devmajor, devminor, rdevmajor, rdevminor, namesize, check.
        fields: [u32; 13],
        name: String,
        contents: Vec<u8>,
    }

    /// Parses an archive the way Linux's unpacker does, checking magic, padding (zero bytes up
    /// to each 4-byte boundary) and that nothing follows the trailer.
    fn parse(archive: &[u8]) -> Vec<Record> {
        let align = |offset: usize| offset.next_multiple_of(4);
        let mut records = Vec::new();
        let mut offset = 0;
        loop {
            assert_eq!(offset % 4, 0, "record at {offset} is not 4-byte aligned");
            let header = &archive[offset..offset + HEADER_BYTES];
            assert_eq!(&header[..6], b"070701", "bad magic at {offset}");
            let mut fields = [0u32; 13];
            for (index, field) in fields.iter_mut().enumerate() {
                let digits = std::str::from_utf8(&header[6 + index * 8..6 + (index + 1) * 8]).unwrap();
                assert!(digits.bytes().all(|byte| byte.is_ascii_hexdigit()), "field {index}: {digits:?}");
                *field = u32::from_str_radix(digits, 16).unwrap();
            }
            let name_start = offset + HEADER_BYTES;
            let name_bytes = fields[11] as usize;
            let name_end = name_start + name_bytes;
            assert_eq!(archive[name_end - 1], 0, "name not NUL-terminated");
            let name = std::str::from_utf8(&archive[name_start..name_end - 1]).unwrap().to_owned();
            let data_start = align(name_end);
            assert!(archive[name_end..data_start].iter().all(|byte| *byte == 0), "name padding of {name}");
            let data_end = data_start + fields[6] as usize;
            let contents = archive[data_start..data_end].to_vec();
            let next = align(data_end);
            assert!(archive[data_end..next].iter().all(|byte| *byte == 0), "data padding of {name}");
            let trailer = name == "TRAILER!!!";
            records.push(Record { fields, name, contents });
            offset = next;
            if trailer {
                break;
            }
        }
        assert_eq!(offset, archive.len(), "bytes after the trailer");
        records
    }

    /// An archive with an init program, a directory, and files of several sizes.
    fn sample() -> Initramfs {
        let mut initramfs = Initramfs::new();
        initramfs.add_file("init", b"\x7fELF pretend program", 0o755).unwrap();
        initramfs.add_directory("bin", 0o755).unwrap();
        initramfs.add_file("bin/tool", b"abc", 0o700).unwrap();
        initramfs.add_character_device("dev/null", 1, 3, 0o666).unwrap();
        initramfs
    }

    #[test]
    fn the_system_cpio_lists_the_archive() {
        let archive = sample().to_bytes().unwrap();
        let list = |arguments: &[&str]| -> Option<String> {
            let mut child = match Command::new("cpio")
                .args(arguments)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
            {
                Ok(child) => child,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
                Err(error) => panic!("starting cpio: {error}"),
            };
            child.stdin.take().unwrap().write_all(&archive).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "cpio failed: {}", String::from_utf8_lossy(&output.stderr));
            Some(String::from_utf8(output.stdout).unwrap())
        };
        let Some(names) = list(&["-i", "-t", "--quiet"]) else {
            eprintln!("skipped: no cpio on this machine (./setup.sh installs it)");
            return;
        };
        assert_eq!(names, "dev\ndev/console\ninit\nbin\nbin/tool\ndev/null\n");
        // `cpio -tv` prints an `ls -l` line: type and permissions, links, owner, and for a device
        // its major and minor numbers where a file has its size.
        let long = list(&["-i", "-t", "-v", "--quiet", "--numeric-uid-gid"]).unwrap();
        let console = long.lines().find(|line| line.ends_with(" dev/console")).unwrap();
        let columns: Vec<&str> = console.split_whitespace().collect();
        assert_eq!(&columns[..6], ["crw-------", "1", "0", "0", "5,", "1"], "{console}");
        let tool = long.lines().find(|line| line.ends_with(" bin/tool")).unwrap();
        assert!(tool.starts_with("-rwx------ "), "{tool}");
        assert_eq!(tool.split_whitespace().nth(4), Some("3"), "{tool}");
        let directory = long.lines().find(|line| line.ends_with(" bin")).unwrap();
        assert!(directory.starts_with("drwxr-xr-x "), "{directory}");
    }

    #[test]
    fn two_builds_of_the_same_entries_are_byte_identical() {
        let first = sample().to_bytes().unwrap();
        let second = sample().to_bytes().unwrap();
        assert_eq!(first, second);
        // Nothing of the host (time, owner) leaks in: every record has mtime 0 and owner 0:0.
        for record in parse(&first) {
            assert_eq!(record.fields[2..4], [0, 0], "owner of {}", record.name);
            assert_eq!(record.fields[5], 0, "mtime of {}", record.name);
        }
    }

    #[test]
    fn the_console_is_character_device_5_1_with_mode_0600() {
        let records = parse(&Initramfs::new().to_bytes().unwrap());
        let names: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "TRAILER!!!"]);
        let console = &records[1];
        assert_eq!(console.fields[1], 0o020_600, "mode: character device, rw for root");
        assert_eq!(console.fields[9..11], [5, 1], "rdevmajor, rdevminor");
        assert_eq!(console.fields[6], 0, "a device has no contents");
        assert_eq!(console.fields[4], 1, "links");
        let directory = &records[0];
        assert_eq!(directory.fields[1], 0o040_755);
        assert_eq!(directory.fields[9..11], [0, 0]);
    }

    #[test]
    fn inode_numbers_count_up_in_entry_order() {
        let records = parse(&sample().to_bytes().unwrap());
        let inodes: Vec<u32> = records.iter().map(|record| record.fields[0]).collect();
        assert_eq!(inodes, [1, 2, 3, 4, 5, 6, 0], "the trailer has inode 0");
    }

    #[test]
    fn names_and_contents_of_every_length_modulo_4_are_padded() {
        // Names of 1 to 8 bytes (plus dev's and the trailer's) and contents of 0 to 8 bytes give
        // every remainder modulo 4 for both paddings; parse checks the alignment and zero bytes.
        let mut initramfs = Initramfs::new();
        let mut expected = Vec::new();
        for name_bytes in 1..=8 {
            for size_bytes in 0..=8 {
                let name = format!("{}{}", "n".repeat(name_bytes), size_bytes);
                let contents: Vec<u8> = (0..size_bytes).map(|byte| b'a' + byte as u8).collect();
                initramfs.add_file(&name, &contents, 0o644).unwrap();
                expected.push((name, contents));
            }
        }
        let archive = initramfs.to_bytes().unwrap();
        let records = parse(&archive);
        assert_eq!(records.len(), 2 + expected.len() + 1);
        let mut header_remainders = [false; 4];
        let mut contents_remainders = [false; 4];
        for (record, (name, contents)) in records[2..].iter().zip(&expected) {
            assert_eq!(&record.name, name);
            assert_eq!(&record.contents, contents);
            assert_eq!(record.fields[1], 0o100_644);
            assert_eq!(record.fields[11] as usize, name.len() + 1, "namesize counts the NUL");
            header_remainders[(HEADER_BYTES + name.len() + 1) % 4] = true;
            contents_remainders[contents.len() % 4] = true;
        }
        assert_eq!(header_remainders, [true; 4], "header + name lengths cover every remainder");
        assert_eq!(contents_remainders, [true; 4], "contents lengths cover every remainder");
    }

    #[test]
    fn bad_entries_are_refused() {
        let mut initramfs = Initramfs::new();
        for path in ["", "/init", "a//b", "./init", "bin/../init", "init/", "na\0me"] {
            let refused = initramfs.add_file(path, b"", 0o755);
            assert_eq!(refused, Err(InitramfsError::BadPath(path.to_owned())), "{path:?}");
        }
        assert_eq!(
            initramfs.add_file("bin/tool", b"", 0o755),
            Err(InitramfsError::MissingParent("bin/tool".to_owned()))
        );
        assert_eq!(initramfs.add_directory("dev", 0o755), Err(InitramfsError::DuplicatePath("dev".to_owned())));
        assert_eq!(
            initramfs.add_file("init", b"", 0o100_755),
            Err(InitramfsError::BadPermissions { path: "init".to_owned(), permissions: 0o100_755 })
        );
        initramfs.add_file("init", b"", 0o755).unwrap();
        assert_eq!(
            initramfs.add_file("init/x", b"", 0o755),
            Err(InitramfsError::MissingParent("init/x".to_owned())),
            "a file is not a parent directory"
        );
        assert_eq!(parse(&initramfs.to_bytes().unwrap()).len(), 4, "refused entries leave no trace");
    }
}
