//! Phase reports and their stable, machine-readable line format.
//!
//! A [`PhaseReport`] is what [`crate::Model::end_phase`] returns, completed by the plugin's
//! session: the phase's identifier and name, the TLB model's [`Counters`], the instructions
//! executed ([`InstructionCounts`]), the successful walks by region ([`RegionWalks`]), those
//! made in the driver's address space, and the walk-cost model's [`CostCounters`]. The plugin prints it as one line; the host tool parses
//! the line back with [`PhaseReport::parse_line`] and joins it with the kernel's own result line
//! through the identifier.
//!
//! # Phase line, version 2
//!
//! ```text
//! tlbsim phase v=2 id=3 name=density-n64 i.accesses=120 ... flush.invpcid3.entries_removed=0
//!     instructions.user=5000 instructions.kernel=800 walks.window=12 walks.private=30
//!     walks.kernel=2 walks.driver=7 cost.walks=44 ... cost.walk_cycles=1234 ...
//!     cost.psc_entries_removed=0
//! ```
//!
//! (one line; wrapped here). The line starts with [`PHASE_LINE_PREFIX`] (`tlbsim phase `),
//! followed by space-separated `key=value` fields and no trailing space:
//!
//! - `v` is the format version, [`LINE_FORMAT_VERSION`]; `id` is a decimal `u64`; `name` is the
//!   phase name with every byte outside `A-Z a-z 0-9 - _ . / :` written as `%XX` (two
//!   upper-case hexadecimal digits), so it never contains a space or `=`; it may be empty.
//! - every key of [`Counters::KEYS`], in that order (unchanged since version 1);
//! - [`EXTRA_KEYS`]: `instructions.user`, `instructions.kernel` (instructions executed at
//!   linear addresses below and at or above `0xffff_8000_0000_0000`: split by address, not by
//!   CPL), `walks.window`, `walks.private`, `walks.kernel` (successful walks by the region of
//!   their linear address; their sum is the sum of the `walks_4k`, `walks_2m` and `walks_1g` of
//!   both access kinds), `walks.driver` (the part of those walks made while the driver's address
//!   space was current, whatever their region: a split across the other three, not a fourth
//!   region; 0 until the guest sent `DriverSpace`);
//! - every key of [`CostCounters::KEYS`] (`cost.walks`, ..., `cost.walk_cycles`, ...), the
//!   walk-cost model's counts for the phase.
//!
//! All values are decimal `u64`. The writer always emits exactly this order. The parser
//! requires every field exactly once, refuses unknown keys and other versions, and does not
//! depend on the order. Removing or renaming a key, or changing its meaning, means a new
//! version. A key may be added within a version (host parsers read `key=value` words and skip
//! keys they do not know); this parser then reads it as optional, 0 when absent, so lines
//! written before it still parse: [`OPTIONAL_V2_KEYS`] (`walks.driver`).
//!
//! **Version 1** lines (the same without the extra and cost keys) are still read: their
//! instruction, region and cost counts come back as zero.
//!
//! A companion [geometry line](format_geometry_line) records what was simulated:
//! `tlbsim geometry v=1 verified=1 itlb=... dtlb=... stlb=...`, with the level values in the
//! grammar of `geometry.rs` (its own version, [`GEOMETRY_LINE_VERSION`], still 1).
//!
//! Neighbours: `counters.rs` defines the TLB keys, `cost/mod.rs` the cost keys; `model.rs`
//! produces the reports and `plugin/session.rs` completes them.

use core::fmt;

use crate::cost::{CostCounters, CostParameters, PscSensitivity};
use crate::counters::{Counters, InstructionCounts, RegionWalks};
use crate::geometry::{Geometry, GeometryError, LevelName};

/// The start of every phase line.
pub const PHASE_LINE_PREFIX: &str = "tlbsim phase ";

/// The start of every geometry line.
pub const GEOMETRY_LINE_PREFIX: &str = "tlbsim geometry ";

/// The version of the phase line format this crate writes (it reads this one and version 1).
pub const LINE_FORMAT_VERSION: u32 = 2;

/// The version of the phase line format before the extra and cost keys, still readable.
pub const LINE_FORMAT_VERSION_1: u32 = 1;

/// The version of the geometry line format this crate writes and reads.
pub const GEOMETRY_LINE_VERSION: u32 = 1;

/// Number of keys in [`EXTRA_KEYS`].
const EXTRA_KEY_COUNT: usize = 6;

/// The keys a version-2 phase line adds after [`Counters::KEYS`] and before
/// [`CostCounters::KEYS`], in the order of [`PhaseReport::extra_values`].
pub const EXTRA_KEYS: [&str; EXTRA_KEY_COUNT] = [
    "instructions.user",
    "instructions.kernel",
    "walks.window",
    "walks.private",
    "walks.kernel",
    "walks.driver",
];

