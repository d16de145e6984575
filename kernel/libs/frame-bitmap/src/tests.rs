//! Host tests for [`FrameBitmap`], including a randomized comparison against a `[bool; N]` model.

use super::*;

use test_rng::XorShift;

/// Returns every frame index `bitmap` reports free.
fn free_frames(bitmap: &FrameBitmap<'_>) -> Vec<usize> {
    (0..bitmap.frame_count())
        .filter(|&frame| bitmap.is_free(frame))
        .collect()
}

#[test]
fn words_needed_rounds_up() {
    assert_eq!(FrameBitmap::words_needed(0), 0);
    assert_eq!(FrameBitmap::words_needed(1), 1);
    assert_eq!(FrameBitmap::words_needed(64), 1);
    assert_eq!(FrameBitmap::words_needed(65), 2);
    assert_eq!(FrameBitmap::words_needed(128), 2);
    assert_eq!(FrameBitmap::words_needed(usize::MAX), usize::MAX / 64 + 1);
}

#[test]
fn new_refuses_short_storage() {
    let mut words = [0u64; 1];
    let error = FrameBitmap::new(&mut words, 65).unwrap_err();
    assert_eq!(
        error,
        BitmapError::StorageTooSmall {
            words_provided: 1,
            words_needed: 2
        }
    );
    assert_eq!(
        error.to_string(),
        "frame bitmap storage has 1 words, 2 are needed"
    );
}

#[test]
fn new_starts_all_used_and_leaves_extra_words_alone() {
    let mut words = [0u64; 3];
    {
        let bitmap = FrameBitmap::new(&mut words, 64).unwrap();
        assert_eq!(bitmap.frame_count(), 64);
        assert_eq!(bitmap.free_count(), 0);
        assert_eq!(bitmap.used_count(), 64);
        assert!(!bitmap.is_free(0));
    }
    assert_eq!(words, [u64::MAX, 0, 0]);
}

#[test]
fn zero_frames_is_valid_and_empty() {
    let mut words = [];
    let mut bitmap = FrameBitmap::new(&mut words, 0).unwrap();
    assert_eq!(bitmap.allocate(), None);
    assert_eq!(bitmap.mark_free(0..0), Ok(()));
    assert_eq!(
        bitmap.allocate_contiguous(1, 1),
        Err(BitmapError::NoContiguousRun {
            count: 1,
            align_frames: 1,
            free_frames: 0
        })
    );
    assert_eq!(
        bitmap.free(0),
        Err(BitmapError::FrameOutOfRange {
            frame: 0,
            frame_count: 0
        })
    );
}

#[test]
fn exhaustion_then_reuse_of_the_freed_frame() {
    let mut words = [0u64; 3];
    let mut bitmap = FrameBitmap::new(&mut words, 130).unwrap();
    bitmap.mark_free(0..130).unwrap();
    let mut handed_out = Vec::new();
    while let Some(frame) = bitmap.allocate() {
        handed_out.push(frame);
    }
    // Lowest-first from hint 0, and the hint only moves forward while nothing is freed.
    assert_eq!(handed_out, (0..130).collect::<Vec<_>>());
    assert_eq!(bitmap.free_count(), 0);
    assert_eq!(bitmap.used_count(), 130);
    assert_eq!(bitmap.allocate(), None);
    bitmap.free(77).unwrap();
    assert_eq!(bitmap.free_count(), 1);
    assert!(bitmap.is_free(77));
    assert_eq!(bitmap.allocate(), Some(77));
    assert_eq!(bitmap.allocate(), None);
}

#[test]
fn allocate_prefers_the_lowest_frame_after_a_free_below_the_hint() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 128).unwrap();
    bitmap.mark_free(0..128).unwrap();
    for expected in 0..100 {
        assert_eq!(bitmap.allocate(), Some(expected));
    }
    bitmap.free(3).unwrap();
    assert_eq!(bitmap.allocate(), Some(3));
    assert_eq!(bitmap.allocate(), Some(100));
}

