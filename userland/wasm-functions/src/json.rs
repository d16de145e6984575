//! JSON parse and serialise, as a web function does with a request body (FunctionBench's
//! json_dumps_loads): a small parser and a compact serialiser written here, run on a seeded
//! 24-record document. Checked on a fixed document with escapes, on malformed texts that must be
//! refused, and by round trips (the parsed tree equals the built one; serialising it again gives
//! the same text), plus a sum recomputed from the parsed records.
//!
//! Supported: objects (member order kept), arrays, strings with every JSON escape (including
//! UTF-16 surrogate pairs), integers that fit an `i64`, `true`, `false`, `null`. Fractions and
//! exponents are refused: the documents here have none.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::{Checksum, Rng, ensure};

/// Records in the seeded document.
pub const RECORDS: usize = 24;
/// Deepest nesting the parser accepts (keeps the recursion within the module's small stack).
const MAX_DEPTH: usize = 32;
/// Bytes of the module's arena ([`crate::arena`]): the document, its texts and trees (a peak of
/// 30 KiB on wasm32).
pub const ARENA_BYTES: usize = 48 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 0;

/// Self-check: the fixed document parses to its known values and serialises canonically.
pub const CHECK_KNOWN_DOCUMENT: u32 = 1;
/// Self-check: malformed texts are refused.
pub const CHECK_MALFORMED_REFUSED: u32 = 2;
/// Self-check: the serialised document parses back to the same tree.
pub const CHECK_PARSE_ROUND_TRIP: u32 = 3;
/// Self-check: serialising the parsed tree gives the same text.
pub const CHECK_TEXT_ROUND_TRIP: u32 = 4;
/// Self-check: the prices of the parsed records add up to the generator's total.
pub const CHECK_TOTAL: u32 = 5;

/// A JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Number(i64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in text order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Returns member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// Returns element `index` of an array.
    pub fn at(&self, index: usize) -> Option<&Value> {
        match self {
            Value::Array(elements) => elements.get(index),
            _ => None,
        }
    }
}

/// Why a text is not JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The text ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here, at this offset.
    Unexpected(usize),
    /// A bad escape or code point in a string, at this offset.
    BadString(usize),
    /// A number out of range or with a fraction or exponent, at this offset.
    BadNumber(usize),
    /// Nesting deeper than the parser accepts.
    TooDeep,
    /// Bytes after the value, at this offset.
    Trailing(usize),
}

/// Returns the value `text` holds.
///
/// # Errors
/// Returns the first problem found.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut parser = Parser { bytes: text.as_bytes(), position: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.position != parser.bytes.len() {
        return Err(ParseError::Trailing(parser.position));
    }
    Ok(value)
}

