//! Own packed kernel vs `matrixmultiply` and the `gemm` crate on the N4 layer
//! shapes (f32, one thread; plus the own kernel on two threads), plus
//! allocations per call of each.
//! `cargo bench -p gradc-runtime --bench gemm` prints a GFLOP/s table first, then
//! runs the criterion groups (`-- --quick-table` prints only the table).

use criterion::{criterion_group, Criterion};
use gradc_runtime::{gemm_two_threads, gemm_with, Isa, Strided};
use gradc_testkit::CountingAlloc;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// (name, m, n, k, A transposed, B transposed): the N4 step's products at batch
/// 128: forward layers, weight gradients (Xᵀ·dY) and input gradients (dY·Wᵀ).
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("fwd1 128x256x784", 128, 256, 784, false, false),
    ("fwd2 128x128x256", 128, 128, 256, false, false),
    ("fwd3 128x10x128", 128, 10, 128, false, false),
    ("dW1 784x256x128 tn", 784, 256, 128, true, false),
    ("dW2 256x128x128 tn", 256, 128, 128, true, false),
    ("dW3 128x10x128 tn", 128, 10, 128, true, false),
    ("dH2 128x256x128 nt", 128, 256, 128, false, true),
    ("dH3 128x128x10 nt", 128, 128, 10, false, true),
];

struct Case {
    m: usize,
    n: usize,
    k: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    // (rs, cs) of A and B.
    sa: (usize, usize),
    sb: (usize, usize),
}

