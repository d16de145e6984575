//! The shape of the modelled TLB hierarchy, and the small grammar that describes it.
//!
//! A [`Geometry`] has three levels, named by [`LevelName`]: the L1 instruction TLB, the L1 data
//! TLB and the unified second-level TLB (STLB). Each [`LevelGeometry`] holds zero or more
//! set-associative arrays ([`ArrayGeometry`]: entries x ways, plus the [`PageSizeSet`] it
//! caches), so a level can keep separate arrays per page size, as Intel cores do (Intel SDM
//! vol. 3A §4.10.2 leaves the organisation of the TLBs, including separate TLBs per page size,
//! to the implementation). A level with no array caches nothing; a page size that no array of a
//! level holds is never cached in that level.
//!
//! Geometries come from [`crate::presets`] or from a string, in the grammar below. The string
//! form is built for QEMU plugin arguments: QEMU splits `-plugin lib.so,a=b,c=d` at commas and
//! hands the plugin each `key=value` item separately, so [`Geometry::parse_items`] takes the
//! items one by one (the plugin picks them out with [`is_geometry_key`]) and [`Geometry::parse`]
//! takes them joined with commas.
//!
//! ```text
//! geometry   := item ("," item)*
//! item       := "preset=" NAME            only as the first item; later items replace levels
//!             | LEVEL "=" level
//! LEVEL      := "itlb" | "dtlb" | "stlb"
//! level      := "none" | array ("+" array)*
//! array      := ENTRIES "x" WAYS [":" sizes]    no sizes: the array holds all three sizes
//! WAYS       := DECIMAL | "full"                "full": ways = entries (fully associative)
//! sizes      := SIZE ("/" SIZE)*
//! SIZE       := "4k" | "2m" | "1g"
//! ```
//!
//! Every level must be given, either by a preset or by its own item. The number of sets
//! (entries / ways) must be a power of two, so that the set index is a mask of the page number.
//! Example: `itlb=128x8:4k+8xfull:2m,dtlb=64x4:4k+32x4:2m+4xfull:1g,stlb=1536x12:4k/2m+16x4:1g`.
//!
//! Neighbours: `presets.rs` builds geometries of real cores, `tlb.rs` turns each
//! [`ArrayGeometry`] into storage, `model.rs` checks a geometry with [`Geometry::validate`].

use core::fmt;
use core::str::FromStr;

use crate::address::PageSize;
use crate::presets;

/// The keys of a plugin argument list that belong to the geometry.
pub const GEOMETRY_KEYS: [&str; 4] = ["preset", "itlb", "dtlb", "stlb"];

/// The largest number of entries one array may have; larger figures are typing mistakes, and
/// refusing them keeps a bad plugin argument from allocating gigabytes.
pub const MAX_ARRAY_ENTRIES: u32 = 1 << 20;

/// Reports whether `key` (the part of a plugin argument before `=`) names a geometry item.
pub fn is_geometry_key(key: &str) -> bool {
    GEOMETRY_KEYS.contains(&key)
}

/// A set of page sizes, stored as one bit per [`PageSize::index`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageSizeSet(u8);

impl PageSizeSet {
    /// The set without any page size.
    pub const EMPTY: PageSizeSet = PageSizeSet(0);

    /// The set of all three page sizes.
    pub const ALL: PageSizeSet = PageSizeSet(0b111);

    /// Returns the set holding only `size`.
    pub const fn single(size: PageSize) -> PageSizeSet {
        PageSizeSet(1 << size.index())
    }

    /// Returns this set with `size` added.
    pub const fn with(self, size: PageSize) -> PageSizeSet {
        PageSizeSet(self.0 | (1 << size.index()))
    }

    /// Reports whether `size` is in the set.
    pub const fn contains(self, size: PageSize) -> bool {
        self.0 & (1 << size.index()) != 0
    }

    /// Reports whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Returns the sizes in the set, smallest first.
    pub fn iter(self) -> impl Iterator<Item = PageSize> {
        PageSize::ALL
            .into_iter()
            .filter(move |size| self.contains(*size))
    }
}

impl fmt::Display for PageSizeSet {
    /// Writes the sizes joined by `/`, for example `4k/2m`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, size) in self.iter().enumerate() {
            if position > 0 {
                formatter.write_str("/")?;
            }
            formatter.write_str(size.short_name())?;
        }
        Ok(())
    }
}

