//! Changes to a directory, one at a time per process.

/// Held around every create, link, rename and unlink this process makes in the cache and in
/// `dest`. Each of them takes its directory's lock in the kernel, and threads that meet there
/// spin on it: profiling 1,000 small gems, the blocking pool's threads spent most of the
/// engine's CPU in `rwsem_spin_on_owner`, on a 2-core machine that also runs the network.
/// Queued here, a waiter sleeps instead; each change takes microseconds.
static DIRECTORY_CHANGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `change` (one or a few syscalls that change a directory) under [`DIRECTORY_CHANGES`].
pub(crate) fn changing_directory<T>(change: impl FnOnce() -> T) -> T {
    let _one_at_a_time = DIRECTORY_CHANGES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    change()
}