#[test]
fn double_free_is_detected_and_changes_nothing() {
    let mut words = [0u64; 1];
    let mut bitmap = FrameBitmap::new(&mut words, 64).unwrap();
    bitmap.mark_free(10..12).unwrap();
    let frame = bitmap.allocate().unwrap();
    assert_eq!(frame, 10);
    assert_eq!(bitmap.free(frame), Ok(()));
    assert_eq!(bitmap.free_count(), 2);
    let error = bitmap.free(frame).unwrap_err();
    assert_eq!(error, BitmapError::DoubleFree { frame: 10 });
    assert_eq!(
        error.to_string(),
        "frame 10 is freed but is already free (double free)"
    );
    assert_eq!(bitmap.free_count(), 2);
    // A frame that was never allocated but is free counts as a double free too.
    assert_eq!(bitmap.free(11), Err(BitmapError::DoubleFree { frame: 11 }));
}

#[test]
fn out_of_range_free_is_refused() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 100).unwrap();
    let error = bitmap.free(100).unwrap_err();
    assert_eq!(
        error,
        BitmapError::FrameOutOfRange {
            frame: 100,
            frame_count: 100
        }
    );
    assert_eq!(
        error.to_string(),
        "frame 100 is out of range: only 100 frames are tracked"
    );
    assert_eq!(
        bitmap.free(usize::MAX),
        Err(BitmapError::FrameOutOfRange {
            frame: usize::MAX,
            frame_count: 100
        })
    );
    assert_eq!(bitmap.free_count(), 0);
    assert!(!bitmap.is_free(100));
    assert!(!bitmap.is_free(usize::MAX));
}

#[test]
fn contiguous_run_across_a_word_boundary() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 128).unwrap();
    bitmap.mark_free(60..70).unwrap();
    assert_eq!(
        bitmap.allocate_contiguous(11, 1),
        Err(BitmapError::NoContiguousRun {
            count: 11,
            align_frames: 1,
            free_frames: 10
        })
    );
    assert_eq!(bitmap.allocate_contiguous(10, 1), Ok(60));
    assert_eq!(bitmap.free_count(), 0);
    assert_eq!(free_frames(&bitmap), Vec::<usize>::new());
    let error = bitmap.allocate_contiguous(1, 1).unwrap_err();
    assert_eq!(
        error,
        BitmapError::NoContiguousRun {
            count: 1,
            align_frames: 1,
            free_frames: 0
        }
    );
    assert_eq!(
        error.to_string(),
        "no free run of 1 frames aligned to 1 frames (0 frames are free)"
    );
    bitmap.free_contiguous(60, 10).unwrap();
    assert_eq!(free_frames(&bitmap), (60..70).collect::<Vec<_>>());
}

#[test]
fn contiguous_runs_exactly_on_word_boundaries() {
    let mut words = [0u64; 3];
    let mut bitmap = FrameBitmap::new(&mut words, 192).unwrap();
    bitmap.mark_free(64..128).unwrap();
    assert_eq!(bitmap.allocate_contiguous(64, 64), Ok(64));
    assert_eq!(bitmap.free_count(), 0);
    bitmap.mark_free(0..192).unwrap();
    bitmap.mark_used(64..128).unwrap();
    assert_eq!(bitmap.allocate_contiguous(64, 1), Ok(0));
    assert_eq!(bitmap.allocate_contiguous(64, 1), Ok(128));
    assert_eq!(bitmap.free_count(), 0);
}

#[test]
fn contiguous_run_spanning_three_words() {
    let mut words = [0u64; 4];
    let mut bitmap = FrameBitmap::new(&mut words, 256).unwrap();
    bitmap.mark_free(10..200).unwrap();
    assert_eq!(bitmap.allocate_contiguous(150, 1), Ok(10));
    assert_eq!(free_frames(&bitmap), (160..200).collect::<Vec<_>>());
}

#[test]
fn contiguous_run_skips_a_used_frame() {
    let mut words = [0u64; 4];
    let mut bitmap = FrameBitmap::new(&mut words, 200).unwrap();
    bitmap.mark_free(0..200).unwrap();
    bitmap.mark_used(70..71).unwrap();
    assert_eq!(bitmap.allocate_contiguous(71, 1), Ok(71));
    assert_eq!(bitmap.allocate_contiguous(70, 1), Ok(0));
    assert_eq!(bitmap.free_count(), 200 - 1 - 71 - 70);
}

