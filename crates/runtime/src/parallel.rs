//! Large GEMMs split over `n` threads: the calling thread and `n - 1`
//! persistent helpers, off by default.
//!
//! Helpers are started once and kept: spawning a thread per product costs
//! tens of microseconds, as much as the products of an N4-sized step take. A
//! large product is split into blocks of whole output columns (when `C` is at
//! least as wide as it is tall, so each thread packs only its own part of the
//! larger `B`, unless `C` is large and `k` one depth slice) or rows ([`Out::split_cols`], [`Out::split_rows`]: disjoint),
//! one per thread, each computed by the same kernel with the thread's own
//! packing buffer. Every element of `C` is computed by the same sequence of
//! operations whichever block holds it (the depth slicing depends only on
//! `k`, never on the split), so the result is bit-identical to one thread.
//!
//! The handoff is one `AtomicPtr` per helper to a job on the caller's stack:
//! the caller publishes the jobs and wakes the helpers, each of which claims
//! its job by swapping in a marker. After its own block the caller takes back
//! every job not yet claimed (a busy machine may not schedule a helper soon)
//! and runs it itself; for the others it waits until the helper stores null.
//! A drop guard does the same if the caller's block panics, so everything the
//! jobs borrow outlives its use. An idle helper spins briefly (the next
//! product of a training step follows within microseconds), then parks. Only
//! one caller uses the helpers at a time; a second thread that finds them busy
//! computes its product alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::{Elem, Isa, Out, Plan, Strided};

/// Products with fewer multiply-adds stay on one thread: waking a helper and
/// packing `A` once more cost a few microseconds.
pub const MIN_MACS: usize = 1 << 20;
/// The most threads [`set_threads`] uses.
pub const MAX_THREADS: usize = 64;
const HELPERS: usize = MAX_THREADS - 1;
/// One-slice products with at least this many elements of `C` are split by
/// rows (see `gemm_parts`).
const ROWS_MIN: usize = 1 << 19;
/// How long an idle helper spins before parking.
const SPIN: Duration = Duration::from_micros(100);

/// Configured thread count; `UNSET` until [`set_threads`] or the first read of
/// `GRADC_THREADS`.
static THREADS: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;

/// Helper `i` (`None` if it could not be spawned).
static POOL: [OnceLock<Option<Thread>>; HELPERS] = [const { OnceLock::new() }; HELPERS];
/// Per helper: null (no job), a pending job, or [`taken`] while it runs one.
static SLOTS: [AtomicPtr<Job>; HELPERS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; HELPERS];

/// The marker for "the helper is running the job": never a `Job`'s address.
fn taken() -> *mut Job {
    std::ptr::dangling_mut()
}
/// Held by the one caller currently using the helpers.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Sets how many threads large GEMMs use: `n` (0 means 1, at most
/// [`MAX_THREADS`]). Turning threads on starts the helper threads that do not
/// exist yet (each once per process). Returns the count now in effect: fewer
/// if a helper could not be started.
///
/// Without a call, the environment variable `GRADC_THREADS` (read once, on the
/// first large product) sets the count the same way.
///
/// Only products of at least [`MIN_MACS`] multiply-adds are split, so small
/// networks are unaffected; results are bit-identical to one thread. Worth it
/// for networks of width 256 and more on a machine with spare cores; on a busy
/// machine the helpers only wait.
pub fn set_threads(n: usize) -> usize {
    let want = n.clamp(1, MAX_THREADS);
    let got = 1 + (0..want - 1).take_while(|&i| helper(i).is_some()).count();
    THREADS.store(got, Ordering::Relaxed);
    got
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

/// Per helper: set once it has allocated its packing buffers.
static READY: [AtomicBool; HELPERS] = [const { AtomicBool::new(false) }; HELPERS];

fn helper(i: usize) -> Option<&'static Thread> {
    POOL[i]
        .get_or_init(|| {
            let h = std::thread::Builder::new()
                .name(format!("gradc-gemm-{}", i + 1))
                .spawn(move || helper_loop(i))
                .ok()?;
            // Wait for its allocations, so that none happens later, during
            // a product (a training step allocates nothing after warm-up).
            while !READY[i].load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            Some(h.thread().clone())
        })
        .as_ref()
}