/// The keys added to version 2 after its first lines were written: the parser reads them as 0
/// when a version-2 line lacks them.
pub const OPTIONAL_V2_KEYS: [&str; 1] = ["walks.driver"];

/// Number of keys after the name in a version-2 phase line.
const V2_KEY_COUNT: usize = Counters::COUNT + EXTRA_KEY_COUNT + CostCounters::KEYS.len();

/// The counts of one phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PhaseReport {
    /// The identifier given to `begin_phase`; the kernel prints it in its own result line.
    pub id: u64,
    /// The name given to `begin_phase`.
    pub name: String,
    /// What happened between `begin_phase` and `end_phase`.
    pub counters: Counters,
    /// Instructions executed during the phase (zero in a report straight from the model).
    pub instructions: InstructionCounts,
    /// Successful walks by region (zero in a report straight from the model).
    pub region_walks: RegionWalks,
    /// The successful walks (of every region) made while the driver's address space was
    /// current (zero in a report straight from the model, and before `DriverSpace`).
    pub driver_walks: u64,
    /// The walk-cost model's counts (zero in a report straight from the model).
    pub cost: CostCounters,
}

impl PhaseReport {
    /// Returns the report as one phase line (without a line break), in the format of the module
    /// documentation.
    pub fn to_line(&self) -> String {
        self.to_string()
    }

    /// Reports whether `line` looks like a phase line, that is starts with
    /// [`PHASE_LINE_PREFIX`].
    pub fn is_phase_line(line: &str) -> bool {
        line.starts_with(PHASE_LINE_PREFIX)
    }

    /// Parses a phase line; surrounding white space (such as a line break) is ignored.
    ///
    /// # Errors
    ///
    /// Returns what is wrong with the line: a missing prefix, a field without `=`, an
    /// unknown, repeated or missing key (keys of [`OPTIONAL_V2_KEYS`] may be missing), a bad
    /// number or name, or another version.
    pub fn parse_line(line: &str) -> Result<PhaseReport, LineError> {
        let fields = line
            .trim()
            .strip_prefix(PHASE_LINE_PREFIX)
            .ok_or(LineError::MissingPrefix)?;
        let mut version = None;
        let mut id = None;
        let mut name = None;
        let mut values: [Option<u64>; V2_KEY_COUNT] = [None; V2_KEY_COUNT];
        for field in fields.split(' ') {
            let Some((key, value)) = field.split_once('=') else {
                return Err(LineError::MalformedField(field.to_owned()));
            };
            let duplicate = || LineError::DuplicateKey(key.to_owned());
            match key {
                "v" => {
                    if version.replace(value).is_some() {
                        return Err(duplicate());
                    }
                }
                "id" => {
                    if id.replace(parse_count(key, value)?).is_some() {
                        return Err(duplicate());
                    }
                }
                "name" => {
                    let decoded =
                        decode_name(value).ok_or_else(|| LineError::BadName(value.to_owned()))?;
                    if name.replace(decoded).is_some() {
                        return Err(duplicate());
                    }
                }
                _ => {
                    let index = v2_keys()
                        .position(|known| known == key)
                        .ok_or_else(|| LineError::UnknownKey(key.to_owned()))?;
                    if values[index].replace(parse_count(key, value)?).is_some() {
                        return Err(duplicate());
                    }
                }
            }
        }
        let version = version.ok_or(LineError::MissingKey("v"))?;
        let known_keys = if version == LINE_FORMAT_VERSION.to_string() {
            V2_KEY_COUNT
        } else if version == LINE_FORMAT_VERSION_1.to_string() {
            Counters::COUNT
        } else {
            return Err(LineError::UnsupportedVersion(version.to_owned()));
        };
        let id = id.ok_or(LineError::MissingKey("id"))?;
        let name = name.ok_or(LineError::MissingKey("name"))?;
        let mut counts = [0; V2_KEY_COUNT];
        for (index, (value, key)) in values.into_iter().zip(v2_keys()).enumerate() {
            match value {
                Some(_) if index >= known_keys => {
                    return Err(LineError::UnknownKey(key.to_owned()));
                }
                Some(value) => counts[index] = value,
                None if index >= known_keys || OPTIONAL_V2_KEYS.contains(&key) => {}
                None => return Err(LineError::MissingKey(key)),
            }
        }
        Ok(PhaseReport::from_v2_values(id, name, counts))
    }

