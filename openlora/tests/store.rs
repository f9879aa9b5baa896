//! The adapter store: LRU eviction under a memory budget, pinning, concurrency.

use std::sync::Arc;

use openledger_attribution_engine::lm::TargetModule;
use openlora::fixtures::{tiny_config, write_adapter};
use openlora::metrics::Metrics;
use openlora::store::AdapterStore;

/// A store with `n` registered rank-4 adapters and room for `fit` of them.
fn store(tmp: &std::path::Path, n: usize, fit: usize) -> (Arc<AdapterStore>, usize) {
    let cfg = tiny_config();
    for i in 0..n {
        write_adapter(&tmp.join(format!("a{i}")), &cfg, 4, 8.0, &TargetModule::ALL, i as u64, false).unwrap();
    }
    let probe = openledger_attribution_engine::lm::LoraAdapter::load_dir(&tmp.join("a0"), &cfg, 64).unwrap();
    let s = Arc::new(AdapterStore::new(cfg, 64, probe.bytes * fit, Arc::new(Metrics::default())));
    assert_eq!(s.register_dir(tmp).unwrap(), n);
    (s, probe.bytes)
}

fn loaded(s: &AdapterStore) -> Vec<String> {
    s.list().into_iter().filter(|a| a.loaded).map(|a| a.id).collect()
}

#[test]
fn least_recently_used_unpinned_adapter_is_evicted() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _) = store(tmp.path(), 3, 2);
    drop(s.acquire("a0").unwrap());
    drop(s.acquire("a1").unwrap());
    drop(s.acquire("a0").unwrap()); // a0 is now the most recently used
    drop(s.acquire("a2").unwrap());
    assert_eq!(loaded(&s), vec!["a0", "a2"]);
}

#[test]
fn pinned_adapters_are_never_evicted() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, bytes) = store(tmp.path(), 3, 2);
    let p0 = s.acquire("a0").unwrap();
    let p1 = s.acquire("a1").unwrap();
    let e = s.acquire("a2").err().expect("cache full of pinned adapters");
    assert_eq!(e.status.as_u16(), 503);
    assert_eq!(loaded(&s), vec!["a0", "a1"]);
    drop(p0);
    let p2 = s.acquire("a2").unwrap();
    assert_eq!(loaded(&s), vec!["a1", "a2"]);
    assert_eq!(s.resident_bytes(), 2 * bytes);
    assert!(s.unload("a1").is_err(), "a pinned adapter cannot be unloaded");
    assert!(s.unregister("a2").is_err(), "a pinned adapter cannot be removed");
    drop((p1, p2));
    assert!(s.unload("a1").unwrap());
    assert_eq!(s.resident_bytes(), bytes);
}

#[test]
fn concurrent_acquires_respect_budget_and_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, bytes) = store(tmp.path(), 6, 3);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let (mut ok, mut busy) = (0, 0);
                let mut x = t as u64 + 1;
                for _ in 0..150 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let id = format!("a{}", (x >> 33) % 6);
                    match s.acquire(&id) {
                        Ok(p) => {
                            ok += 1;
                            // While pinned, the adapter stays loaded and is the same allocation.
                            for _ in 0..3 {
                                assert!(s.resident_bytes() <= s.budget_bytes());
                                let info = s.list().into_iter().find(|a| a.id == id).unwrap();
                                assert!(info.loaded && info.pins >= 1, "{id} evicted while pinned");
                                let again = s.acquire(&id).expect("a pinned adapter is a cache hit");
                                assert!(Arc::ptr_eq(again.arc(), p.arc()));
                                std::thread::yield_now();
                            }
                            drop(p);
                        }
                        Err(e) => {
                            assert_eq!(e.status.as_u16(), 503, "{e}");
                            busy += 1;
                        }
                    }
                }
                (ok, busy)
            })
        })
        .collect();
    let mut total_ok = 0;
    for t in threads {
        let (ok, _) = t.join().unwrap();
        total_ok += ok;
    }
    assert!(total_ok > 0);
    let list = s.list();
    assert!(list.iter().all(|a| a.pins == 0), "every pin released");
    let n_loaded = list.iter().filter(|a| a.loaded).count();
    assert!(n_loaded <= 3);
    assert_eq!(s.resident_bytes(), n_loaded * bytes);
}