/// A recursive-descent parser over the bytes of a `str`.
struct Parser<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    /// Consumes `byte` or fails.
    fn expect(&mut self, byte: u8) -> Result<(), ParseError> {
        match self.peek() {
            Some(found) if found == byte => {
                self.position += 1;
                Ok(())
            }
            Some(_) => Err(ParseError::Unexpected(self.position)),
            None => Err(ParseError::UnexpectedEnd),
        }
    }

    /// Consumes the keyword `word` (after its first byte was seen).
    fn keyword(&mut self, word: &[u8], value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.position..].starts_with(word) {
            self.position += word.len();
            Ok(value)
        } else {
            Err(ParseError::Unexpected(self.position))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.skip_space();
        match self.peek() {
            None => Err(ParseError::UnexpectedEnd),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.keyword(b"true", Value::Bool(true)),
            Some(b'f') => self.keyword(b"false", Value::Bool(false)),
            Some(b'n') => self.keyword(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(ParseError::Unexpected(self.position)),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect(b'{')?;
        let mut members = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            let key = self.string()?;
            self.skip_space();
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Value::Object(members));
                }
                Some(_) => return Err(ParseError::Unexpected(self.position)),
                None => return Err(ParseError::UnexpectedEnd),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect(b'[')?;
        let mut elements = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(Value::Array(elements));
        }
        loop {
            elements.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Value::Array(elements));
                }
                Some(_) => return Err(ParseError::Unexpected(self.position)),
                None => return Err(ParseError::UnexpectedEnd),
            }
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.position;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.position += 1;
        }
        let digits_start = self.position;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.position += 1;
        }
        let digits = &self.bytes[digits_start..self.position];
        let leading_zero = digits.len() > 1 && digits[0] == b'0';
        if digits.is_empty() || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(ParseError::BadNumber(start));
        }
        // Accumulate negatively so that i64::MIN parses.
        let mut value: i64 = 0;
        for &digit in digits {
            value = value
                .checked_mul(10)
                .and_then(|value| value.checked_sub(i64::from(digit - b'0')))
                .ok_or(ParseError::BadNumber(start))?;
        }
        if !negative {
            value = value.checked_neg().ok_or(ParseError::BadNumber(start))?;
        }
        Ok(Value::Number(value))
    }

    /// Reads four hexadecimal digits.
    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.bytes.get(self.position..self.position + 4).ok_or(ParseError::UnexpectedEnd)?;
        let mut value = 0;
        for &digit in digits {
            let nibble = char::from(digit).to_digit(16).ok_or(ParseError::BadString(self.position))?;
            value = value << 4 | nibble;
        }
        self.position += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.expect(b'"')?;
        let mut text = String::new();
        loop {
            let start = self.position;
            // Copy the run of plain bytes at once (the input is a `str`, so runs are UTF-8).
            while matches!(self.peek(), Some(byte) if byte != b'"' && byte != b'\\' && byte >= 0x20) {
                self.position += 1;
            }
            let run = core::str::from_utf8(&self.bytes[start..self.position]).map_err(|_| ParseError::BadString(start))?;
            text.push_str(run);
            match self.peek() {
                None => return Err(ParseError::UnexpectedEnd),
                Some(b'"') => {
                    self.position += 1;
                    return Ok(text);
                }
                Some(b'\\') => {
                    self.position += 1;
                    let escape = self.peek().ok_or(ParseError::UnexpectedEnd)?;
                    self.position += 1;
                    let character = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(ParseError::BadString(self.position - 1)),
                    };
                    text.push(character);
                }
                Some(_) => return Err(ParseError::BadString(self.position)),
            }
        }
    }

    /// Reads the rest of a `\u` escape, with the low surrogate of a pair.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let at = self.position;
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if !self.bytes[self.position..].starts_with(b"\\u") {
                    return Err(ParseError::BadString(at));
                }
                self.position += 2;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(ParseError::BadString(at));
                }
                0x10000 + ((first - 0xd800) << 10 | (second - 0xdc00))
            }
            0xdc00..=0xdfff => return Err(ParseError::BadString(at)),
            code => code,
        };
        char::from_u32(code).ok_or(ParseError::BadString(at))
    }
}

/// Appends the compact serialisation of `value` to `out`.
pub fn serialise(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
        Value::String(text) => serialise_string(text, out),
        Value::Array(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                serialise(element, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (index, (key, member)) in members.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                serialise_string(key, out);
                out.push(':');
                serialise(member, out);
            }
            out.push('}');
        }
    }
}

/// Appends `text` as a JSON string: quotes, backslashes and control characters escaped.
fn serialise_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// The fixed document: nesting, every kind of value, escapes and a surrogate pair.
const KNOWN_TEXT: &str = r#" { "a" : [1, -2, {"b": null}, []], "c": "x\"y\\z\u0041\n\ud83d\ude00\/", "d": true, "e": {}, "f": -9223372036854775808 } "#;
/// Its canonical serialisation.
const KNOWN_CANONICAL: &str = "{\"a\":[1,-2,{\"b\":null},[]],\"c\":\"x\\\"y\\\\zA\\n\u{1f600}/\",\"d\":true,\"e\":{},\"f\":-9223372036854775808}";
/// Texts that are not JSON.
const MALFORMED: [&str; 10] =
    ["{\"a\":}", "[1,2", "\"open", "[1 2]", "{\"a\" 1}", "01", "1.5", "[true, nul]", "\"\\ud800\"", "[9223372036854775808]"];

/// Checks the fixed document and the malformed texts.
fn known_answers() -> Result<(), u32> {
    let Ok(value) = parse(KNOWN_TEXT) else { return Err(CHECK_KNOWN_DOCUMENT) };
    let a = value.get("a");
    let known = a.and_then(|a| a.at(1)) == Some(&Value::Number(-2))
        && a.and_then(|a| a.at(2)).and_then(|b| b.get("b")) == Some(&Value::Null)
        && value.get("c") == Some(&Value::String("x\"y\\zA\n\u{1f600}/".into()))
        && value.get("d") == Some(&Value::Bool(true))
        && value.get("f") == Some(&Value::Number(i64::MIN));
    let mut canonical = String::new();
    serialise(&value, &mut canonical);
    ensure(known && canonical == KNOWN_CANONICAL, CHECK_KNOWN_DOCUMENT)?;
    ensure(MALFORMED.iter().all(|text| parse(text).is_err()), CHECK_MALFORMED_REFUSED)
}

/// The words of generated names.
const NAMES: [&str; 8] = ["kelp", "reef", "tide", "coral", "drift", "brine", "shoal", "surf"];

