//! Geometry grammar, presets and validation.

use crate::address::PageSize;
use crate::geometry::{
    ArrayGeometry, ArrayProblem, Geometry, GeometryError, LevelGeometry, LevelName, PageSizeSet,
    ParseProblem, is_geometry_key,
};
use crate::model::Model;
use crate::presets;

/// Returns the set of the given sizes.
fn sizes(list: &[PageSize]) -> PageSizeSet {
    list.iter()
        .fold(PageSizeSet::EMPTY, |set, size| set.with(*size))
}

/// Asserts that parsing `spec` fails on `token` with `problem`.
fn assert_parse_error(spec: &str, token: &str, problem: ParseProblem) {
    let error = Geometry::parse(spec).expect_err(spec);
    assert_eq!(
        error,
        GeometryError::Parse {
            token: token.to_owned(),
            problem
        },
        "spec {spec}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("`{token}`")),
        "message `{message}` names the token"
    );
}

#[test]
fn the_plain_form_gives_one_all_size_array_per_level() {
    let geometry = Geometry::parse("itlb=128x8,dtlb=64x4,stlb=1536x12").unwrap();
    assert_eq!(
        geometry.instruction_tlb.arrays,
        vec![ArrayGeometry::new(128, 8, PageSizeSet::ALL)]
    );
    assert_eq!(
        geometry.data_tlb.arrays,
        vec![ArrayGeometry::new(64, 4, PageSizeSet::ALL)]
    );
    assert_eq!(
        geometry.stlb.arrays,
        vec![ArrayGeometry::new(1536, 12, PageSizeSet::ALL)]
    );
    assert!(geometry.is_verified());
}

#[test]
fn per_size_arrays_full_associativity_and_none_parse() {
    let geometry = Geometry::parse(
        " itlb=none , dtlb=64x4:4k+32x4:2m+4xfull:1g , stlb=1536x12:4k/2m+16x4:1g ",
    )
    .unwrap();
    assert_eq!(geometry.instruction_tlb, LevelGeometry::none());
    assert_eq!(
        geometry.data_tlb.arrays,
        vec![
            ArrayGeometry::new(64, 4, sizes(&[PageSize::Size4KiB])),
            ArrayGeometry::new(32, 4, sizes(&[PageSize::Size2MiB])),
            ArrayGeometry::new(4, 4, sizes(&[PageSize::Size1GiB])),
        ]
    );
    assert_eq!(geometry.stlb.array_for(PageSize::Size2MiB), Some(0));
    assert_eq!(geometry.stlb.array_for(PageSize::Size1GiB), Some(1));
    assert_eq!(geometry.stlb.total_entries(), 1552);
}

#[test]
fn items_given_one_by_one_parse_like_the_joined_string() {
    let plugin_arguments = ["preset=skylake-client", "stlb=2048x16:4k/2m"];
    let geometry = Geometry::parse_items(plugin_arguments).unwrap();
    assert_eq!(
        geometry,
        Geometry::parse(&plugin_arguments.join(",")).unwrap()
    );
    let skylake = Geometry::from_preset("skylake-client").unwrap();
    assert_eq!(geometry.data_tlb, skylake.data_tlb);
    assert_eq!(
        geometry.stlb.arrays,
        vec![ArrayGeometry::new(
            2048,
            16,
            sizes(&[PageSize::Size4KiB, PageSize::Size2MiB])
        )]
    );
    assert!(is_geometry_key("stlb") && is_geometry_key("preset") && !is_geometry_key("mode"));
}

#[test]
fn the_skylake_preset_has_the_documented_figures() {
    let geometry = Geometry::parse("preset=skylake-client").unwrap();
    assert_eq!(
        geometry.to_string(),
        "itlb=128x8:4k+8x8:2m,dtlb=64x4:4k+32x4:2m+4x4:1g,stlb=1536x12:4k/2m+16x4:1g"
    );
    assert!(geometry.is_verified());
}

#[test]
fn every_preset_is_valid_round_trips_and_reports_its_verification() {
    for name in presets::PRESET_NAMES {
        let geometry = presets::geometry(name).expect("listed preset exists");
        geometry.validate().expect("preset geometry valid");
        Model::new(geometry.clone()).expect("model builds");
        let mut reparsed = Geometry::parse(&geometry.to_string()).unwrap();
        // Parsed arrays are marked verified; compare figures only.
        for level in LevelName::ALL {
            for (array, original) in reparsed
                .level_mut(level)
                .arrays
                .iter_mut()
                .zip(&geometry.level(level).arrays)
            {
                array.verified = original.verified;
            }
        }
        assert_eq!(reparsed, geometry, "preset {name}");
    }
    assert_eq!(
        presets::PRESETS.map(|preset| preset.name),
        presets::PRESET_NAMES
    );
    assert!(!presets::geometry("zen4").unwrap().is_verified());
    assert!(!presets::geometry("golden-cove").unwrap().is_verified());
}

