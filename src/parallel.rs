//! A map over many containers with a bounded number of runtime calls in
//! flight (std threads, no async runtime): `stats` samples and `stop`'s
//! signals and waits go through it, so fifty containers never mean fifty
//! runtimes started at once on a small machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many calls `stats` and `stop` have in flight at most.
pub const RUNTIME_CALLS: usize = 8;

/// `f` applied to every item, at most `parallel` at a time; the results in
/// the order of `items`.
pub fn map<T: Sync, R: Send>(items: &[T], parallel: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let workers = parallel.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = f(item);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..50).collect();
        assert_eq!(
            super::map(&items, 4, |n| n * 2),
            (0..50).map(|n| n * 2).collect::<Vec<_>>()
        );
        assert!(super::map(&[] as &[u32], 4, |n| *n).is_empty());
    }
}
