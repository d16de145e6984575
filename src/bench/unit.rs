//! The unit of work of `shoal bench`: one configuration (workload, PCID setting, window mode,
//! number of instances), run by one QEMU boot, and the deterministic split of the units into
//! shards.
//!
//! [`units`] lists every unit of a study in a stable order — workloads, then PCID settings, then
//! window modes, then instance counts, each in the order given, then the plugin-slowdown units
//! (one per workload, run without the simulator) — so the unit index is the same on every machine
//! that runs the same options. A shard `K/N` ([`Shard`]) takes the units whose index modulo N is
//! K - 1, so every unit lands in exactly one shard and the workloads spread evenly over shards.

use kernel_args::{Build, WindowMode, Workload};

/// One configuration, one boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unit {
    /// The workload.
    pub(crate) workload: String,
    /// Its build: `native` or `linux-musl` (the kernel's `binary` argument).
    pub(crate) binary: String,
    /// The PCID argument: `on` (simulated under TCG with the plugin) or `off`.
    pub(crate) pcid: String,
    /// The window mode.
    pub(crate) mode: WindowMode,
    /// The window maps read-only regions with 2 MiB pages (`large_pages=on`).
    pub(crate) large_pages: bool,
    /// The number of warm instances.
    pub(crate) instances: u32,
    /// Whether the boot runs under the tlbsim plugin; `false` for a plugin-slowdown unit.
    pub(crate) plugin: bool,
    /// The kernel that runs it: `shoal`, or a Linux baseline ([`super::linux::BASELINES`]),
    /// which runs the workload's `linux-musl` build on a Linux guest (its `pcid` and `mode` are
    /// then fixed: `off` and `local-private`, what Linux does under TCG).
    pub(crate) kernel: String,
}

impl Unit {
    /// Returns the workload and, when it is not the workload's default build, the build
    /// (`synth-small`, `synth-small-linux-musl`).
    fn workload_and_build(&self, separator: &str) -> String {
        if self.binary == default_build(&self.workload) { self.workload.clone() } else { format!("{}{separator}{}", self.workload, self.binary) }
    }

    /// Returns the unit's file-name stem, unique within a study
    /// (`synth-small-pcid-on-global-shared-n16`, `synth-small-linux-musl-pcid-off-...` for a
    /// workload's other build, `...-plain` without the plugin).
    pub(crate) fn name(&self) -> String {
        if self.is_baseline() {
            return format!("{}-{}-n{}", self.workload, self.kernel, self.instances);
        }
        let plain = if self.plugin { "" } else { "-plain" };
        let large = if self.large_pages { "-2m" } else { "" };
        format!("{}-pcid-{}-{}{large}-n{}{plain}", self.workload_and_build("-"), self.pcid, self.mode.name(), self.instances)
    }

    /// Returns the unit for progress lines (`synth-small pcid=on global-shared instances=16`,
    /// `synth-small linux-musl pcid=off ...`).
    pub(crate) fn describe(&self) -> String {
        if self.is_baseline() {
            return format!("{} on {} instances={}", self.workload, self.kernel, self.instances);
        }
        let plain = if self.plugin { "" } else { " without tlbsim" };
        let large = if self.large_pages { " large_pages=on" } else { "" };
        format!("{} pcid={} {}{large} instances={}{plain}", self.workload_and_build(" "), self.pcid, self.mode.name(), self.instances)
    }

    /// Returns whether a Linux guest runs the unit.
    pub(crate) fn is_baseline(&self) -> bool {
        self.kernel != SHOAL
    }

    /// Returns the kernel arguments that run exactly this configuration on shoal.
    pub(crate) fn kernel_args(&self, warmup: u32, invocations: u32) -> String {
        format!(
            "test=density tlbsim=on pcid={} workload={} binary={} modes={}{} instances={} warmup={warmup} invocations={invocations}",
            self.pcid,
            self.workload,
            self.binary,
            self.mode.name(),
            if self.large_pages { " large_pages=on" } else { "" },
            self.instances
        )
    }
}

