//! Host tests: builder round trips, lookups, every malformed-header case, truncation at every
//! byte, and a seeded random mutation test that asserts parsing never panics.

use super::*;

use test_rng::XorShift;

/// Offset of the checksum field within a header block.
const CHECKSUM_OFFSET: usize = 148;
/// Length of the checksum field.
const CHECKSUM_LEN_BYTES: usize = 8;
/// Offset of the size field within a header block.
const SIZE_OFFSET: usize = 124;

/// Recomputes and stores the checksum of the header block at `offset`, as tar does: the sum of
/// all bytes with the checksum field counted as spaces, in six octal digits, NUL, space.
fn fix_checksum(archive: &mut [u8], offset: usize) {
    let block = &mut archive[offset..offset + BLOCK_SIZE_BYTES];
    block[CHECKSUM_OFFSET..CHECKSUM_OFFSET + CHECKSUM_LEN_BYTES].fill(b' ');
    let sum: u32 = block.iter().map(|&byte| u32::from(byte)).sum();
    let text = format!("{sum:06o}\0 ");
    block[CHECKSUM_OFFSET..CHECKSUM_OFFSET + CHECKSUM_LEN_BYTES].copy_from_slice(text.as_bytes());
}

/// Overwrites the name field of the header at `offset` with `name` (NUL-padded) and fixes the
/// checksum.
fn set_raw_name(archive: &mut [u8], offset: usize, name: &[u8]) {
    let field = &mut archive[offset..offset + MAX_NAME_BYTES];
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
    fix_checksum(archive, offset);
}

/// Returns a header block for a regular file `name` of `size_bytes`, with any name bytes.
fn raw_header(name: &[u8], size_bytes: u64) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size_bytes);
    header.set_mode(0o644);
    let mut block = header.as_bytes().to_vec();
    set_raw_name(&mut block, 0, name);
    block
}

/// Returns an archive with one file whose header holds `name` byte for byte (bypassing the
/// builder's checks).
fn archive_with_raw_name(name: &[u8]) -> Vec<u8> {
    let mut archive = Builder::new();
    archive.add("placeholder", b"data").unwrap();
    let mut bytes = archive.finish();
    set_raw_name(&mut bytes, 0, name);
    bytes
}

/// Returns a small archive of three files, and the offsets of its headers.
fn small_archive() -> (Vec<u8>, Vec<usize>) {
    let mut builder = Builder::new();
    builder
        .add("hello", b"hello, world\n")
        .unwrap()
        .add("empty", b"")
        .unwrap()
        .add("bin/spin", &[0xAB; 600])
        .unwrap();
    (builder.finish(), vec![0, 1024, 1536])
}

/// Returns `offset` of `inner` within `outer` (both from the same allocation).
fn offset_within(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// Asserts that a successfully parsed ramdisk is self-consistent: the iterator agrees with `len`,
/// every name obeys the rules and is unique, every lookup finds its entry, and all data lies
/// inside the archive.
fn assert_consistent(bytes: &[u8], ramdisk: &Ramdisk<'_>) {
    let entries: Vec<Entry<'_>> = ramdisk.entries().collect();
    assert_eq!(entries.len(), ramdisk.len());
    assert_eq!(ramdisk.is_empty(), entries.is_empty());
    assert!(ramdisk.len() <= MAX_ENTRIES);
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(check_name(entry.name.as_bytes()), Ok(entry.name));
        assert!(
            entries[..index]
                .iter()
                .all(|earlier| earlier.name != entry.name)
        );
        assert_eq!(ramdisk.get(entry.name), Some(entry.bytes));
        let start = offset_within(bytes, entry.bytes);
        assert!(start + entry.bytes.len() <= bytes.len());
        assert_eq!(start % BLOCK_SIZE_BYTES, 0);
    }
}

