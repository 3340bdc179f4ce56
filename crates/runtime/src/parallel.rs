//! Optional two-thread GEMM, off by default.
//!
//! One helper thread, started once and kept: spawning a thread per product
//! costs tens of microseconds, as much as the products of an N4-sized step
//! take. A large product is split by rows of `C` (`split_at_mut`, so the halves
//! are disjoint): the calling thread computes the top half, the helper the
//! bottom half, each through the same kernel with its own stack scratch. Every
//! element of `C` is computed by the same sequence of operations whichever
//! half holds it (the depth slicing depends only on `k`), so the result is
//! bit-identical to one thread.
//!
//! The handoff is one `AtomicPtr` to a job on the caller's stack: the caller
//! publishes it and wakes the helper, which claims it by swapping in a marker.
//! After its own half the caller takes the job back if the helper has not
//! claimed it yet (a busy machine may not schedule the helper soon) and runs
//! it itself; otherwise it waits until the helper stores null. A drop guard
//! does the same if the caller's half panics, so everything the job borrows
//! outlives its use. An idle helper spins briefly (the next product of a
//! training step follows within microseconds), then parks. Only one caller
//! uses the helper at a time; a second thread that finds it busy computes its
//! product alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::{Elem, Isa, Strided};

/// Products with fewer multiply-adds stay on one thread: waking the helper
/// and the second packing of `B` cost a few microseconds.
pub const MIN_MACS: usize = 1 << 20;
/// Fewer rows than this: no split (halves would be thinner than a tile).
const MIN_ROWS: usize = 16;
/// How long an idle helper spins before parking.
const SPIN: Duration = Duration::from_micros(100);

/// Configured thread count; `UNSET` until [`set_threads`] or the first read of
/// `GRADC_THREADS`.
static THREADS: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;

/// The helper thread (`None` if it could not be spawned).
static HELPER: OnceLock<Option<Thread>> = OnceLock::new();
/// Null (no job), a pending job, or [`taken`] while the helper runs one.
static SLOT: AtomicPtr<Job> = AtomicPtr::new(std::ptr::null_mut());

/// The marker for "the helper is running the job": never a `Job`'s address.
fn taken() -> *mut Job {
    std::ptr::dangling_mut()
}
/// Held by the one caller currently using the helper.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Sets how many threads large GEMMs use: 1 (the default) or 2; larger values
/// are clamped to 2, 0 means 1. Turning threads on starts the helper thread
/// (once per process). Returns the count now in effect: 1 if the helper could
/// not be started.
///
/// Without a call, the environment variable `GRADC_THREADS` (read once, on the
/// first large product) sets the count the same way.
///
/// Only products of at least [`MIN_MACS`] multiply-adds with at least 16 rows
/// are split, so small networks are unaffected; results are bit-identical to
/// one thread. Worth it for N4-sized networks (784-256-128-10, batch 128) on a
/// machine with a spare core; on a busy machine the second thread only waits.
pub fn set_threads(n: usize) -> usize {
    let n = n.clamp(1, 2);
    let n = if n == 2 && helper().is_none() { 1 } else { n };
    THREADS.store(n, Ordering::Relaxed);
    n
}

/// The thread count large GEMMs use now (see [`set_threads`]).
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        UNSET => {
            let n = std::env::var("GRADC_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(1);
            set_threads(n)
        }
        n => n,
    }
}

fn helper() -> Option<&'static Thread> {
    HELPER
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("gradc-gemm".into())
                .spawn(helper_loop)
                .ok()
                .map(|h| h.thread().clone())
        })
        .as_ref()
}

/// A job on the caller's stack: `run(data)` runs the helper's half.
struct Job {
    run: unsafe fn(*mut ()),
    data: *mut (),
    panicked: AtomicBool,
}

/// Runs `*data` as an `Option<F>`, taking the closure out.
///
/// # Safety
/// `data` points to a live `Option<F>` that nothing else accesses meanwhile.
unsafe fn call<F: FnOnce()>(data: *mut ()) {
    // SAFETY: the caller's contract.
    let f = unsafe { &mut *data.cast::<Option<F>>() };
    if let Some(f) = f.take() {
        f()
    }
}

fn helper_loop() {
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
        let job = SLOT.load(Ordering::Acquire);
        if job.is_null()
            || job == taken()
            || SLOT
                .compare_exchange(job, taken(), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) || idle_since.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                // A job published before this park unparks it (the token
                // stays set), so no wake-up is lost.
                std::thread::park();
            }
            continue;
        }
        // SAFETY: we swapped a pending job's address for the marker, so its
        // caller cannot take it back and stays blocked in `split` until we
        // store null below; its `data` is the `Option<F>` that `run` expects,
        // untouched by the caller meanwhile.
        let job = unsafe { &*job };
        // SAFETY: as above.
        if catch_unwind(AssertUnwindSafe(|| unsafe { (job.run)(job.data) })).is_err() {
            job.panicked.store(true, Ordering::Relaxed);
        }
        // Release: the caller sees our writes to its half of `C`. `job` is
        // not touched after this store.
        SLOT.store(std::ptr::null_mut(), Ordering::Release);
        idle_since = Instant::now();
        spins = 0;
    }
}