/// One set-associative array: `entries` entries in `entries / ways` sets of `ways` ways,
/// caching translations of the page sizes in `page_sizes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArrayGeometry {
    /// Total number of entries.
    pub entries: u32,
    /// Number of ways per set; equal to `entries` for a fully associative array.
    pub ways: u32,
    /// The page sizes whose translations this array caches.
    pub page_sizes: PageSizeSet,
    /// False only for preset figures that the cited sources do not confirm; geometries parsed
    /// from a string are the user's statement and carry true.
    pub verified: bool,
}

impl ArrayGeometry {
    /// Returns a verified array of `entries` entries and `ways` ways holding `page_sizes`.
    pub const fn new(entries: u32, ways: u32, page_sizes: PageSizeSet) -> ArrayGeometry {
        ArrayGeometry {
            entries,
            ways,
            page_sizes,
            verified: true,
        }
    }

    /// Returns the same array marked as not confirmed by the sources.
    pub const fn unverified(self) -> ArrayGeometry {
        ArrayGeometry {
            verified: false,
            ..self
        }
    }

    /// Returns the number of sets, `entries / ways` (0 if `ways` is 0).
    pub const fn set_count(&self) -> u32 {
        match self.entries.checked_div(self.ways) {
            Some(sets) => sets,
            None => 0,
        }
    }

    /// Checks that the figures describe a buildable array.
    ///
    /// # Errors
    ///
    /// Returns the first [`ArrayProblem`] found.
    pub fn check(&self) -> Result<(), ArrayProblem> {
        if self.entries == 0 {
            return Err(ArrayProblem::ZeroEntries);
        }
        if self.entries > MAX_ARRAY_ENTRIES {
            return Err(ArrayProblem::TooManyEntries);
        }
        if self.ways == 0 {
            return Err(ArrayProblem::ZeroWays);
        }
        if !self.entries.is_multiple_of(self.ways) {
            return Err(ArrayProblem::EntriesNotMultipleOfWays);
        }
        if !self.set_count().is_power_of_two() {
            return Err(ArrayProblem::SetCountNotPowerOfTwo);
        }
        if self.page_sizes.is_empty() {
            return Err(ArrayProblem::NoPageSizes);
        }
        Ok(())
    }
}

impl fmt::Display for ArrayGeometry {
    /// Writes the array in the grammar's form, `ENTRIESxWAYS[:sizes]`; sizes are left out when
    /// the array holds all three.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}x{}", self.entries, self.ways)?;
        if self.page_sizes != PageSizeSet::ALL {
            write!(formatter, ":{}", self.page_sizes)?;
        }
        Ok(())
    }
}

/// The arrays of one TLB level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LevelGeometry {
    /// The arrays, probed in page-size order (4 KiB first) on a lookup.
    pub arrays: Vec<ArrayGeometry>,
}

impl LevelGeometry {
    /// Returns a level without arrays: it caches nothing and every lookup in it misses.
    pub const fn none() -> LevelGeometry {
        LevelGeometry { arrays: Vec::new() }
    }

    /// Returns a level made of `arrays`.
    pub fn new(arrays: Vec<ArrayGeometry>) -> LevelGeometry {
        LevelGeometry { arrays }
    }

    /// Returns the index of the array that caches `size`, if any.
    pub fn array_for(&self, size: PageSize) -> Option<usize> {
        self.arrays
            .iter()
            .position(|array| array.page_sizes.contains(size))
    }

    /// Returns the total number of entries over all arrays.
    pub fn total_entries(&self) -> u64 {
        self.arrays
            .iter()
            .map(|array| u64::from(array.entries))
            .sum()
    }

    /// Checks every array and that no page size is held by two arrays.
    fn check(&self, level: LevelName) -> Result<(), GeometryError> {
        let mut seen = PageSizeSet::EMPTY;
        for (array_index, array) in self.arrays.iter().enumerate() {
            array
                .check()
                .map_err(|problem| GeometryError::InvalidArray {
                    level,
                    array_index,
                    problem,
                })?;
            if let Some(page_size) = array.page_sizes.iter().find(|size| seen.contains(*size)) {
                return Err(GeometryError::PageSizeInTwoArrays { level, page_size });
            }
            for size in array.page_sizes.iter() {
                seen = seen.with(size);
            }
        }
        Ok(())
    }
}

impl fmt::Display for LevelGeometry {
    /// Writes the level in the grammar's form: `none`, or the arrays joined by `+`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.arrays.is_empty() {
            return formatter.write_str("none");
        }
        for (position, array) in self.arrays.iter().enumerate() {
            if position > 0 {
                formatter.write_str("+")?;
            }
            write!(formatter, "{array}")?;
        }
        Ok(())
    }
}