#[test]
fn round_trip_with_empty_binary_and_large_files() {
    let binary: Vec<u8> = (0..=255u8).cycle().take(3 * 256 + 17).collect();
    let mut random = XorShift(0x5EED_0001);
    let large: Vec<u8> = (0..1 << 20).map(|_| random.byte()).collect();
    let exact_block = vec![0x55; BLOCK_SIZE_BYTES];
    let files: [(&str, &[u8]); 6] = [
        ("scenario.txt", b"spawn hello 5000\n"),
        ("empty", b""),
        ("binary.bin", &binary),
        ("functions/large", &large),
        ("exact-block", &exact_block),
        ("zeros", &[0; 2 * BLOCK_SIZE_BYTES]),
    ];
    let mut builder = Builder::new();
    for (name, contents) in files {
        builder.add(name, contents).unwrap();
    }
    let bytes = builder.finish();
    assert_eq!(bytes.len() % BLOCK_SIZE_BYTES, 0);

    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert_eq!(ramdisk.len(), files.len());
    assert!(!ramdisk.is_empty());
    assert_eq!(ramdisk.as_bytes().len(), bytes.len());
    let entries: Vec<Entry<'_>> = ramdisk.entries().collect();
    for ((name, contents), entry) in files.iter().zip(&entries) {
        assert_eq!(entry.name, *name);
        assert_eq!(entry.bytes, *contents);
        assert_eq!(ramdisk.get(name), Some(*contents));
    }
    assert_consistent(&bytes, &ramdisk);
    assert_eq!(
        format!("{:?}", entries[0]),
        "Entry { name: \"scenario.txt\", length_bytes: 17 }"
    );
}

/// The standard `tar` reader sees the same files: the archive is ordinary ustar.
#[test]
fn builder_output_reads_back_with_the_tar_crate() {
    let (bytes, _) = small_archive();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
        seen.push((name, contents));
    }
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    let ours: Vec<(String, Vec<u8>)> = ramdisk
        .entries()
        .map(|entry| (entry.name.to_string(), entry.bytes.to_vec()))
        .collect();
    assert_eq!(seen, ours);
}

#[test]
fn lookup_hits_and_misses() {
    let (bytes, _) = small_archive();
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert_eq!(ramdisk.get("hello"), Some(&b"hello, world\n"[..]));
    assert_eq!(ramdisk.get("empty"), Some(&b""[..]));
    assert_eq!(ramdisk.get("bin/spin").map(<[u8]>::len), Some(600));
    for missing in [
        "", "hell", "hello ", "Hello", "spin", "bin", "bin/", "/hello", "./hello",
    ] {
        assert_eq!(ramdisk.get(missing), None, "{missing:?}");
    }
}

#[test]
fn empty_builder_gives_a_valid_empty_archive() {
    let bytes = Builder::new().finish();
    assert_eq!(bytes.len(), MIN_ARCHIVE_BLOCKS * BLOCK_SIZE_BYTES);
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert!(ramdisk.is_empty());
    assert_eq!(ramdisk.len(), 0);
    assert_eq!(ramdisk.entries().count(), 0);
    assert_eq!(ramdisk.get("anything"), None);
    assert_eq!(
        format!("{ramdisk:?}"),
        "Ramdisk { length_bytes: 1536, entry_count: 0 }"
    );
}

/// Names the builder and the reader both refuse, with the problem each one reports.
fn bad_names() -> Vec<(&'static [u8], NameProblem)> {
    vec![
        (b"", NameProblem::Empty),
        (b"../etc/passwd", NameProblem::DotDotComponent),
        (b"bin/../../x", NameProblem::DotDotComponent),
        (b"..", NameProblem::DotDotComponent),
        (b"/hello", NameProblem::Absolute),
        (b"./hello", NameProblem::DotComponent),
        (b"bin/./hello", NameProblem::DotComponent),
        (b"bin//hello", NameProblem::EmptyComponent),
        (b"bin/", NameProblem::EmptyComponent),
        (b"a\nb", NameProblem::ControlCharacter),
        (b"a\x7fb", NameProblem::ControlCharacter),
        (b"\xff\xfe", NameProblem::NotUtf8),
    ]
}

