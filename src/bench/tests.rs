//! Tests of the study's options, its manifest, and merging shard folders.

use super::*;

pub(crate) fn study() -> Study {
    Study {
        preset: "skylake-client".into(),
        psc: None,
        base_cpi: None,
        workloads: vec!["synth-small".into(), "wasm-runtime".into()],
        binaries: Vec::new(),
        instances: vec![1, 64, 1024],
        modes: WindowMode::ALL.to_vec(),
        warmup: 512,
        invocations: 256,
        rounds: None,
        pcid: vec!["on".into(), "off".into()],
        large_pages: vec!["off".into()],
        memory_mib: 4096,
        plugin_slowdown: true,
        baselines: Vec::new(),
        pages: None,
    }
}

fn options() -> BenchOptions {
    BenchOptions {
        study: study(),
        runner: PathBuf::new(),
        image: PathBuf::new(),
        plugin: PathBuf::new(),
        guest: None,
        out_dir: PathBuf::from("out"),
        timeout_seconds: 1,
        jobs: 2,
        shard: Shard::WHOLE,
    }
}

#[test]
fn bad_options_are_refused_with_the_value_named() {
    assert_eq!(check(&options()), Ok(()));
    let refused = |change: fn(&mut BenchOptions)| {
        let mut options = options();
        change(&mut options);
        check(&options).unwrap_err()
    };
    assert_eq!(refused(|options| options.study.workloads = vec!["node".into()]), "unknown workload \"node\"; known: synth-small synth-medium synth-large wasm-runtime js-runtime lua-runtime");
    assert_eq!(refused(|options| options.study.instances = vec![64, 1]), "--instances must increase strictly, each in 1..=65536: 64,1");
    assert_eq!(refused(|options| options.study.instances = vec![0]), "--instances must increase strictly, each in 1..=65536: 0");
    assert_eq!(refused(|options| options.study.instances = (1..=17).collect()), "--instances takes 1 to 16 counts, not 17");
    assert_eq!(refused(|options| options.study.warmup = 0), "--warmup must be in 1..=10000000, not 0");
    assert_eq!(refused(|options| options.study.invocations = 10_000_001), "--invocations must be in 1..=10000000, not 10000001");
    assert_eq!(refused(|options| options.study.pcid = vec!["maybe".into()]), "--pcid takes on and/or off, not \"maybe\"");
    assert_eq!(refused(|options| options.study.pcid = vec!["on".into(), "on".into()]), "--pcid takes on and/or off, not \"on,on\"");
    assert_eq!(refused(|options| options.study.large_pages = vec!["2m".into()]), "--large-pages takes off and/or on, not \"2m\"");
    assert_eq!(refused(|options| options.study.large_pages = Vec::new()), "--large-pages takes off and/or on, not \"\"");
    assert_eq!(
        refused(|options| options.study.modes = vec![WindowMode::LocalShared, WindowMode::LocalShared]),
        "--modes takes 1 to 4 different modes of: global-shared local-shared global-private local-private"
    );
    assert_eq!(refused(|options| options.study.psc = Some("medium".into())), "--psc takes one of low nominal high, not \"medium\"");
    assert_eq!(refused(|options| options.study.base_cpi = Some("0".into())), "--base-cpi takes a decimal number in (0, 100], such as 0.8, not \"0\"");
    assert_eq!(refused(|options| options.study.base_cpi = Some("1e3".into())), "--base-cpi takes a decimal number in (0, 100], such as 0.8, not \"1e3\"");
    assert_eq!(refused(|options| options.jobs = 0), "--jobs must be in 1..=256, not 0");
    assert_eq!(refused(|options| options.study.binaries = vec!["glibc".into()]), "unknown build \"glibc\" in --binary; known: native linux-musl");
    assert_eq!(refused(|options| options.study.binaries = vec!["native".into(), "native".into()]), "--binary names a build twice: native,native");
    assert_eq!(
        refused(|options| {
            options.study.workloads = vec!["js-runtime".into()];
            options.study.binaries = vec!["native".into()];
        }),
        "workload js-runtime has no native build in the bench image (it has: linux-musl)"
    );
}