/// The three levels of the modelled hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LevelName {
    /// The L1 instruction TLB, looked up by instruction fetches.
    InstructionTlb,
    /// The L1 data TLB, looked up by loads and stores.
    DataTlb,
    /// The unified second-level TLB, looked up after either L1 misses.
    Stlb,
}

impl LevelName {
    /// Every level, in the order the grammar and reports list them.
    pub const ALL: [LevelName; 3] = [
        LevelName::InstructionTlb,
        LevelName::DataTlb,
        LevelName::Stlb,
    ];

    /// Returns the grammar key of the level: `itlb`, `dtlb` or `stlb`.
    pub const fn key(self) -> &'static str {
        match self {
            LevelName::InstructionTlb => "itlb",
            LevelName::DataTlb => "dtlb",
            LevelName::Stlb => "stlb",
        }
    }

    /// Returns the level whose grammar key is `key`.
    pub fn from_key(key: &str) -> Option<LevelName> {
        LevelName::ALL.into_iter().find(|level| level.key() == key)
    }
}

impl fmt::Display for LevelName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.key())
    }
}

/// The whole modelled hierarchy: L1 instruction TLB, L1 data TLB and STLB.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// The L1 instruction TLB.
    pub instruction_tlb: LevelGeometry,
    /// The L1 data TLB.
    pub data_tlb: LevelGeometry,
    /// The unified second-level TLB.
    pub stlb: LevelGeometry,
}

impl Geometry {
    /// Returns the level named `name`.
    pub fn level(&self, name: LevelName) -> &LevelGeometry {
        match name {
            LevelName::InstructionTlb => &self.instruction_tlb,
            LevelName::DataTlb => &self.data_tlb,
            LevelName::Stlb => &self.stlb,
        }
    }

    /// Returns the level named `name` for changing.
    pub fn level_mut(&mut self, name: LevelName) -> &mut LevelGeometry {
        match name {
            LevelName::InstructionTlb => &mut self.instruction_tlb,
            LevelName::DataTlb => &mut self.data_tlb,
            LevelName::Stlb => &mut self.stlb,
        }
    }

    /// Checks every array of every level (see [`ArrayGeometry::check`]) and that no level
    /// holds a page size in two arrays.
    ///
    /// # Errors
    ///
    /// Returns the first problem found, naming the level and the array.
    pub fn validate(&self) -> Result<(), GeometryError> {
        LevelName::ALL
            .into_iter()
            .try_for_each(|name| self.level(name).check(name))
    }

    /// Reports whether every array's figures are confirmed by the cited sources.
    pub fn is_verified(&self) -> bool {
        LevelName::ALL
            .into_iter()
            .all(|name| self.level(name).arrays.iter().all(|array| array.verified))
    }

    /// Returns the geometry of the preset called `name` (see [`crate::presets`]).
    ///
    /// # Errors
    ///
    /// Returns [`ParseProblem::UnknownPreset`] when no preset has that name.
    pub fn from_preset(name: &str) -> Result<Geometry, GeometryError> {
        presets::geometry(name).ok_or_else(|| GeometryError::Parse {
            token: name.to_owned(),
            problem: ParseProblem::UnknownPreset,
        })
    }

    /// Parses a comma-separated geometry string in the grammar of the module documentation.
    ///
    /// # Errors
    ///
    /// Returns the first bad token and what is wrong with it, or the first missing level.
    pub fn parse(spec: &str) -> Result<Geometry, GeometryError> {
        Geometry::parse_items(spec.split(','))
    }

    /// Parses geometry items (`preset=NAME`, `itlb=...`, `dtlb=...`, `stlb=...`) given one by
    /// one, as a QEMU plugin receives its arguments.
    ///
    /// # Errors
    ///
    /// Returns the first bad token and what is wrong with it, or the first missing level.
    pub fn parse_items<'a, I>(items: I) -> Result<Geometry, GeometryError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut levels: [Option<LevelGeometry>; 3] = [None, None, None];
        let mut explicitly_given = [false; 3];
        for (position, raw_item) in items.into_iter().enumerate() {
            let item = raw_item.trim();
            let parse_error = |problem: ParseProblem| GeometryError::Parse {
                token: item.to_owned(),
                problem,
            };
            if item.is_empty() {
                return Err(parse_error(ParseProblem::EmptyItem));
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(parse_error(ParseProblem::MissingEquals));
            };
            let (key, value) = (key.trim(), value.trim());
            if key == "preset" {
                if position != 0 {
                    return Err(parse_error(ParseProblem::PresetNotFirst));
                }
                let preset = Geometry::from_preset(value)?;
                for name in LevelName::ALL {
                    levels[level_slot(name)] = Some(preset.level(name).clone());
                }
                continue;
            }
            let Some(name) = LevelName::from_key(key) else {
                return Err(parse_error(ParseProblem::UnknownKey));
            };
            let slot = level_slot(name);
            if explicitly_given[slot] {
                return Err(parse_error(ParseProblem::DuplicateLevel));
            }
            explicitly_given[slot] = true;
            levels[slot] = Some(parse_level(item, value)?);
        }
        let mut geometry = Geometry::default();
        for name in LevelName::ALL {
            let level = levels[level_slot(name)]
                .take()
                .ok_or(GeometryError::MissingLevel { level: name })?;
            *geometry.level_mut(name) = level;
        }
        geometry.validate()?;
        Ok(geometry)
    }
}