    /// Returns the extra counts in the order of [`EXTRA_KEYS`].
    pub const fn extra_values(&self) -> [u64; EXTRA_KEY_COUNT] {
        [
            self.instructions.user,
            self.instructions.kernel,
            self.region_walks.window,
            self.region_walks.private,
            self.region_walks.kernel,
            self.driver_walks,
        ]
    }

    /// Builds a report from the values of every version-2 key, in line order.
    fn from_v2_values(id: u64, name: String, values: [u64; V2_KEY_COUNT]) -> PhaseReport {
        let (counter_values, rest) = values.split_at(Counters::COUNT);
        let (extra, cost_values) = rest.split_at(EXTRA_KEY_COUNT);
        let mut counters = [0; Counters::COUNT];
        counters.copy_from_slice(counter_values);
        let mut cost = [0; CostCounters::KEYS.len()];
        cost.copy_from_slice(cost_values);
        PhaseReport {
            id,
            name,
            counters: Counters::from_values(counters),
            instructions: InstructionCounts {
                user: extra[0],
                kernel: extra[1],
            },
            region_walks: RegionWalks {
                window: extra[2],
                private: extra[3],
                kernel: extra[4],
            },
            driver_walks: extra[5],
            cost: CostCounters::from_values(cost),
        }
    }
}

/// Every key of a version-2 phase line after the name, in line order.
fn v2_keys() -> impl Iterator<Item = &'static str> {
    Counters::KEYS
        .into_iter()
        .chain(EXTRA_KEYS)
        .chain(CostCounters::KEYS)
}

impl fmt::Display for PhaseReport {
    /// Writes the phase line, without a line break.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{PHASE_LINE_PREFIX}v={LINE_FORMAT_VERSION} id={} name=",
            self.id
        )?;
        write_encoded_name(formatter, &self.name)?;
        for (key, value) in Counters::KEYS.iter().zip(self.counters.values()) {
            write!(formatter, " {key}={value}")?;
        }
        for (key, value) in EXTRA_KEYS.iter().zip(self.extra_values()) {
            write!(formatter, " {key}={value}")?;
        }
        write!(formatter, " {}", self.cost)
    }
}

/// The start of the cost line.
pub const COST_LINE_PREFIX: &str = "tlbsim cost ";

/// The version of the cost line format.
pub const COST_LINE_VERSION: u32 = 1;

/// Returns the cost line, printed once after the geometry line:
///
/// ```text
/// tlbsim cost v=1 preset=skylake-client psc=nominal data=on base_cpi=1.000
///     psc_sizes=split:4/4/32 l1d=32k/8w/4c l2=256k/4w/12c llc=8192k/16w/44c memory=250c
/// ```
///
/// (one line). `preset` names the walk-cost parameters, `psc` the paging-structure-cache
/// sensitivity (`low`, `nominal`, `high`), `data` whether data accesses fed the cache
/// hierarchy, `base_cpi` the assumed cycles per instruction (a decimal with three fractional
/// digits); the rest are the parameters themselves (cache sizes in KiB, ways, load-to-use
/// cycles). A host computes `translation_overhead_percent = 100 × cost.walk_cycles /
/// (instructions × base_cpi + cost.walk_cycles)` from it and a phase line.
pub fn format_cost_line(
    preset: &str,
    sensitivity: PscSensitivity,
    data: bool,
    parameters: &CostParameters,
) -> String {
    let milli = parameters.base_cpi_milli;
    format!(
        "{COST_LINE_PREFIX}v={COST_LINE_VERSION} preset={preset} psc={} data={} \
         base_cpi={}.{:03} psc_sizes={} l1d={} l2={} llc={} memory={}c",
        sensitivity.name(),
        if data { "on" } else { "off" },
        milli / 1000,
        milli % 1000,
        parameters.psc,
        parameters.l1d,
        parameters.l2,
        parameters.llc,
        parameters.memory_latency_cycles,
    )
}

/// Returns the geometry line for `geometry`:
/// `tlbsim geometry v=1 verified=<0|1> itlb=<level> dtlb=<level> stlb=<level>`.
pub fn format_geometry_line(geometry: &Geometry) -> String {
    let mut line = format!(
        "{GEOMETRY_LINE_PREFIX}v={GEOMETRY_LINE_VERSION} verified={}",
        u8::from(geometry.is_verified())
    );
    for level in LevelName::ALL {
        line.push_str(&format!(" {}={}", level.key(), geometry.level(level)));
    }
    line
}

