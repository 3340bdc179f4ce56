//! Trains a 64-hidden-unit ReLU MLP with softmax cross-entropy (class-index
//! labels, `Dataset::fill_batch_labels`) on the vendored
//! handwritten-digits set (1797 8×8 images, 10 classes), with Adam on mini-batches
//! of 32 through the compiled `forward_backward`. Shows a progress bar, prints the
//! test accuracy, writes the loss/accuracy curves as SVG and the weights as
//! safetensors.
//!
//! Run: `cargo run --release --example digits`
//!
//! The network is written once for any batch size (`const B: usize`): training
//! runs it at `B = 32` (each epoch reshuffles the training set and drops the
//! 1438 mod 32 = 30 samples that do not fill a last batch; they are seen in other
//! epochs), evaluation scores one image at a time (`B = 1`) through
//! `mlp::predict`, with the same parameters, as a deployed model would.

use gradc::data::{argmax, load_digits, Dataset};
use gradc::train::{init, shuffled_batches, Adam, Init, LastBatch, Optimizer, Rng};
use gradc::{checkpoint, network, Tensors};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;
use std::time::Instant;

/// Samples per training step: the `B` of `mlp` below.
const BATCH: usize = 32;
const EPOCHS: usize = 30;
const LEARNING_RATE: f64 = 0.005;
const SEED: u64 = 1;

/// The loss of one mini-batch of `B` images: 64 → 64 (ReLU) → 10, softmax
/// cross-entropy against each image's class index (`y[r] = 3.0`). The logits
/// are an `#[output]`: `mlp::predict` computes them from the images alone.
#[network]
fn mlp<const B: usize>(
    #[input] x: [[f32; 64]; B],
    #[input] y: [f32; B],
    w1: [[f32; 64]; 64],
    b1: [f32; 64],
    w2: [[f32; 10]; 64],
    b2: [f32; 10],
) -> f32 {
    let h = relu(x.matmul(w1) + b1);
    #[output]
    let logits = h.matmul(w2) + b2;
    cross_entropy(logits, y)
}

/// The fraction of `data` that `params` classifies correctly, one image at a
/// time (`B = 1`) through `predict`.
fn accuracy(params: &mlp::Params, data: &Dataset) -> Result<f64, Box<dyn Error>> {
    let mut features = mlp::Features::<1>::zeros();
    let mut y = [[0.0f32; 10]; 1];
    let mut correct = 0;
    for i in 0..data.len() {
        data.fill_batch(&[i], features.x.as_flattened_mut(), y.as_flattened_mut())?;
        let out = mlp::predict(params, &features);
        if argmax(&out.logits[0]) == Some(data.labels[i]) {
            correct += 1;
        }
    }
    Ok(correct as f64 / data.len() as f64)
}

