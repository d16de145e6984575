//! Host tests for [`RunQueue`], including a randomized comparison against a `VecDeque` model.

use std::collections::VecDeque;

use super::*;

use test_rng::XorShift;

/// Returns link arrays for a queue of `capacity` slots, filled with junk `new` must clear.
fn links(capacity: usize) -> (Vec<u32>, Vec<u32>) {
    (vec![0; capacity], vec![1; capacity])
}

/// Returns the queue's slots front to back.
fn order(queue: &RunQueue<'_>) -> Vec<u32> {
    queue.iter().collect()
}

/// Checks the link invariants from both directions.
fn check_links(queue: &RunQueue<'_>) {
    let forward = order(queue);
    assert_eq!(forward.len(), queue.len());
    for (position, &slot) in forward.iter().enumerate() {
        let index = slot as usize;
        let after = forward[(position + 1) % forward.len()];
        assert_eq!(queue.next[index], after, "next of {slot}");
        assert_eq!(queue.prev[after as usize], slot, "prev of {after}");
    }
    let queued = (0..queue.capacity() as u32)
        .filter(|&slot| queue.contains(slot))
        .count();
    assert_eq!(queued, queue.len());
}

#[test]
fn new_refuses_mismatched_lengths() {
    let mut next = [0; 3];
    let mut prev = [0; 4];
    let error = RunQueue::new(&mut next, &mut prev).unwrap_err();
    assert_eq!(
        error,
        QueueError::LengthMismatch {
            next_len: 3,
            prev_len: 4
        }
    );
    assert_eq!(
        error.to_string(),
        "run queue link arrays differ in length: next has 3, prev has 4"
    );
}

#[test]
fn capacity_limit_keeps_indices_below_the_sentinel() {
    // Arrays of u32::MAX entries are too large for a test, so check the length rule directly.
    assert_eq!(check_lengths(MAX_CAPACITY, MAX_CAPACITY), Ok(()));
    let too_large = MAX_CAPACITY + 1;
    assert_eq!(
        check_lengths(too_large, too_large),
        Err(QueueError::CapacityTooLarge {
            capacity: too_large
        })
    );
    assert_eq!(
        QueueError::CapacityTooLarge {
            capacity: too_large
        }
        .to_string(),
        "run queue capacity 4294967296 exceeds the maximum of 4294967295 slots"
    );
    assert_eq!(MAX_CAPACITY - 1, (NONE - 1) as usize);
}

#[test]
fn new_clears_the_links() {
    let (mut next, mut prev) = links(3);
    {
        let queue = RunQueue::new(&mut next, &mut prev).unwrap();
        assert_eq!(queue.capacity(), 3);
        assert_eq!(queue.len(), 0);
        assert!(queue.is_empty());
        assert_eq!(queue.front(), None);
        assert!(!queue.contains(0));
    }
    assert_eq!(next, [NONE; 3]);
    assert_eq!(prev, [NONE; 3]);
}

#[test]
fn zero_capacity_queue_is_empty_and_refuses_every_slot() {
    let mut queue = RunQueue::new(&mut [], &mut []).unwrap();
    assert_eq!(queue.pop_front(), None);
    assert_eq!(
        queue.push_back(0),
        Err(QueueError::OutOfRange {
            slot: 0,
            capacity: 0
        })
    );
    assert_eq!(order(&queue), Vec::<u32>::new());
}

#[test]
fn pops_in_fifo_order() {
    let (mut next, mut prev) = links(8);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    for slot in [5, 2, 7, 0] {
        queue.push_back(slot).unwrap();
    }
    assert_eq!(order(&queue), [5, 2, 7, 0]);
    assert_eq!(queue.iter().len(), 4);
    assert_eq!(queue.front(), Some(5));
    check_links(&queue);
    let popped: Vec<u32> = std::iter::from_fn(|| queue.pop_front()).collect();
    assert_eq!(popped, [5, 2, 7, 0]);
    assert!(queue.is_empty());
    assert_eq!(queue.pop_front(), None);
}