impl Case {
    fn new(&(_, m, n, k, ta, tb): &(&str, usize, usize, usize, bool, bool)) -> Case {
        Case {
            m,
            n,
            k,
            a: (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect(),
            b: (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect(),
            c: vec![0.0; m * n],
            sa: if ta { (1, m) } else { (k, 1) },
            sb: if tb { (1, k) } else { (n, 1) },
        }
    }

    fn flops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }

    fn own(&mut self, isa: Isa) {
        gemm_with(
            isa,
            self.m,
            self.n,
            self.k,
            Strided {
                data: black_box(&self.a),
                rs: self.sa.0,
                cs: self.sa.1,
            },
            Strided {
                data: black_box(&self.b),
                rs: self.sb.0,
                cs: self.sb.1,
            },
            &mut self.c,
            false,
        )
    }

    fn own_two_threads(&mut self) {
        gemm_two_threads(
            Isa::Best,
            self.m,
            self.n,
            self.k,
            Strided {
                data: black_box(&self.a),
                rs: self.sa.0,
                cs: self.sa.1,
            },
            Strided {
                data: black_box(&self.b),
                rs: self.sb.0,
                cs: self.sb.1,
            },
            &mut self.c,
            false,
        );
    }

    fn matrixmultiply(&mut self) {
        // SAFETY: a is m×k and b is k×n with the given strides, c is m×n row-major.
        unsafe {
            matrixmultiply::sgemm(
                self.m,
                self.k,
                self.n,
                1.0,
                black_box(self.a.as_ptr()),
                self.sa.0 as isize,
                self.sa.1 as isize,
                black_box(self.b.as_ptr()),
                self.sb.0 as isize,
                self.sb.1 as isize,
                0.0,
                self.c.as_mut_ptr(),
                self.n as isize,
                1,
            )
        }
    }

    fn gemm_crate(&mut self) {
        // SAFETY: as for matrixmultiply; `read_dst = false` overwrites c.
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                self.c.as_mut_ptr(),
                1,
                self.n as isize,
                false,
                black_box(self.a.as_ptr()),
                self.sa.1 as isize,
                self.sa.0 as isize,
                black_box(self.b.as_ptr()),
                self.sb.1 as isize,
                self.sb.0 as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }

    fn run(&mut self, which: usize) {
        match which {
            0 => self.own(Isa::Best),
            1 => self.own(Isa::Avx2),
            2 => self.own(Isa::Portable),
            3 => self.matrixmultiply(),
            4 => self.gemm_crate(),
            _ => self.own_two_threads(),
        }
    }
}

const NAMES: [&str; 6] = [
    "own",
    "own avx2",
    "own portable",
    "matrixmultiply",
    "gemm",
    "own 2 threads",
];

/// Best GFLOP/s over 101 timed batches of calls (the best, not the median:
/// the machine is shared, and interference only ever adds time), and allocations per call
/// after the first.
fn measure(case: &mut Case, which: usize) -> (f64, u64) {
    case.run(which);
    let before = CountingAlloc::count();
    case.run(which);
    let allocs = CountingAlloc::count() - before;
    let reps = (2e6 / case.flops()).ceil().max(1.0) as usize;
    let mut t: Vec<f64> = (0..101)
        .map(|_| {
            let s = Instant::now();
            for _ in 0..reps {
                case.run(which);
            }
            s.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (case.flops() / t[0] / 1e9, allocs)
}

fn table() {
    // Warm up (clock ramp) before the first measurement.
    let mut warm = Case::new(&SHAPES[0]);
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        warm.run(0);
    }
    println!(
        "| shape | {} | allocs/call (own, mm, gemm) |",
        NAMES.join(" GFLOP/s | ") + " GFLOP/s"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut total = [0.0f64; 6];
    let mut flops = 0.0;
    // GEMM_SHAPES="m,n,k;m,n,k" measures other (plain) shapes instead.
    let extra: Vec<(String, usize, usize, usize)> = std::env::var("GEMM_SHAPES")
        .unwrap_or_default()
        .split(';')
        .filter_map(|t| {
            let d: Vec<usize> = t.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            (d.len() == 3).then(|| (t.to_string(), d[0], d[1], d[2]))
        })
        .collect();
    let extra: Vec<(&str, usize, usize, usize, bool, bool)> = extra
        .iter()
        .map(|(t, m, n, k)| (t.as_str(), *m, *n, *k, false, false))
        .collect();
    let shapes = if extra.is_empty() { SHAPES } else { &extra[..] };
    for s in shapes {
        let mut case = Case::new(s);
        let r: Vec<(f64, u64)> = (0..6).map(|w| measure(&mut case, w)).collect();
        flops += case.flops();
        for (t, (g, _)) in total.iter_mut().zip(&r) {
            *t += case.flops() / g;
        }
        let g: Vec<String> = r.iter().map(|(g, _)| format!("{g:.1}")).collect();
        println!(
            "| {} | {} | {}, {}, {} |",
            s.0,
            g.join(" | "),
            r[0].1,
            r[3].1,
            r[4].1
        );
    }
    let g: Vec<String> = total.iter().map(|t| format!("{:.1}", flops / t)).collect();
    println!("| all 8 (time-weighted) | {} | |", g.join(" | "));
    if !extra.is_empty() {
        return;
    }
    // The 8 products back to back on their own buffers, as in one step: operands
    // no longer all sit in L2 from the previous call of the same shape.
    let mut cases: Vec<Case> = SHAPES.iter().map(Case::new).collect();
    let g: Vec<String> = (0..6)
        .map(|w| {
            let mut t = f64::INFINITY;
            for _ in 0..51 {
                let s = Instant::now();
                for c in &mut cases {
                    c.run(w);
                }
                t = t.min(s.elapsed().as_secs_f64());
            }
            format!("{:.1}", flops / t / 1e9)
        })
        .collect();
    println!("| all 8 in sequence | {} | |", g.join(" | "));
}

fn shapes(c: &mut Criterion) {
    for s in SHAPES {
        let mut case = Case::new(s);
        let mut g = c.benchmark_group(s.0);
        g.throughput(criterion::Throughput::Elements(case.flops() as u64));
        for (w, name) in NAMES.iter().enumerate() {
            g.bench_function(*name, |b| b.iter(|| case.run(w)));
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = shapes
}

fn main() {
    table();
    if std::env::args().any(|a| a == "--quick-table") {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
