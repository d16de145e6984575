//! Host tests for [`PcidPool`], including a randomized comparison against a simple model.

use super::*;

use test_rng::XorShift;

/// Returns fresh storage for a full-size pool.
fn full_storage() -> Vec<Slot> {
    vec![Slot::EMPTY; PCID_COUNT]
}

/// Activates `owner` and returns the activation, panicking on an error.
fn activate(pool: &mut PcidPool<'_>, owner: OwnerId, lease: &mut Option<Lease>) -> Activation {
    pool.activate(owner, lease).expect("owner is nonzero")
}

#[test]
fn constants_match_the_architecture() {
    assert_eq!(PCID_COUNT, 4096);
    assert_eq!(KERNEL_PCID, 0);
    assert_eq!(FIRST_USABLE_PCID, 1);
    assert_eq!(MIN_POOL_SLOTS, 2);
}

#[test]
fn new_refuses_storage_of_the_wrong_length() {
    for len in [0, 1, PCID_COUNT + 1] {
        let mut storage = vec![Slot::EMPTY; len];
        assert_eq!(
            PcidPool::new(&mut storage).unwrap_err(),
            PcidError::StorageLength {
                slots_provided: len
            }
        );
    }
    assert_eq!(
        PcidError::StorageLength { slots_provided: 1 }.to_string(),
        "PCID pool storage has 1 slots, between 2 and 4096 are needed"
    );
}

#[test]
fn new_accepts_the_smallest_and_the_full_pool() {
    let mut small = [Slot::EMPTY; MIN_POOL_SLOTS];
    let pool = PcidPool::new(&mut small).unwrap();
    assert_eq!(pool.usable_count(), 1);
    assert_eq!(pool.live_count(), 0);
    let mut full = full_storage();
    let pool = PcidPool::new(&mut full).unwrap();
    assert_eq!(pool.usable_count(), 4095);
    assert_eq!(pool.stats(), PoolStats::default());
}

#[test]
fn new_overwrites_old_slot_state() {
    let mut storage = [Slot {
        owner: 7,
        generation: 9,
        next_free: 3,
    }; 4];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease = None;
    let activation = activate(&mut pool, 7, &mut lease);
    assert_eq!(activation.pcid.value(), 1);
    assert_eq!(activation.evicted, None);
    assert_eq!(lease.unwrap().generation(), 1);
}

#[test]
fn owner_zero_is_refused_without_changes() {
    let mut storage = [Slot::EMPTY; 4];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease = None;
    assert_eq!(
        pool.activate(NO_OWNER, &mut lease),
        Err(PcidError::InvalidOwner { owner: 0 })
    );
    assert_eq!(lease, None);
    assert_eq!(pool.live_count(), 0);
    assert_eq!(pool.stats(), PoolStats::default());
    assert_eq!(
        PcidError::InvalidOwner { owner: 0 }.to_string(),
        "owner id 0 is invalid: it marks a free PCID slot"
    );
    // A free slot has owner 0 and a matching generation, but is still not a valid lease for 0.
    let free_lease = Lease {
        pcid: Pcid(1),
        generation: 0,
    };
    assert!(!pool.is_lease_valid(NO_OWNER, free_lease));
    assert!(!pool.release(NO_OWNER, Some(free_lease)));
}

#[test]
fn fresh_pool_hands_out_ascending_pcids_with_flush() {
    let mut storage = [Slot::EMPTY; 5];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    for owner in 1..=4 {
        let mut lease = None;
        let activation = activate(&mut pool, owner, &mut lease);
        let expected_pcid = Pcid(owner as u16);
        assert_eq!(
            activation,
            Activation {
                pcid: expected_pcid,
                flush: true,
                evicted: None
            }
        );
        assert_eq!(
            lease,
            Some(Lease {
                pcid: expected_pcid,
                generation: 1
            })
        );
    }
    assert_eq!(pool.live_count(), 4);
}