#[test]
fn push_front_runs_next() {
    let (mut next, mut prev) = links(4);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    queue.push_front(1).unwrap();
    assert_eq!(order(&queue), [1]);
    queue.push_back(2).unwrap();
    queue.push_front(3).unwrap();
    queue.push_front(0).unwrap();
    assert_eq!(order(&queue), [0, 3, 1, 2]);
    check_links(&queue);
    assert_eq!(queue.pop_front(), Some(0));
    assert_eq!(queue.pop_front(), Some(3));
}

#[test]
fn round_robin_is_fair() {
    const SLOT_COUNT: u32 = 37;
    const ROUNDS: usize = 50;
    let (mut next, mut prev) = links(SLOT_COUNT as usize);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    for slot in 0..SLOT_COUNT {
        queue.push_back(slot).unwrap();
    }
    let mut ran = Vec::new();
    let mut run_count = [0usize; SLOT_COUNT as usize];
    for _ in 0..ROUNDS * SLOT_COUNT as usize {
        let slot = queue.pop_front().unwrap();
        ran.push(slot);
        run_count[slot as usize] += 1;
        queue.push_back(slot).unwrap();
    }
    assert_eq!(run_count, [ROUNDS; SLOT_COUNT as usize]);
    let expected: Vec<u32> = (0..ROUNDS).flat_map(|_| 0..SLOT_COUNT).collect();
    assert_eq!(ran, expected);
    assert_eq!(order(&queue), (0..SLOT_COUNT).collect::<Vec<_>>());
}

#[test]
fn remove_from_head_middle_and_tail_then_reinsert() {
    let (mut next, mut prev) = links(6);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    for slot in 0..6 {
        queue.push_back(slot).unwrap();
    }
    queue.remove(0).unwrap(); // head
    assert_eq!(order(&queue), [1, 2, 3, 4, 5]);
    assert_eq!(queue.front(), Some(1));
    queue.remove(3).unwrap(); // middle
    assert_eq!(order(&queue), [1, 2, 4, 5]);
    queue.remove(5).unwrap(); // tail
    assert_eq!(order(&queue), [1, 2, 4]);
    assert_eq!(queue.len(), 3);
    assert!(!queue.contains(0) && !queue.contains(3) && !queue.contains(5));
    check_links(&queue);

    queue.push_back(3).unwrap();
    queue.push_front(5).unwrap();
    queue.push_back(0).unwrap();
    assert_eq!(order(&queue), [5, 1, 2, 4, 3, 0]);
    check_links(&queue);

    // Removing the only slot empties the queue.
    for slot in [5, 1, 2, 4, 3] {
        queue.remove(slot).unwrap();
    }
    assert_eq!(order(&queue), [0]);
    queue.remove(0).unwrap();
    assert!(queue.is_empty());
    assert_eq!(queue.front(), None);
    queue.push_back(4).unwrap();
    assert_eq!(order(&queue), [4]);
}

#[test]
fn errors_leave_the_queue_unchanged() {
    let (mut next, mut prev) = links(3);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    queue.push_back(1).unwrap();
    queue.push_back(2).unwrap();
    assert_eq!(
        queue.push_back(3),
        Err(QueueError::OutOfRange {
            slot: 3,
            capacity: 3
        })
    );
    assert_eq!(
        queue.push_front(NONE),
        Err(QueueError::OutOfRange {
            slot: NONE,
            capacity: 3
        })
    );
    assert_eq!(
        queue.remove(7),
        Err(QueueError::OutOfRange {
            slot: 7,
            capacity: 3
        })
    );
    assert_eq!(
        queue.push_back(1),
        Err(QueueError::AlreadyQueued { slot: 1 })
    );
    assert_eq!(
        queue.push_front(2),
        Err(QueueError::AlreadyQueued { slot: 2 })
    );
    assert_eq!(queue.remove(0), Err(QueueError::NotQueued { slot: 0 }));
    assert!(!queue.contains(3));
    assert!(!queue.contains(NONE));
    assert_eq!(order(&queue), [1, 2]);
    check_links(&queue);

    assert_eq!(
        QueueError::OutOfRange {
            slot: 7,
            capacity: 3
        }
        .to_string(),
        "slot 7 is out of range: the run queue has 3 slots"
    );
    assert_eq!(
        QueueError::AlreadyQueued { slot: 1 }.to_string(),
        "slot 1 is already in the run queue"
    );
    assert_eq!(
        QueueError::NotQueued { slot: 0 }.to_string(),
        "slot 0 is not in the run queue"
    );
}

