//! Zero-filled values made directly on the heap. A network's `Params`,
//! `Grads` or `Inputs` can be far larger than a thread's stack, and
//! `Box::new(value)` builds `value` on the stack first in a debug build.

use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// Types for which every byte zero is a valid value: `f32`, `f64` (zero bytes
/// are `+0.0`) and arrays of them, nested to any depth.
///
/// # Safety
///
/// An implementation promises that a value whose bytes are all zero (padding
/// aside) is a valid value of the type: every field is itself `Zeroed`.
/// Generated code implements it for its structs with a `where` bound on every
/// field's type, so the compiler checks that promise.
pub unsafe trait Zeroed: Sized {}

// SAFETY: the all-zero bit pattern is the float `+0.0`.
unsafe impl Zeroed for f32 {}
// SAFETY: as above.
unsafe impl Zeroed for f64 {}
// SAFETY: an array has no bytes but its elements', each valid when zero.
unsafe impl<T: Zeroed, const N: usize> Zeroed for [T; N] {}

/// A `Box<T>` of zero bytes, allocated zeroed (`calloc`-like, so a large
/// value is not even written) without passing through the stack.
pub fn zeroed_boxed<T: Zeroed>() -> Box<T> {
    let layout = Layout::new::<T>();
    let ptr = if layout.size() == 0 {
        NonNull::<T>::dangling()
    } else {
        // SAFETY: the layout's size is not zero, the one requirement of `alloc_zeroed`.
        let raw = unsafe { alloc_zeroed(layout) };
        NonNull::new(raw.cast::<T>()).unwrap_or_else(|| handle_alloc_error(layout))
    };
    // SAFETY: `ptr` comes from the global allocator with `T`'s layout (or is
    // dangling and aligned for a zero-sized `T`, which `Box` accepts), and its
    // bytes are zero, a valid `T` by the `Zeroed` contract.
    unsafe { Box::from_raw(ptr.as_ptr()) }
}

#[cfg(test)]
mod tests {
    use super::zeroed_boxed;

    #[test]
    fn zero_values_of_any_size() {
        let small = zeroed_boxed::<[f64; 3]>();
        assert_eq!(*small, [0.0; 3]);
        assert!(small.iter().all(|x| x.to_bits() == 0));
        let empty = zeroed_boxed::<[f32; 0]>();
        assert_eq!(empty.len(), 0);
        // 64 MiB: far more than a test thread's stack.
        let mut big = zeroed_boxed::<[[f32; 4096]; 4096]>();
        assert!(big.iter().all(|r| r.iter().all(|x| x.to_bits() == 0)));
        big[4095][4095] = 1.0;
        assert_eq!(big.as_flattened().iter().sum::<f32>(), 1.0);
    }
}
