//! The per-thread workspace behind a generated `forward_backward`: one value
//! of each workspace type a thread has used (a network's `Workspace`, or
//! `Workspace<B>` for each batch size `B`), made on first use and kept for
//! the thread's lifetime, so no later call allocates.

use std::any::Any;
use std::cell::RefCell;

thread_local! {
    // Keyed by type: a `static` in generated code could not depend on `B`.
    static WORKSPACES: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's `W`, created by `W::default()` on the
/// thread's first call for `W`. Only that first call allocates.
#[inline]
pub fn with_workspace<W: Default + 'static, R>(f: impl FnOnce(&mut W) -> R) -> R {
    WORKSPACES.with(|w| {
        let mut w = w.borrow_mut();
        if !w.iter().any(|b| b.is::<W>()) {
            w.push(Box::new(W::default()));
        }
        match w.iter_mut().find_map(|b| b.downcast_mut::<W>()) {
            Some(ws) => f(ws),
            // Not reached: a `W` was just added.
            None => f(&mut W::default()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::with_workspace;

    #[derive(Default)]
    struct A(u32);
    #[derive(Default)]
    struct B(u64);

    #[test]
    fn one_value_per_type_and_thread() {
        with_workspace(|a: &mut A| a.0 += 1);
        with_workspace(|b: &mut B| b.0 += 10);
        assert_eq!(with_workspace(|a: &mut A| a.0), 1);
        assert_eq!(with_workspace(|b: &mut B| b.0), 10);
        let other = std::thread::spawn(|| with_workspace(|a: &mut A| a.0)).join();
        assert_eq!(other.ok(), Some(0));
    }
}
