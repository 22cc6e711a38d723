//! The threads host closures run on, kept for the whole run. A host closure is synchronous Rhai: while its
//! command runs on the host, the closure's thread waits for the answer, so every host in flight needs a thread
//! of its own. Starting one per host and task cost a thread start and exit each time (clone, fresh stack pages,
//! munmap: ~15 % of the controller's CPU in the 1000-host profile, bench/RESULTS.md); the pool starts threads
//! only while hosts are waiting for one, never more than `-f`, and keeps them for the tasks that follow.
//!
//! Threads are added one at a time, and only while a host of the batch is still waiting: where round trips are
//! short, the first threads finish hosts about as fast as new ones would start, so the pool settles near the
//! concurrency the hosts need instead of at `-f` (each thread keeps the stack pages it touched). Where commands
//! are long, every waiting host gets a thread, up to `-f`, as before.
//!
//! The thread that hands a batch over works on it too, and waits until every host of the batch has returned,
//! which is what lets a job borrow the caller's data (the Rhai call context, the batch) as a scoped thread would,
//! and lets a closure that runs a task of its own (a nested batch) never wait for a thread the pool cannot give.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

/// One host's work, type-erased to `'static` (see [`HostPool::run_all`] for why that holds).
type Job = Box<dyn FnOnce() + Send + 'static>;

pub struct HostPool {
    shared: Arc<Shared>,
    /// Threads of its own: one less than the hosts that may run at once, the thread handing a batch over being
    /// the other (with `-f 1` it runs every host itself, one after the other).
    max_threads: usize,
    stack_size: usize,
}

struct Shared {
    state: Mutex<PoolState>,
    /// Signalled when jobs are queued or the pool closes.
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    closing: bool,
}

/// How many jobs of one `run_all` have not returned yet, and the first panic among them.
struct Latch {
    left: Mutex<(usize, Option<Box<dyn Any + Send>>)>,
    done: Condvar,
}

/// Counts its job as returned when dropped: also when the job panicked, so the caller never waits forever.
struct CountDown(Arc<Latch>);

impl Drop for CountDown {
    fn drop(&mut self) {
        let mut left = self.0.left.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        left.0 -= 1;
        if left.0 == 0 {
            self.0.done.notify_all();
        }
    }
}

impl HostPool {
    /// A pool that runs at most `concurrency` jobs at once (`-f`), counting the caller of [`HostPool::run_all`].
    pub fn new(concurrency: usize, stack_size: usize) -> HostPool {
        HostPool {
            shared: Arc::new(Shared {
                state: Mutex::new(PoolState { jobs: VecDeque::new(), threads: 0, idle: 0, closing: false }),
                work: Condvar::new(),
            }),
            max_threads: concurrency.max(1) - 1,
            stack_size,
        }
    }

    /// Runs `job(0)` .. `job(count - 1)`, each once, on the pool's threads and this one; returns when all have
    /// returned. A panic in a job is raised again here, after the others have finished.
    pub fn run_all(&self, count: usize, job: &(dyn Fn(usize) + Sync)) {
        if count == 0 {
            return;
        }
        let latch = Arc::new(Latch { left: Mutex::new((count, None)), done: Condvar::new() });
        // SAFETY: the jobs only borrow `job` (and what it borrows), and this function does not return before
        // every job has returned or unwound: each holds a `CountDown` that is dropped when it ends, and the
        // wait below lasts until the count is zero. No job is dropped unrun either: the queue is only emptied
        // by running its jobs (the pool closes only when dropped, and `&self` keeps it alive until then).
        let job: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(job) };
        {
            let mut state = self.shared.state.lock().unwrap();
            for index in 0..count {
                let count_down = CountDown(latch.clone());
                state.jobs.push_back(Box::new(move || {
                    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(index))) {
                        count_down
                            .0
                            .left
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .1
                            .get_or_insert(panic);
                    }
                    drop(count_down);
                }));
            }
            for _ in 0..state.idle.min(count) {
                self.shared.work.notify_one();
            }
        }
        self.add_threads_while_jobs_wait();
        // Work on the batch too, then wait for the jobs other threads took.
        loop {
            // Its own statement: the lock must be released before the job runs.
            let next = self.shared.state.lock().unwrap().jobs.pop_front();
            let Some(job) = next else { break };
            job();
        }
        let mut left = latch.left.lock().unwrap();
        while left.0 > 0 {
            left = latch.done.wait(left).unwrap();
        }
        if let Some(panic) = left.1.take() {
            drop(left);
            std::panic::resume_unwind(panic);
        }
    }

    /// Starts threads one by one while more jobs wait than idle threads can take, up to the pool's size. A
    /// thread the system refuses stops the growth; the jobs are then worked by the threads there are.
    fn add_threads_while_jobs_wait(&self) {
        loop {
            {
                let mut state = self.shared.state.lock().unwrap();
                if state.jobs.len() <= state.idle || state.threads >= self.max_threads {
                    return;
                }
                state.threads += 1;
            }
            let shared = self.shared.clone();
            let started = std::thread::Builder::new()
                .name("host".into())
                .stack_size(self.stack_size)
                .spawn(move || work(&shared));
            if started.is_err() {
                self.shared.state.lock().unwrap().threads -= 1;
                return;
            }
        }
    }
}

/// A pool thread: takes jobs until the pool closes. Before it waits for more, it gives back the stack pages its
/// jobs touched (see [`release_unused_stack`]).
fn work(shared: &Shared) {
    let mut released = true;
    loop {
        let mut state = shared.state.lock().unwrap();
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            released = false;
            continue;
        }
        if state.closing {
            state.threads -= 1;
            return;
        }
        if !released {
            drop(state);
            release_unused_stack();
            released = true;
            continue;
        }
        state.idle += 1;
        let mut state = shared.work.wait(state).unwrap();
        state.idle -= 1;
    }
}

