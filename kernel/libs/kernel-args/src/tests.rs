//! Host tests for the argument parser, including a seeded fuzz test.

use super::*;

const KNOWN_TESTS: &[&str] = &["paging", "frames", "global_segment"];

use test_rng::XorShift;

fn parse_known(input: &str) -> Result<KernelArgs, ArgError<'_>> {
    parse(input, KNOWN_TESTS)
}

#[test]
fn empty_input_gives_the_defaults() {
    let expected = KernelArgs {
        log_level: LogLevel::Info,
        test: None,
        timer_hz: 100,
        ticks: 20,
        pcid: true,
        quantum_ticks: 1,
        global: true,
        share_tables: true,
        large_pages: false,
        pcids: 4096,
        tlbsim: false,
        instances: InstanceCounts::parse("1,2,4,8,16").unwrap(),
        warmup: 512,
        invocations: 1024,
        workload: Workload::SyntheticSmall,
        build: None,
        code_pages: 32,
        data_pages: 32,
        modes: WindowModes::ALL,
        max_frames: 0,
        heap_bytes: 16 << 20,
        fuzz_seeds: 3,
        fuzz_calls: 200_000,
        scale_target: 50_000,
        kstack_probe: false,
    };
    assert_eq!(KernelArgs::default(), expected);
    assert_eq!(parse_known(""), Ok(expected));
    assert_eq!(parse_known(" \t\n\r "), Ok(expected));
    assert_eq!(parse_bytes(b"", KNOWN_TESTS), Ok(expected));
    assert_eq!(parse_bytes(b"\0", KNOWN_TESTS), Ok(expected));
    assert_eq!(parse_bytes(b"\n\0 \0", KNOWN_TESTS), Ok(expected));
}

#[test]
fn the_key_table_defaults_match_the_default_configuration() {
    for key in KEYS.iter().filter(|key| key.name != "test") {
        let input = format!("{}={}", key.name, key.default);
        assert_eq!(parse_known(&input), Ok(KernelArgs::default()), "{input}");
    }
    let names: Vec<&str> = KEYS.iter().map(|key| key.name).collect();
    assert_eq!(names, ["log", "test", "timer_hz", "ticks", "pcid", "quantum_ticks", "global", "share_tables", "large_pages", "pcids", "tlbsim", "instances", "warmup", "invocations", "workload", "binary", "code_pages", "data_pages", "modes", "max_frames", "heap_bytes", "fuzz_seeds", "fuzz_calls", "scale_target", "kstack_probe"]);
    for key in KEYS {
        assert!(
            !key.meaning.is_empty() && !key.values.is_empty(),
            "{}",
            key.name
        );
    }
}

#[test]
fn value_descriptions_match_the_accepted_values() {
    let level_names: Vec<&str> = LogLevel::ALL.iter().map(|level| level.as_str()).collect();
    assert_eq!(LOG_VALUES, format!("one of: {}", level_names.join(" ")));
    assert_eq!(
        TIMER_HZ_VALUES,
        format!(
            "an integer in {}..={}",
            TIMER_HZ_RANGE.start(),
            TIMER_HZ_RANGE.end()
        )
    );
    assert_eq!(
        TICKS_VALUES,
        format!(
            "an integer in {}..={}",
            TICKS_RANGE.start(),
            TICKS_RANGE.end()
        )
    );
}

#[test]
fn log_level_names_round_trip_and_order() {
    for level in LogLevel::ALL {
        assert_eq!(LogLevel::from_name(level.as_str()), Some(level));
        assert_eq!(level.to_string(), level.as_str());
    }
    assert_eq!(LogLevel::from_name("Debug"), None);
    assert_eq!(LogLevel::from_name(""), None);
    assert!(LogLevel::Error < LogLevel::Warn && LogLevel::Debug < LogLevel::Trace);
}