/// The `kernel` of a unit shoal runs.
pub(crate) const SHOAL: &str = "shoal";

/// Returns the name of `workload`'s default build (`native` for an unknown name: the study's
/// options are checked before units are made).
pub(crate) fn default_build(workload: &str) -> &'static str {
    workload_named(workload).map_or(Build::Native, Workload::default_build).name()
}

/// Returns the workload named `name`.
pub(crate) fn workload_named(name: &str) -> Option<Workload> {
    Workload::ALL.into_iter().find(|workload| workload.binary() == name)
}

/// The dimensions of a study, whose product is its units.
pub(crate) struct Grid<'a> {
    /// (workload, build) pairs.
    pub(crate) workloads: &'a [(String, String)],
    /// PCID settings (`on`, `off`).
    pub(crate) pcid: &'a [String],
    /// Window leaf sizes: `false` 4 KiB pages, `true` 2 MiB pages (`large_pages=on`).
    pub(crate) large_pages: &'a [bool],
    /// Window modes.
    pub(crate) modes: &'a [WindowMode],
    /// Instance counts.
    pub(crate) instances: &'a [u32],
    /// Linux baselines.
    pub(crate) baselines: &'a [String],
    /// Whether the plugin-slowdown units follow.
    pub(crate) plugin_slowdown: bool,
}

/// Lists a study's units in their stable order: per (workload, build) pair, per PCID setting,
/// leaf size, mode and instance count; then per workload with a `linux-musl` build, per Linux
/// baseline and instance count. With `plugin_slowdown`, one unit per pair without the plugin
/// follows: the first PCID setting, leaf size and mode, the largest instance count (the same
/// configuration as one of the simulated units, for the slowdown ratio).
pub(crate) fn units(grid: &Grid<'_>) -> Vec<Unit> {
    let shoal = |workload: &String, binary: &String, pcid: &String, large_pages, mode, instances, plugin| Unit {
        workload: workload.clone(),
        binary: binary.clone(),
        pcid: pcid.clone(),
        mode,
        large_pages,
        instances,
        plugin,
        kernel: SHOAL.to_owned(),
    };
    let Grid { workloads, pcid, large_pages, modes, instances, baselines, plugin_slowdown } = *grid;
    let mut units = Vec::new();
    for (workload, binary) in workloads {
        for setting in pcid {
            for &large in large_pages {
                for &mode in modes {
                    for &count in instances {
                        units.push(shoal(workload, binary, setting, large, mode, count, true));
                    }
                }
            }
        }
    }
    let mut linux_workloads: Vec<&String> = Vec::new();
    for (workload, _) in workloads {
        if workload_named(workload).is_some_and(|known| known.has_build(Build::LinuxMusl)) && !linux_workloads.contains(&workload) {
            linux_workloads.push(workload);
        }
    }
    for workload in linux_workloads {
        for baseline in baselines {
            for &count in instances {
                units.push(Unit {
                    workload: workload.clone(),
                    binary: Build::LinuxMusl.name().to_owned(),
                    pcid: "off".to_owned(),
                    mode: WindowMode::LocalPrivate,
                    large_pages: false,
                    instances: count,
                    plugin: true,
                    kernel: baseline.clone(),
                });
            }
        }
    }
    if plugin_slowdown
        && let (Some(setting), Some(&large), Some(&mode), Some(&count)) = (pcid.first(), large_pages.first(), modes.first(), instances.last())
    {
        for (workload, binary) in workloads {
            units.push(shoal(workload, binary, setting, large, mode, count, false));
        }
    }
    units
}

/// One of N parts of a study: `index` in 1..=count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    /// This shard, from 1.
    pub(crate) index: u32,
    /// How many shards the study is split into.
    pub(crate) count: u32,
}

