//! Spreading CPU-bound work over a few cores for the duration of one call.

/// At most this many threads (the caller's included) work on one call: a
/// phone's big cores, leaving the rest to the UI and the network.
const MAX_THREADS: usize = 4;

/// Fewer items than this per thread are not worth a thread.
const MIN_ITEMS_PER_THREAD: usize = 8;

/// `items.iter().map(f).collect()`, with contiguous slices of `items` mapped
/// on up to [`MAX_THREADS`] threads; results keep the order of `items`. The
/// calling thread takes the first slice. If the system refuses a thread, its
/// slice is mapped on the calling thread instead; a panic in `f` reaches the
/// caller as it would without threads.
pub(crate) fn map_on_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores
        .min(MAX_THREADS)
        .min(items.len() / MIN_ITEMS_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut slices = items.chunks(per_thread);
        let first = slices.next().unwrap_or(&[]);
        let helpers: Vec<_> = slices
            .map(|slice| {
                let spawned = std::thread::Builder::new()
                    .name("fieldvault-worker".into())
                    .spawn_scoped(scope, move || slice.iter().map(f).collect::<Vec<R>>());
                (slice, spawned.ok())
            })
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for (slice, helper) in helpers {
            match helper {
                Some(handle) => match handle.join() {
                    Ok(mapped) => out.extend(mapped),
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                None => out.extend(slice.iter().map(f)),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_for_any_length() {
        for len in [0, 1, 7, 16, 17, 100, 1001] {
            let items: Vec<usize> = (0..len).collect();
            let mapped = map_on_cores(&items, |i| i * 3);
            assert_eq!(
                mapped,
                items.iter().map(|i| i * 3).collect::<Vec<_>>(),
                "len {len}"
            );
        }
    }

    #[test]
    fn large_inputs_are_shared_between_threads_when_cores_allow() {
        let items: Vec<usize> = (0..256).collect();
        let names = map_on_cores(&items, |_| std::thread::current().id());
        let distinct: std::collections::HashSet<_> = names.into_iter().collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(distinct.len(), cores.min(MAX_THREADS));
    }

    #[test]
    fn a_panic_in_a_helper_thread_reaches_the_caller() {
        let items: Vec<usize> = (0..64).collect();
        let caught = std::panic::catch_unwind(|| {
            map_on_cores(&items, |&i| {
                assert!(i != 63, "item 63");
                i
            })
        });
        assert!(caught.is_err());
    }
}