#[test]
fn reactivation_with_a_valid_lease_keeps_the_pcid_without_flush() {
    let mut storage = [Slot::EMPTY; 4];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease = None;
    let first = activate(&mut pool, 42, &mut lease);
    let kept = lease;
    let second = activate(&mut pool, 42, &mut lease);
    assert_eq!(
        second,
        Activation {
            pcid: first.pcid,
            flush: false,
            evicted: None
        }
    );
    assert_eq!(lease, kept);
    assert_eq!(
        pool.stats(),
        PoolStats {
            assignments: 1,
            reuses_without_flush: 1,
            evictions: 0,
            flushes_required: 1
        }
    );
}

#[test]
fn a_lease_is_valid_only_for_its_owner() {
    let mut storage = [Slot::EMPTY; 4];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease_a = None;
    activate(&mut pool, 1, &mut lease_a);
    // Owner 2 presents owner 1's lease: it must get its own PCID, and owner 1 keeps its own.
    let mut borrowed = lease_a;
    let activation = activate(&mut pool, 2, &mut borrowed);
    assert_eq!(activation.pcid.value(), 2);
    assert!(activation.flush);
    assert!(pool.is_lease_valid(1, lease_a.unwrap()));
    assert!(!pool.is_lease_valid(2, lease_a.unwrap()));
}

#[test]
fn a_lease_naming_pcid_zero_or_out_of_range_is_invalid() {
    let mut storage = [Slot::EMPTY; 4];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    for pcid in [KERNEL_PCID, 4, 4095] {
        let mut lease = Some(Lease {
            pcid: Pcid(pcid),
            generation: 0,
        });
        assert!(!pool.is_lease_valid(5, lease.unwrap()));
        let activation = activate(&mut pool, 5, &mut lease);
        assert!(activation.flush);
        assert_ne!(activation.pcid.value(), KERNEL_PCID);
        assert!(pool.release(5, lease));
    }
}

#[test]
fn released_pcid_handed_to_a_new_owner_needs_a_flush() {
    let mut storage = [Slot::EMPTY; 3];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease_dead = None;
    activate(&mut pool, 10, &mut lease_dead);
    let mut lease_other = None;
    activate(&mut pool, 11, &mut lease_other);
    assert!(pool.release(10, lease_dead));
    assert_eq!(pool.live_count(), 1);
    assert!(!pool.is_lease_valid(10, lease_dead.unwrap()));

    let mut lease_new = None;
    let activation = activate(&mut pool, 12, &mut lease_new);
    assert_eq!(
        activation,
        Activation {
            pcid: Pcid(1),
            flush: true,
            evicted: None
        }
    );
    assert_eq!(
        lease_new,
        Some(Lease {
            pcid: Pcid(1),
            generation: 2
        })
    );
    assert_eq!(pool.stats().evictions, 0);
}

#[test]
fn stale_or_missing_lease_release_is_ignored() {
    let mut storage = [Slot::EMPTY; 2];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut lease_a = None;
    activate(&mut pool, 1, &mut lease_a);
    let mut lease_b = None;
    let activation = activate(&mut pool, 2, &mut lease_b);
    assert_eq!(activation.evicted, Some(1));

    // Owner 1 dies holding a lease that was taken back: owner 2 must keep its PCID.
    assert!(!pool.release(1, lease_a));
    assert!(!pool.release(1, None));
    assert!(pool.is_lease_valid(2, lease_b.unwrap()));
    assert_eq!(pool.live_count(), 1);

    // Releasing twice frees once.
    assert!(pool.release(2, lease_b));
    assert!(!pool.release(2, lease_b));
    assert_eq!(pool.live_count(), 0);
}

