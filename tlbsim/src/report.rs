//! Phase reports and their stable, machine-readable line format.
//!
//! A [`PhaseReport`] is what [`crate::Model::end_phase`] returns: the phase's identifier and
//! name and the [`Counters`] accumulated during it. The plugin prints it as one line; the host
//! tool parses the line back with [`PhaseReport::parse_line`] and joins it with the kernel's
//! own result line through the identifier.
//!
//! # Phase line, version 1
//!
//! ```text
//! tlbsim phase v=1 id=3 name=density-n64 i.accesses=120 i.l1_hits=100 ... d.walks_4k=64 ...
//! ```
//!
//! - The line starts with [`PHASE_LINE_PREFIX`] (`tlbsim phase `), followed by
//!   space-separated `key=value` fields and no trailing space.
//! - `v` is the format version, [`LINE_FORMAT_VERSION`]; `id` is a decimal `u64`; `name` is the
//!   phase name with every byte outside `A-Z a-z 0-9 - _ . / :` written as `%XX` (two
//!   upper-case hexadecimal digits), so it never contains a space or `=`; it may be empty.
//! - Then every key of [`Counters::KEYS`], in that order, each with a decimal `u64`.
//!
//! The writer always emits exactly this order. The parser requires every field exactly once,
//! refuses unknown keys and other versions, and does not depend on the order. Adding, removing
//! or renaming a key means a new version.
//!
//! A companion [geometry line](format_geometry_line) records what was simulated:
//! `tlbsim geometry v=1 verified=1 itlb=... dtlb=... stlb=...`, with the level values in the
//! grammar of `geometry.rs`.
//!
//! Neighbours: `counters.rs` defines the keys; `model.rs` produces the reports.

use core::fmt;

use crate::counters::Counters;
use crate::geometry::{Geometry, GeometryError, LevelName};

/// The start of every phase line.
pub const PHASE_LINE_PREFIX: &str = "tlbsim phase ";

/// The start of every geometry line.
pub const GEOMETRY_LINE_PREFIX: &str = "tlbsim geometry ";

/// The version of the phase and geometry line formats this crate writes and reads.
pub const LINE_FORMAT_VERSION: u32 = 1;

/// The counts of one phase.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhaseReport {
    /// The identifier given to `begin_phase`; the kernel prints it in its own result line.
    pub id: u64,
    /// The name given to `begin_phase`.
    pub name: String,
    /// What happened between `begin_phase` and `end_phase`.
    pub counters: Counters,
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
    /// unknown, repeated or missing key, a bad number or name, or another version.
    pub fn parse_line(line: &str) -> Result<PhaseReport, LineError> {
        let fields = line
            .trim()
            .strip_prefix(PHASE_LINE_PREFIX)
            .ok_or(LineError::MissingPrefix)?;
        let mut version = None;
        let mut id = None;
        let mut name = None;
        let mut values: [Option<u64>; Counters::COUNT] = [None; Counters::COUNT];
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
                    let index = Counters::KEYS
                        .iter()
                        .position(|known| *known == key)
                        .ok_or_else(|| LineError::UnknownKey(key.to_owned()))?;
                    if values[index].replace(parse_count(key, value)?).is_some() {
                        return Err(duplicate());
                    }
                }
            }
        }
        let version = version.ok_or(LineError::MissingKey("v"))?;
        if version != LINE_FORMAT_VERSION.to_string() {
            return Err(LineError::UnsupportedVersion(version.to_owned()));
        }
        let id = id.ok_or(LineError::MissingKey("id"))?;
        let name = name.ok_or(LineError::MissingKey("name"))?;
        let mut counts = [0; Counters::COUNT];
        for (index, value) in values.into_iter().enumerate() {
            counts[index] = value.ok_or(LineError::MissingKey(Counters::KEYS[index]))?;
        }
        Ok(PhaseReport {
            id,
            name,
            counters: Counters::from_values(counts),
        })
    }
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
        Ok(())
    }
}

/// Returns the geometry line for `geometry`:
/// `tlbsim geometry v=1 verified=<0|1> itlb=<level> dtlb=<level> stlb=<level>`.
pub fn format_geometry_line(geometry: &Geometry) -> String {
    let mut line = format!(
        "{GEOMETRY_LINE_PREFIX}v={LINE_FORMAT_VERSION} verified={}",
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
        Some(version) if version == LINE_FORMAT_VERSION.to_string() => {}
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
                "line format version {version}; this reader knows version {LINE_FORMAT_VERSION}"
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