impl Shard {
    /// The whole study.
    pub(crate) const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N` (1 <= K <= N).
    ///
    /// # Errors
    /// Returns a message naming the text and what is accepted.
    pub(crate) fn parse(text: &str) -> Result<Shard, String> {
        let refuse = || format!("--shard takes K/N with 1 <= K <= N (e.g. 2/8), not \"{text}\"");
        let (index, count) = text.split_once('/').ok_or_else(refuse)?;
        let index: u32 = index.parse().map_err(|_| refuse())?;
        let count: u32 = count.parse().map_err(|_| refuse())?;
        if index == 0 || index > count {
            return Err(refuse());
        }
        Ok(Shard { index, count })
    }

    /// Returns whether the unit at `unit_index` (in [`units`] order) belongs to this shard.
    pub(crate) fn selects(self, unit_index: usize) -> bool {
        unit_index % self.count as usize == (self.index - 1) as usize
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    /// Returns the grid of PCID `pcid` and 4 KiB pages over the rest.
    fn grid<'a>(workloads: &'a [(String, String)], pcid: &'a [String], modes: &'a [WindowMode], instances: &'a [u32], baselines: &'a [String], plugin_slowdown: bool) -> Grid<'a> {
        Grid { workloads, pcid, large_pages: &[false], modes, instances, baselines, plugin_slowdown }
    }

    /// Returns (workload, default build) pairs.
    fn defaults(workloads: &[&str]) -> Vec<(String, String)> {
        workloads.iter().map(|workload| ((*workload).to_owned(), default_build(workload).to_owned())).collect()
    }

    #[test]
    fn units_come_in_a_stable_order_with_the_slowdown_units_last() {
        let units = units(&Grid {
            workloads: &defaults(&["synth-small", "wasm-runtime"]),
            pcid: &strings(&["on", "off"]),
            large_pages: &[false],
            modes: &[WindowMode::GlobalShared, WindowMode::LocalPrivate],
            instances: &[1, 16],
            baselines: &[],
            plugin_slowdown: true,
        });
        assert_eq!(units.len(), 2 * 2 * 2 * 2 + 2);
        let names: Vec<String> = units.iter().map(Unit::name).collect();
        assert_eq!(
            names[..5],
            [
                "synth-small-pcid-on-global-shared-n1",
                "synth-small-pcid-on-global-shared-n16",
                "synth-small-pcid-on-local-private-n1",
                "synth-small-pcid-on-local-private-n16",
                "synth-small-pcid-off-global-shared-n1",
            ]
        );
        assert_eq!(names[8], "wasm-runtime-pcid-on-global-shared-n1");
        assert_eq!(names[16..], ["synth-small-pcid-on-global-shared-n16-plain", "wasm-runtime-pcid-on-global-shared-n16-plain"]);
        assert!(!units[16].plugin && units[15].plugin);
        assert_eq!(units[16].describe(), "synth-small pcid=on global-shared instances=16 without tlbsim");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "names are unique: each unit has its own files");
    }

    #[test]
    fn without_the_slowdown_option_only_simulated_units_run() {
        let units = units(&grid(&defaults(&["synth-small"]), &strings(&["off"]), &WindowMode::ALL, &[1, 2, 4], &[], false));
        assert_eq!(units.len(), 12);
        assert!(units.iter().all(|unit| unit.plugin));
        assert_eq!(units[3].mode, WindowMode::LocalShared, "modes in the kernel's default order");
    }

    #[test]
    fn a_unit_boots_exactly_its_configuration() {
        let unit = Unit {
            workload: "synth-large".into(),
            binary: "native".into(),
            pcid: "off".into(),
            mode: WindowMode::GlobalPrivate,
            large_pages: false,
            instances: 64,
            plugin: true,
            kernel: SHOAL.into(),
        };
        assert_eq!(
            unit.kernel_args(512, 1024),
            "test=density tlbsim=on pcid=off workload=synth-large binary=native modes=global-private instances=64 warmup=512 invocations=1024"
        );
    }

    #[test]
    fn a_workloads_other_build_is_named_in_its_files() {
        let pairs = vec![("synth-small".to_owned(), "native".to_owned()), ("synth-small".to_owned(), "linux-musl".to_owned()), ("js-runtime".to_owned(), "linux-musl".to_owned())];
        let names: Vec<String> = units(&grid(&pairs, &strings(&["off"]), &[WindowMode::LocalPrivate], &[4], &[], false)).iter().map(Unit::name).collect();
        assert_eq!(names, ["synth-small-pcid-off-local-private-n4", "synth-small-linux-musl-pcid-off-local-private-n4", "js-runtime-pcid-off-local-private-n4"]);
    }

    #[test]
    fn baseline_units_follow_the_shoal_units_for_workloads_with_a_musl_build() {
        let pairs = defaults(&["synth-small", "synth-large", "js-runtime"]);
        let baselines = strings(&["linux", "linux-pti"]);
        let units = units(&grid(&pairs, &strings(&["off"]), &[WindowMode::GlobalShared], &[1, 64], &baselines, true));
        let names: Vec<String> = units.iter().map(Unit::name).collect();
        assert_eq!(
            names[6..],
            [
                "synth-small-linux-n1",
                "synth-small-linux-n64",
                "synth-small-linux-pti-n1",
                "synth-small-linux-pti-n64",
                "js-runtime-linux-n1",
                "js-runtime-linux-n64",
                "js-runtime-linux-pti-n1",
                "js-runtime-linux-pti-n64",
                "synth-small-pcid-off-global-shared-n64-plain",
                "synth-large-pcid-off-global-shared-n64-plain",
                "js-runtime-pcid-off-global-shared-n64-plain",
            ],
            "synth-large has no musl build in the images: no baseline"
        );
        assert!(units[6].is_baseline() && !units[5].is_baseline() && !units[14].is_baseline());
        assert_eq!((units[6].binary.as_str(), units[6].describe()), ("linux-musl", "synth-small on linux instances=1".to_owned()));
    }

    #[test]
    fn large_page_units_follow_their_pcid_setting_and_boot_with_large_pages_on() {
        let pairs = defaults(&["synth-small"]);
        let pcid = strings(&["off"]);
        let units = units(&Grid { large_pages: &[false, true], ..grid(&pairs, &pcid, &[WindowMode::GlobalShared], &[1, 64], &[], false) });
        let names: Vec<String> = units.iter().map(Unit::name).collect();
        assert_eq!(
            names,
            ["synth-small-pcid-off-global-shared-n1", "synth-small-pcid-off-global-shared-n64", "synth-small-pcid-off-global-shared-2m-n1", "synth-small-pcid-off-global-shared-2m-n64"]
        );
        assert_eq!(units[3].describe(), "synth-small pcid=off global-shared large_pages=on instances=64");
        assert!(units[3].kernel_args(1, 1).contains(" modes=global-shared large_pages=on instances=64 "));
        assert!(!units[1].kernel_args(1, 1).contains("large_pages"), "4 KiB pages are the kernel's default");
    }

    #[test]
    fn shards_partition_the_units() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard::WHOLE));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "1/2/3", ""] {
            assert_eq!(Shard::parse(bad), Err(format!("--shard takes K/N with 1 <= K <= N (e.g. 2/8), not \"{bad}\"")));
        }
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
        // Every unit index belongs to exactly one of the N shards, round robin.
        for count in 1..=5u32 {
            for unit_index in 0..23 {
                let owners: Vec<u32> = (1..=count).filter(|&index| Shard { index, count }.selects(unit_index)).collect();
                assert_eq!(owners, [unit_index as u32 % count + 1], "unit {unit_index} of {count} shards");
            }
        }
        let second_of_three: Vec<usize> = (0..10).filter(|&unit_index| Shard { index: 2, count: 3 }.selects(unit_index)).collect();
        assert_eq!(second_of_three, [1, 4, 7]);
    }
}