/// A job on the caller's stack: `run(data)` runs one block.
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

fn helper_loop(i: usize) {
    // The packing buffers now, so that no product allocates on this thread.
    f32::with_pack(|_| ());
    f64::with_pack(|_| ());
    READY[i].store(true, Ordering::Release);
    let slot = &SLOTS[i];
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
        let job = slot.load(Ordering::Acquire);
        if job.is_null()
            || job == taken()
            || slot
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
        // caller cannot take it back and stays blocked in `run_parts` until we
        // store null below; its `data` is the `Option<F>` that `run` expects,
        // untouched by the caller meanwhile.
        let job = unsafe { &*job };
        // SAFETY: as above.
        if catch_unwind(AssertUnwindSafe(|| unsafe { (job.run)(job.data) })).is_err() {
            job.panicked.store(true, Ordering::Relaxed);
        }
        // Release: the caller sees our writes to its block of `C`. `job` is
        // not touched after this store.
        slot.store(std::ptr::null_mut(), Ordering::Release);
        idle_since = Instant::now();
        spins = 0;
    }
}

/// Takes back every published job a helper has not claimed, waits for the
/// helpers to finish the others, then frees the helpers. Also while unwinding.
struct Wait<'j> {
    jobs: &'j [Job],
    /// Jobs `..published` went to helpers `..published`.
    published: usize,
    /// Which of them came back unrun.
    reclaimed: [bool; HELPERS],
    held: bool,
}

impl Wait<'_> {
    fn finish(&mut self) {
        if !self.held {
            return;
        }
        for (i, (job, slot)) in self.jobs[..self.published].iter().zip(&SLOTS).enumerate() {
            let ptr = (job as *const Job).cast_mut();
            self.reclaimed[i] = slot
                .compare_exchange(
                    ptr,
                    std::ptr::null_mut(),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok();
            let mut spins = 0u32;
            while !slot.load(Ordering::Acquire).is_null() {
                spins = spins.saturating_add(1);
                if spins < 1 << 14 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        self.held = false;
        BUSY.store(false, Ordering::Release);
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.finish()
    }
}

/// Runs `fs[0]` here and `fs[1..]` on helpers `0..`; a job a helper has not
/// claimed by the time this thread finished its own runs here afterwards.
/// Returns how many jobs the helpers ran: 0, all run here, if a helper is
/// missing or the helpers are busy.
fn run_parts<F: FnOnce() + Send>(fs: &mut [Option<F>]) -> usize {
    let helpers = fs.len().saturating_sub(1).min(HELPERS);
    let available = (0..helpers).all(|i| helper(i).is_some());
    if helpers == 0
        || !available
        || BUSY
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        for f in fs.iter_mut() {
            if let Some(f) = f.take() {
                f()
            }
        }
        return 0;
    }
    let Some((first, rest)) = fs.split_first_mut() else {
        return 0;
    };
    let mut data = rest.iter_mut();
    let jobs: [Job; HELPERS] = std::array::from_fn(|_| Job {
        run: call::<F>,
        data: data
            .next()
            .map_or(std::ptr::null_mut(), |f| (f as *mut Option<F>).cast()),
        panicked: AtomicBool::new(false),
    });
    // From here until `wait` finishes, helpers may use `jobs` and `rest`; both
    // outlive `wait`, which waits for them even while unwinding.
    let mut wait = Wait {
        jobs: &jobs,
        published: 0,
        reclaimed: [false; HELPERS],
        held: true,
    };
    for (i, job) in jobs[..helpers].iter().enumerate() {
        SLOTS[i].store((job as *const Job).cast_mut(), Ordering::Release);
        wait.published = i + 1;
        if let Some(h) = helper(i) {
            h.unpark();
        }
    }
    if let Some(f) = first.take() {
        f()
    }
    wait.finish();
    let mut ran = 0;
    for (f, &back) in rest.iter_mut().zip(&wait.reclaimed) {
        match f.take() {
            Some(f) if back => f(),
            _ => ran += 1,
        }
    }
    if jobs.iter().any(|j| j.panicked.load(Ordering::Relaxed)) {
        panic!("gradc-runtime: a GEMM helper thread panicked (operand shorter than its shape?)");
    }
    ran
}

/// The GEMM entry points' body: split over the configured threads when the
/// product is large enough, else one call.
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
    let large = m.saturating_mul(n).saturating_mul(k) >= MIN_MACS;
    let t = if large { threads() } else { 1 };
    gemm_parts(t, m, n, k, a, b, c, acc, isa, Plan::Auto);
}