#[test]
fn builder_refuses_bad_names() {
    for (name, problem) in bad_names() {
        let Ok(name) = core::str::from_utf8(name) else {
            continue; // `add` takes a `&str`; the reader test covers invalid UTF-8.
        };
        let mut builder = Builder::new();
        builder.add("first", b"1").unwrap();
        let error = builder.add(name, b"x").unwrap_err();
        assert_eq!(
            error,
            RamdiskError::InvalidName {
                offset_bytes: 1024,
                name: EntryName::new(name.as_bytes()),
                problem,
            }
        );
        // The builder is unchanged: its archive still parses to the one good file.
        let bytes = builder.finish();
        assert_eq!(Ramdisk::parse(&bytes).unwrap().len(), 1);
    }
    let mut builder = Builder::new();
    assert_eq!(
        builder.add("a\0b", b"").unwrap_err().to_string(),
        "ramdisk header at offset 0: invalid name \"a\\0b\": the name contains a NUL byte"
    );
    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let error = builder.add(&long, b"").unwrap_err();
    assert!(matches!(
        error,
        RamdiskError::InvalidName {
            problem: NameProblem::TooLong { length_bytes: 101 },
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .ends_with("...: the name is 101 bytes, longer than the limit of 100")
    );
}

#[test]
fn names_of_exactly_the_maximum_length_round_trip() {
    let long = "n".repeat(MAX_NAME_BYTES);
    let nested = format!("{}/{}", "d".repeat(49), "f".repeat(50));
    let mut builder = Builder::new();
    builder
        .add(&long, b"long")
        .unwrap()
        .add(&nested, b"nested")
        .unwrap();
    let bytes = builder.finish();
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert_eq!(ramdisk.get(&long), Some(&b"long"[..]));
    assert_eq!(ramdisk.get(&nested), Some(&b"nested"[..]));
}

#[test]
fn builder_refuses_duplicates_and_too_many_entries() {
    let mut builder = Builder::new();
    builder.add("a", b"1").unwrap().add("b", b"2").unwrap();
    let error = builder.add("a", b"3").unwrap_err();
    assert_eq!(
        error,
        RamdiskError::DuplicateName {
            name: EntryName::new(b"a"),
            first_offset_bytes: 0,
            second_offset_bytes: 2048,
        }
    );
    assert_eq!(
        error.to_string(),
        "ramdisk has duplicate name \"a\" (headers at offsets 0 and 2048)"
    );

    let mut builder = Builder::new();
    for index in 0..MAX_ENTRIES {
        builder.add(&format!("file{index}"), b"").unwrap();
    }
    let error = builder.add("one-too-many", b"").unwrap_err();
    assert_eq!(
        error,
        RamdiskError::TooManyEntries {
            offset_bytes: MAX_ENTRIES * BLOCK_SIZE_BYTES
        }
    );
    let bytes = builder.finish();
    assert_eq!(Ramdisk::parse(&bytes).unwrap().len(), MAX_ENTRIES);
}

#[test]
fn parse_refuses_bad_names_in_headers() {
    for (name, problem) in bad_names() {
        let bytes = archive_with_raw_name(name);
        assert_eq!(
            Ramdisk::parse(&bytes).unwrap_err(),
            RamdiskError::InvalidName {
                offset_bytes: 0,
                name: EntryName::new(name),
                problem,
            },
            "{name:?}"
        );
    }
    // Junk after the NUL that ends the name.
    let bytes = archive_with_raw_name(b"hello\0junk");
    let error = Ramdisk::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        RamdiskError::InvalidName {
            offset_bytes: 0,
            name: EntryName::new(b"hello\0junk"),
            problem: NameProblem::ContainsNul,
        }
    );
    assert_eq!(
        error.to_string(),
        "ramdisk header at offset 0: invalid name \"hello\\0junk\": the name contains a NUL byte"
    );
    // Invalid UTF-8 is shown byte by byte.
    let error = Ramdisk::parse(&archive_with_raw_name(b"a\xffb")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "ramdisk header at offset 0: invalid name \"a\\xffb\": the name is not valid UTF-8"
    );
}

#[test]
fn parse_refuses_names_in_the_ustar_prefix_field() {
    let (mut bytes, _) = small_archive();
    const PREFIX_OFFSET_IN_HEADER: usize = 345;
    bytes[PREFIX_OFFSET_IN_HEADER..PREFIX_OFFSET_IN_HEADER + 3].copy_from_slice(b"dir");
    fix_checksum(&mut bytes, 0);
    assert_eq!(
        Ramdisk::parse(&bytes).unwrap_err(),
        RamdiskError::InvalidName {
            offset_bytes: 0,
            name: EntryName::new(b"hello"),
            problem: NameProblem::UsesPrefixField,
        }
    );
}

#[test]
fn parse_refuses_duplicate_names() {
    let (mut bytes, offsets) = small_archive();
    set_raw_name(&mut bytes, offsets[2], b"hello");
    let error = Ramdisk::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        RamdiskError::DuplicateName {
            name: EntryName::new(b"hello"),
            first_offset_bytes: offsets[0],
            second_offset_bytes: offsets[2],
        }
    );
}