#[test]
fn eviction_bumps_the_generation_and_invalidates_the_victim() {
    let mut storage = [Slot::EMPTY; 3];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut leases = [None; 4];
    activate(&mut pool, 1, &mut leases[1]);
    activate(&mut pool, 2, &mut leases[2]);
    let activation = activate(&mut pool, 3, &mut leases[3]);
    assert_eq!(
        activation,
        Activation {
            pcid: Pcid(1),
            flush: true,
            evicted: Some(1)
        }
    );
    assert_eq!(
        leases[3],
        Some(Lease {
            pcid: Pcid(1),
            generation: 2
        })
    );
    assert!(!pool.is_lease_valid(1, leases[1].unwrap()));
    assert!(pool.is_lease_valid(2, leases[2].unwrap()));
    assert_eq!(pool.live_count(), 2);

    // The victim runs again: round robin now takes PCID 2 from owner 2.
    let activation = activate(&mut pool, 1, &mut leases[1]);
    assert_eq!(
        activation,
        Activation {
            pcid: Pcid(2),
            flush: true,
            evicted: Some(2)
        }
    );
    assert_eq!(leases[1].unwrap().generation(), 2);
    // The pointer wraps past the last PCID back to 1, never to 0.
    let activation = activate(&mut pool, 2, &mut leases[2]);
    assert_eq!(activation.pcid, Pcid(1));
    assert_eq!(activation.evicted, Some(3));
    assert_eq!(leases[2].unwrap().generation(), 3);
}

#[test]
fn five_thousand_owners_exhaust_the_full_pool() {
    const OWNER_COUNT: u64 = 5000;
    const USABLE: u64 = (PCID_COUNT - 1) as u64;
    let mut storage = full_storage();
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut leases: Vec<Option<Lease>> = vec![None; OWNER_COUNT as usize + 1];

    for owner in 1..=OWNER_COUNT {
        let activation = activate(&mut pool, owner, &mut leases[owner as usize]);
        assert!(activation.flush);
        if owner <= USABLE {
            assert_eq!(activation.pcid.value() as u64, owner);
            assert_eq!(activation.evicted, None);
        } else {
            // Owner 4095 + k takes PCID k back from owner k.
            let victim = owner - USABLE;
            assert_eq!(activation.pcid.value() as u64, victim);
            assert_eq!(activation.evicted, Some(victim));
            assert!(!pool.is_lease_valid(victim, leases[victim as usize].unwrap()));
        }
    }
    assert_eq!(pool.live_count(), PCID_COUNT - 1);
    let evictions = OWNER_COUNT - USABLE;
    assert_eq!(
        pool.stats(),
        PoolStats {
            assignments: OWNER_COUNT,
            reuses_without_flush: 0,
            evictions,
            flushes_required: OWNER_COUNT
        }
    );

    // Every valid lease names a distinct PCID, and exactly 4095 leases are valid.
    let mut holder = vec![None; PCID_COUNT];
    for owner in 1..=OWNER_COUNT {
        let lease = leases[owner as usize].unwrap();
        if pool.is_lease_valid(owner, lease) {
            let pcid = usize::from(lease.pcid().value());
            assert_eq!(holder[pcid], None, "PCID {pcid} leased twice");
            holder[pcid] = Some(owner);
        }
    }
    assert_eq!(holder[0], None);
    assert_eq!(holder.iter().flatten().count(), PCID_COUNT - 1);

    // Evicted owner 1 runs again: new PCID (the next round-robin victim, 906), flushed.
    let activation = activate(&mut pool, 1, &mut leases[1]);
    assert_eq!(
        activation,
        Activation {
            pcid: Pcid(906),
            flush: true,
            evicted: Some(906)
        }
    );
    assert_eq!(leases[1].unwrap().generation(), 2);
    // The last owner still holds its PCID: no flush.
    let activation = activate(&mut pool, OWNER_COUNT, &mut leases[OWNER_COUNT as usize]);
    assert_eq!(
        activation,
        Activation {
            pcid: Pcid(905),
            flush: false,
            evicted: None
        }
    );
    assert_eq!(pool.stats().evictions, evictions + 1);
    assert_eq!(pool.stats().reuses_without_flush, 1);
}