#[test]
fn contiguous_run_with_alignment() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 128).unwrap();
    bitmap.mark_free(60..70).unwrap();
    assert_eq!(bitmap.allocate_contiguous(4, 8), Ok(64));
    assert_eq!(free_frames(&bitmap), vec![60, 61, 62, 63, 68, 69]);
    assert_eq!(bitmap.allocate_contiguous(4, 4), Ok(60));
    assert_eq!(
        bitmap.allocate_contiguous(2, 8),
        Err(BitmapError::NoContiguousRun {
            count: 2,
            align_frames: 8,
            free_frames: 2
        })
    );
    assert_eq!(bitmap.allocate_contiguous(2, 4), Ok(68));

    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 128).unwrap();
    bitmap.mark_free(60..70).unwrap();
    assert_eq!(
        bitmap.allocate_contiguous(8, 8),
        Err(BitmapError::NoContiguousRun {
            count: 8,
            align_frames: 8,
            free_frames: 10
        })
    );
    assert_eq!(bitmap.free_count(), 10);
}

#[test]
fn contiguous_rejects_zero_count_and_bad_alignment() {
    let mut words = [0u64; 1];
    let mut bitmap = FrameBitmap::new(&mut words, 64).unwrap();
    bitmap.mark_free(0..64).unwrap();
    assert_eq!(
        bitmap.allocate_contiguous(0, 1),
        Err(BitmapError::ZeroCount)
    );
    for align_frames in [0, 3, 6, 12, 65] {
        assert_eq!(
            bitmap.allocate_contiguous(1, align_frames),
            Err(BitmapError::BadAlignment { align_frames })
        );
    }
    assert_eq!(
        BitmapError::BadAlignment { align_frames: 3 }.to_string(),
        "frame alignment 3 is not a power of two (1, 2, 4, ...)"
    );
    assert_eq!(bitmap.free_contiguous(0, 0), Err(BitmapError::ZeroCount));
    assert_eq!(
        bitmap.free_contiguous(usize::MAX, 2),
        Err(BitmapError::CountOverflow {
            first: usize::MAX,
            count: 2
        })
    );
    // Frame 0 is aligned to anything; with it in use, the next multiple of 2^63 is far out.
    bitmap.mark_used(0..1).unwrap();
    assert_eq!(
        bitmap.allocate_contiguous(1, usize::MAX / 2 + 1),
        Err(BitmapError::NoContiguousRun {
            count: 1,
            align_frames: usize::MAX / 2 + 1,
            free_frames: 63
        })
    );
    bitmap.mark_free(0..1).unwrap();
    assert_eq!(
        bitmap.allocate_contiguous(usize::MAX, 1).unwrap_err(),
        BitmapError::NoContiguousRun {
            count: usize::MAX,
            align_frames: 1,
            free_frames: 64
        }
    );
    assert_eq!(bitmap.free_count(), 64);
}

#[test]
fn padding_frames_past_frame_count_are_never_handed_out() {
    let mut words = [0u64; 2];
    {
        let mut bitmap = FrameBitmap::new(&mut words, 70).unwrap();
        bitmap.mark_free(0..70).unwrap();
        assert_eq!(bitmap.free_count(), 70);
        assert_eq!(
            bitmap.allocate_contiguous(71, 1),
            Err(BitmapError::NoContiguousRun {
                count: 71,
                align_frames: 1,
                free_frames: 70
            })
        );
        bitmap.mark_used(0..64).unwrap();
        assert_eq!(
            bitmap.allocate_contiguous(7, 1),
            Err(BitmapError::NoContiguousRun {
                count: 7,
                align_frames: 1,
                free_frames: 6
            })
        );
        assert_eq!(bitmap.allocate_contiguous(6, 1), Ok(64));
        assert_eq!(bitmap.allocate(), None);
        bitmap.free_contiguous(64, 6).unwrap();
        bitmap.mark_free(0..64).unwrap();
    }
    // Frames 64..70 are bits 0..6 of word 1; bits 6..64 are padding and stay set.
    assert_eq!(words, [0, u64::MAX << 6]);
    let mut bitmap = FrameBitmap::new(&mut words, 70).unwrap();
    bitmap.mark_free(0..70).unwrap();
    let mut handed_out = Vec::new();
    while let Some(frame) = bitmap.allocate() {
        handed_out.push(frame);
    }
    assert_eq!(handed_out, (0..70).collect::<Vec<_>>());
}