#[test]
fn parse_refuses_too_many_entries() {
    let mut builder = Builder::new();
    for index in 0..MAX_ENTRIES {
        builder.add(&format!("file{index}"), b"").unwrap();
    }
    let mut bytes = builder.finish();
    // Put one more header where the end marker starts; the end marker follows it.
    let offset = MAX_ENTRIES * BLOCK_SIZE_BYTES;
    bytes.truncate(offset);
    bytes.extend_from_slice(&raw_header(b"extra", 0));
    bytes.resize(bytes.len() + 2 * BLOCK_SIZE_BYTES, 0);
    let error = Ramdisk::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        RamdiskError::TooManyEntries {
            offset_bytes: offset
        }
    );
    assert_eq!(
        error.to_string(),
        "ramdisk has too many entries: the header at offset 131072 is past the limit of 256"
    );
}

#[test]
fn parse_refuses_bad_checksums() {
    let (bytes, offsets) = small_archive();
    for &offset in &offsets {
        // A changed byte anywhere in the header, the checksum field included.
        for position in [0, 50, CHECKSUM_OFFSET, CHECKSUM_OFFSET + 5, 300, 511] {
            let mut corrupt = bytes.clone();
            corrupt[offset + position] ^= 0x01;
            assert_eq!(
                Ramdisk::parse(&corrupt).unwrap_err(),
                RamdiskError::BadChecksum {
                    offset_bytes: offset
                },
                "header {offset}, byte {position}"
            );
        }
    }
    let mut corrupt = bytes.clone();
    corrupt[1024 + CHECKSUM_OFFSET] = b'x';
    let error = Ramdisk::parse(&corrupt).unwrap_err();
    assert_eq!(error, RamdiskError::BadChecksum { offset_bytes: 1024 });
    assert_eq!(
        error.to_string(),
        "ramdisk header at offset 1024 has a bad checksum"
    );
}

#[test]
fn parse_refuses_unsupported_entry_types() {
    // Directory, hard link, symbolic link, character device, FIFO, contiguous file, PAX headers
    // (all known to tar_no_std), and a type flag nobody knows.
    for type_flag in [b'5', b'1', b'2', b'3', b'6', b'7', b'x', b'g', b'Z', 0xff] {
        let (mut bytes, offsets) = small_archive();
        bytes[offsets[1] + TYPE_FLAG_OFFSET] = type_flag;
        fix_checksum(&mut bytes, offsets[1]);
        let error = Ramdisk::parse(&bytes).unwrap_err();
        assert_eq!(
            error,
            RamdiskError::UnsupportedEntryType {
                offset_bytes: offsets[1],
                name: EntryName::new(b"empty"),
                type_flag,
            },
            "type flag {type_flag:#x}"
        );
    }
    // Types without data make the reader take the next block as a header: a symbolic link in
    // place of "hello" turns its data block into a header with a bad checksum.
    let (mut bytes, offsets) = small_archive();
    bytes[TYPE_FLAG_OFFSET] = b'2';
    fix_checksum(&mut bytes, 0);
    assert_eq!(
        Ramdisk::parse(&bytes).unwrap_err(),
        RamdiskError::BadChecksum { offset_bytes: 512 }
    );
    let (mut bytes, _) = small_archive();
    bytes[offsets[1] + TYPE_FLAG_OFFSET] = b'2';
    fix_checksum(&mut bytes, offsets[1]);
    assert_eq!(
        Ramdisk::parse(&bytes).unwrap_err().to_string(),
        "ramdisk header at offset 1024: entry \"empty\" has type flag '2' (0x32); only regular \
         files are supported"
    );
}

#[test]
fn parse_accepts_the_old_regular_file_type_flag() {
    let (mut bytes, _) = small_archive();
    bytes[TYPE_FLAG_OFFSET] = 0;
    fix_checksum(&mut bytes, 0);
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert_eq!(ramdisk.get("hello"), Some(&b"hello, world\n"[..]));
}