#[test]
fn log_key_accepts_each_level_and_refuses_others() {
    let names = ["error", "warn", "info", "debug", "trace"];
    for (name, level) in names.into_iter().zip(LogLevel::ALL) {
        let input = format!("log={name}");
        assert_eq!(parse_known(&input).map(|args| args.log_level), Ok(level));
    }
    let error = parse_known("log=DEBUG").unwrap_err();
    assert_eq!(
        error,
        ArgError::BadValue {
            key: "log",
            value: "DEBUG",
            expected: Expected::Description("one of: error warn info debug trace")
        }
    );
    assert_eq!(
        error.to_string(),
        "bad value \"DEBUG\" for kernel argument key \"log\": expected one of: error warn info \
         debug trace"
    );
    assert!(matches!(
        parse_known("log=verbose"),
        Err(ArgError::BadValue {
            value: "verbose",
            ..
        })
    ));
}

#[test]
fn timer_hz_accepts_its_range_only() {
    assert_eq!(parse_known("timer_hz=10").map(|args| args.timer_hz), Ok(10));
    assert_eq!(
        parse_known("timer_hz=250").map(|args| args.timer_hz),
        Ok(250)
    );
    assert_eq!(
        parse_known("timer_hz=10000").map(|args| args.timer_hz),
        Ok(10_000)
    );
    assert_eq!(
        parse_known("timer_hz=0250").map(|args| args.timer_hz),
        Ok(250)
    );
    for value in [
        "9",
        "0",
        "10001",
        "99999999999",
        "4294967295",
        "4294967296",
        "+100",
        "-5",
        "1e3",
        "25O",
        "0x64",
        "100.0",
        "\u{661}\u{660}\u{660}",
    ] {
        let input = format!("timer_hz={value}");
        assert_eq!(
            parse_known(&input),
            Err(ArgError::BadValue {
                key: "timer_hz",
                value,
                expected: Expected::Description("an integer in 10..=10000")
            }),
            "{input}"
        );
    }
    assert_eq!(
        parse_known("timer_hz=99999999999").unwrap_err().to_string(),
        "bad value \"99999999999\" for kernel argument key \"timer_hz\": expected an integer in \
         10..=10000"
    );
}

#[test]
fn ticks_accepts_its_range_only() {
    assert_eq!(parse_known("ticks=0").map(|args| args.ticks), Ok(0));
    assert_eq!(
        parse_known("ticks=1000000").map(|args| args.ticks),
        Ok(1_000_000)
    );
    for value in ["1000001", "18446744073709551616", "-0", "twenty"] {
        let input = format!("ticks={value}");
        assert_eq!(
            parse_known(&input),
            Err(ArgError::BadValue {
                key: "ticks",
                value,
                expected: Expected::Description("an integer in 0..=1000000")
            }),
            "{input}"
        );
    }
}

#[test]
fn test_key_takes_a_known_name_and_returns_the_listed_str() {
    let args = parse_known("test=frames").unwrap();
    assert_eq!(args.test, Some("frames"));
    // The result is the caller's `&'static str`, not a piece of the input.
    assert!(core::ptr::eq(args.test.unwrap(), KNOWN_TESTS[1]));
    let error = parse_known("test=framez").unwrap_err();
    assert_eq!(
        error,
        ArgError::BadValue {
            key: "test",
            value: "framez",
            expected: Expected::OneOf(KNOWN_TESTS)
        }
    );
    assert_eq!(
        error.to_string(),
        "bad value \"framez\" for kernel argument key \"test\": expected one of: paging frames \
         global_segment"
    );
    assert_eq!(
        parse("test=paging", &[]).unwrap_err().to_string(),
        "bad value \"paging\" for kernel argument key \"test\": expected nothing: this kernel has \
         no test suites"
    );
}