#[test]
fn each_build_runs_for_every_workload_that_has_it() {
    let mut study = study();
    study.workloads = vec!["synth-small".into(), "js-runtime".into(), "synth-large".into()];
    assert_eq!((study.builds_of("synth-small"), study.builds_of("js-runtime"), study.builds_of("synth-large")), (vec!["native"], vec!["linux-musl"], vec!["native"]));
    study.binaries = vec!["linux-musl".into(), "native".into()];
    assert_eq!((study.builds_of("synth-small"), study.builds_of("js-runtime"), study.builds_of("synth-large")), (vec!["linux-musl", "native"], vec!["linux-musl"], vec!["native"]));
    let units = study.units();
    assert_eq!(units.len(), (2 + 1 + 1) * 2 * 4 * 3 + 4, "per (workload, build): 2 PCID settings x 4 modes x 3 counts, and one slowdown unit");
    assert_eq!(units[0].kernel_args(1, 1), "test=density tlbsim=on pcid=on workload=synth-small binary=linux-musl modes=global-shared instances=1 warmup=1 invocations=1");
}

#[test]
fn the_plugin_gets_the_cost_options_only_when_given() {
    let mut study = study();
    assert_eq!(study.plugin_args(), "preset=skylake-client");
    study.psc = Some("high".into());
    study.base_cpi = Some("0.8".into());
    assert_eq!(study.plugin_args(), "preset=skylake-client,psc=high,base_cpi=0.8");
}

#[test]
fn a_unit_boots_under_the_plugin_with_its_own_output_file() {
    let options = options();
    let units = options.study.units();
    let command = crate::describe(&unit_command(&options, &units[0]));
    assert_eq!(
        command,
        " --mode test --timeout 1 --memory 4096 --firmware uefi --args test=density tlbsim=on pcid=on workload=synth-small binary=native modes=global-shared instances=1 warmup=512 invocations=256 --tlbsim preset=skylake-client,out=out/raw/synth-small-pcid-on-global-shared-n1.tlbsim.txt --tlbsim-plugin  "
    );
    let plain = units.last().unwrap();
    assert!(!plain.plugin);
    let command = crate::describe(&unit_command(&options, plain));
    assert!(command.contains("modes=global-shared instances=1024 ") && !command.contains("--tlbsim"), "{command}");
}

#[test]
fn a_baseline_unit_boots_the_guest_kernel_with_its_initramfs_in_exact_mode() {
    let mut options = options();
    options.study.workloads = vec!["synth-small".into()];
    options.study.baselines = vec!["linux".into()];
    options.guest = Some(crate::linux_guest::GuestKernel {
        package: "p".into(),
        version: "v".into(),
        release: "r".into(),
        sha256: "s".into(),
        vmlinuz: PathBuf::from("/cache/vmlinuz"),
        vmlinux: PathBuf::from("/cache/vmlinux"),
        config: PathBuf::from("/cache/config"),
    });
    let units = options.study.units();
    let linux = units.iter().find(|unit| unit.is_baseline()).expect("a baseline unit");
    let command = crate::describe(&unit_command(&options, linux));
    assert!(command.starts_with(" --mode test --timeout 1 --memory 4096 --firmware bios --icount --linux-kernel /cache/vmlinux --initrd out/raw/linux-initramfs.cpio --append "), "{command}");
    assert!(command.contains("-- workload=synth-small file=synth-small-musl instances=1 warmup=512 invocations=256 handlers=0 kernel=linux thp=0"), "{command}");
    assert!(command.contains("--tlbsim preset=skylake-client,mode=exact,out=out/raw/synth-small-linux-n1.tlbsim.txt"), "{command}");
    assert!(!command.contains("--args"), "no fw_cfg arguments for Linux: {command}");
}

#[test]
fn synthetic_pages_reach_both_kernels_and_the_manifest() {
    let mut options = options();
    options.study.pages = Some((0, 0));
    let units = options.study.units();
    let command = crate::describe(&unit_command(&options, &units[0]));
    assert!(command.contains(" invocations=256 code_pages=0 data_pages=0 --tlbsim"), "{command}");
    let text = options.study.manifest(Shard::WHOLE, SOURCE);
    assert!(text.contains("\npages=0,0\n"), "{text}");
    assert_eq!(Study::from_manifest(&text).map(|(study, _)| study.pages), Ok(Some((0, 0))));
    options.study.pages = Some((4097, 0));
    assert_eq!(check(&options), Err("--pages takes CODE,DATA, each in 0..=4096, not 4097,0".into()));
}