#[test]
fn parse_refuses_corrupt_size_fields() {
    let (bytes, offsets) = small_archive();
    let with_size = |field: &[u8; 12]| {
        let mut corrupt = bytes.clone();
        corrupt[SIZE_OFFSET..SIZE_OFFSET + 12].copy_from_slice(field);
        fix_checksum(&mut corrupt, offsets[0]);
        corrupt
    };
    let invalid_size = RamdiskError::InvalidSize {
        offset_bytes: 0,
        name: EntryName::new(b"hello"),
    };
    for field in [b"0000000009\0\0", b"abc\0\0\0\0\0\0\0\0\0", &[0xff; 12]] {
        assert_eq!(Ramdisk::parse(&with_size(field)).unwrap_err(), invalid_size);
    }
    assert_eq!(
        invalid_size.to_string(),
        "ramdisk header at offset 0: entry \"hello\" has a size field that is not an octal number"
    );
    // Bigger than the archive, and bigger than any address.
    for field in [b"77777777777\0", b"777777777777"] {
        let error = Ramdisk::parse(&with_size(field)).unwrap_err();
        assert_eq!(
            error,
            RamdiskError::EntryPastEnd {
                offset_bytes: 0,
                name: EntryName::new(b"hello"),
                archive_length_bytes: bytes.len(),
            }
        );
        assert_eq!(
            error.to_string(),
            "ramdisk header at offset 0: entry \"hello\" extends past the end of the 4096-byte \
             archive"
        );
    }
    // A size that still fits the archive but swallows the next headers as data: the archive is
    // consistent (one big file), and the reader reports exactly that.
    let swallowing = with_size(b"00000005000\0");
    let swallowed = Ramdisk::parse(&swallowing).unwrap();
    assert_eq!(swallowed.len(), 1);
    assert_eq!(swallowed.get("hello").map(<[u8]>::len), Some(0o5000));
}

#[test]
fn parse_refuses_short_and_unterminated_archives() {
    assert_eq!(Ramdisk::parse(&[]).unwrap_err(), RamdiskError::Empty);
    assert_eq!(
        Ramdisk::parse(&[0; 2 * BLOCK_SIZE_BYTES]).unwrap_err(),
        RamdiskError::TooShort { length_bytes: 1024 }
    );
    assert_eq!(
        RamdiskError::TooShort { length_bytes: 1024 }.to_string(),
        "ramdisk archive is 1024 bytes, shorter than the minimum of 3 blocks (1536 bytes)"
    );
    let (bytes, _) = small_archive();
    // The last zero block replaced by garbage.
    let mut corrupt = bytes.clone();
    let last_block = bytes.len() - BLOCK_SIZE_BYTES;
    corrupt[last_block..].fill(0x41);
    assert_eq!(
        Ramdisk::parse(&corrupt).unwrap_err(),
        RamdiskError::MissingTerminator {
            archive_length_bytes: bytes.len()
        }
    );
}

#[test]
fn bytes_after_the_end_marker_are_ignored() {
    let (mut bytes, _) = small_archive();
    bytes.extend_from_slice(&[0x99; 3 * BLOCK_SIZE_BYTES]);
    let ramdisk = Ramdisk::parse(&bytes).unwrap();
    assert_eq!(ramdisk.len(), 3);
    assert_consistent(&bytes, &ramdisk);
}

/// Cutting the archive anywhere is always an error, never a shorter archive.
#[test]
fn truncation_at_every_byte_offset_is_an_error() {
    let (bytes, _) = small_archive();
    for length in 0..bytes.len() {
        let error = Ramdisk::parse(&bytes[..length]).unwrap_err();
        let present_bytes = length % BLOCK_SIZE_BYTES;
        let expected_kind = match length {
            _ if length == 0 => matches!(error, RamdiskError::Empty),
            _ if present_bytes != 0 => {
                error
                    == RamdiskError::TruncatedBlock {
                        offset_bytes: length - present_bytes,
                        present_bytes,
                    }
            }
            ..=1024 => matches!(error, RamdiskError::TooShort { .. }),
            _ => matches!(
                error,
                RamdiskError::MissingTerminator { .. } | RamdiskError::EntryPastEnd { .. }
            ),
        };
        assert!(expected_kind, "length {length}: {error}");
    }
    assert_eq!(
        Ramdisk::parse(&bytes[..1000]).unwrap_err().to_string(),
        "ramdisk archive is truncated: the block at offset 512 has only 488 of 512 bytes"
    );
    // Inside the 600-byte file's data (header at 1536, data blocks at 2048 and 2560).
    assert_eq!(
        Ramdisk::parse(&bytes[..2560]).unwrap_err(),
        RamdiskError::EntryPastEnd {
            offset_bytes: 1536,
            name: EntryName::new(b"bin/spin"),
            archive_length_bytes: 2560,
        }
    );
}