#[test]
fn all_keys_together_in_any_order() {
    let expected = KernelArgs {
        log_level: LogLevel::Trace,
        test: Some("global_segment"),
        timer_hz: 1000,
        ticks: 7,
        pcid: false,
        quantum_ticks: 3,
        global: false,
        share_tables: true,
        large_pages: false,
        pcids: 16,
        tlbsim: true,
        instances: InstanceCounts::parse("1,64").unwrap(),
        warmup: 512,
        invocations: 1024,
        workload: Workload::SyntheticMedium,
        build: None,
        code_pages: 32,
        data_pages: 32,
        modes: WindowModes::ALL,
        max_frames: 4096,
        heap_bytes: 8 << 20,
        fuzz_seeds: 3,
        fuzz_calls: 200_000,
        scale_target: 50_000,
        kstack_probe: false,
    };
    assert_eq!(
        parse_known("log=trace test=global_segment timer_hz=1000 ticks=7 pcid=off quantum_ticks=3 global=off pcids=16 tlbsim=on instances=1,64 workload=synth-medium heap_bytes=8388608 max_frames=4096"),
        Ok(expected)
    );
    assert_eq!(
        parse_known("max_frames=4096 workload=synth-medium instances=1,64 tlbsim=on pcids=16 global=off quantum_ticks=3 ticks=7 pcid=off timer_hz=1000 heap_bytes=8388608 test=global_segment log=trace"),
        Ok(expected)
    );
}

#[test]
fn unknown_key_is_named_and_known_keys_listed() {
    let error = parse_known("log=debug colour=red").unwrap_err();
    assert_eq!(error, ArgError::UnknownKey { key: "colour" });
    assert_eq!(
        error.to_string(),
        "unknown kernel argument key \"colour\"; known keys: log test timer_hz ticks pcid quantum_ticks global share_tables large_pages pcids tlbsim instances warmup invocations workload binary code_pages data_pages modes max_frames heap_bytes fuzz_seeds fuzz_calls scale_target kstack_probe"
    );
    assert_eq!(
        parse_known("LOG=debug"),
        Err(ArgError::UnknownKey { key: "LOG" })
    );
    assert_eq!(parse_known("=5"), Err(ArgError::UnknownKey { key: "" }));
}

#[test]
fn duplicate_key_is_refused() {
    let error = parse_known("log=info timer_hz=50 log=debug").unwrap_err();
    assert_eq!(error, ArgError::DuplicateKey { key: "log" });
    assert_eq!(
        error.to_string(),
        "kernel argument key \"log\" is given more than once"
    );
    // Even a repeat of the same value, and even when the second value is bad.
    assert_eq!(
        parse_known("ticks=5 ticks=5"),
        Err(ArgError::DuplicateKey { key: "ticks" })
    );
    assert_eq!(
        parse_known("ticks=5 ticks=x"),
        Err(ArgError::DuplicateKey { key: "ticks" })
    );
}

#[test]
fn missing_and_empty_values_are_refused() {
    let error = parse_known("log").unwrap_err();
    assert_eq!(error, ArgError::MissingValue { token: "log" });
    assert_eq!(
        error.to_string(),
        "kernel argument \"log\" has no value; write key=value"
    );
    assert_eq!(
        parse_known("timer_hz= 100"),
        Err(ArgError::MissingValue { token: "timer_hz=" })
    );
    assert_eq!(
        parse_known("ticks=5 test="),
        Err(ArgError::MissingValue { token: "test=" })
    );
    // A token without `=` is refused before its key is looked up.
    assert_eq!(
        parse_known("verbose"),
        Err(ArgError::MissingValue { token: "verbose" })
    );
}

#[test]
fn value_runs_from_the_first_equals_sign() {
    assert_eq!(
        parse_known("log==debug"),
        Err(ArgError::BadValue {
            key: "log",
            value: "=debug",
            expected: Expected::Description(LOG_VALUES)
        })
    );
}

#[test]
fn the_first_bad_token_is_reported() {
    assert_eq!(
        parse_known("log=x colour=red"),
        Err(ArgError::BadValue {
            key: "log",
            value: "x",
            expected: Expected::Description(LOG_VALUES)
        })
    );
    assert_eq!(
        parse_known("colour=red log=x"),
        Err(ArgError::UnknownKey { key: "colour" })
    );
}