/// [`crate::gemm_with`] split over `t` threads whatever the size (tests,
/// benchmarks), starting helpers as needed: returns how many threads computed
/// a block (1 when the product has a single row and column, when the helpers
/// are busy or missing, or when none picked up its block before this thread
/// finished its own). Does not consult [`set_threads`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_threads<T: Elem>(
    t: usize,
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
) -> usize {
    gemm_parts(t, m, n, k, a, b, c, acc, isa, Plan::Auto)
}

/// [`gemm_threads`] with two threads.
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
    gemm_threads(2, isa, m, n, k, a, b, c, acc)
}

/// `x` from element `by` on: the view of the block that starts there.
fn shift<T>(x: Strided<'_, T>, by: usize) -> Strided<'_, T> {
    Strided {
        data: &x.data[by..],
        ..x
    }
}

/// `C` in at most `t` blocks of whole columns (if `n ≥ m`) or rows, block `i`
/// on thread `i`; returns how many threads computed a block.
#[allow(clippy::too_many_arguments)]
fn gemm_parts<T: Elem>(
    t: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: &mut [T],
    acc: bool,
    isa: Isa,
    plan: Plan,
) -> usize {
    let out = Out::new(c, m, n);
    // A one-slice product with a large `C` (a weight gradient) is split by
    // rows even when `C` is wide: each thread then writes whole rows, one
    // contiguous range of memory, and its `B` (`k × n`, small) is packed on
    // both threads at little cost. N6's 4096×4096×64 product ran 1.5× as
    // fast on two threads split by columns, 2.1× by rows; N5's 1024×1024×64
    // (blocked since its `A` is transposed) 245-258 GFLOP/s by columns,
    // 276-304 by rows.
    let by_cols = n >= m && !(k <= crate::KC && m.saturating_mul(n) >= ROWS_MIN);
    let dim = if by_cols { n } else { m };
    let t = t.clamp(1, MAX_THREADS).min(dim.max(1));
    if t == 1 || k == 0 {
        T::gemm_dispatch(m, n, k, a, b, out, acc, isa, plan);
        return 1;
    }
    // Blocks of whole `B` panels (or `A` tiles) when there are enough.
    let unit = if by_cols { 32 } else { 16 };
    let unit = if dim >= t * unit { unit } else { 1 };
    let cut = |i: usize| {
        if i == t {
            dim
        } else {
            dim * i / t / unit * unit
        }
    };
    let mut rest = Some(out);
    // Slicing here, before the handoff, so a short `A` or `B` panics on this
    // thread.
    let mut fs: [Option<_>; MAX_THREADS] = std::array::from_fn(|i| {
        if i >= t {
            return None;
        }
        let (lo, hi) = (cut(i), cut(i + 1));
        let (mine, others) = if by_cols {
            rest.take()?.split_cols(hi - lo)
        } else {
            rest.take()?.split_rows(hi - lo)
        };
        rest = Some(others);
        let (a, b, pm, pn) = if by_cols {
            (a, shift(b, lo * b.cs), m, hi - lo)
        } else {
            (shift(a, lo * a.rs), b, hi - lo, n)
        };
        Some(move || T::gemm_dispatch(pm, pn, k, a, b, mine, acc, isa, plan))
    });
    1 + run_parts(&mut fs[..t])
}
