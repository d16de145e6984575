//! The Linux baseline's guest: a pinned Debian kernel and the initramfs it boots (issue 13).
//!
//! The Linux baseline runs the same musl workload binaries (`userland/linux`) on a stock Debian 12
//! kernel under QEMU TCG and the tlbsim plugin, so their translation costs can be set beside
//! shoal's. This module holds the host side of that guest:
//!
//! - [`GuestKernel`]: finds the kernel image and its build configuration that `./setup.sh`
//!   unpacked from the package pinned in `guest/linux/kernel.pin` (embedded here, so the tool
//!   works from any directory), and checks they come from the pinned package;
//! - [`initramfs`]: writes the newc cpio archive that holds the guest's init and its files;
//! - [`GUEST_COMMAND_LINE_BASE`]: the kernel command line every guest boot starts from.
//!
//! `qemu-runner.sh --linux-kernel … --initrd … --append …` boots the guest (it keeps every QEMU
//! flag); the guest's init ends the run through the isa-debug-exit port as shoal does, so the
//! runner's statuses mean the same for both. What a measured boot wants (found by booting a
//! minimal init under tlbsim's `skylake-client` preset):
//!
//! - `--linux-kernel` [`GuestKernel::vmlinux`], not the bzImage (see the field);
//! - tlbsim's `mode=exact` for the bzImage: its boot code runs at one address and then another,
//!   and fast mode (which counts a translated block at the address it was first translated at)
//!   charged 3.25 million faulting instruction walks to it. From `vmlinux` exact mode reported 8
//!   relocated blocks in a whole boot, so fast mode is close there; the plugin's exit line
//!   (`relocated_blocks`) tells;
//! - `--icount`, for runs whose counts repeat (fixed RTC, no RDRAND: see `qemu-runner.sh`). Two
//!   boots of a minimal init then differed by at most 9 of 1.6 billion kernel instructions (one
//!   pair of four not at all); with instruction-counted time alone (host RTC, RDRAND) by about
//!   10,000, and without it by about 2 million.

pub(crate) mod initramfs;

use std::path::{Path, PathBuf};

/// The pin file, `guest/linux/kernel.pin`, as it was when this tool was built.
const KERNEL_PIN: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/guest/linux/kernel.pin"));

/// The environment variable that moves the cache (as in `setup.sh`).
const CACHE_DIRECTORY_VARIABLE: &str = "SHOAL_CACHE_DIR";
/// The cache under `$HOME` when [`CACHE_DIRECTORY_VARIABLE`] is unset or empty.
const DEFAULT_CACHE_UNDER_HOME: &str = ".cache/shoal";
/// The directory under the cache that holds one directory per kernel version.
const GUEST_CACHE_SUBDIRECTORY: &str = "linux-guest";
/// The kernel image's file in a version's cache directory (the package's bzImage).
const VMLINUZ_FILE: &str = "vmlinuz";
/// The kernel ELF file that `setup.sh` unpacks from the bzImage.
const VMLINUX_FILE: &str = "vmlinux";
/// The kernel's build configuration (the package's `boot/config-<release>`).
const CONFIG_FILE: &str = "config";
/// The SHA-256 of the package the files came from; `setup.sh` writes it last.
const PACKAGE_DIGEST_FILE: &str = "package.sha256";
/// The length of a SHA-256 digest in hex digits.
const SHA256_HEX_DIGITS: usize = 64;

/// The path of the guest's init program in the initramfs, as the kernel runs it (`rdinit=`).
pub(crate) const GUEST_INIT_PATH: &str = "/init";

