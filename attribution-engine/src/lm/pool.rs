//! Work items on candle's CPU thread pool, handed out in shrinking ranges.
//!
//! `execute_chunked` hands out fixed ranges of about n / (8 · threads) items; when items differ
//! in cost (an adapter's low-rank term reads ~50 KB of weights, a projection panel a few KB)
//! the last range can leave the other threads spinning at the barrier, and a forward pass runs
//! about 150 dispatches per step. Here a thread takes half its share of what remains (guided
//! scheduling): few grabs of the shared cursor while much remains, single items at the end.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::utils::barrier_pool;

/// Runs `f` on ranges covering `0..n` (each item exactly once) on the pool, the calling thread
/// included. Must not be called from inside a pool work item.
pub(crate) fn run_ranges(n: usize, f: impl Fn(Range<usize>) + Sync) {
    let pool = barrier_pool();
    let threads = pool.n_workers() + 1;
    if n <= 1 || threads == 1 {
        f(0..n);
        return;
    }
    let cursor = AtomicUsize::new(0);
    pool.execute(|_| {
        let mut start = cursor.load(Ordering::Relaxed);
        while start < n {
            let take = ((n - start) / (2 * threads)).max(1);
            match cursor.compare_exchange_weak(start, start + take, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    f(start..start + take);
                    start = cursor.load(Ordering::Relaxed);
                }
                Err(now) => start = now,
            }
        }
    });
}

/// A job of `items` work items and the function that runs a range of them.
pub(crate) type Job<'a> = (usize, Box<dyn Fn(Range<usize>) + Sync + 'a>);

/// Runs several jobs' work items in one dispatch, in job order.
pub(crate) fn run_jobs(jobs: &[Job<'_>]) {
    let starts: Vec<usize> = jobs
        .iter()
        .scan(0, |first, job| {
            let start = *first;
            *first += job.0;
            Some(start)
        })
        .collect();
    let total = jobs.iter().map(|job| job.0).sum();
    run_ranges(total, |range| {
        // Split the range at job boundaries.
        for (job, &first) in jobs.iter().zip(&starts) {
            let (start, end) = (range.start.max(first), range.end.min(first + job.0));
            if start < end {
                (job.1)(start - first..end - first);
            }
        }
    });
}