/// Returns a seeded document of [`RECORDS`] records and the total of their prices.
fn document(random: &mut Rng) -> (Value, i64) {
    let mut total = 0;
    let records = (0..RECORDS)
        .map(|id| {
            let price = random.below(100_000) as i64 - 20_000;
            total += price;
            let tags = (0..random.below(4)).map(|_| Value::String(NAMES[random.index(NAMES.len())].into())).collect();
            let name = alloc::format!("{}-{} \"n\u{e9}{}\"\t\\", NAMES[random.index(NAMES.len())], NAMES[random.index(NAMES.len())], id);
            Value::Object(alloc::vec![
                ("id".into(), Value::Number(id as i64)),
                ("name".into(), Value::String(name)),
                ("price".into(), Value::Number(price)),
                ("active".into(), Value::Bool(random.below(2) == 0)),
                ("tags".into(), Value::Array(tags)),
                ("parent".into(), if id == 0 { Value::Null } else { Value::Number(random.below(id as u64) as i64) }),
            ])
        })
        .collect();
    let document = Value::Object(alloc::vec![
        ("service".into(), Value::String("shoal-inventory".into())),
        ("version".into(), Value::Number(3)),
        ("records".into(), Value::Array(records)),
        ("meta".into(), Value::Object(alloc::vec![("seed".into(), Value::String(alloc::format!("{:x}", random.next_u64())))])),
    ]);
    (document, total)
}

/// Returns the sum of the records' prices, if the document has the expected shape.
fn total_price(document: &Value) -> Option<i64> {
    let Some(Value::Array(records)) = document.get("records") else { return None };
    records.iter().try_fold(0i64, |total, record| match record.get("price") {
        Some(Value::Number(price)) => total.checked_add(*price),
        _ => None,
    })
}

/// Serialises, parses and re-serialises a seeded document; returns a checksum of its text.
///
/// # Errors
/// Returns the failed check ([`CHECK_KNOWN_DOCUMENT`], [`CHECK_MALFORMED_REFUSED`],
/// [`CHECK_PARSE_ROUND_TRIP`], [`CHECK_TEXT_ROUND_TRIP`] or [`CHECK_TOTAL`]). With `corrupt`, one
/// digit of the serialised text changes before it is parsed.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    known_answers()?;
    let mut random = Rng::new(seed, STREAM);
    let (built, total) = document(&mut random);
    let mut text = String::new();
    serialise(&built, &mut text);
    if corrupt {
        text = corrupt_digit(&text, &mut random);
    }
    let parsed = parse(&text).map_err(|_| CHECK_PARSE_ROUND_TRIP)?;
    ensure(parsed == built, CHECK_PARSE_ROUND_TRIP)?;
    let mut again = String::with_capacity(text.len());
    serialise(&parsed, &mut again);
    ensure(again == text, CHECK_TEXT_ROUND_TRIP)?;
    ensure(total_price(&parsed) == Some(total), CHECK_TOTAL)?;
    Ok(Checksum::new().bytes(again.as_bytes()).value(total as u64).finish())
}

/// Returns `text` with one of its digits replaced by another digit.
fn corrupt_digit(text: &str, random: &mut Rng) -> String {
    let digits: Vec<usize> = text.bytes().enumerate().filter(|(_, byte)| byte.is_ascii_digit()).map(|(index, _)| index).collect();
    let position = digits[random.index(digits.len())];
    let mut bytes = text.as_bytes().to_vec();
    bytes[position] = b'0' + (bytes[position] - b'0' + 1) % 10;
    // Replacing an ASCII digit with another keeps the text UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_document_and_malformed_texts() {
        assert_eq!(known_answers(), Ok(()));
        assert_eq!(parse("[1,"), Err(ParseError::UnexpectedEnd));
        assert_eq!(parse("[1] x"), Err(ParseError::Trailing(4)));
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep), Err(ParseError::TooDeep));
    }

    #[test]
    fn control_characters_are_escaped_and_read_back() {
        let value = Value::String("a\u{1}b\u{1f}".into());
        let mut text = String::new();
        serialise(&value, &mut text);
        assert_eq!(text, "\"a\\u0001b\\u001f\"");
        assert_eq!(parse(&text), Ok(value));
    }

    #[test]
    fn the_document_has_its_size_and_a_changed_digit_fails() {
        let (built, _) = document(&mut Rng::new(1, STREAM));
        let mut text = String::new();
        serialise(&built, &mut text);
        assert!((1500..4096).contains(&text.len()), "{} bytes", text.len());
        for seed in 0..20 {
            assert!(handle(seed, true).is_err());
        }
    }
}