#[test]
fn every_size_up_to_4096_pushes_removes_and_pops() {
    const MAX_SLOTS: u32 = 4096;
    let (mut next, mut prev) = links(MAX_SLOTS as usize);
    for capacity in 1..=MAX_SLOTS {
        let size = capacity as usize;
        let mut queue = RunQueue::new(&mut next[..size], &mut prev[..size]).unwrap();
        for slot in 0..capacity {
            queue.push_back(slot).unwrap();
        }
        assert_eq!(queue.len(), size);
        // The queue is full in the sense that every slot is queued: no slot can be added.
        assert_eq!(
            queue.push_back(capacity - 1),
            Err(QueueError::AlreadyQueued { slot: capacity - 1 })
        );
        let middle = capacity / 2;
        queue.remove(middle).unwrap();
        queue.push_front(middle).unwrap();
        assert_eq!(queue.pop_front(), Some(middle));
        // Remove the tail too, unless the middle was already the tail (capacity 1 or 2).
        let tail = capacity - 1;
        if tail != middle {
            queue.remove(tail).unwrap();
        }
        assert_eq!(queue.len(), size - if tail != middle { 2 } else { 1 });
        let mut expected = (0..tail).filter(|&slot| slot != middle);
        while let Some(slot) = queue.pop_front() {
            assert_eq!(Some(slot), expected.next());
        }
        assert_eq!(expected.next(), None);
        assert!(queue.is_empty());
    }
}

#[test]
fn random_operations_match_a_vecdeque() {
    const CAPACITY: usize = 4096;
    const STEPS: usize = 100_000;
    const FULL_CHECK_EVERY: usize = 997;
    let (mut next, mut prev) = links(CAPACITY);
    let mut queue = RunQueue::new(&mut next, &mut prev).unwrap();
    let mut model: VecDeque<u32> = VecDeque::new();
    let mut in_model = vec![false; CAPACITY];
    let mut random = XorShift(0x0dd_ba11_5eed);
    let mut errors_seen = 0;

    for step in 0..STEPS {
        // Slots slightly past the capacity exercise OutOfRange.
        let slot = random.below(CAPACITY + 4) as u32;
        let index = slot as usize;
        let out_of_range = index >= CAPACITY;
        let expected_range_error = QueueError::OutOfRange {
            slot,
            capacity: CAPACITY,
        };
        match random.below(4) {
            0 | 1 => {
                let push_back = random.below(2) == 0;
                let result = if push_back {
                    queue.push_back(slot)
                } else {
                    queue.push_front(slot)
                };
                if out_of_range {
                    assert_eq!(result, Err(expected_range_error));
                    errors_seen += 1;
                } else if in_model[index] {
                    assert_eq!(result, Err(QueueError::AlreadyQueued { slot }));
                    errors_seen += 1;
                } else {
                    assert_eq!(result, Ok(()));
                    if push_back {
                        model.push_back(slot);
                    } else {
                        model.push_front(slot);
                    }
                    in_model[index] = true;
                }
            }
            2 => {
                let popped = queue.pop_front();
                assert_eq!(popped, model.pop_front());
                if let Some(slot) = popped {
                    in_model[slot as usize] = false;
                }
            }
            _ => {
                let result = queue.remove(slot);
                if out_of_range {
                    assert_eq!(result, Err(expected_range_error));
                    errors_seen += 1;
                } else if in_model[index] {
                    assert_eq!(result, Ok(()));
                    let position = model.iter().position(|&queued| queued == slot).unwrap();
                    model.remove(position);
                    in_model[index] = false;
                } else {
                    assert_eq!(result, Err(QueueError::NotQueued { slot }));
                    errors_seen += 1;
                }
            }
        }
        assert_eq!(queue.len(), model.len());
        assert_eq!(queue.front(), model.front().copied());
        assert_eq!(queue.contains(slot), !out_of_range && in_model[index]);
        if step % FULL_CHECK_EVERY == 0 {
            assert!(
                queue.iter().eq(model.iter().copied()),
                "order differs at step {step}"
            );
            check_links(&queue);
        }
    }
    assert!(queue.iter().eq(model.iter().copied()));
    check_links(&queue);
    assert!(errors_seen > 0);
}