/// Takes the job back if the helper has not claimed it, else waits for the
/// helper to finish it; then frees the helper. Also while unwinding.
struct Wait {
    job: *mut Job,
    /// Whether the job came back unrun.
    reclaimed: bool,
}

impl Wait {
    fn finish(&mut self) {
        if self.job.is_null() {
            return;
        }
        self.reclaimed = SLOT
            .compare_exchange(
                self.job,
                std::ptr::null_mut(),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok();
        self.job = std::ptr::null_mut();
        let mut spins = 0u32;
        while !SLOT.load(Ordering::Acquire).is_null() {
            spins = spins.saturating_add(1);
            if spins < 1 << 14 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        BUSY.store(false, Ordering::Release);
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.finish()
    }
}

/// Runs `theirs` on the helper and `ours` here, returning when both are done
/// and whether the helper ran `theirs` (else this thread did, after `ours`);
/// `Err(theirs)` (nothing run) if the helper is missing or busy.
fn split<F: FnOnce() + Send>(theirs: F, ours: impl FnOnce()) -> Result<bool, F> {
    let Some(helper) = helper() else {
        return Err(theirs);
    };
    if BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(theirs);
    }
    let mut theirs = Some(theirs);
    let job = Job {
        run: call::<F>,
        data: (&mut theirs as *mut Option<F>).cast(),
        panicked: AtomicBool::new(false),
    };
    let ptr = (&job as *const Job).cast_mut();
    // From here until `wait` finishes the helper may use `job` and `theirs`;
    // both live in this frame, which `wait` keeps alive.
    let mut wait = Wait {
        job: ptr,
        reclaimed: false,
    };
    SLOT.store(ptr, Ordering::Release);
    helper.unpark();
    ours();
    wait.finish();
    if wait.reclaimed {
        if let Some(f) = theirs.take() {
            f()
        }
    }
    if job.panicked.load(Ordering::Relaxed) {
        panic!("gradc-runtime: the GEMM helper thread panicked (operand shorter than its shape?)");
    }
    Ok(!wait.reclaimed)
}

/// The GEMM entry points' body: split over two threads when configured and
/// the product is large enough, else one call.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn gemm<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
    isa: Isa,
) {
    let large = m >= MIN_ROWS && m.saturating_mul(n).saturating_mul(k) >= MIN_MACS;
    if !(large && threads() > 1 && gemm_split(m, n, k, a, b, c, acc, isa).is_some()) {
        T::gemm_dispatch(m, n, k, a, b, c, acc, isa)
    }
}

/// [`crate::gemm_with`] split in two row blocks whatever the size (tests,
/// benchmarks): returns how many threads computed it (1 when `m < 2`, when the
/// helper is busy or missing, or when it did not pick up its half before this
/// thread finished its own). Does not consult [`set_threads`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_two_threads<T: Elem>(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
) -> usize {
    match (m >= 2)
        .then(|| gemm_split(m, n, k, a, b, c, acc, isa))
        .flatten()
    {
        Some(true) => 2,
        Some(false) => 1,
        None => {
            T::gemm_dispatch(m, n, k, a, b, c, acc, isa);
            1
        }
    }
}

/// Rows `..mid` here, `mid..` on the helper: `None` if not run, else whether
/// the helper computed its half.
#[allow(clippy::too_many_arguments)]
fn gemm_split<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
    isa: Isa,
) -> Option<bool> {
    // A multiple of 8 rows (the AVX-512 tile height) when there are enough.
    let mid = if m >= MIN_ROWS {
        (m / 2 + 4) / 8 * 8
    } else {
        m / 2
    };
    // Slicing here, before the handoff, so a short `C` or `A` panics on this
    // thread; `k == 0` reads nothing from `A`.
    let (top, bottom) = c[..m * n].split_at_mut(mid * n);
    let a_bottom = Strided {
        data: if k == 0 {
            a.data
        } else {
            &a.data[mid * a.rs..]
        },
        ..a
    };
    let theirs = move || T::gemm_dispatch(m - mid, n, k, a_bottom, b, bottom, acc, isa);
    split(theirs, || T::gemm_dispatch(mid, n, k, a, b, top, acc, isa)).ok()
}