#[test]
fn mark_ranges_are_checked_and_leave_state_unchanged_on_error() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 70).unwrap();
    #[expect(
        clippy::reversed_empty_ranges,
        reason = "the reversed range is the test"
    )]
    let reversed = 5..3;
    assert_eq!(
        bitmap.mark_free(reversed.clone()),
        Err(BitmapError::RangeReversed { start: 5, end: 3 })
    );
    assert_eq!(
        bitmap.mark_used(reversed),
        Err(BitmapError::RangeReversed { start: 5, end: 3 })
    );
    let error = bitmap.mark_free(0..71).unwrap_err();
    assert_eq!(
        error,
        BitmapError::RangeOutOfBounds {
            start: 0,
            end: 71,
            frame_count: 70
        }
    );
    assert_eq!(
        error.to_string(),
        "frame range 0..71 reaches past the 70 tracked frames"
    );
    assert_eq!(bitmap.free_count(), 0);
    assert_eq!(bitmap.mark_free(70..70), Ok(()));
    assert_eq!(bitmap.free_count(), 0);
    assert_eq!(
        bitmap.free_contiguous(68, 3),
        Err(BitmapError::RangeOutOfBounds {
            start: 68,
            end: 71,
            frame_count: 70
        })
    );
}

#[test]
fn idempotent_marking_keeps_counts_exact() {
    let mut words = [0u64; 2];
    let mut bitmap = FrameBitmap::new(&mut words, 100).unwrap();
    bitmap.mark_free(0..10).unwrap();
    bitmap.mark_free(0..10).unwrap();
    assert_eq!(bitmap.free_count(), 10);
    bitmap.mark_free(5..70).unwrap();
    assert_eq!(bitmap.free_count(), 70);
    bitmap.mark_used(0..5).unwrap();
    bitmap.mark_used(0..5).unwrap();
    assert_eq!(bitmap.free_count(), 65);
    assert_eq!(bitmap.used_count(), 35);
    bitmap.mark_used(60..100).unwrap();
    assert_eq!(bitmap.free_count(), 55);
    assert_eq!(free_frames(&bitmap), (5..60).collect::<Vec<_>>());
    bitmap.mark_used(0..100).unwrap();
    assert_eq!(bitmap.free_count(), 0);
}