#[test]
fn every_parse_error_names_the_bad_token() {
    assert_parse_error(
        "itlb=64y4,dtlb=64x4,stlb=64x4",
        "64y4",
        ParseProblem::MissingTimes,
    );
    assert_parse_error(
        "itlb=abcx4,dtlb=64x4,stlb=64x4",
        "abcx4",
        ParseProblem::BadNumber,
    );
    assert_parse_error(
        "itlb=64x-4,dtlb=64x4,stlb=64x4",
        "64x-4",
        ParseProblem::BadNumber,
    );
    assert_parse_error(
        "itlb=64x4:8k,dtlb=64x4,stlb=64x4",
        "64x4:8k",
        ParseProblem::UnknownPageSize,
    );
    assert_parse_error(
        "itlb=64x4:4k/4k,dtlb=64x4,stlb=64x4",
        "64x4:4k/4k",
        ParseProblem::RepeatedPageSize(PageSize::Size4KiB),
    );
    assert_parse_error(
        "itlb=64x3,dtlb=64x4,stlb=64x4",
        "64x3",
        ParseProblem::Array(ArrayProblem::EntriesNotMultipleOfWays),
    );
    assert_parse_error(
        "itlb=96x4,dtlb=64x4,stlb=64x4",
        "96x4",
        ParseProblem::Array(ArrayProblem::SetCountNotPowerOfTwo),
    );
    assert_parse_error(
        "itlb=0x1,dtlb=64x4,stlb=64x4",
        "0x1",
        ParseProblem::Array(ArrayProblem::ZeroEntries),
    );
    assert_parse_error(
        "itlb=64x0,dtlb=64x4,stlb=64x4",
        "64x0",
        ParseProblem::Array(ArrayProblem::ZeroWays),
    );
    assert_parse_error(
        "itlb=4194304x4,dtlb=64x4,stlb=64x4",
        "4194304x4",
        ParseProblem::Array(ArrayProblem::TooManyEntries),
    );
    assert_parse_error(
        "itlb=64x4,dtlb=64x4:4k+32x4:4k/2m,stlb=64x4",
        "dtlb=64x4:4k+32x4:4k/2m",
        ParseProblem::PageSizeInTwoArrays(PageSize::Size4KiB),
    );
    assert_parse_error("itlb=64x4,ptlb=64x4", "ptlb=64x4", ParseProblem::UnknownKey);
    assert_parse_error("itlb", "itlb", ParseProblem::MissingEquals);
    assert_parse_error("itlb=64x4,,dtlb=64x4", "", ParseProblem::EmptyItem);
    assert_parse_error(
        "itlb=64x4,itlb=32x4",
        "itlb=32x4",
        ParseProblem::DuplicateLevel,
    );
    assert_parse_error(
        "itlb=64x4,preset=zen4",
        "preset=zen4",
        ParseProblem::PresetNotFirst,
    );
    assert_parse_error("preset=pentium", "pentium", ParseProblem::UnknownPreset);
}

#[test]
fn a_missing_level_is_named() {
    let error = Geometry::parse("itlb=64x4,dtlb=64x4").unwrap_err();
    assert_eq!(
        error,
        GeometryError::MissingLevel {
            level: LevelName::Stlb
        }
    );
    assert!(error.to_string().contains("stlb"));
}

#[test]
fn models_refuse_invalid_geometries_built_in_code() {
    let mut geometry = Geometry::from_preset("skylake-client").unwrap();
    geometry.data_tlb.arrays[1].ways = 3;
    assert_eq!(
        Model::new(geometry).unwrap_err(),
        GeometryError::InvalidArray {
            level: LevelName::DataTlb,
            array_index: 1,
            problem: ArrayProblem::EntriesNotMultipleOfWays
        }
    );
    let mut geometry = Geometry::from_preset("skylake-client").unwrap();
    geometry.stlb.arrays[1].page_sizes = PageSizeSet::ALL;
    assert_eq!(
        Model::new(geometry).unwrap_err(),
        GeometryError::PageSizeInTwoArrays {
            level: LevelName::Stlb,
            page_size: PageSize::Size4KiB
        }
    );
    let mut geometry = Geometry::from_preset("skylake-client").unwrap();
    geometry.instruction_tlb.arrays[0].page_sizes = PageSizeSet::EMPTY;
    assert!(matches!(
        Model::new(geometry),
        Err(GeometryError::InvalidArray {
            problem: ArrayProblem::NoPageSizes,
            ..
        })
    ));
}
