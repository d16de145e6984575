//! Regular-expression search over log lines, as a log-filtering function does: a small
//! backtracking matcher written here, run with three patterns over 32 seeded log lines. Checked on
//! fixed pattern/text cases whose answers are known, on malformed patterns that must be refused,
//! and by comparing each pattern's match count with the count the generator kept while writing
//! the lines.
//!
//! Syntax (bytes, ASCII): literals; `.`; classes `[a-z_]`, `[^0-9]`; `\d \w \s \D \W \S` (also in
//! classes); `\` before a metacharacter; groups `( )` with alternation `|`; quantifiers `* + ?
//! {n} {n,} {n,m}` (greedy); anchors `^ $`. A pattern matches a text when it matches at some
//! position (search, not full match). Matching is backtracking in continuation-passing style: each
//! node gets the rest of the pattern as a closure to call at every position it can end at.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::{Checksum, Rng, ensure};

/// Log lines per invocation.
pub const LINES: usize = 32;
/// Deepest group nesting a pattern may have.
const MAX_DEPTH: usize = 16;
/// Largest count in `{n,m}`.
const MAX_REPEAT: u32 = 1000;
/// Bytes of the module's arena ([`crate::arena`]): the lines and the compiled patterns (a peak of
/// 11 KiB on wasm32).
pub const ARENA_BYTES: usize = 16 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 7;

/// Self-check: the fixed cases match or not as known.
pub const CHECK_KNOWN_CASES: u32 = 1;
/// Self-check: malformed patterns are refused.
pub const CHECK_MALFORMED_REFUSED: u32 = 2;
/// Self-check: the match counts equal the generator's counts.
pub const CHECK_COUNTS: u32 = 3;

/// A set of bytes: ranges, possibly negated.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    ranges: Vec<(u8, u8)>,
    negated: bool,
}

impl Class {
    fn matches(&self, byte: u8) -> bool {
        self.ranges.iter().any(|&(low, high)| (low..=high).contains(&byte)) != self.negated
    }
}

/// One node of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    /// One byte.
    Literal(u8),
    /// Any byte.
    Any,
    /// A byte of the class.
    Class(Class),
    /// The start of the text.
    Start,
    /// The end of the text.
    End,
    /// Alternatives, each a sequence.
    Group(Vec<Vec<Node>>),
    /// `node` `min` to `max` times (no maximum when `None`), greedily.
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
}

/// Why a pattern is malformed, with the offset where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// A `(` without `)` or a `)` without `(`.
    Unbalanced(usize),
    /// A `[` without `]`.
    UnterminatedClass(usize),
    /// A quantifier with nothing before it.
    NothingToRepeat(usize),
    /// A malformed `{n,m}` (or `n > m`, or a count above the limit).
    BadRepeat(usize),
    /// A `\` at the end, or before a letter with no meaning.
    BadEscape(usize),
    /// Groups nested deeper than the limit.
    TooDeep,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Regex {
    alternatives: Vec<Vec<Node>>,
}

impl Regex {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// Returns the first problem of a malformed pattern.
    pub fn new(pattern: &str) -> Result<Regex, PatternError> {
        let mut parser = PatternParser { bytes: pattern.as_bytes(), position: 0 };
        let alternatives = parser.alternation(0)?;
        if parser.position != parser.bytes.len() {
            return Err(PatternError::Unbalanced(parser.position));
        }
        Ok(Regex { alternatives })
    }

    /// Returns whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let text = text.as_bytes();
        (0..=text.len()).any(|start| self.alternatives.iter().any(|sequence| match_sequence(sequence, text, start, &|_| true)))
    }
}

