//! The plugin's arguments.
//!
//! QEMU splits `-plugin libtlbsim.so,a=b,c=d` at commas and hands the plugin each `key=value`
//! separately; [`PluginConfig::parse`] takes them in that order:
//!
//! | key | value | default |
//! |---|---|---|
//! | `preset`, `itlb`, `dtlb`, `stlb` | the TLB geometry, in the grammar of `geometry.rs` | `preset=skylake-client` if no geometry item is given |
//! | `ram` | path of the guest RAM file (the `mem-path` of QEMU's `memory-backend-file`) | required |
//! | `ram_below_4g` | bytes of RAM below 4 GiB: decimal, `0x` hexadecimal, or with a `K`, `M` or `G` suffix | q35's rule ([`RamLayout::q35`](crate::guest_ram::RamLayout::q35)) |
//! | `mode` | `fast` or `exact`: how instruction fetches find their address (see `plugin/mod.rs`) | `fast` |
//! | `out` | file the report lines are written to (created or truncated) | standard error |
//!
//! Every key may appear once, except the geometry keys, which the geometry grammar combines.

use core::fmt;
use std::path::PathBuf;

use crate::geometry::{self, Geometry, GeometryError};

/// The geometry used when the arguments name none.
pub const DEFAULT_PRESET: &str = "skylake-client";

/// How the plugin finds the address of an instruction fetch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FetchMode {
    /// The address a translation block was translated at (no register read per block).
    #[default]
    Fast,
    /// RIP, read when the block starts executing.
    Exact,
}

impl FetchMode {
    /// Returns the mode's argument value, `fast` or `exact`.
    pub const fn name(self) -> &'static str {
        match self {
            FetchMode::Fast => "fast",
            FetchMode::Exact => "exact",
        }
    }
}

/// The parsed plugin arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginConfig {
    /// The TLB geometry to model.
    pub geometry: Geometry,
    /// The guest RAM file.
    pub ram_path: PathBuf,
    /// Bytes of RAM below 4 GiB, if given; otherwise q35's rule applies.
    pub ram_below_4g_bytes: Option<u64>,
    /// How instruction fetches find their address.
    pub mode: FetchMode,
    /// Where report lines go; `None` for standard error.
    pub output_path: Option<PathBuf>,
}

/// What is wrong with the plugin arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// An argument without `=`.
    MissingValue(String),
    /// A key the plugin does not know.
    UnknownKey(String),
    /// A non-geometry key given twice.
    DuplicateKey(String),
    /// `mode` is neither `fast` nor `exact`.
    BadMode(String),
    /// `ram_below_4g` is not a byte count.
    BadByteCount(String),
    /// No `ram=` argument.
    MissingRam,
    /// The geometry items do not form a valid geometry.
    Geometry(GeometryError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingValue(argument) => {
                write!(formatter, "argument `{argument}` is not key=value")
            }
            ConfigError::UnknownKey(key) => write!(
                formatter,
                "unknown argument `{key}` (known: preset, itlb, dtlb, stlb, ram, ram_below_4g, \
                 mode, out)"
            ),
            ConfigError::DuplicateKey(key) => write!(formatter, "argument `{key}` given twice"),
            ConfigError::BadMode(mode) => {
                write!(formatter, "mode=`{mode}`: expected fast or exact")
            }
            ConfigError::BadByteCount(value) => write!(
                formatter,
                "ram_below_4g=`{value}`: expected bytes (decimal, 0x hexadecimal, or K/M/G suffix)"
            ),
            ConfigError::MissingRam => formatter.write_str(
                "missing ram=PATH: the guest RAM file (QEMU memory-backend-file mem-path)",
            ),
            ConfigError::Geometry(error) => write!(formatter, "geometry: {error}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl PluginConfig {
    /// Parses the plugin arguments, each `key=value`, in QEMU's order.
    ///
    /// # Errors
    ///
    /// Returns the first problem found; see [`ConfigError`].
    pub fn parse<'a, I>(arguments: I) -> Result<PluginConfig, ConfigError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut geometry_items = Vec::new();
        let mut ram_path = None;
        let mut ram_below_4g_bytes = None;
        let mut mode = None;
        let mut output_path = None;
        for argument in arguments {
            let (key, value) = argument
                .split_once('=')
                .ok_or_else(|| ConfigError::MissingValue(argument.to_owned()))?;
            if geometry::is_geometry_key(key) {
                geometry_items.push(argument);
                continue;
            }
            let duplicate = || ConfigError::DuplicateKey(key.to_owned());
            match key {
                "ram" => {
                    if ram_path.replace(PathBuf::from(value)).is_some() {
                        return Err(duplicate());
                    }
                }
                "ram_below_4g" => {
                    let bytes = parse_byte_count(value)
                        .ok_or_else(|| ConfigError::BadByteCount(value.to_owned()))?;
                    if ram_below_4g_bytes.replace(bytes).is_some() {
                        return Err(duplicate());
                    }
                }
                "mode" => {
                    let parsed = match value {
                        "fast" => FetchMode::Fast,
                        "exact" => FetchMode::Exact,
                        _ => return Err(ConfigError::BadMode(value.to_owned())),
                    };
                    if mode.replace(parsed).is_some() {
                        return Err(duplicate());
                    }
                }
                "out" => {
                    if output_path.replace(PathBuf::from(value)).is_some() {
                        return Err(duplicate());
                    }
                }
                _ => return Err(ConfigError::UnknownKey(key.to_owned())),
            }
        }
        let geometry = if geometry_items.is_empty() {
            Geometry::from_preset(DEFAULT_PRESET)
        } else {
            Geometry::parse_items(geometry_items)
        }
        .map_err(ConfigError::Geometry)?;
        Ok(PluginConfig {
            geometry,
            ram_path: ram_path.ok_or(ConfigError::MissingRam)?,
            ram_below_4g_bytes,
            mode: mode.unwrap_or_default(),
            output_path,
        })
    }
}