#[test]
fn the_manifest_round_trips_and_names_differences() {
    let mut study = study();
    study.base_cpi = Some("0.8".into());
    let text = study.manifest(Shard { index: 2, count: 3 }, SOURCE);
    assert_eq!(
        text,
        "shoal bench manifest v=1\nschema=6\npreset=skylake-client\npsc=\nbase_cpi=0.8\nworkloads=synth-small,wasm-runtime\nbinaries=\ninstances=1,64,1024\nmodes=global-shared,local-shared,global-private,local-private\npcid=on,off\nlarge_pages=off\nwarmup=512\ninvocations=256\nrounds=\nmemory=4096\nplugin_slowdown=on\nbaselines=\npages=\nshard=2/3\nsource=0123abcd\n"
    );
    assert_eq!(Study::from_manifest(&text), Ok((study.clone(), Shard { index: 2, count: 3 })));
    let mut other = study.clone();
    other.preset = "zen4".into();
    other.warmup = 2048;
    assert_eq!(study.differences(&other), ["preset: \"skylake-client\" vs \"zen4\"", "warmup: \"512\" vs \"2048\""]);
    assert_eq!(Study::from_manifest("something else"), Err("not a shoal bench manifest (its first line is not \"shoal bench manifest v=1\")".into()));
    assert_eq!(Study::from_manifest(&text.replace("schema=6", "schema=2")), Err("schema 2 written by another version of shoal bench (this one writes 6)".into()));
    assert_eq!(Study::from_manifest(&text.replace("warmup=512\n", "")), Err("no warmup= entry".into()));
}

/// Returns made-up raw outputs of every unit of `study`: each configuration's numbers differ.
fn fake_outputs(study: &Study) -> Vec<UnitOutput> {
    study
        .units()
        .into_iter()
        .enumerate()
        .map(|(index, unit)| {
            let kernel = format!(
                "boot noise\nresult: density id=100 workload={} binary={} global={} share_tables={} large_pages={} pcid={} instances={} warmup_invocations=512 rounds=1 invocations={} cycles_per_invocation={} cold_shared_id=101 cold_flushed_id=102 engine=tcg pmu=unavailable page_table_pages=6 page_table_pages_per_instance=6 frames=60 spawn_cycles=1000\n",
                unit.workload,
                unit.binary,
                u8::from(unit.mode.global()),
                u8::from(unit.mode.share_tables()),
                u8::from(unit.large_pages),
                if unit.pcid == "on" { "simulated" } else { "off" },
                unit.instances,
                unit.instances * 4,
                if unit.plugin { 7000 } else { 1000 }
            );
            let plugin = if unit.plugin {
                format!(
                    "tlbsim geometry v=1 preset=skylake-client\ntlbsim cost v=1 preset=skylake-client psc=nominal data=on base_cpi=1.000\ntlbsim phase v=2 id=100 name=x i.walks_4k={index} d.walks_4k=3 instructions.user=4000 instructions.kernel=1000 walks.window=1 walks.private=2 walks.kernel={index} cost.walk_cycles={}\ntlbsim phase v=2 id=101 name=y d.walks_4k=2\ntlbsim phase v=2 id=102 name=z d.walks_4k=90\n",
                    index * 30
                )
            } else {
                String::new()
            };
            UnitOutput { unit, kernel, plugin }
        })
        .collect()
}

/// The source revision the tests' folders claim.
const SOURCE: &str = "0123abcd";

/// Writes a shard folder as `run` would, from `source`: raw files of its units and the folder
/// from them.
fn write_shard_from(dir: &Path, study: &Study, shard: Shard, source: &str, outputs: &[UnitOutput]) {
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    let mut mine = Vec::new();
    for (_, output) in outputs.iter().enumerate().filter(|(index, _)| shard.selects(*index)) {
        write(&serial_path(dir, &output.unit), &output.kernel).unwrap();
        if output.unit.plugin {
            write(&plugin_path(dir, &output.unit), &output.plugin).unwrap();
        }
        mine.push(UnitOutput { unit: output.unit.clone(), kernel: output.kernel.clone(), plugin: output.plugin.clone() });
    }
    write_folder(dir, study, shard, source, &mine).unwrap();
}

/// Writes a shard folder as `run` would, from [`SOURCE`].
fn write_shard(dir: &Path, study: &Study, shard: Shard, outputs: &[UnitOutput]) {
    write_shard_from(dir, study, shard, SOURCE, outputs);
}

