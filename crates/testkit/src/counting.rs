//! A global allocator that counts allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A global allocator that counts allocations, for tests that prove a call
/// allocates nothing: `#[global_allocator] static A: CountingAlloc =
/// CountingAlloc;`, then [`CountingAlloc::count`] (this thread) or
/// [`CountingAlloc::total`] (every thread) around the call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Allocations by every thread.
static TOTAL: AtomicU64 = AtomicU64::new(0);

impl CountingAlloc {
    /// Allocations (including reallocations) made by this thread so far.
    pub fn count() -> u64 {
        ALLOCS.with(|c| c.get())
    }

    /// Allocations (including reallocations) made by every thread of the
    /// process so far. Only meaningful while no other test runs: libtest runs
    /// the tests of one binary in parallel threads.
    pub fn total() -> u64 {
        TOTAL.load(Ordering::Relaxed)
    }

    fn bump() {
        TOTAL.fetch_add(1, Ordering::Relaxed);
        // `try_with`: during thread teardown the counter may be gone already.
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only an
// atomic and a const-initialised thread-local `Cell`, neither of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::bump();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}