#[test]
fn random_operations_match_the_model() {
    const SLOT_COUNT: usize = 16;
    const OWNER_COUNT: usize = 50;
    const STEPS: usize = 10_000;
    const RELEASE_ONE_IN: usize = 5;

    let mut storage = [Slot::EMPTY; SLOT_COUNT];
    let mut pool = PcidPool::new(&mut storage).unwrap();
    let mut random = XorShift(0x5eed_0f9c_1d00);
    // leases[owner] = the lease the owner keeps between runs.
    let mut leases: [Option<Lease>; OWNER_COUNT + 1] = [None; OWNER_COUNT + 1];
    // holder[pcid] = the owner the model says holds that PCID.
    let mut holder: [Option<OwnerId>; SLOT_COUNT] = [None; SLOT_COUNT];
    let mut expected = PoolStats::default();
    let mut saw_eviction = false;
    let mut saw_release = false;

    for _ in 0..STEPS {
        let owner = (random.below(OWNER_COUNT) + 1) as OwnerId;
        let model_valid = leases[owner as usize]
            .filter(|lease| holder[usize::from(lease.pcid().value())] == Some(owner));
        if random.below(RELEASE_ONE_IN) == 0 {
            let freed = pool.release(owner, leases[owner as usize]);
            assert_eq!(freed, model_valid.is_some());
            if let Some(lease) = model_valid {
                holder[usize::from(lease.pcid().value())] = None;
                saw_release = true;
            }
            // The owner died; its id comes back later as a new owner without a lease.
            leases[owner as usize] = None;
        } else {
            let mut lease = leases[owner as usize];
            let activation = activate(&mut pool, owner, &mut lease);
            let pcid = usize::from(activation.pcid.value());
            assert!((1..SLOT_COUNT).contains(&pcid), "PCID {pcid} handed out");
            assert_eq!(lease.unwrap().pcid(), activation.pcid);
            if let Some(valid) = model_valid {
                assert_eq!(
                    activation,
                    Activation {
                        pcid: valid.pcid(),
                        flush: false,
                        evicted: None
                    }
                );
                assert_eq!(lease, Some(valid));
                expected.reuses_without_flush += 1;
            } else {
                assert!(activation.flush);
                expected.assignments += 1;
                expected.flushes_required += 1;
                let model_has_free = holder[1..].contains(&None);
                if model_has_free {
                    assert_eq!(holder[pcid], None, "took PCID {pcid} while one was free");
                    assert_eq!(activation.evicted, None);
                } else {
                    assert_eq!(activation.evicted, holder[pcid]);
                    assert_ne!(activation.evicted, Some(owner));
                    expected.evictions += 1;
                    saw_eviction = true;
                }
                holder[pcid] = Some(owner);
            }
            leases[owner as usize] = lease;
        }

        // Invariants: the pool and the model agree on every owner's lease validity, valid
        // leases name distinct PCIDs, and the counters match.
        let mut seen = [false; SLOT_COUNT];
        for (id, lease) in leases.iter().enumerate().skip(1) {
            let id = id as OwnerId;
            let Some(lease) = *lease else { continue };
            let pcid = usize::from(lease.pcid().value());
            let valid = pool.is_lease_valid(id, lease);
            assert_eq!(valid, holder[pcid] == Some(id), "owner {id} PCID {pcid}");
            if valid {
                assert!(!seen[pcid], "PCID {pcid} held by two valid leases");
                seen[pcid] = true;
            }
        }
        assert!(!seen[usize::from(KERNEL_PCID)]);
        assert_eq!(pool.live_count(), holder.iter().flatten().count());
        assert_eq!(pool.stats(), expected);
    }
    assert!(
        saw_eviction && saw_release,
        "the sequence must exercise both paths"
    );
}