/// The kernel command line every guest boot starts from (the driver appends `rdinit=` and its own
/// arguments). Each parameter (`Documentation/admin-guide/kernel-parameters.txt`):
///
/// - `console=ttyS0`: kernel messages and `/dev/console` go to the first serial port, which
///   `qemu-runner.sh` connects to its standard output;
/// - `nokaslr`: the kernel image sits at its link address on every boot (the Debian kernel has
///   `CONFIG_RANDOMIZE_BASE=y`), so its page tables and the simulator's walks repeat;
/// - `norandmaps`: no user address-space randomisation (as `randomize_va_space=0`): stack, mmap
///   base, heap and vDSO sit at the same addresses on every run, so user page walks repeat too;
/// - `transparent_hugepage=never`: no transparent huge pages (the Debian kernel defaults to
///   `CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y`); shoal maps user memory with 4 KiB pages, so the two
///   are measured alike ([`GuestKernel::huge_page_config`] reports what the kernel was built with);
/// - `panic=-1`: a kernel panic reboots at once, and QEMU (started with `-no-reboot`) then exits,
///   so a panic ends the run with the runner's "no status" result instead of at the timeout;
/// - `quiet`: only warnings and errors on the console: the serial port is slow under TCG, and the
///   workload's output stays readable.
pub(crate) const GUEST_COMMAND_LINE_BASE: &str =
    "console=ttyS0 nokaslr norandmaps transparent_hugepage=never panic=-1 quiet";

/// Returns the kernel command line that runs the initramfs's `/init`: [`GUEST_COMMAND_LINE_BASE`],
/// `rdinit=/init`, then `extra` (if not empty).
pub(crate) fn guest_command_line(extra: &str) -> String {
    let mut line = format!("{GUEST_COMMAND_LINE_BASE} rdinit={GUEST_INIT_PATH}");
    if !extra.trim().is_empty() {
        line.push(' ');
        line.push_str(extra.trim());
    }
    line
}

/// The pinned kernel package, as `guest/linux/kernel.pin` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelPin {
    /// The Debian binary package (`linux-image-6.1.0-50-amd64`).
    pub(crate) package: String,
    /// Its exact version (`6.1.176-1`); also names the cache directory.
    pub(crate) version: String,
    /// The SHA-256 of the `.deb` file, 64 lower-case hex digits.
    pub(crate) sha256: String,
    /// The path of the kernel image inside the package (`boot/vmlinuz-6.1.0-50-amd64`).
    pub(crate) vmlinuz_in_package: String,
    /// The kernel release string (`6.1.0-50-amd64`).
    pub(crate) release: String,
}

/// What is wrong with a pin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PinError {
    /// A line that is neither blank, a `#` comment, nor `key=value` with a value free of spaces.
    MalformedLine {
        /// The line's number, from 1.
        line_number: usize,
    },
    /// A key the format does not have.
    UnknownKey {
        /// The line's number, from 1.
        line_number: usize,
        /// The key.
        key: String,
    },
    /// A key given twice.
    DuplicateKey(&'static str),
    /// A required key that is not there.
    MissingKey(&'static str),
    /// The digest is not 64 lower-case hex digits.
    BadSha256(String),
}

impl std::fmt::Display for PinError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinError::MalformedLine { line_number } => {
                write!(formatter, "line {line_number} is not key=value (a value has no spaces)")
            }
            PinError::UnknownKey { line_number, key } => write!(formatter, "line {line_number}: unknown key {key:?}"),
            PinError::DuplicateKey(key) => write!(formatter, "the key {key:?} is given twice"),
            PinError::MissingKey(key) => write!(formatter, "the key {key:?} is missing"),
            PinError::BadSha256(value) => write!(
                formatter,
                "sha256 must be {SHA256_HEX_DIGITS} lower-case hex digits, not {value:?} ({} characters)",
                value.chars().count()
            ),
        }
    }
}

impl std::error::Error for PinError {}