/// The pattern parser: recursive descent over the pattern's bytes.
struct PatternParser<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl PatternParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// `sequence ('|' sequence)*`, up to a `)` or the end.
    fn alternation(&mut self, depth: usize) -> Result<Vec<Vec<Node>>, PatternError> {
        if depth > MAX_DEPTH {
            return Err(PatternError::TooDeep);
        }
        let mut alternatives = alloc::vec![self.sequence(depth)?];
        while self.peek() == Some(b'|') {
            self.position += 1;
            alternatives.push(self.sequence(depth)?);
        }
        Ok(alternatives)
    }

    /// Atoms with their quantifiers, up to a `|`, a `)` or the end.
    fn sequence(&mut self, depth: usize) -> Result<Vec<Node>, PatternError> {
        let mut nodes = Vec::new();
        while let Some(byte) = self.peek() {
            let at = self.position;
            let node = match byte {
                b'|' | b')' => break,
                b'(' => {
                    self.position += 1;
                    let group = self.alternation(depth + 1)?;
                    if self.peek() != Some(b')') {
                        return Err(PatternError::Unbalanced(at));
                    }
                    self.position += 1;
                    Node::Group(group)
                }
                b'[' => self.class()?,
                b'.' => self.single(Node::Any),
                b'^' => self.single(Node::Start),
                b'$' => self.single(Node::End),
                b'\\' => self.escape()?,
                b'*' | b'+' | b'?' | b'{' => return Err(PatternError::NothingToRepeat(at)),
                literal => self.single(Node::Literal(literal)),
            };
            nodes.push(self.quantified(node)?);
        }
        Ok(nodes)
    }

    /// Consumes one byte and returns `node`.
    fn single(&mut self, node: Node) -> Node {
        self.position += 1;
        node
    }

    /// Wraps `node` in the quantifier that follows it, if any.
    fn quantified(&mut self, node: Node) -> Result<Node, PatternError> {
        let at = self.position;
        let (min, max) = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') => {
                self.position += 1;
                let min = self.count().ok_or(PatternError::BadRepeat(at))?;
                let max = match self.peek() {
                    Some(b',') if self.bytes.get(self.position + 1) == Some(&b'}') => {
                        self.position += 1;
                        None
                    }
                    Some(b',') => {
                        self.position += 1;
                        Some(self.count().ok_or(PatternError::BadRepeat(at))?)
                    }
                    _ => Some(min),
                };
                if self.peek() != Some(b'}') || max.is_some_and(|max| max < min) {
                    return Err(PatternError::BadRepeat(at));
                }
                (min, max)
            }
            _ => return Ok(node),
        };
        self.position += 1;
        if matches!(node, Node::Start | Node::End) {
            return Err(PatternError::NothingToRepeat(at));
        }
        Ok(Node::Repeat { node: Box::new(node), min, max })
    }

    /// Reads a decimal count for `{n,m}`.
    fn count(&mut self) -> Option<u32> {
        let start = self.position;
        let mut value: u32 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value.checked_mul(10)?.checked_add(u32::from(digit - b'0'))?;
            self.position += 1;
        }
        (self.position > start && value <= MAX_REPEAT).then_some(value)
    }

    /// Returns the ranges of a `\d \w \s` shorthand (and whether it is negated), if `letter` is one.
    fn shorthand(letter: u8) -> Option<(&'static [(u8, u8)], bool)> {
        const DIGITS: &[(u8, u8)] = &[(b'0', b'9')];
        const WORD: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z'), (b'_', b'_')];
        const SPACE: &[(u8, u8)] = &[(b' ', b' '), (b'\t', b'\r')];
        match letter {
            b'd' => Some((DIGITS, false)),
            b'w' => Some((WORD, false)),
            b's' => Some((SPACE, false)),
            b'D' => Some((DIGITS, true)),
            b'W' => Some((WORD, true)),
            b'S' => Some((SPACE, true)),
            _ => None,
        }
    }

    /// `\` and what follows, outside a class.
    fn escape(&mut self) -> Result<Node, PatternError> {
        let at = self.position;
        let letter = *self.bytes.get(self.position + 1).ok_or(PatternError::BadEscape(at))?;
        self.position += 2;
        if let Some((ranges, negated)) = PatternParser::shorthand(letter) {
            return Ok(Node::Class(Class { ranges: ranges.to_vec(), negated }));
        }
        match letter {
            b't' => Ok(Node::Literal(b'\t')),
            b'n' => Ok(Node::Literal(b'\n')),
            letter if letter.is_ascii_alphanumeric() => Err(PatternError::BadEscape(at)),
            punctuation => Ok(Node::Literal(punctuation)),
        }
    }

    /// `[...]`.
    fn class(&mut self) -> Result<Node, PatternError> {
        let at = self.position;
        self.position += 1;
        let negated = self.peek() == Some(b'^');
        if negated {
            self.position += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let byte = self.peek().ok_or(PatternError::UnterminatedClass(at))?;
            if byte == b']' && !first {
                self.position += 1;
                return Ok(Node::Class(Class { ranges, negated }));
            }
            first = false;
            let low = if byte == b'\\' {
                let letter = *self.bytes.get(self.position + 1).ok_or(PatternError::UnterminatedClass(at))?;
                self.position += 2;
                if let Some((shorthand, false)) = PatternParser::shorthand(letter) {
                    ranges.extend_from_slice(shorthand);
                    continue;
                }
                if letter.is_ascii_alphanumeric() {
                    return Err(PatternError::BadEscape(self.position - 2));
                }
                letter
            } else {
                self.position += 1;
                byte
            };
            let is_range = self.peek() == Some(b'-') && self.bytes.get(self.position + 1).is_some_and(|&next| next != b']');
            if is_range {
                let high = self.bytes[self.position + 1];
                self.position += 2;
                if high < low {
                    return Err(PatternError::UnterminatedClass(at));
                }
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
    }
}

/// Matches `nodes` at `position`, then calls `rest` with every end position until it accepts.
fn match_sequence(nodes: &[Node], text: &[u8], position: usize, rest: &dyn Fn(usize) -> bool) -> bool {
    match nodes.split_first() {
        None => rest(position),
        Some((first, others)) => match_node(first, text, position, &|next| match_sequence(others, text, next, rest)),
    }
}

/// Matches one node at `position`, then calls `rest` with every end position until it accepts.
fn match_node(node: &Node, text: &[u8], position: usize, rest: &dyn Fn(usize) -> bool) -> bool {
    match node {
        Node::Literal(byte) => text.get(position) == Some(byte) && rest(position + 1),
        Node::Any => position < text.len() && rest(position + 1),
        Node::Class(class) => text.get(position).is_some_and(|&byte| class.matches(byte)) && rest(position + 1),
        Node::Start => position == 0 && rest(position),
        Node::End => position == text.len() && rest(position),
        Node::Group(alternatives) => alternatives.iter().any(|sequence| match_sequence(sequence, text, position, rest)),
        Node::Repeat { node, min, max } => match_repeat(node, *min, *max, 0, text, position, rest),
    }
}

/// Matches `node` repeated (`count` times so far), greedily: one more first, then stop.
fn match_repeat(node: &Node, min: u32, max: Option<u32>, count: u32, text: &[u8], position: usize, rest: &dyn Fn(usize) -> bool) -> bool {
    if max.is_none_or(|max| count < max) {
        let more = match_node(node, text, position, &|next| {
            // An empty iteration past the minimum cannot lead anywhere new: refuse it, so `(a*)*`
            // terminates.
            (next != position || count < min) && match_repeat(node, min, max, count + 1, text, next, rest)
        });
        if more {
            return true;
        }
    }
    count >= min && rest(position)
}

/// Fixed cases: pattern, text, whether it matches.
const KNOWN_CASES: [(&str, &str, bool); 20] = [
    ("a.c", "xxabcxx", true),
    ("a.c", "ac", false),
    ("^ab*c$", "ac", true),
    ("^ab*c$", "abbbbc", true),
    ("^ab*c$", "abbbd", false),
    ("^ab+c$", "ac", false),
    ("colou?r", "the color red", true),
    ("[0-9]+x", "ab12x", true),
    ("^[^a-z]+$", "ABC-12", true),
    ("^[^a-z]+$", "ABc-12", false),
    ("(cat|dog)s?$", "hotdogs", true),
    ("(cat|dog)s?$", "dogsled", false),
    ("^x{2,3}y", "xxxy", true),
    ("^x{2,3}y", "xy", false),
    ("^x{2,3}y", "xxxxy", false),
    (r"\w+@\w+\.com", "mail bob@example.com now", true),
    (r"\w+@\w+\.com", "mail bob@example.org now", false),
    (r"^(a|ab)(c|bcd)(d*)$", "abcd", true),
    (r"^\s*[\d\-]{3,}\s*$", "  12-34 ", true),
    ("^(a*)*b$", "aaaaaaac", false),
];
/// Malformed patterns.
const MALFORMED: [&str; 8] = ["(ab", "ab)", "[a-z", "*a", "a{3,1}", "a{x}", r"a\q", "^*"];

/// Checks the fixed cases and the malformed patterns.
fn known_answers() -> Result<(), u32> {
    for (pattern, text, expected) in KNOWN_CASES {
        let regex = Regex::new(pattern).map_err(|_| CHECK_KNOWN_CASES)?;
        ensure(regex.is_match(text) == expected, CHECK_KNOWN_CASES)?;
    }
    ensure(MALFORMED.iter().all(|pattern| Regex::new(pattern).is_err()), CHECK_MALFORMED_REFUSED)
}

/// Pattern A: warnings and errors (the line must start with a timestamp).
const WARNINGS: &str = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|WARN) ";
/// Pattern B: slow requests of two users.
const SLOW_REQUESTS: &str = r"user=(alice|bob) .*took=[1-9][0-9]{2,}ms$";
/// Pattern C: quiet lines whose id ends in 7.
const QUIET_SEVEN: &str = r"\s(DEBUG|INFO)\s+user=\w+\s+id=\d*7\s";