fn main() -> Result<(), Box<dyn Error>> {
    let digits = load_digits(gradc::data::digits_path())?;
    let (train, test) = digits.split(0.2, 42);
    println!(
        "digits: {} images of 8x8 pixels, {} classes; {} for training, {} for testing",
        digits.len(),
        digits.n_classes,
        train.len(),
        test.len()
    );
    println!(
        "model: 64 -> 64 ReLU -> 10, softmax cross-entropy, {} parameters; \
         Adam (lr {LEARNING_RATE}), batch {BATCH}, {EPOCHS} epochs, seed {SEED}",
        <mlp::Params as Tensors>::numel()
    );

    let mut params = mlp::Params::zeros_boxed();
    init(&mut *params, Init::HeNormal, SEED);
    let mut grads = mlp::Grads::zeros_boxed();
    let mut inputs = mlp::Inputs::<BATCH>::zeros_boxed();
    let mut adam = Adam::new(LEARNING_RATE);
    let mut rng = Rng::new(SEED);

    let steps_per_epoch = train.len() / BATCH;
    let bar = ProgressBar::with_draw_target(
        Some((steps_per_epoch * EPOCHS) as u64),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} steps  {msg}",
    )?);

    let mut history = Vec::with_capacity(EPOCHS);
    let mut train_time = 0.0;
    let mut test_acc = 0.0;
    for epoch in 1..=EPOCHS {
        let started = Instant::now();
        let mut loss_sum = 0.0;
        let batches = shuffled_batches(train.len(), BATCH, LastBatch::Drop, &mut rng)?;
        for (i, batch) in batches.iter().enumerate() {
            train.fill_batch_labels(batch, inputs.x.as_flattened_mut(), &mut inputs.y)?;
            let loss = mlp::forward_backward(&params, &inputs, &mut grads);
            adam.step(&mut *params, &*grads)?;
            loss_sum += f64::from(loss);
            bar.inc(1);
            if i % 8 == 0 {
                let seen = ((epoch - 1) * steps_per_epoch + i + 1) * BATCH;
                let rate = seen as f64 / (train_time + started.elapsed().as_secs_f64());
                bar.set_message(format!(
                    "epoch {epoch}  loss {loss:.4}  {rate:.0} samples/s  test {:.1}%",
                    test_acc * 100.0
                ));
            }
        }
        train_time += started.elapsed().as_secs_f64();
        let loss = loss_sum / batches.len() as f64;
        test_acc = accuracy(&params, &test)?;
        if epoch == 1 || epoch % 5 == 0 {
            bar.suspend(|| {
                println!(
                    "  epoch {epoch:>2}  loss {loss:.4}  test accuracy {:5.1}%",
                    test_acc * 100.0
                )
            });
        }
        history.push((loss, test_acc));
    }
    bar.finish_and_clear();

    let train_acc = accuracy(&params, &train)?;
    let steps = steps_per_epoch * EPOCHS;
    println!(
        "\ntest accuracy {:.1}% ({} of {}), train accuracy {:.1}%",
        test_acc * 100.0,
        (test_acc * test.len() as f64).round(),
        test.len(),
        train_acc * 100.0
    );
    println!(
        "{steps} steps in {train_time:.2} s: {:.0} steps/s, {:.0} samples/s (compiled forward_backward + Adam)",
        steps as f64 / train_time,
        (steps * BATCH) as f64 / train_time
    );

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&out_dir)?;
    let svg = out_dir.join("digits-training.svg");
    plot(&history, &svg)?;
    let weights = out_dir.join("digits-mlp.safetensors");
    checkpoint::save(&*params, &weights)?;
    let reloaded: Box<mlp::Params> = checkpoint::load(&weights)?;
    println!(
        "wrote {} (loss and accuracy per epoch)\nwrote {} (reloaded: test accuracy {:.1}%)",
        rel(&svg),
        rel(&weights),
        accuracy(&reloaded, &test)? * 100.0
    );
    Ok(())
}

/// A path relative to the repository root, for stable output.
fn rel(p: &Path) -> String {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(p)
        .display()
        .to_string()
}

/// Two panels: mean training loss and test accuracy per epoch.
fn plot(history: &[(f64, f64)], path: &Path) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let epochs = history.len() as f64;
    let max_loss = history.iter().map(|h| h.0).fold(0.0, f64::max);

    let mut chart = ChartBuilder::on(&left)
        .caption("training loss (cross-entropy)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d(1.0..epochs, 0.0..max_loss * 1.05)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    chart.draw_series(LineSeries::new(
        history
            .iter()
            .enumerate()
            .map(|(i, h)| (i as f64 + 1.0, h.0)),
        &BLUE,
    ))?;

    let min_acc = history.iter().map(|h| h.1).fold(1.0, f64::min);
    let mut chart = ChartBuilder::on(&right)
        .caption("test accuracy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d(1.0..epochs, (min_acc - 0.02).max(0.0)..1.0)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    chart.draw_series(LineSeries::new(
        history
            .iter()
            .enumerate()
            .map(|(i, h)| (i as f64 + 1.0, h.1)),
        &RED,
    ))?;
    root.present()?;
    Ok(())
}