#[test]
fn control_bytes_in_messages_are_escaped() {
    for input in ["log=de\0bug", "lo\u{1b}g=debug", "ticks\u{7}"] {
        let message = parse_known(input).unwrap_err().to_string();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
    assert!(parse_known("log=de\0bug").unwrap_err().to_string().contains("\"de\\0bug\""));
}

#[test]
fn frame_and_heap_limits_are_checked() {
    let args = parse_known("max_frames=2048 heap_bytes=8388608").unwrap();
    assert_eq!((args.max_frames, args.heap_bytes), (2048, 8 << 20));
    assert!(parse_known("heap_bytes=8388609").is_err(), "not a multiple of 4096");
    assert!(parse_known("heap_bytes=4096").is_err(), "below 4 MiB");
    assert!(parse_known("heap_bytes=536870912").is_err(), "above 256 MiB");
    assert!(parse_known("max_frames=268435457").is_err());
    assert!(parse_known("max_frames=-1").is_err());
}

#[test]
fn whitespace_variants_are_accepted() {
    let expected = KernelArgs {
        log_level: LogLevel::Debug,
        test: None,
        timer_hz: 250,
        ticks: 5,
        pcid: true,
        quantum_ticks: 1,
        global: true,
        share_tables: true,
        large_pages: false,
        pcids: 4096,
        tlbsim: false,
        instances: InstanceCounts::parse("1,2,4,8,16").unwrap(),
        warmup: 512,
        invocations: 1024,
        workload: Workload::SyntheticSmall,
        build: None,
        code_pages: 32,
        data_pages: 32,
        modes: WindowModes::ALL,
        max_frames: 0,
        heap_bytes: 16 << 20,
        fuzz_seeds: 3,
        fuzz_calls: 200_000,
        scale_target: 50_000,
        kstack_probe: false,
    };
    for input in [
        "log=debug timer_hz=250 ticks=5",
        "  log=debug\ttimer_hz=250\nticks=5\r\n",
        "\tlog=debug    timer_hz=250\x0cticks=5 ",
    ] {
        assert_eq!(parse_known(input), Ok(expected), "{input:?}");
        assert_eq!(
            parse_bytes(input.as_bytes(), KNOWN_TESTS),
            Ok(expected),
            "{input:?}"
        );
    }
    assert_eq!(
        parse_bytes(b"log=debug timer_hz=250 ticks=5\0", KNOWN_TESTS),
        Ok(expected)
    );
    assert_eq!(
        parse_bytes(b"log=debug timer_hz=250 ticks=5\n\0\0", KNOWN_TESTS),
        Ok(expected)
    );
    assert_eq!(
        parse_bytes(b"log=debug timer_hz=250 ticks=5\0\n", KNOWN_TESTS),
        Ok(expected)
    );
    // A NUL inside the text is not a separator: it becomes part of a value.
    assert_eq!(
        parse_bytes(b"log=debug\0ticks=5", KNOWN_TESTS),
        Err(ArgError::BadValue {
            key: "log",
            value: "debug\0ticks=5",
            expected: Expected::Description(LOG_VALUES)
        })
    );
    // Non-ASCII whitespace is not a separator either.
    assert_eq!(
        parse_known("ticks=5\u{a0}log=debug"),
        Err(ArgError::BadValue {
            key: "ticks",
            value: "5\u{a0}log=debug",
            expected: Expected::Description(TICKS_VALUES)
        })
    );
}

#[test]
fn too_long_input_is_refused() {
    let longest = format!("ticks=5{}", " ".repeat(MAX_ARGS_BYTES - "ticks=5".len()));
    assert_eq!(longest.len(), MAX_ARGS_BYTES);
    assert_eq!(parse_known(&longest).map(|args| args.ticks), Ok(5));
    let too_long = format!("{longest} ");
    let error = parse_known(&too_long).unwrap_err();
    assert_eq!(error, ArgError::TooLong { length_bytes: 4097 });
    assert_eq!(
        error.to_string(),
        "kernel argument string is 4097 bytes long; at most 4096 are accepted"
    );
    // Raw bytes are measured after trailing NULs and whitespace are dropped.
    let mut bytes = "x".repeat(MAX_ARGS_BYTES).into_bytes();
    bytes.extend_from_slice(b"\n\0\0\0");
    assert_eq!(
        parse_bytes(&bytes, KNOWN_TESTS),
        Err(ArgError::MissingValue {
            token: &"x".repeat(MAX_ARGS_BYTES)
        })
    );
    bytes.insert(0, b'x');
    assert_eq!(
        parse_bytes(&bytes, KNOWN_TESTS),
        Err(ArgError::TooLong { length_bytes: 4097 })
    );
}

#[test]
fn non_utf8_bytes_are_refused() {
    let error = parse_bytes(b"log=\xffdebug", KNOWN_TESTS).unwrap_err();
    assert_eq!(error, ArgError::NotText { offset_bytes: 4 });
    assert_eq!(
        error.to_string(),
        "kernel argument string is not UTF-8 text (bad byte at offset 4)"
    );
    assert_eq!(
        parse_bytes(b"\xc3", KNOWN_TESTS),
        Err(ArgError::NotText { offset_bytes: 0 })
    );
}

#[test]
fn canonical_form_lists_every_key_in_table_order() {
    assert_eq!(
        KernelArgs::default().to_string(),
        "log=info timer_hz=100 ticks=20 pcid=on quantum_ticks=1 global=on share_tables=on large_pages=off pcids=4096 tlbsim=off instances=1,2,4,8,16 warmup=512 invocations=1024 workload=synth-small binary=auto code_pages=32 data_pages=32 modes=global-shared,local-shared,global-private,local-private max_frames=0 heap_bytes=16777216 fuzz_seeds=3 fuzz_calls=200000 scale_target=50000 kstack_probe=off"
    );
    let args = KernelArgs {
        log_level: LogLevel::Warn,
        test: Some("paging"),
        timer_hz: 10_000,
        ticks: 0,
        pcid: false,
        quantum_ticks: 1000,
        global: false,
        share_tables: false,
        large_pages: false,
        pcids: 2,
        tlbsim: false,
        instances: InstanceCounts::parse("1,2,4,8,16").unwrap(),
        warmup: 512,
        invocations: 1024,
        workload: Workload::SyntheticSmall,
        build: None,
        code_pages: 32,
        data_pages: 32,
        modes: WindowModes::ALL,
        max_frames: 0,
        heap_bytes: 16 << 20,
        fuzz_seeds: 3,
        fuzz_calls: 200_000,
        scale_target: 50_000,
        kstack_probe: false,
    };
    assert_eq!(
        args.to_string(),
        "log=warn test=paging timer_hz=10000 ticks=0 pcid=off quantum_ticks=1000 global=off share_tables=off large_pages=off pcids=2 tlbsim=off instances=1,2,4,8,16 warmup=512 invocations=1024 workload=synth-small binary=auto code_pages=32 data_pages=32 modes=global-shared,local-shared,global-private,local-private max_frames=0 heap_bytes=16777216 fuzz_seeds=3 fuzz_calls=200000 scale_target=50000 kstack_probe=off"
    );
    assert_eq!(parse_known(&args.to_string()), Ok(args));
}

/// Returns a random argument string. Half are raw mixes of bytes and pieces of real keys and
/// values, with `=` and spaces frequent; half are `key=value` tokens that are then sometimes
/// damaged by a random byte, an extra `=` or an extra space.
fn random_input(random: &mut XorShift) -> Vec<u8> {
    const PIECES: &[&str] = &[
        "log",
        "test",
        "timer_hz",
        "ticks",
        "debug",
        "trace",
        "info",
        "paging",
        "frames",
        "global_segment",
        "100",
        "10",
        "10000",
        "0",
        "1000000",
        "99999999999",
        "=",
        "==",
        " ",
        "  ",
        "\t",
        "\n",
        "\0",
        "log=",
        "ticks=",
        "test=",
        "timer_hz=",
        "x",
        "-",
        "+",
    ];
    // Each key with values that are mostly valid for it; "colour" and "" are unknown keys.
    const KEY_VALUES: &[(&str, &[&str])] = &[
        (
            "log",
            &["error", "warn", "info", "debug", "trace", "Debug", ""],
        ),
        ("test", &["paging", "frames", "global_segment", "nope"]),
        (
            "timer_hz",
            &["10", "250", "10000", "0100", "9", "10001", "4294967296"],
        ),
        ("ticks", &["0", "20", "1000000", "007", "1000001", "-1"]),
        ("colour", &["red"]),
        ("", &["5"]),
    ];
    const SEPARATORS: &[&str] = &[" ", "  ", "\t", "\n", "\r\n"];
    let mut bytes = Vec::new();
    if random.below(2) == 0 {
        for _ in 0..random.below(12) {
            match random.below(10) {
                0..=4 => bytes.extend_from_slice(PIECES[random.below(PIECES.len())].as_bytes()),
                5 | 6 => bytes.push(b'='),
                7 | 8 => bytes.push(b' '),
                _ => bytes.push(random.next() as u8),
            }
        }
        return bytes;
    }
    for _ in 0..random.below(4) {
        bytes.extend_from_slice(SEPARATORS[random.below(SEPARATORS.len())].as_bytes());
        let (key, values) = KEY_VALUES[random.below(KEY_VALUES.len())];
        bytes.extend_from_slice(key.as_bytes());
        if random.below(10) != 0 {
            bytes.push(b'=');
        }
        bytes.extend_from_slice(values[random.below(values.len())].as_bytes());
    }
    for _ in 0..random.below(4).saturating_sub(2) {
        if bytes.is_empty() {
            break;
        }
        let position = random.below(bytes.len());
        let damage = [b'=', b' ', random.next() as u8][random.below(3)];
        bytes.insert(position, damage);
    }
    bytes.extend(core::iter::repeat_n(b'\0', random.below(3)));
    bytes
}

#[test]
fn random_bytes_never_panic_and_results_round_trip() {
    const CASES: usize = 10_000;
    let mut random = XorShift(0x5eed_0000_dead_beef);
    let mut accepted = 0;
    let mut accepted_non_default = 0;
    for _ in 0..CASES {
        let bytes = random_input(&mut random);
        match parse_bytes(&bytes, KNOWN_TESTS) {
            Ok(args) => {
                accepted += 1;
                if args != KernelArgs::default() {
                    accepted_non_default += 1;
                }
                let canonical = args.to_string();
                assert_eq!(
                    parse_known(&canonical),
                    Ok(args),
                    "{bytes:?} -> {canonical:?}"
                );
                assert_eq!(parse_bytes(canonical.as_bytes(), KNOWN_TESTS), Ok(args));
            }
            Err(error) => {
                // Every message names something; formatting must not panic either.
                assert!(!error.to_string().is_empty());
            }
        }
    }
    // The generator reaches the interesting paths, not only errors.
    println!("{accepted} accepted, {accepted_non_default} of them not the defaults");
    assert!(accepted > CASES / 10, "only {accepted} accepted");
    assert!(
        accepted_non_default > CASES / 50,
        "only {accepted_non_default} non-default"
    );
}

#[test]
fn instance_counts_are_increasing_lists_and_print_back() {
    let counts = InstanceCounts::parse("1,64,1024").expect("a valid list");
    assert_eq!(counts.as_slice(), [1, 64, 1024]);
    assert_eq!(counts.to_string(), "1,64,1024");
    assert_eq!(InstanceCounts::parse("65536").map(|counts| counts.as_slice().to_vec()), Some(vec![65536]));
    let sixteen: Vec<String> = (1..=16).map(|count| count.to_string()).collect();
    assert_eq!(InstanceCounts::parse(&sixteen.join(",")).map(|counts| counts.as_slice().len()), Some(16));
    for bad in ["", "0", "65537", "1,1", "4,2", "1,,2", "1,", ",1", "1;2", "-1", "1, 2"] {
        assert_eq!(InstanceCounts::parse(bad), None, "{bad:?} is refused");
    }
    let seventeen: Vec<String> = (1..=17).map(|count| count.to_string()).collect();
    assert_eq!(InstanceCounts::parse(&seventeen.join(",")), None, "at most 16 counts");
}

#[test]
fn a_bad_instance_list_names_what_is_accepted() {
    assert_eq!(
        parse_known("instances=8,4").unwrap_err().to_string(),
        "bad value \"8,4\" for kernel argument key \"instances\": expected 1 to 16 increasing integers in 1..=65536, comma-separated (1,64,1024)"
    );
    assert_eq!(parse_known("instances=1,64,1024 workload=wasm-runtime").map(|args| (args.instances.to_string(), args.workload)), Ok(("1,64,1024".to_owned(), Workload::Wasm)));
}

#[test]
fn window_modes_parse_in_the_given_order_and_print_back() {
    let modes = WindowModes::parse("local-private,global-shared").unwrap();
    assert_eq!(modes.as_slice(), [WindowMode::LocalPrivate, WindowMode::GlobalShared]);
    assert_eq!(modes.to_string(), "local-private,global-shared");
    assert_eq!(WindowModes::ALL.to_string(), "global-shared,local-shared,global-private,local-private");
    assert_eq!(
        WindowMode::ALL.map(|mode| (mode.global(), mode.share_tables())),
        [(true, true), (false, true), (true, false), (false, false)],
        "the default order is the sweep's historical one: global on/off within shared, then private"
    );
    assert_eq!(WindowModes::parse("global-private").map(|modes| modes.as_slice().to_vec()), Some(vec![WindowMode::GlobalPrivate]));
    for bad in ["", "global", "global-shared,global-shared", "global-shared,", ",local-shared", "Global-Shared", "global-shared local-shared", "global-shared;local-shared"] {
        assert_eq!(WindowModes::parse(bad), None, "{bad:?} is refused");
    }
}

#[test]
fn a_bad_mode_list_names_what_is_accepted() {
    assert_eq!(
        parse_known("modes=global-shared,shared").unwrap_err().to_string(),
        "bad value \"global-shared,shared\" for kernel argument key \"modes\": expected 1 to 4 different modes, comma-separated, of: global-shared local-shared global-private local-private"
    );
    assert_eq!(
        parse_known("modes=local-shared,local-shared").unwrap_err(),
        ArgError::BadValue { key: "modes", value: "local-shared,local-shared", expected: Expected::Description(MODES_VALUES) }
    );
    assert_eq!(parse_known("modes=local-shared").map(|args| args.modes.as_slice().to_vec()), Ok(vec![WindowMode::LocalShared]));
}

#[test]
fn the_binary_key_chooses_a_build_the_workload_has() {
    let build = |text: &'static str| parse_known(text).map(|args| (args.workload_build(), args.workload.file_name(args.workload_build())));
    assert_eq!(build("workload=synth-small"), Ok((Build::Native, "synth-small")));
    assert_eq!(build("workload=synth-small binary=linux-musl"), Ok((Build::LinuxMusl, "synth-small-musl")));
    assert_eq!(build("binary=linux-musl workload=wasm-runtime"), Ok((Build::LinuxMusl, "wasm-runtime-musl")), "the pair is checked after every key");
    assert_eq!(build("workload=js-runtime"), Ok((Build::LinuxMusl, "js-runtime")));
    assert_eq!(build("workload=lua-runtime binary=auto"), Ok((Build::LinuxMusl, "lua-runtime")));
    assert_eq!(build("workload=wasm-runtime binary=native"), Ok((Build::Native, "wasm-runtime")));
    for (text, value) in [("workload=js-runtime binary=native", "native"), ("workload=synth-large binary=linux-musl", "linux-musl")] {
        let error = parse_known(text).expect_err(text);
        assert!(matches!(error, ArgError::BadValue { key: "binary", value: v, .. } if v == value), "{text}: {error:?}");
        assert!(error.to_string().contains("a build the workload has"), "{error}");
    }
    assert!(matches!(parse_known("binary=glibc"), Err(ArgError::BadValue { key: "binary", .. })));
}

#[test]
fn synthetic_pages_reach_zero_for_the_empty_handler() {
    let args = parse_known("code_pages=0 data_pages=0").unwrap();
    assert_eq!((args.code_pages, args.data_pages), (0, 0));
    assert_eq!(parse_known("data_pages=4096").map(|args| args.data_pages), Ok(4096));
    assert!(matches!(parse_known("code_pages=4097"), Err(ArgError::BadValue { key: "code_pages", .. })));
}