impl FromStr for Geometry {
    type Err = GeometryError;

    fn from_str(spec: &str) -> Result<Geometry, GeometryError> {
        Geometry::parse(spec)
    }
}

impl fmt::Display for Geometry {
    /// Writes the geometry in the grammar's form, which [`Geometry::parse`] reads back.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "itlb={},dtlb={},stlb={}",
            self.instruction_tlb, self.data_tlb, self.stlb
        )
    }
}

/// Returns the position of `name` in [`LevelName::ALL`].
fn level_slot(name: LevelName) -> usize {
    match name {
        LevelName::InstructionTlb => 0,
        LevelName::DataTlb => 1,
        LevelName::Stlb => 2,
    }
}

/// Parses the value of one level item; `item` is the whole item, for error messages about the
/// level as a whole.
fn parse_level(item: &str, value: &str) -> Result<LevelGeometry, GeometryError> {
    if value == "none" {
        return Ok(LevelGeometry::none());
    }
    let arrays = value
        .split('+')
        .map(parse_array)
        .collect::<Result<Vec<_>, _>>()?;
    let level = LevelGeometry::new(arrays);
    let mut seen = PageSizeSet::EMPTY;
    for array in &level.arrays {
        if let Some(size) = array.page_sizes.iter().find(|size| seen.contains(*size)) {
            return Err(GeometryError::Parse {
                token: item.to_owned(),
                problem: ParseProblem::PageSizeInTwoArrays(size),
            });
        }
        for size in array.page_sizes.iter() {
            seen = seen.with(size);
        }
    }
    Ok(level)
}

/// Parses one `ENTRIESxWAYS[:sizes]` token and checks its figures.
fn parse_array(token: &str) -> Result<ArrayGeometry, GeometryError> {
    let parse_error = |problem: ParseProblem| GeometryError::Parse {
        token: token.to_owned(),
        problem,
    };
    let (figures, sizes) = match token.split_once(':') {
        Some((figures, sizes)) => (figures, Some(sizes)),
        None => (token, None),
    };
    let Some((entries_text, ways_text)) = figures.split_once('x') else {
        return Err(parse_error(ParseProblem::MissingTimes));
    };
    let entries =
        parse_decimal(entries_text).ok_or_else(|| parse_error(ParseProblem::BadNumber))?;
    let ways = if ways_text == "full" {
        entries
    } else {
        parse_decimal(ways_text).ok_or_else(|| parse_error(ParseProblem::BadNumber))?
    };
    let page_sizes = match sizes {
        None => PageSizeSet::ALL,
        Some(sizes) => {
            let mut set = PageSizeSet::EMPTY;
            for name in sizes.split('/') {
                let size = PageSize::from_short_name(name)
                    .ok_or_else(|| parse_error(ParseProblem::UnknownPageSize))?;
                if set.contains(size) {
                    return Err(parse_error(ParseProblem::RepeatedPageSize(size)));
                }
                set = set.with(size);
            }
            set
        }
    };
    let array = ArrayGeometry::new(entries, ways, page_sizes);
    array
        .check()
        .map_err(|problem| parse_error(ParseProblem::Array(problem)))?;
    Ok(array)
}

/// Parses a plain decimal number without sign, spaces or leading `+`.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What is wrong with an array's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayProblem {
    /// The array has no entries.
    ZeroEntries,
    /// The array has more than [`MAX_ARRAY_ENTRIES`] entries.
    TooManyEntries,
    /// The array has no ways.
    ZeroWays,
    /// The entries do not divide evenly into sets of `ways` entries.
    EntriesNotMultipleOfWays,
    /// The number of sets is not a power of two.
    SetCountNotPowerOfTwo,
    /// The array caches no page size.
    NoPageSizes,
}