/// Parses a geometry line back into the geometry (the `verified` flags of the arrays come back
/// as true, as for any parsed geometry) and the line's `verified` field.
///
/// # Errors
///
/// Returns [`GeometryLineError::Line`] for a malformed line and [`GeometryLineError::Geometry`]
/// for bad level values.
pub fn parse_geometry_line(line: &str) -> Result<(Geometry, bool), GeometryLineError> {
    let fields = line
        .trim()
        .strip_prefix(GEOMETRY_LINE_PREFIX)
        .ok_or(GeometryLineError::Line(LineError::MissingPrefix))?;
    let mut version = None;
    let mut verified = None;
    let mut level_items = Vec::new();
    for field in fields.split(' ') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(GeometryLineError::Line(LineError::MalformedField(
                field.to_owned(),
            )));
        };
        match key {
            "v" => version = Some(value),
            "verified" => {
                verified = Some(match value {
                    "0" => false,
                    "1" => true,
                    _ => {
                        return Err(GeometryLineError::Line(LineError::BadNumber {
                            key: key.to_owned(),
                            value: value.to_owned(),
                        }));
                    }
                });
            }
            _ => level_items.push(field),
        }
    }
    match version {
        Some(version) if version == GEOMETRY_LINE_VERSION.to_string() => {}
        Some(version) => {
            return Err(GeometryLineError::Line(LineError::UnsupportedVersion(
                version.to_owned(),
            )));
        }
        None => return Err(GeometryLineError::Line(LineError::MissingKey("v"))),
    }
    let verified = verified.ok_or(GeometryLineError::Line(LineError::MissingKey("verified")))?;
    let geometry = Geometry::parse_items(level_items).map_err(GeometryLineError::Geometry)?;
    Ok((geometry, verified))
}

/// Parses a decimal `u64` field value.
fn parse_count(key: &str, value: &str) -> Result<u64, LineError> {
    let bad = || LineError::BadNumber {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map_err(|_| bad())
}

/// Reports whether `byte` may appear unencoded in a phase name.
fn is_plain_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'/' | b':')
}

/// Writes `name` with every byte outside the plain set as `%XX`.
fn write_encoded_name(formatter: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    for byte in name.bytes() {
        if is_plain_name_byte(byte) {
            write!(formatter, "{}", char::from(byte))?;
        } else {
            write!(formatter, "%{byte:02X}")?;
        }
    }
    Ok(())
}

/// Decodes an encoded phase name; `None` if it has a bad escape, an unencoded byte outside
/// the plain set, or is not UTF-8 once decoded.
fn decode_name(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let digits = tail.get(..2)?;
            if !digits
                .iter()
                .all(|digit| matches!(digit, b'0'..=b'9' | b'A'..=b'F'))
            {
                return None;
            }
            let text = core::str::from_utf8(digits).ok()?;
            bytes.push(u8::from_str_radix(text, 16).ok()?);
            rest = &tail[2..];
        } else if is_plain_name_byte(byte) {
            bytes.push(byte);
            rest = tail;
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// What is wrong with a phase or geometry line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The line does not start with the expected prefix.
    MissingPrefix,
    /// A field has no `=`.
    MalformedField(String),
    /// A key is not part of this version of the format.
    UnknownKey(String),
    /// A key appears twice.
    DuplicateKey(String),
    /// A required key is absent.
    MissingKey(&'static str),
    /// A value is not a decimal `u64`.
    BadNumber {
        /// The field's key.
        key: String,
        /// The offending value.
        value: String,
    },
    /// The name field has a bad `%` escape or an unencoded special byte.
    BadName(String),
    /// The line is of another format version.
    UnsupportedVersion(String),
}

impl fmt::Display for LineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::MissingPrefix => formatter.write_str("not a tlbsim line: wrong prefix"),
            LineError::MalformedField(field) => write!(formatter, "field `{field}` has no `=`"),
            LineError::UnknownKey(key) => write!(formatter, "unknown key `{key}`"),
            LineError::DuplicateKey(key) => write!(formatter, "key `{key}` appears twice"),
            LineError::MissingKey(key) => write!(formatter, "key `{key}` is missing"),
            LineError::BadNumber { key, value } => {
                write!(formatter, "key `{key}`: `{value}` is not a decimal number")
            }
            LineError::BadName(name) => write!(formatter, "name `{name}` is badly encoded"),
            LineError::UnsupportedVersion(version) => write!(
                formatter,
                "line format version {version}; this reader knows versions {LINE_FORMAT_VERSION_1} \
                 and {LINE_FORMAT_VERSION} (phase lines) and {GEOMETRY_LINE_VERSION} (geometry lines)"
            ),
        }
    }
}

impl std::error::Error for LineError {}

/// What is wrong with a geometry line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeometryLineError {
    /// The line itself is malformed.
    Line(LineError),
    /// The level values do not form a valid geometry.
    Geometry(GeometryError),
}

impl fmt::Display for GeometryLineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryLineError::Line(error) => write!(formatter, "{error}"),
            GeometryLineError::Geometry(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for GeometryLineError {}
