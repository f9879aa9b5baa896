//! Work items on candle's CPU thread pool, handed out in shrinking ranges.
//!
//! `execute_chunked` hands out fixed ranges of about n / (8 · threads) items; when items differ
//! in cost (an adapter's low-rank term reads ~50 KB of weights, a projection panel a few KB)
//! the last range can leave the other threads spinning at the barrier, and a forward pass runs
//! about 150 dispatches per step. Here a thread takes half its share of what remains (guided
//! scheduling): few grabs of the shared cursor while much remains, single items at the end.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use candle_core::utils::barrier_pool;

thread_local! {
    /// Set while this thread runs items of a dispatch: a nested dispatch would wait for the
    /// pool it is running on, so it runs inline instead.
    static IN_DISPATCH: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on ranges covering `0..n` (each item exactly once) on the pool, the calling thread
/// included.
pub(crate) fn run_ranges(n: usize, f: impl Fn(Range<usize>) + Sync) {
    let pool = barrier_pool();
    let threads = pool.n_workers() + 1;
    if n <= 1 || threads == 1 || IN_DISPATCH.get() {
        f(0..n);
        return;
    }
    let cursor = AtomicUsize::new(0);
    pool.execute(|_| {
        let _restore = Restore(IN_DISPATCH.replace(true));
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

/// Puts back the thread's previous [`IN_DISPATCH`] when dropped, also when an item panics.
struct Restore(bool);

impl Drop for Restore {
    fn drop(&mut self) {
        IN_DISPATCH.set(self.0);
    }
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

/// Elements per chunk of [`for_row_chunks`]: a dispatch costs a few microseconds, which a
/// chunk of this size repays.
const CHUNK_ELEMENTS: usize = 1 << 15;

/// Runs `f(first row, chunk)` over `data` (rows of `width`) cut into chunks of whole rows: on
/// the pool when there is more than one chunk's work (a prompt's rows), inline otherwise (a
/// decode step's).
pub(crate) fn for_row_chunks<T: Send>(data: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let per = (CHUNK_ELEMENTS / width.max(1)).max(1);
    if data.len() <= per * width {
        f(0, data);
        return;
    }
    let chunks: Vec<Mutex<(usize, &mut [T])>> = data
        .chunks_mut(per * width)
        .enumerate()
        .map(|(i, chunk)| Mutex::new((i * per, chunk)))
        .collect();
    run_ranges(chunks.len(), |range| {
        for chunk in &chunks[range] {
            // Each chunk is taken by exactly one call; the lock is never contended.
            if let Ok(mut chunk) = chunk.lock() {
                let (row, data) = &mut *chunk;
                f(*row, data);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_also_when_nested() {
        let seen = Mutex::new(vec![0u32; 100 * 7]);
        run_ranges(100, |outer| {
            for i in outer {
                // A dispatch inside a dispatch runs inline instead of waiting for the pool.
                run_ranges(7, |inner| {
                    for j in inner {
                        seen.lock().unwrap()[i * 7 + j] += 1;
                    }
                });
            }
        });
        assert!(seen.into_inner().unwrap().iter().all(|&c| c == 1));
    }

    #[test]
    fn row_chunks_cover_every_row_once_with_its_index() {
        for (rows, width) in [(3, 4), (5000, 16), (1, 1 << 16), (0, 8)] {
            let mut data = vec![0usize; rows * width];
            for_row_chunks(&mut data, width, |first, chunk| {
                for (i, row) in chunk.chunks_exact_mut(width).enumerate() {
                    row.iter_mut().for_each(|v| *v += first + i + 1);
                }
            });
            let want: Vec<usize> = (0..rows).flat_map(|r| std::iter::repeat_n(r + 1, width)).collect();
            assert_eq!(data, want, "{rows} rows of {width}");
        }
    }

    #[test]
    fn jobs_see_their_own_item_indices() {
        let seen = Mutex::new(Vec::new());
        let record = |job: usize| {
            let seen = &seen;
            Box::new(move |r: Range<usize>| seen.lock().unwrap().extend(r.map(|i| (job, i))))
                as Box<dyn Fn(Range<usize>) + Sync>
        };
        run_jobs(&[(3, record(0)), (0, record(1)), (5, record(2))]);
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let want: Vec<(usize, usize)> = (0..3).map(|i| (0, i)).chain((0..5).map(|i| (2, i))).collect();
        assert_eq!(seen, want);
    }
}
