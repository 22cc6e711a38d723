//! glibc's per-thread malloc caches, kept small for the commands that run a thread per host.
//!
//! glibc gives every thread a cache of freed chunks (the tcache: up to 7 chunks of each size up to 1032
//! bytes). `run` and `exec` keep a thread per host in flight, and a host thread frees what the SSH runtime's
//! threads allocated (each answer's bytes), so at 3000 hosts those caches held ~30 MB that no other thread
//! could use, ~10 KiB per host (bench/RESULTS.md). Caching only chunks of up to 128 bytes keeps the fast path
//! for the small allocations a script makes and hands larger chunks back to the shared arenas; the CPU cost
//! was within the noise. glibc reads this only when a process starts (GLIBC_TUNABLES, there is no call for
//! it), so these commands start themselves once more with it set, before anything else happens, and then take
//! it out of their environment so that what a run starts (local commands, a ProxyCommand) does not inherit
//! it. A GLIBC_TUNABLES the user set is left as it is.

/// Chunks larger than this go back to the arenas instead of the freeing thread's cache.
pub const TUNABLES: &str = "glibc.malloc.tcache_max=128";

/// Set on the second start, so that it is the last.
const RESTARTED: &str = "RUNBOOK_MALLOC_TUNED";

/// Starts this process again with [`TUNABLES`] unless it already has them (or the user's); returns only when
/// the process goes on as it is. Must be called before any thread starts.
pub fn restart_with_small_thread_caches() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(RESTARTED).is_some() {
            // SAFETY: no other thread runs yet (the caller's contract), so nothing reads the environment
            // while it changes.
            unsafe {
                std::env::remove_var(RESTARTED);
                std::env::remove_var("GLIBC_TUNABLES");
            }
            return;
        }
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let mut args = std::env::args_os();
        let program_name = args.next().unwrap_or_default();
        // /proc/self/exe is this very binary even if its file was replaced since (an upgrade, a rebuild).
        let _cannot_restart = std::process::Command::new("/proc/self/exe")
            .arg0(program_name)
            .args(args)
            .env("GLIBC_TUNABLES", TUNABLES)
            .env(RESTARTED, "1")
            .exec();
        // Going on without the tuning only costs memory on large fleets.
    }
}
