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
//! | `psc` | `low`, `nominal` or `high`: the paging-structure-cache sizes of the walk-cost model | `nominal` |
//! | `cost_data` | `on` or `off`: feed data accesses to the cost model's cache hierarchy | `on` |
//! | `base_cpi` | the base CPI of the cost line, a decimal with up to 3 fractional digits (`1`, `0.25`) | the preset's (1.0) |
//! | `memory_callbacks` | `counted` or `empty`: `empty` registers the memory callback on every load and store as usual but gives it an empty body, so no data access is counted (every `d.` count and the data walks stay 0): the floor QEMU's plugin interface sets, for speed measurements only (the plugin says so on its first line) | `counted` |
//!
//! Every key may appear once, except the geometry keys, which the geometry grammar combines.
//! The walk-cost model uses the parameters of the geometry's `preset=` (or of
//! [`DEFAULT_PRESET`] when the geometry names no preset).

use core::fmt;
use std::path::PathBuf;

use crate::cost::PscSensitivity;
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
    /// The preset whose walk-cost parameters are used: the geometry's `preset=`, else
    /// [`DEFAULT_PRESET`].
    pub cost_preset: String,
    /// Which paging-structure-cache sizes the walk-cost model uses.
    pub psc: PscSensitivity,
    /// Whether data accesses are fed to the cost model's cache hierarchy.
    pub cost_data: bool,
    /// The base CPI in thousandths, if given; otherwise the preset's.
    pub base_cpi_milli: Option<u32>,
    /// Whether the memory callback counts the access or returns at once (a speed floor).
    pub memory_callbacks: MemoryCallbacks,
}

/// What the memory callback registered on every load and store does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MemoryCallbacks {
    /// Counts the access (the simulator).
    #[default]
    Counted,
    /// Returns at once: what QEMU's callback mechanism alone costs, for speed measurements.
    Empty,
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
    /// `psc` is not `low`, `nominal` or `high`.
    BadPsc(String),
    /// `cost_data` is not `on` or `off`.
    BadCostData(String),
    /// `base_cpi` is not a positive decimal with at most three fractional digits.
    BadBaseCpi(String),
    /// `memory_callbacks` is not `counted` or `empty`.
    BadMemoryCallbacks(String),
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
                 mode, out, psc, cost_data, base_cpi, memory_callbacks)"
            ),
            ConfigError::DuplicateKey(key) => write!(formatter, "argument `{key}` given twice"),
            ConfigError::BadMode(mode) => {
                write!(formatter, "mode=`{mode}`: expected fast or exact")
            }
            ConfigError::BadByteCount(value) => write!(
                formatter,
                "ram_below_4g=`{value}`: expected bytes (decimal, 0x hexadecimal, or K/M/G suffix)"
            ),
            ConfigError::BadPsc(value) => {
                write!(formatter, "psc=`{value}`: expected low, nominal or high")
            }
            ConfigError::BadCostData(value) => {
                write!(formatter, "cost_data=`{value}`: expected on or off")
            }
            ConfigError::BadBaseCpi(value) => write!(
                formatter,
                "base_cpi=`{value}`: expected a positive decimal with at most 3 fractional \
                 digits, e.g. 1 or 0.25"
            ),
            ConfigError::BadMemoryCallbacks(value) => {
                write!(formatter, "memory_callbacks=`{value}`: expected counted or empty")
            }
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
        let mut cost_preset = None;
        let mut psc = None;
        let mut cost_data = None;
        let mut memory_callbacks = None;
        let mut base_cpi_milli = None;
        for argument in arguments {
            let (key, value) = argument
                .split_once('=')
                .ok_or_else(|| ConfigError::MissingValue(argument.to_owned()))?;
            if geometry::is_geometry_key(key) {
                if key == "preset" {
                    cost_preset = Some(value.to_owned());
                }
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
                "psc" => {
                    let parsed = PscSensitivity::from_name(value)
                        .ok_or_else(|| ConfigError::BadPsc(value.to_owned()))?;
                    if psc.replace(parsed).is_some() {
                        return Err(duplicate());
                    }
                }
                "cost_data" => {
                    let parsed = match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(ConfigError::BadCostData(value.to_owned())),
                    };
                    if cost_data.replace(parsed).is_some() {
                        return Err(duplicate());
                    }
                }
                "memory_callbacks" => {
                    let parsed = match value {
                        "counted" => MemoryCallbacks::Counted,
                        "empty" => MemoryCallbacks::Empty,
                        _ => return Err(ConfigError::BadMemoryCallbacks(value.to_owned())),
                    };
                    if memory_callbacks.replace(parsed).is_some() {
                        return Err(duplicate());
                    }
                }
                "base_cpi" => {
                    let parsed = parse_milli(value)
                        .filter(|milli| *milli > 0)
                        .ok_or_else(|| ConfigError::BadBaseCpi(value.to_owned()))?;
                    if base_cpi_milli.replace(parsed).is_some() {
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
            cost_preset: cost_preset.unwrap_or_else(|| DEFAULT_PRESET.to_owned()),
            psc: psc.unwrap_or(PscSensitivity::Nominal),
            cost_data: cost_data.unwrap_or(DEFAULT_COST_DATA),
            base_cpi_milli,
            memory_callbacks: memory_callbacks.unwrap_or_default(),
        })
    }
}