impl KernelPin {
    /// The keys of the format, in the order [`KernelPin::parse`] fills them.
    const KEYS: [&'static str; 5] = ["package", "version", "sha256", "vmlinuz", "release"];

    /// Parses a pin file: `key=value` lines, blank lines and `#` comment lines.
    ///
    /// # Errors
    /// Returns the first problem: a malformed line, an unknown or repeated key, a missing key, or
    /// a digest that is not 64 lower-case hex digits.
    pub(crate) fn parse(text: &str) -> Result<KernelPin, PinError> {
        let mut values: [Option<String>; 5] = Default::default();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(PinError::MalformedLine { line_number });
            };
            if value.is_empty() || value.chars().any(char::is_whitespace) {
                return Err(PinError::MalformedLine { line_number });
            }
            let Some(slot) = Self::KEYS.iter().position(|known| *known == key) else {
                return Err(PinError::UnknownKey { line_number, key: key.to_owned() });
            };
            if values[slot].replace(value.to_owned()).is_some() {
                return Err(PinError::DuplicateKey(Self::KEYS[slot]));
            }
        }
        let [package, version, sha256, vmlinuz_in_package, release] = values;
        let required = |value: Option<String>, key: &'static str| value.ok_or(PinError::MissingKey(key));
        let pin = KernelPin {
            package: required(package, "package")?,
            version: required(version, "version")?,
            sha256: required(sha256, "sha256")?,
            vmlinuz_in_package: required(vmlinuz_in_package, "vmlinuz")?,
            release: required(release, "release")?,
        };
        let lower_hex = |character: char| character.is_ascii_digit() || ('a'..='f').contains(&character);
        if pin.sha256.len() != SHA256_HEX_DIGITS || !pin.sha256.chars().all(lower_hex) {
            return Err(PinError::BadSha256(pin.sha256));
        }
        Ok(pin)
    }

    /// Returns the pin this tool was built with (`guest/linux/kernel.pin`).
    ///
    /// # Errors
    /// Returns a message naming the file when it does not parse.
    pub(crate) fn built_in() -> Result<KernelPin, String> {
        KernelPin::parse(KERNEL_PIN).map_err(|error| format!("guest/linux/kernel.pin: {error}"))
    }
}

/// Returns the root of shoal's cache: `$SHOAL_CACHE_DIR`, or `$HOME/.cache/shoal` when it is
/// unset or empty (as `setup.sh` finds it).
///
/// # Errors
/// Returns a message when neither variable is set.
pub(crate) fn cache_root() -> Result<PathBuf, String> {
    if let Some(directory) = std::env::var_os(CACHE_DIRECTORY_VARIABLE).filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(directory));
    }
    match std::env::var_os("HOME").filter(|value| !value.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(DEFAULT_CACHE_UNDER_HOME)),
        None => Err(format!("neither {CACHE_DIRECTORY_VARIABLE} nor HOME is set: cannot find shoal's cache")),
    }
}

/// The guest kernel that `setup.sh` unpacked: the files to boot and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuestKernel {
    /// The Debian package the files were unpacked from.
    pub(crate) package: String,
    /// Its version.
    pub(crate) version: String,
    /// The kernel release string (`uname -r` in the guest).
    pub(crate) release: String,
    /// The SHA-256 of the package file (checked against the pin).
    pub(crate) sha256: String,
    /// The package's kernel image (a bzImage: it decompresses itself when it boots).
    pub(crate) vmlinuz: PathBuf,
    /// The same kernel as an uncompressed ELF file with a PVH entry note, which QEMU's `-kernel`
    /// starts directly: the one to pass to `qemu-runner.sh --linux-kernel`. Booted from
    /// [`GuestKernel::vmlinuz`] instead, the boot code and XZ decompressor run 4.5 billion
    /// instructions under TCG (the kernel's own boot, 1.4 billion), which would triple a boot's
    /// time under tlbsim and land in its whole-run counts.
    pub(crate) vmlinux: PathBuf,
    /// The kernel's build configuration.
    pub(crate) config: PathBuf,
}

impl GuestKernel {
    /// Finds the pinned guest kernel in the cache.
    ///
    /// # Errors
    /// Returns a message that names the fix (`./setup.sh`) when the kernel is not in the cache, or
    /// was unpacked from a package other than the pinned one; or when the pin does not parse.
    pub(crate) fn locate() -> Result<GuestKernel, String> {
        GuestKernel::locate_in(&KernelPin::built_in()?, &cache_root()?)
    }