/// Parses a byte count: decimal, `0x` hexadecimal, or decimal with a `K`, `M` or `G` suffix
/// (binary multiples).
fn parse_byte_count(text: &str) -> Option<u64> {
    if let Some(hexadecimal) = text.strip_prefix("0x") {
        return u64::from_str_radix(hexadecimal, 16).ok();
    }
    let (digits, multiplier) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_arguments_take_the_defaults() {
        let config = PluginConfig::parse(["ram=/dev/shm/guest"]).expect("valid");
        assert_eq!(config.ram_path, PathBuf::from("/dev/shm/guest"));
        assert_eq!(config.mode, FetchMode::Fast);
        assert_eq!(config.ram_below_4g_bytes, None);
        assert_eq!(config.output_path, None);
        assert_eq!(
            config.geometry,
            Geometry::from_preset(DEFAULT_PRESET).expect("preset")
        );
    }

    #[test]
    fn every_argument() {
        let config = PluginConfig::parse([
            "preset=zen4",
            "ram=/tmp/ram",
            "stlb=1024x8",
            "ram_below_4g=2G",
            "mode=exact",
            "out=/tmp/lines",
        ])
        .expect("valid");
        assert_eq!(config.mode, FetchMode::Exact);
        assert_eq!(config.ram_below_4g_bytes, Some(2 << 30));
        assert_eq!(config.output_path, Some(PathBuf::from("/tmp/lines")));
        assert_eq!(
            config.geometry,
            Geometry::parse("preset=zen4,stlb=1024x8").expect("valid")
        );
    }

    #[test]
    fn bad_arguments_are_named() {
        let parse = |arguments: &[&str]| PluginConfig::parse(arguments.iter().copied());
        assert_eq!(
            parse(&["ram"]),
            Err(ConfigError::MissingValue("ram".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "colour=blue"]),
            Err(ConfigError::UnknownKey("colour".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "ram=b"]),
            Err(ConfigError::DuplicateKey("ram".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "mode=slow"]),
            Err(ConfigError::BadMode("slow".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "ram_below_4g=2T"]),
            Err(ConfigError::BadByteCount("2T".to_owned()))
        );
        assert_eq!(parse(&["mode=fast"]), Err(ConfigError::MissingRam));
        assert!(matches!(
            parse(&["ram=a", "preset=pentium"]),
            Err(ConfigError::Geometry(_))
        ));
    }

    #[test]
    fn byte_counts() {
        assert_eq!(parse_byte_count("2147483648"), Some(1 << 31));
        assert_eq!(parse_byte_count("0x80000000"), Some(1 << 31));
        assert_eq!(parse_byte_count("2048M"), Some(1 << 31));
        assert_eq!(parse_byte_count("512k"), Some(512 << 10));
        assert_eq!(parse_byte_count("3g"), Some(3 << 30));
        assert_eq!(parse_byte_count(""), None);
        assert_eq!(parse_byte_count("M"), None);
        assert_eq!(parse_byte_count("-1"), None);
        assert_eq!(parse_byte_count("99999999999G"), None);
    }
}