/// Whether data accesses feed the cost model's cache hierarchy when `cost_data` is not given.
pub const DEFAULT_COST_DATA: bool = true;

/// Parses a non-negative decimal with at most three fractional digits into thousandths
/// (`1` is 1000, `0.25` is 250); `None` if it is not one or does not fit a `u32`.
fn parse_milli(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let mut milli = u32::try_from(whole.parse::<u64>().ok()?.checked_mul(1000)?).ok()?;
    let mut scale = 100;
    for byte in fraction.bytes() {
        milli = milli.checked_add(u32::from(byte - b'0') * scale)?;
        scale /= 10;
    }
    Some(milli)
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
        assert_eq!(config.cost_preset, DEFAULT_PRESET);
        assert_eq!(config.psc, PscSensitivity::Nominal);
        assert_eq!(config.cost_data, DEFAULT_COST_DATA);
        assert_eq!(config.base_cpi_milli, None);
        assert_eq!(config.memory_callbacks, MemoryCallbacks::Counted);
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
            "psc=high",
            "cost_data=off",
            "base_cpi=0.25",
            "memory_callbacks=empty",
        ])
        .expect("valid");
        assert_eq!(config.memory_callbacks, MemoryCallbacks::Empty);
        assert_eq!(config.cost_preset, "zen4");
        assert_eq!(config.psc, PscSensitivity::High);
        assert!(!config.cost_data);
        assert_eq!(config.base_cpi_milli, Some(250));
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
        assert_eq!(
            parse(&["ram=a", "psc=huge"]),
            Err(ConfigError::BadPsc("huge".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "cost_data=yes"]),
            Err(ConfigError::BadCostData("yes".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "memory_callbacks=none"]),
            Err(ConfigError::BadMemoryCallbacks("none".to_owned()))
        );
        assert_eq!(
            parse(&["ram=a", "memory_callbacks=empty", "memory_callbacks=empty"]),
            Err(ConfigError::DuplicateKey("memory_callbacks".to_owned()))
        );
        for bad in ["0", "-1", "1.2345", "x", "", "1.", ".5"] {
            assert_eq!(
                parse(&["ram=a", &format!("base_cpi={bad}")]),
                Err(ConfigError::BadBaseCpi(bad.to_owned())),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(&["ram=a", "preset=pentium"]),
            Err(ConfigError::Geometry(_))
        ));
    }

    #[test]
    fn decimal_thousandths() {
        assert_eq!(parse_milli("1"), Some(1000));
        assert_eq!(parse_milli("1.0"), Some(1000));
        assert_eq!(parse_milli("0.25"), Some(250));
        assert_eq!(parse_milli("0.167"), Some(167));
        assert_eq!(parse_milli("2.5"), Some(2500));
        assert_eq!(parse_milli("4294967.295"), Some(u32::MAX));
        assert_eq!(parse_milli("4294968"), None);
        assert_eq!(parse_milli("1.2.3"), None);
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
