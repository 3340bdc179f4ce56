//! Own cache-blocked kernel vs the kernel before blocking (one `B` panel at a
//! time, `Plan::Panel`), `matrixmultiply` and the `gemm` crate on the N5 and
//! N6 layer shapes (784-1024-1024-10 and 784-4096-4096-10, batch 64: forward,
//! weight-gradient and input-gradient products), f32, one thread and two,
//! plus allocations per call of each.
//! `cargo bench -p gradc-runtime --bench gemm` prints a GFLOP/s table first, then
//! runs the criterion groups (`-- --quick-table` prints only the table, about
//! two minutes; `GEMM_SHAPES="m,n,k;..."` measures other plain shapes;
//! `GEMM_CPU_TIME=1` times the one-thread columns by CPU time, for a busy
//! machine).

use criterion::{criterion_group, Criterion};
use gradc_runtime::{gemm_plan, gemm_threads, Isa, Plan, Strided};
use gradc_testkit::CountingAlloc;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// (name, m, n, k, A transposed, B transposed): the products of the N5 and N6
/// steps at batch 64 with width ≥ 784: forward layers (X·W), weight gradients
/// (Xᵀ·dY) and input gradients (dY·Wᵀ).
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("N5 fwd1 64x1024x784", 64, 1024, 784, false, false),
    ("N5 fwd2 64x1024x1024", 64, 1024, 1024, false, false),
    ("N5 dW1 784x1024x64 tn", 784, 1024, 64, true, false),
    ("N5 dW2 1024x1024x64 tn", 1024, 1024, 64, true, false),
    ("N5 dH1 64x1024x1024 nt", 64, 1024, 1024, false, true),
    ("N6 fwd1 64x4096x784", 64, 4096, 784, false, false),
    ("N6 fwd2 64x4096x4096", 64, 4096, 4096, false, false),
    ("N6 dW1 784x4096x64 tn", 784, 4096, 64, true, false),
    ("N6 dW2 4096x4096x64 tn", 4096, 4096, 64, true, false),
    ("N6 dH1 64x4096x4096 nt", 64, 4096, 4096, false, true),
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

    fn own(&mut self, plan: Plan, threads: usize) {
        let a = Strided {
            data: black_box(&self.a[..]),
            rs: self.sa.0,
            cs: self.sa.1,
        };
        let b = Strided {
            data: black_box(&self.b[..]),
            rs: self.sb.0,
            cs: self.sb.1,
        };
        let (m, n, k) = (self.m, self.n, self.k);
        if threads == 1 {
            gemm_plan(plan, Isa::Best, m, n, k, a, b, &mut self.c, false)
        } else {
            gemm_threads(threads, Isa::Best, m, n, k, a, b, &mut self.c, false);
        }
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

    fn gemm_crate(&mut self, threads: usize) {
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
                if threads == 1 {
                    gemm::Parallelism::None
                } else {
                    gemm::Parallelism::Rayon(threads)
                },
            )
        }
    }

    fn run(&mut self, which: usize) {
        match which {
            0 => self.own(Plan::Auto, 1),
            1 => self.own(Plan::Panel, 1),
            2 => self.matrixmultiply(),
            3 => self.gemm_crate(1),
            4 => self.own(Plan::Auto, 2),
            5 => self.own(Plan::Panel, 2),
            _ => self.gemm_crate(2),
        }
    }
}

const NAMES: [&str; COLS] = [
    "own",
    "old (panel)",
    "matrixmultiply",
    "gemm",
    "own 2 threads",
    "old 2 threads (column split)",
    "gemm 2 threads",
];
const COLS: usize = 7;

/// Best GFLOP/s over 31 timed batches of calls (the best, not the median:
/// the machine is shared, and interference only ever adds time), and allocations per call
/// after the first.
fn measure(case: &mut Case, which: usize) -> (f64, u64) {
    case.run(which);
    let before = CountingAlloc::count();
    case.run(which);
    let allocs = CountingAlloc::count() - before;
    let reps = (2e6 / case.flops()).ceil().max(1.0) as usize;
    let cpu = std::env::var_os("GEMM_CPU_TIME").is_some() && !NAMES[which].contains("threads");
    let mut t: Vec<f64> = (0..31)
        .map(|_| {
            let s = Instant::now();
            let c = cpu_time();
            for _ in 0..reps {
                case.run(which);
            }
            let dt = if cpu {
                cpu_time() - c
            } else {
                s.elapsed().as_secs_f64()
            };
            dt / reps as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (case.flops() / t[0] / 1e9, allocs)
}

/// This thread's CPU time in seconds.
fn cpu_time() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for clock_gettime to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
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
    println!("|---|{}---|", "---|".repeat(COLS));
    let mut total = [0.0f64; COLS];
    let mut flops = 0.0;
    // GEMM_SHAPES="m,n,k;m,n,k" measures other (plain) shapes instead.
    let extra: Vec<(String, usize, usize, usize)> = std::env::var("GEMM_SHAPES")
        .unwrap_or_default()
        .split(';')
        .filter_map(|t| {
            let d: Vec<usize> = t
                .split(',')
                .take(3)
                .filter_map(|x| x.trim().parse().ok())
                .collect();
            (d.len() >= 3).then(|| (t.to_string(), d[0], d[1], d[2]))
        })
        .collect();
    // A shape ending in ",tn" or ",nt" has that operand transposed.
    let extra: Vec<(&str, usize, usize, usize, bool, bool)> = extra
        .iter()
        .map(|(t, m, n, k)| (t.as_str(), *m, *n, *k, t.ends_with("tn"), t.ends_with("nt")))
        .collect();
    let shapes = if extra.is_empty() { SHAPES } else { &extra[..] };
    for s in shapes {
        let mut case = Case::new(s);
        let r: Vec<(f64, u64)> = (0..COLS).map(|w| measure(&mut case, w)).collect();
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
            r[2].1,
            r[3].1
        );
    }
    let g: Vec<String> = total.iter().map(|t| format!("{:.1}", flops / t)).collect();
    println!("| all (time-weighted) | {} | |", g.join(" | "));
    if !extra.is_empty() {
        return;
    }
    // The products back to back on their own buffers, as in a step: operands
    // no longer sit in L2 from the previous call of the same shape.
    let mut cases: Vec<Case> = SHAPES.iter().map(Case::new).collect();
    let g: Vec<String> = (0..COLS)
        .map(|w| {
            let mut t = f64::INFINITY;
            for _ in 0..11 {
                let s = Instant::now();
                for c in &mut cases {
                    c.run(w);
                }
                t = t.min(s.elapsed().as_secs_f64());
            }
            format!("{:.1}", flops / t / 1e9)
        })
        .collect();
    println!("| all in sequence | {} | |", g.join(" | "));
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
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(500));
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