/// Levels of the generated lines, weighted by repetition.
const LEVELS: [&str; 8] = ["INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "INFO"];
/// Users of the generated lines.
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// Returns seeded log lines and the number of lines each pattern (A, B, C) must match. The first
/// line is always an error.
fn log_lines(random: &mut Rng) -> (Vec<String>, [usize; 3]) {
    let mut counts = [0; 3];
    let lines = (0..LINES)
        .map(|index| {
            let level = if index == 0 { "ERROR" } else { LEVELS[random.index(LEVELS.len())] };
            let user = USERS[random.index(USERS.len())];
            let id = random.below(100_000);
            let took = 1 + random.below(999);
            counts[0] += usize::from(matches!(level, "ERROR" | "WARN"));
            counts[1] += usize::from(matches!(user, "alice" | "bob") && took >= 100);
            counts[2] += usize::from(matches!(level, "DEBUG" | "INFO") && id % 10 == 7);
            let mut line = String::new();
            let _ = write!(
                line,
                "2026-{:02}-{:02} {:02}:{:02}:{:02} {level} user={user} id={id} took={took}ms",
                1 + random.below(12),
                1 + random.below(28),
                random.below(24),
                random.below(60),
                random.below(60),
            );
            line
        })
        .collect();
    (lines, counts)
}

/// Counts the matches of three patterns in seeded log lines; returns a checksum of the counts.
///
/// # Errors
/// Returns the failed check ([`CHECK_KNOWN_CASES`], [`CHECK_MALFORMED_REFUSED`] or
/// [`CHECK_COUNTS`]). With `corrupt`, the timestamp of the first line (an error) is damaged after
/// the generator counted it.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    known_answers()?;
    let patterns = [WARNINGS, SLOW_REQUESTS, QUIET_SEVEN].map(Regex::new);
    let mut random = Rng::new(seed, STREAM);
    let (mut lines, expected) = log_lines(&mut random);
    if corrupt {
        lines[0].replace_range(0..1, "X");
    }
    let mut checksum = Checksum::new();
    for (pattern, expected) in patterns.iter().zip(expected) {
        let Ok(regex) = pattern else { return Err(CHECK_COUNTS) };
        let matches: Vec<usize> = lines.iter().enumerate().filter(|(_, line)| regex.is_match(line)).map(|(index, _)| index).collect();
        ensure(matches.len() == expected, CHECK_COUNTS)?;
        checksum = matches.iter().fold(checksum.value(matches.len() as u64), |checksum, &index| checksum.value(index as u64));
    }
    Ok(checksum.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_cases_and_malformed_patterns() {
        assert_eq!(known_answers(), Ok(()));
        assert_eq!(Regex::new("(ab").err(), Some(PatternError::Unbalanced(0)));
        assert_eq!(Regex::new("a{3,1}").err(), Some(PatternError::BadRepeat(1)));
        assert_eq!(Regex::new(&"(".repeat(MAX_DEPTH + 2)).err(), Some(PatternError::TooDeep));
    }

    #[test]
    fn every_pattern_matches_some_lines() {
        let (lines, counts) = log_lines(&mut Rng::new(2, STREAM));
        assert_eq!(lines.len(), LINES);
        assert!(counts.iter().all(|&count| count > 0), "{counts:?}");
    }

    #[test]
    fn a_damaged_line_fails_the_counts() {
        assert_eq!(handle(19, true), Err(CHECK_COUNTS));
    }
}