#[test]
fn merged_shards_give_the_single_run_folder_byte_for_byte() {
    let base = std::env::temp_dir().join(format!("shoal-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut study = study();
    study.instances = vec![1, 16];
    let outputs = fake_outputs(&study);
    write_shard(&base.join("single"), &study, Shard::WHOLE, &outputs);
    let shards: Vec<PathBuf> = (1..=3).map(|index| base.join(format!("shard-{index}"))).collect();
    for (index, dir) in shards.iter().enumerate() {
        write_shard(dir, &study, Shard { index: index as u32 + 1, count: 3 }, &outputs);
    }
    let shard_rows = std::fs::read_to_string(shards[1].join("results.csv")).unwrap().lines().count() - 1;
    assert!(shard_rows > 0 && shard_rows < 32, "a shard holds a part of the 32 configurations: {shard_rows}");
    // Given in any order, the shards merge into the single run's folder.
    let merged = base.join("merged");
    let (merged_study, rows) = merge(&[shards[2].clone(), shards[0].clone(), shards[1].clone()], &merged).unwrap();
    assert_eq!(merged_study, study);
    assert_eq!(rows.len(), 2 * 2 * 4 * 2, "every configuration once; the runs without the plugin are not rows");
    for file in ["results.csv", "report.md", "manifest.txt", "synth-small-walks.svg", "wasm-runtime-cold.svg", "synth-small-overhead.svg"] {
        assert_eq!(
            std::fs::read(merged.join(file)).unwrap(),
            std::fs::read(base.join("single").join(file)).unwrap(),
            "{file} differs between the merged and the single-run folder"
        );
    }
    let report = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(report.contains("the plugin slows the guest 7.0x"), "{report}");
    assert!(report.contains("- source revision: `0123abcd`"), "{report}");
    // A merged folder merges again, alone.
    merge(std::slice::from_ref(&merged), &base.join("again")).unwrap();
    assert_eq!(std::fs::read(base.join("again/results.csv")).unwrap(), std::fs::read(merged.join("results.csv")).unwrap());

    // Missing, repeated and foreign shards are refused.
    let error = merge(&shards[..2], &base.join("x")).unwrap_err();
    assert_eq!(error, "shard 3/3 is missing: give all 3 shard folders");
    let error = merge(&[shards[0].clone(), shards[0].clone()], &base.join("x")).unwrap_err();
    assert_eq!(error, format!("{} and {} both hold shard 1/3", shards[0].display(), shards[0].display()));
    let mut other = study.clone();
    other.preset = "zen4".into();
    write_shard(&base.join("zen4"), &other, Shard { index: 3, count: 3 }, &fake_outputs(&other));
    let error = merge(&[shards[0].clone(), shards[1].clone(), base.join("zen4")], &base.join("x")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{} and {} are shards of different studies (preset: \"skylake-client\" vs \"zen4\"); only shards of one study merge",
            shards[0].display(),
            base.join("zen4").display()
        )
    );
    let error = merge(&[shards[0].clone(), base.join("single")], &base.join("x")).unwrap_err();
    assert_eq!(error, format!("{} holds shard 1/1 but {} holds shard 1/3: the shard counts differ", base.join("single").display(), shards[0].display()));
    write_shard_from(&base.join("later"), &study, Shard { index: 3, count: 3 }, "4567ef01-dirty", &outputs);
    let error = merge(&[shards[0].clone(), shards[1].clone(), base.join("later")], &base.join("x")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{} was run from source 0123abcd but {} from 4567ef01-dirty; only shards of one revision merge",
            shards[0].display(),
            base.join("later").display()
        )
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn every_chart_of_every_workload_is_listed() {
    let files = output_files(Path::new("out"), &study());
    assert_eq!(files.len(), 3 + 2 * 4 * 2);
    assert!(files.contains(&PathBuf::from("out/wasm-runtime-overhead.png")));
    assert!(files.contains(&PathBuf::from("out/synth-small-cold.svg")));
}

#[test]
fn rounds_replace_warmup_and_invocations_by_rounds_of_every_instance_count() {
    let mut study = study();
    assert_eq!((study.warmup_for(64), study.invocations_for(64)), (512, 256));
    study.rounds = Some(2);
    assert_eq!((study.warmup_for(1), study.invocations_for(1)), (2, 2));
    assert_eq!((study.warmup_for(64), study.invocations_for(64)), (128, 128));
    let text = study.manifest(Shard::WHOLE, SOURCE);
    assert!(text.contains("\nrounds=2\n"), "{text}");
    assert_eq!(Study::from_manifest(&text), Ok((study.clone(), Shard::WHOLE)));
    let mut options = options();
    options.study.rounds = Some(0);
    assert_eq!(check(&options), Err("--rounds must be at least 1 and rounds x the largest instance count at most 10000000, not 0 x 1024".into()));
    options.study.rounds = Some(10_000);
    assert_eq!(check(&options), Err("--rounds must be at least 1 and rounds x the largest instance count at most 10000000, not 10000 x 1024".into()));
}