impl fmt::Display for ArrayProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ArrayProblem::ZeroEntries => "an array needs at least one entry",
            ArrayProblem::TooManyEntries => "more entries than any real TLB array has",
            ArrayProblem::ZeroWays => "an array needs at least one way",
            ArrayProblem::EntriesNotMultipleOfWays => "entries must be a multiple of ways",
            ArrayProblem::SetCountNotPowerOfTwo => {
                "entries / ways (the set count) must be a power of two"
            }
            ArrayProblem::NoPageSizes => "an array must cache at least one page size",
        })
    }
}

/// What is wrong with a token of a geometry string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseProblem {
    /// An item between commas is empty.
    EmptyItem,
    /// An item has no `=`.
    MissingEquals,
    /// The key is none of `preset`, `itlb`, `dtlb`, `stlb`.
    UnknownKey,
    /// No preset has this name.
    UnknownPreset,
    /// `preset=` appears after another item.
    PresetNotFirst,
    /// The same level is given twice.
    DuplicateLevel,
    /// An array token lacks the `x` between entries and ways.
    MissingTimes,
    /// Entries or ways is not a decimal number that fits in 32 bits.
    BadNumber,
    /// A page size is none of `4k`, `2m`, `1g`.
    UnknownPageSize,
    /// A page size appears twice in one array.
    RepeatedPageSize(PageSize),
    /// Two arrays of one level both cache this page size.
    PageSizeInTwoArrays(PageSize),
    /// The array's figures are impossible.
    Array(ArrayProblem),
}

impl fmt::Display for ParseProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseProblem::EmptyItem => formatter.write_str("empty item"),
            ParseProblem::MissingEquals => formatter.write_str("expected KEY=VALUE"),
            ParseProblem::UnknownKey => {
                formatter.write_str("unknown key; expected preset, itlb, dtlb or stlb")
            }
            ParseProblem::UnknownPreset => write!(
                formatter,
                "unknown preset; known presets: {}",
                presets::PRESET_NAMES.join(", ")
            ),
            ParseProblem::PresetNotFirst => formatter.write_str("preset= must be the first item"),
            ParseProblem::DuplicateLevel => formatter.write_str("this level is given twice"),
            ParseProblem::MissingTimes => {
                formatter.write_str("expected ENTRIESxWAYS[:SIZES], for example 64x4:4k")
            }
            ParseProblem::BadNumber => {
                formatter.write_str("entries and ways must be decimal numbers (ways may be `full`)")
            }
            ParseProblem::UnknownPageSize => {
                formatter.write_str("unknown page size; expected 4k, 2m or 1g joined by /")
            }
            ParseProblem::RepeatedPageSize(size) => {
                write!(formatter, "page size {size} is listed twice")
            }
            ParseProblem::PageSizeInTwoArrays(size) => {
                write!(
                    formatter,
                    "two arrays of this level both cache page size {size}"
                )
            }
            ParseProblem::Array(problem) => write!(formatter, "{problem}"),
        }
    }
}

/// Why a geometry was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeometryError {
    /// A token of a geometry string is wrong.
    Parse {
        /// The offending token, as written.
        token: String,
        /// What is wrong with it.
        problem: ParseProblem,
    },
    /// An array of a geometry built in code has impossible figures.
    InvalidArray {
        /// The level holding the array.
        level: LevelName,
        /// The array's position within the level.
        array_index: usize,
        /// What is wrong with it.
        problem: ArrayProblem,
    },
    /// Two arrays of one level both cache a page size.
    PageSizeInTwoArrays {
        /// The level.
        level: LevelName,
        /// The page size cached twice.
        page_size: PageSize,
    },
    /// A geometry string gives neither this level nor a preset.
    MissingLevel {
        /// The missing level.
        level: LevelName,
    },
}

impl fmt::Display for GeometryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryError::Parse { token, problem } => {
                write!(formatter, "tlbsim geometry: bad token `{token}`: {problem}")
            }
            GeometryError::InvalidArray {
                level,
                array_index,
                problem,
            } => {
                write!(
                    formatter,
                    "tlbsim geometry: {level} array {array_index}: {problem}"
                )
            }
            GeometryError::PageSizeInTwoArrays { level, page_size } => write!(
                formatter,
                "tlbsim geometry: two arrays of {level} both cache page size {page_size}"
            ),
            GeometryError::MissingLevel { level } => write!(
                formatter,
                "tlbsim geometry: level {level} is missing; give {level}=... or a preset first"
            ),
        }
    }
}

impl std::error::Error for GeometryError {}