    /// Finds the kernel `pin` names under the cache root `cache`.
    ///
    /// # Errors
    /// As [`GuestKernel::locate`].
    pub(crate) fn locate_in(pin: &KernelPin, cache: &Path) -> Result<GuestKernel, String> {
        let directory = cache.join(GUEST_CACHE_SUBDIRECTORY).join(&pin.version);
        let vmlinuz = directory.join(VMLINUZ_FILE);
        let vmlinux = directory.join(VMLINUX_FILE);
        let config = directory.join(CONFIG_FILE);
        let digest_file = directory.join(PACKAGE_DIGEST_FILE);
        let recorded = std::fs::read_to_string(&digest_file).ok();
        if !vmlinuz.is_file() || !vmlinux.is_file() || !config.is_file() || recorded.is_none() {
            return Err(format!(
                "the Linux guest kernel {} {} is not in {}: run ./setup.sh",
                pin.package,
                pin.version,
                directory.display()
            ));
        }
        let recorded = recorded.unwrap_or_default().trim().to_owned();
        if recorded != pin.sha256 {
            return Err(format!(
                "the Linux guest kernel in {} was unpacked from a package with SHA-256 {recorded}, but \
                 guest/linux/kernel.pin pins {} {} with SHA-256 {}: run ./setup.sh",
                directory.display(),
                pin.package,
                pin.version,
                pin.sha256
            ));
        }
        Ok(GuestKernel {
            package: pin.package.clone(),
            version: pin.version.clone(),
            release: pin.release.clone(),
            sha256: recorded,
            vmlinuz,
            vmlinux,
            config,
        })
    }

    /// Returns what the kernel's build configuration says about transparent huge pages: its
    /// `CONFIG_TRANSPARENT_HUGEPAGE*` and `CONFIG_READ_ONLY_THP_FOR_FS` lines, set or not, in file
    /// order (e.g. `CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y`,
    /// `# CONFIG_READ_ONLY_THP_FOR_FS is not set`), for a report.
    ///
    /// # Errors
    /// Returns a message naming the file when it cannot be read.
    #[allow(dead_code, reason = "for the linux-thp baseline's report, which is not built yet")]
    pub(crate) fn huge_page_config(&self) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(&self.config)
            .map_err(|error| format!("reading {}: {error}", self.config.display()))?;
        Ok(huge_page_lines(&text))
    }
}