/// Seeded random mutations of a small archive never panic; whatever parses is consistent.
///
/// Half of the cases repair the checksums of the original header blocks after mutating, so the
/// mutations reach the type, size, name and layout checks instead of stopping at the checksum.
#[test]
fn random_mutations_never_panic() {
    const CASES: usize = if cfg!(miri) { 200 } else { 10_000 };
    let (original, header_offsets) = small_archive();
    let mut random = XorShift(0x00DD_BA11_5EED);
    let mut parsed_count = 0;
    let mut error_kinds: Vec<String> = Vec::new();
    for case in 0..CASES {
        let mut bytes = original.clone();
        for _ in 0..1 + random.below(4) {
            match random.below(6) {
                0 => {
                    let index = random.below(bytes.len().max(1));
                    if let Some(byte) = bytes.get_mut(index) {
                        *byte = random.byte();
                    }
                }
                1 => {
                    let index = random.below(bytes.len().max(1));
                    if let Some(byte) = bytes.get_mut(index) {
                        *byte ^= 1 << random.below(8);
                    }
                }
                2 => {
                    // A mutation aimed at a header field: name, size, checksum, type, magic.
                    let header = header_offsets[random.below(header_offsets.len())];
                    let field = [0, 1, 99, SIZE_OFFSET, SIZE_OFFSET + 10, 156, 257, 345];
                    let index = header + field[random.below(field.len())];
                    if let Some(byte) = bytes.get_mut(index) {
                        *byte = match random.below(4) {
                            0 => 0,
                            1 => b'0' + random.below(10) as u8,
                            2 => b"./\xff 7x"[random.below(6)],
                            _ => random.byte(),
                        };
                    }
                }
                3 => {
                    let length = random.below(bytes.len() + 1);
                    bytes.truncate(length);
                }
                4 => {
                    let index = random.below(bytes.len() + 1);
                    bytes.insert(index, random.byte());
                }
                _ => {
                    if !bytes.is_empty() {
                        let index = random.below(bytes.len());
                        bytes.remove(index);
                    }
                }
            }
        }
        if case % 2 == 0 {
            for &offset in &header_offsets {
                if offset + BLOCK_SIZE_BYTES <= bytes.len() {
                    fix_checksum(&mut bytes, offset);
                }
            }
        }
        match Ramdisk::parse(&bytes) {
            Ok(ramdisk) => {
                parsed_count += 1;
                assert_consistent(&bytes, &ramdisk);
            }
            Err(error) => {
                assert!(!error.to_string().is_empty());
                let kind = format!("{error:?}");
                let kind = kind
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if !error_kinds.contains(&kind) {
                    error_kinds.push(kind);
                }
            }
        }
    }
    error_kinds.sort();
    println!("{parsed_count} of {CASES} mutants parsed; errors seen: {error_kinds:?}");
    // The checksum repair lets mutants through to the deeper checks: some parse, and the errors
    // cover every layer of validation.
    assert!(
        parsed_count > CASES / 100,
        "only {parsed_count} mutants parsed"
    );
    if !cfg!(miri) {
        for kind in [
            "BadChecksum",
            "EntryPastEnd",
            "InvalidName",
            "InvalidSize",
            "MissingTerminator",
            "TruncatedBlock",
            "UnsupportedEntryType",
        ] {
            assert!(
                error_kinds.iter().any(|seen| seen == kind),
                "no {kind} error"
            );
        }
    }
}

#[test]
fn entry_names_in_errors_are_cut_and_escaped() {
    let long = [b'x'; 150];
    let name = EntryName::new(&long);
    assert!(name.is_truncated());
    assert_eq!(name.as_bytes().len(), MAX_NAME_BYTES);
    assert!(name.to_string().ends_with("x\"..."));
    assert_eq!(EntryName::new(b"tab\there").to_string(), "\"tab\\there\"");
    assert_eq!(format!("{:?}", EntryName::new(b"q\"")), "\"q\\\"\"");
    assert_eq!(EntryName::from_field(b"name\0\0\0").as_bytes(), b"name");
}

#[test]
fn builder_refuses_files_over_the_size_limit_in_principle() {
    // Allocating 8 GiB is not practical in a test; check the limit and the message instead.
    assert_eq!(MAX_FILE_BYTES, 8 * 1024 * 1024 * 1024 - 1);
    let error = RamdiskError::FileTooLarge {
        name: EntryName::new(b"huge"),
        length_bytes: 1 << 33,
    };
    assert_eq!(
        error.to_string(),
        "ramdisk entry \"huge\" is 8589934592 bytes, larger than the ustar limit of 8589934591 \
         bytes"
    );
}
