//! Times one step of N4 (784-256-128-10, batch 128) in whatever profile it is
//! built with: the number behind the README's dev-profile settings.
//!
//! Run: `cargo run --example dev_step` (dev profile), then with
//! `--config 'profile.dev.package.gradc-runtime.opt-level=3'` and
//! `--config 'profile.dev.build-override.opt-level=3'`.

use gradc_testkit::nets::n4;
use std::time::{Duration, Instant};

fn main() {
    let mut p = n4::Params::zeros_boxed();
    let mut i = n4::Inputs::zeros_boxed();
    let mut g = n4::Grads::zeros_boxed();
    for (k, (_, s)) in p.slices_mut().into_iter().enumerate() {
        for (j, v) in s.iter_mut().enumerate() {
            *v = ((j * 7 + k) % 13) as f32 * 0.01 - 0.06;
        }
    }
    for (j, v) in i.x.as_flattened_mut().iter_mut().enumerate() {
        *v = (j % 11) as f32 * 0.1;
    }
    for (r, row) in i.y.iter_mut().enumerate() {
        row[r % 10] = 1.0;
    }
    let mut best = Duration::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        std::hint::black_box(n4::forward_backward(&p, &i, &mut g));
        best = best.min(t.elapsed());
    }
    println!("N4 784-256-128-10 batch 128, one step, best of 7: {best:?}");
}