/// Hands the pages of this thread's stack below the current frame back to the system. A host closure goes
/// deep (Rhai's evaluator, a primitive, the wait on the SSH answer) and a thread that then waits keeps every
/// page it touched: a thread per host and task gave them back at its exit, a kept thread must do it itself, or
/// a 3000-host run keeps ~50 KiB per thread it ever needed. The pages come back zeroed on the next touch.
fn release_unused_stack() {
    // Below this much under the current frame nothing is live: only the call into libc's madvise wrapper runs
    // below it (the kernel works on its own stack). A page more would be kept by every idle thread: 3000 of
    // them kept ~18 KiB each with 16 KiB here.
    const KEEP: usize = 4 * 1024;
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread, which is destroyed after reading; the
    // range given to madvise lies inside this thread's own stack mapping and below the live frames (the stack
    // grows down from `low + size`), and MADV_DONTNEED on anonymous memory only drops pages that are unused.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return;
        }
        let mut low: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let read = libc::pthread_attr_getstack(&attr, &mut low, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if read != 0 {
            return;
        }
        let here = &low as *const _ as usize;
        let page = 4096;
        let low = (low as usize).div_ceil(page) * page;
        let end = here.saturating_sub(KEEP) & !(page - 1);
        if end > low {
            libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
        }
    }
}

impl Drop for HostPool {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.closing = true;
        self.shared.work.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_job_runs_once_and_the_caller_waits_for_all() {
        let pool = HostPool::new(8, 64 * 1024);
        let ran: Vec<AtomicUsize> = (0..100).map(|_| AtomicUsize::new(0)).collect();
        pool.run_all(100, &|index| {
            std::thread::sleep(Duration::from_millis(1));
            ran[index].fetch_add(1, Ordering::SeqCst);
        });
        assert!(ran.iter().all(|count| count.load(Ordering::SeqCst) == 1));
    }

    #[test]
    fn threads_are_kept_for_the_next_batch_and_never_exceed_the_size() {
        let pool = HostPool::new(4, 64 * 1024);
        let busy = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let job = |_| {
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            busy.fetch_sub(1, Ordering::SeqCst);
        };
        pool.run_all(12, &job);
        let threads = pool.shared.state.lock().unwrap().threads;
        assert!(threads <= 3, "{threads} threads for 4 at once: the caller is the fourth");
        assert!(most.load(Ordering::SeqCst) <= 4);
        pool.run_all(12, &job);
        assert_eq!(pool.shared.state.lock().unwrap().threads, threads, "the second batch started threads again");
    }

    /// Pages of the stack mapping that holds `address`, resident now (from /proc/self/smaps).
    fn resident_kib(address: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
            {
                inside = (start..end).contains(&address);
            } else if inside && let Some(rss) = line.strip_prefix("Rss:") {
                return rss.trim().trim_end_matches("kB").trim().parse().unwrap();
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    #[inline(never)]
    fn go_deep() -> usize {
        let mut deep = [0u8; 512 * 1024];
        std::hint::black_box(&mut deep);
        deep.as_ptr() as usize
    }

    #[test]
    fn an_idle_thread_gives_back_the_stack_its_job_touched() {
        let pool = HostPool::new(2, 2 * 1024 * 1024);
        let caller = std::thread::current().id();
        let both_running = std::sync::Barrier::new(2);
        let on_pool_thread = Mutex::new(None);
        pool.run_all(2, &|_| {
            both_running.wait();
            let deep = go_deep();
            if std::thread::current().id() != caller {
                *on_pool_thread.lock().unwrap() = Some((deep, resident_kib(deep)));
            }
        });
        let (deep, while_working) = on_pool_thread.lock().unwrap().expect("one job ran on the pool's thread");
        assert!(while_working >= 512, "the job touched only {while_working} KiB");
        let waited = std::time::Instant::now();
        let mut kept = resident_kib(deep);
        while kept > 32 && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
            kept = resident_kib(deep);
        }
        assert!(kept <= 32, "an idle thread keeps {kept} KiB of stack");
    }

    #[test]
    fn one_at_a_time_runs_every_job_on_the_callers_thread_in_order() {
        let pool = HostPool::new(1, 64 * 1024);
        let caller = std::thread::current().id();
        let order = Mutex::new(Vec::new());
        pool.run_all(5, &|index| {
            assert_eq!(std::thread::current().id(), caller);
            order.lock().unwrap().push(index);
        });
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(pool.shared.state.lock().unwrap().threads, 0);
    }

    #[test]
    fn a_job_that_runs_a_batch_of_its_own_does_not_wait_for_a_thread() {
        // One thread and a caller: both jobs start nested batches; the waiting threads work them themselves.
        let pool = HostPool::new(2, 256 * 1024);
        let inner = AtomicUsize::new(0);
        pool.run_all(2, &|_| {
            pool.run_all(3, &|_| {
                inner.fetch_add(1, Ordering::SeqCst);
            });
        });
        assert_eq!(inner.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn a_panicking_job_is_raised_in_the_caller_after_the_others_ran() {
        let pool = HostPool::new(2, 64 * 1024);
        let ran = AtomicUsize::new(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run_all(10, &|index| {
                if index == 3 {
                    panic!("job 3");
                }
                ran.fetch_add(1, Ordering::SeqCst);
            })
        }));
        assert!(caught.is_err());
        assert_eq!(ran.load(Ordering::SeqCst), 9);
        // The pool still works.
        pool.run_all(3, &|_| {
            ran.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 12);
    }
}
