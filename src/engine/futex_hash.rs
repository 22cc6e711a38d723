//! Sizes the kernel's futex hash for this process to the threads a run parks. Every host in flight parks a
//! thread on a futex for each round trip and is woken when the answer comes; Linux (6.16 and later) gives a
//! process a private futex hash sized by its CPUs, not its threads — 16 slots on a 2-core machine — so with 3000
//! parked threads each wake-up walks a chain of ~200 waiters. That was the growth of controller CPU per
//! host-task with the fleet (perf: `futex_wake` 0.4 % of the CPU at 100 hosts, 8.3 % at 3000; bench/RESULTS.md).
//! On kernels without the setting the request is refused and nothing changes.

/// `prctl` option and command (linux/prctl.h, Linux 6.16).
const PR_FUTEX_HASH: libc::c_int = 78;
const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;

/// The kernel's limit for one process's hash is larger; past this, chains are short for any fleet one controller
/// drives.
const MAX_SLOTS: usize = 16 * 1024;

/// Asks for about two slots per thread the run may park (`threads`), as a power of two.
pub fn size_for(threads: usize) {
    let slots = (2 * threads).next_power_of_two().clamp(16, MAX_SLOTS);
    // SAFETY: prctl with integer arguments only; an unknown option or a refused size returns -1 and changes
    // nothing.
    unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            slots as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}
