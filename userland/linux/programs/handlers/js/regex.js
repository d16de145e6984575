// regex: count the matches of three patterns in 32 seeded log lines with the engine's own
// RegExp (as a JavaScript function does; the Rust handler, wasm-functions/src/regex.rs, has its
// own backtracking matcher), with the `u` flag so that malformed patterns are errors.
// Checks: 1 = twenty fixed pattern/text cases; 2 = eight malformed patterns are refused;
// 3 = the match counts equal the generator's. With FLAG_CORRUPT the first line's timestamp
// (an error line) is damaged after counting (check 3 fails).
"use strict";
const RE_STREAM = 7, LINES = 32;
const KNOWN_CASES = [
  ["a.c", "xxabcxx", true], ["a.c", "ac", false], ["^ab*c$", "ac", true], ["^ab*c$", "abbbbc", true],
  ["^ab*c$", "abbbd", false], ["^ab+c$", "ac", false], ["colou?r", "the color red", true], ["[0-9]+x", "ab12x", true],
  ["^[^a-z]+$", "ABC-12", true], ["^[^a-z]+$", "ABc-12", false], ["(cat|dog)s?$", "hotdogs", true], ["(cat|dog)s?$", "dogsled", false],
  ["^x{2,3}y", "xxxy", true], ["^x{2,3}y", "xy", false], ["^x{2,3}y", "xxxxy", false], [String.raw`\w+@\w+\.com`, "mail bob@example.com now", true],
  [String.raw`\w+@\w+\.com`, "mail bob@example.org now", false], [String.raw`^(a|ab)(c|bcd)(d*)$`, "abcd", true],
  [String.raw`^\s*[\d\-]{3,}\s*$`, "  12-34 ", true], ["^(a*)*b$", "aaaaaaac", false],
];
const MALFORMED = ["(ab", "ab)", "[a-z", "*a", "a{3,1}", "a{x}", String.raw`a\q`, "^*"];
const PATTERNS = [
  String.raw`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|WARN) `,
  String.raw`user=(alice|bob) .*took=[1-9][0-9]{2,}ms$`,
  String.raw`\s(DEBUG|INFO)\s+user=\w+\s+id=\d*7\s`,
];
const LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "INFO"];
const USERS = ["alice", "bob", "carol", "dave", "erin"];
function compile(pattern) { try { return new RegExp(pattern, "u"); } catch (e) { return null; } }
const two = (n) => String(n).padStart(2, "0");
function logLines(random) {
  const counts = [0, 0, 0], lines = [];
  for (let index = 0; index < LINES; index++) {
    const level = index === 0 ? "ERROR" : LEVELS[random.index(LEVELS.length)];
    const user = USERS[random.index(USERS.length)];
    const id = random.below(100000), took = 1 + random.below(999);
    if (level === "ERROR" || level === "WARN") counts[0]++;
    if ((user === "alice" || user === "bob") && took >= 100) counts[1]++;
    if ((level === "DEBUG" || level === "INFO") && id % 10 === 7) counts[2]++;
    const month = 1 + random.below(12), day = 1 + random.below(28);
    const hour = random.below(24), minute = random.below(60), second = random.below(60);
    lines.push(`2026-${two(month)}-${two(day)} ${two(hour)}:${two(minute)}:${two(second)} ${level} user=${user} id=${id} took=${took}ms`);
  }
  return { lines, counts };
}
function handle(seed, flags) {
  for (const [pattern, text, expected] of KNOWN_CASES) {
    const re = compile(pattern);
    if (re === null || re.test(text) !== expected) return -1n;
  }
  if (!MALFORMED.every((p) => compile(p) === null)) return -2n;
  const random = Rng(seed, RE_STREAM);
  const { lines, counts } = logLines(random);
  if (corruptFlag(flags)) lines[0] = "X" + lines[0].slice(1);
  const c = new Checksum();
  for (let p = 0; p < PATTERNS.length; p++) {
    const re = compile(PATTERNS[p]);
    if (re === null) return -3n;
    const matches = [];
    lines.forEach((line, index) => { if (re.test(line)) matches.push(index); });
    if (matches.length !== counts[p]) return -3n;
    c.value(matches.length);
    for (const index of matches) c.value(index);
  }
  return c.outcome();
}