#[test]
fn free_contiguous_is_all_or_nothing() {
    let mut words = [0u64; 1];
    let mut bitmap = FrameBitmap::new(&mut words, 64).unwrap();
    bitmap.mark_free(0..20).unwrap();
    assert_eq!(bitmap.allocate_contiguous(10, 1), Ok(0));
    bitmap.free(5).unwrap();
    bitmap.free(7).unwrap();
    assert_eq!(bitmap.free_count(), 12);
    assert_eq!(
        bitmap.free_contiguous(0, 10),
        Err(BitmapError::DoubleFree { frame: 5 })
    );
    assert_eq!(bitmap.free_count(), 12);
    assert_eq!(
        free_frames(&bitmap),
        vec![5, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    );
    assert_eq!(bitmap.free_contiguous(0, 5), Ok(()));
    assert_eq!(bitmap.free_count(), 17);
}

/// The reference model: `true` means free.
struct Model {
    free: Vec<bool>,
}

impl Model {
    fn free_count(&self) -> usize {
        self.free.iter().filter(|&&free| free).count()
    }

    fn check_range(&self, start: usize, end: usize) -> Result<(), BitmapError> {
        if start > end {
            Err(BitmapError::RangeReversed { start, end })
        } else if end > self.free.len() {
            Err(BitmapError::RangeOutOfBounds {
                start,
                end,
                frame_count: self.free.len(),
            })
        } else {
            Ok(())
        }
    }

    fn lowest_run(&self, count: usize, align_frames: usize) -> Option<usize> {
        (0..self.free.len()).step_by(align_frames).find(|&first| {
            first + count <= self.free.len() && self.free[first..first + count].iter().all(|&f| f)
        })
    }
}

#[test]
fn random_operations_match_a_model() {
    const FRAME_COUNT: usize = 300;
    const OPERATION_COUNT: usize = 10_000;
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut words = [0u64; FrameBitmap::words_needed(FRAME_COUNT)];
    let mut bitmap = FrameBitmap::new(&mut words, FRAME_COUNT).unwrap();
    let mut model = Model {
        free: vec![false; FRAME_COUNT],
    };
    let mut allocated_singles = Vec::new();
    let mut outcomes = [0usize; 2];

    for _ in 0..OPERATION_COUNT {
        match random.below(7) {
            0 | 1 => {
                let got = bitmap.allocate();
                match got {
                    Some(frame) => {
                        assert!(model.free[frame], "allocated frame {frame} was in use");
                        model.free[frame] = false;
                        allocated_singles.push(frame);
                    }
                    None => assert_eq!(model.free_count(), 0),
                }
            }
            2 => {
                let count = random.below(24);
                let align_frames: usize = [1, 2, 4, 8, 16, 3][random.below(6)];
                let expected = if count == 0 {
                    Err(BitmapError::ZeroCount)
                } else if !align_frames.is_power_of_two() {
                    Err(BitmapError::BadAlignment { align_frames })
                } else {
                    model
                        .lowest_run(count, align_frames)
                        .ok_or(BitmapError::NoContiguousRun {
                            count,
                            align_frames,
                            free_frames: model.free_count(),
                        })
                };
                assert_eq!(bitmap.allocate_contiguous(count, align_frames), expected);
                if let Ok(first) = expected {
                    model.free[first..first + count].fill(false);
                }
            }
            3 => {
                // Mostly frames we handed out, sometimes anything (double frees, out of range).
                let frame = if !allocated_singles.is_empty() && random.below(2) == 0 {
                    allocated_singles.swap_remove(random.below(allocated_singles.len()))
                } else {
                    random.below(FRAME_COUNT + 8)
                };
                let expected = if frame >= FRAME_COUNT {
                    Err(BitmapError::FrameOutOfRange {
                        frame,
                        frame_count: FRAME_COUNT,
                    })
                } else if model.free[frame] {
                    Err(BitmapError::DoubleFree { frame })
                } else {
                    Ok(())
                };
                assert_eq!(bitmap.free(frame), expected);
                if expected.is_ok() {
                    model.free[frame] = true;
                }
                outcomes[usize::from(expected.is_ok())] += 1;
            }
            4 => {
                let first = random.below(FRAME_COUNT + 4);
                let count = random.below(12);
                let expected = if count == 0 {
                    Err(BitmapError::ZeroCount)
                } else {
                    model.check_range(first, first + count).and_then(|()| {
                        match (first..first + count).find(|&frame| model.free[frame]) {
                            Some(frame) => Err(BitmapError::DoubleFree { frame }),
                            None => Ok(()),
                        }
                    })
                };
                assert_eq!(bitmap.free_contiguous(first, count), expected);
                if expected.is_ok() {
                    model.free[first..first + count].fill(true);
                }
            }
            operation => {
                let start = random.below(FRAME_COUNT + 4);
                let end = random.below(FRAME_COUNT + 4).max(start.saturating_sub(2));
                let mark_free = operation == 5;
                let expected = model.check_range(start, end);
                let got = if mark_free {
                    bitmap.mark_free(start..end)
                } else {
                    bitmap.mark_used(start..end)
                };
                assert_eq!(got, expected);
                if expected.is_ok() {
                    model.free[start..end].fill(mark_free);
                }
            }
        }
        assert_eq!(bitmap.free_count(), model.free_count());
        assert_eq!(bitmap.used_count(), FRAME_COUNT - model.free_count());
        for frame in 0..FRAME_COUNT {
            assert_eq!(bitmap.is_free(frame), model.free[frame], "frame {frame}");
        }
    }
    // The sequence exercised both successful and refused frees.
    assert!(
        outcomes[0] > 100 && outcomes[1] > 100,
        "outcomes {outcomes:?}"
    );
}