/// Returns the lines of a kernel configuration that set (or leave unset) transparent huge pages.
#[allow(dead_code, reason = "for the linux-thp baseline's report, which is not built yet")]
fn huge_page_lines(config: &str) -> Vec<String> {
    const OPTIONS: [&str; 2] = ["CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_READ_ONLY_THP_FOR_FS"];
    config
        .lines()
        .filter(|line| {
            // `CONFIG_X=value` or `# CONFIG_X is not set`.
            let option = line.strip_prefix("# ").unwrap_or(line);
            let name = option.split(['=', ' ']).next().unwrap_or_default();
            name.starts_with(OPTIONS[0]) || name == OPTIONS[1]
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed pin with comments and a blank line.
    const PIN: &str = "# comment\n\npackage=linux-image-6.1.0-50-amd64\nversion=6.1.176-1\n\
        sha256=7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3\n\
        vmlinuz=boot/vmlinuz-6.1.0-50-amd64\nrelease=6.1.0-50-amd64\n";

    #[test]
    fn a_well_formed_pin_parses() {
        let pin = KernelPin::parse(PIN).unwrap();
        assert_eq!(pin.package, "linux-image-6.1.0-50-amd64");
        assert_eq!(pin.version, "6.1.176-1");
        assert_eq!(pin.sha256, "7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3");
        assert_eq!(pin.vmlinuz_in_package, "boot/vmlinuz-6.1.0-50-amd64");
        assert_eq!(pin.release, "6.1.0-50-amd64");
    }

    #[test]
    fn the_built_in_pin_parses_and_names_its_release_in_the_image_path() {
        let pin = KernelPin::built_in().unwrap();
        assert_eq!(pin.vmlinuz_in_package, format!("boot/vmlinuz-{}", pin.release));
        assert!(pin.package.ends_with(&pin.release), "{} vs {}", pin.package, pin.release);
    }

    #[test]
    fn a_missing_key_is_named() {
        for key in KernelPin::KEYS {
            let text: String = PIN
                .lines()
                .filter(|line| !line.starts_with(&format!("{key}=")))
                .map(|line| format!("{line}\n"))
                .collect();
            assert_eq!(KernelPin::parse(&text), Err(PinError::MissingKey(key)), "{key}");
        }
    }

    #[test]
    fn a_digest_of_the_wrong_length_or_case_is_refused() {
        let digest = "7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3";
        for bad in [&digest[1..], &format!("{digest}0"), &digest.to_uppercase(), &digest.replace('7', "g")] {
            let text = PIN.replace(digest, bad);
            assert_eq!(KernelPin::parse(&text), Err(PinError::BadSha256(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn malformed_unknown_and_repeated_lines_are_refused() {
        assert_eq!(
            KernelPin::parse(&format!("{PIN}just words\n")),
            Err(PinError::MalformedLine { line_number: 8 })
        );
        assert_eq!(KernelPin::parse(&format!("{PIN}release= x\n")), Err(PinError::MalformedLine { line_number: 8 }));
        assert_eq!(KernelPin::parse(&format!("{PIN}release=\n")), Err(PinError::MalformedLine { line_number: 8 }));
        assert_eq!(
            KernelPin::parse(&format!("{PIN}flavour=amd64\n")),
            Err(PinError::UnknownKey { line_number: 8, key: "flavour".to_owned() })
        );
        assert_eq!(KernelPin::parse(&format!("{PIN}version=6.1.0-1\n")), Err(PinError::DuplicateKey("version")));
    }

    #[test]
    fn locate_names_setup_sh_when_the_kernel_is_missing_or_from_another_package() {
        let pin = KernelPin::parse(PIN).unwrap();
        let cache = tempfile::Builder::new().prefix("shoal-linux-guest-locate-").tempdir().expect("creating a temporary directory");
        let error = GuestKernel::locate_in(&pin, cache.path()).unwrap_err();
        assert!(error.contains("linux-image-6.1.0-50-amd64 6.1.176-1 is not in"), "{error}");
        assert!(error.ends_with(": run ./setup.sh"), "{error}");

        let directory = cache.path().join("linux-guest/6.1.176-1");
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("vmlinuz"), b"kernel").unwrap();
        std::fs::write(directory.join("vmlinux"), b"\x7fELF").unwrap();
        std::fs::write(directory.join("config"), "CONFIG_TRANSPARENT_HUGEPAGE=y\n").unwrap();
        let error = GuestKernel::locate_in(&pin, cache.path()).unwrap_err();
        assert!(error.contains("is not in"), "no package.sha256 yet means an incomplete copy: {error}");

        std::fs::write(directory.join("package.sha256"), format!("{}\n", "0".repeat(64))).unwrap();
        let error = GuestKernel::locate_in(&pin, cache.path()).unwrap_err();
        let pinned = format!("pins linux-image-6.1.0-50-amd64 6.1.176-1 with SHA-256 {}", pin.sha256);
        assert!(error.contains(&pinned), "{error}");
        assert!(error.ends_with(": run ./setup.sh"), "{error}");

        std::fs::write(directory.join("package.sha256"), format!("{}\n", pin.sha256)).unwrap();
        let kernel = GuestKernel::locate_in(&pin, cache.path()).unwrap();
        assert_eq!(kernel.vmlinuz, directory.join("vmlinuz"));
        assert_eq!(kernel.vmlinux, directory.join("vmlinux"));
        assert_eq!(kernel.config, directory.join("config"));
        assert_eq!(kernel.sha256, pin.sha256);
        assert_eq!(kernel.release, "6.1.0-50-amd64");
        assert_eq!(kernel.huge_page_config().unwrap(), ["CONFIG_TRANSPARENT_HUGEPAGE=y"]);
    }

    #[test]
    fn the_huge_page_lines_are_picked_out_of_a_config() {
        let config = "CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE=y\nCONFIG_TRANSPARENT_HUGEPAGE=y\n\
            CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y\n# CONFIG_TRANSPARENT_HUGEPAGE_MADVISE is not set\n\
            CONFIG_THP_SWAP=y\n# CONFIG_READ_ONLY_THP_FOR_FS is not set\nCONFIG_HZ=250\n";
        assert_eq!(
            huge_page_lines(config),
            [
                "CONFIG_TRANSPARENT_HUGEPAGE=y",
                "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y",
                "# CONFIG_TRANSPARENT_HUGEPAGE_MADVISE is not set",
                "# CONFIG_READ_ONLY_THP_FOR_FS is not set",
            ]
        );
    }

    #[test]
    fn the_command_line_runs_init_and_appends_extra_arguments() {
        assert_eq!(
            guest_command_line(""),
            "console=ttyS0 nokaslr norandmaps transparent_hugepage=never panic=-1 quiet rdinit=/init"
        );
        assert!(guest_command_line(" workload=js ").ends_with(" rdinit=/init workload=js"));
    }
}
