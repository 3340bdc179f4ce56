//! The `gradc` command line: reads a Rust file, finds its `#[network]` functions
//! and runs the same pipeline as the macro (`gradc_frontend::lower`, then
//! `gradc_driver::compile`), so what it shows is what the macro compiles. It
//! never compiles the user's crate.
//!
//! Files: `source.rs` (finding networks in a file, rustc-style diagnostics),
//! `dot.rs` (Graphviz output), `svg.rs` (pictures without Graphviz),
//! `explain.rs` (where a line of generated code came from), `explore.rs` (the
//! explorer page).

#![forbid(unsafe_code)]

mod dot;
mod explain;
mod explore;
mod source;
mod svg;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

// Every example runs in a test (`help_examples_run`), from the repository root.
const SHOW_EXAMPLES: &str = "\
Examples:
  gradc show examples/xor.rs --network xor                the fused forward+backward pass (GRADIENT_CODE)
  gradc show examples/xor.rs --network xor --emit ir      the forward graph in text form
  gradc show examples/xor.rs --network xor --emit joint   after symbolic differentiation, before rewriting
  gradc show examples/xor.rs --network xor --emit dot --graph joint | dot -Tsvg > xor.svg
  gradc show examples/xor.rs --network xor --emit svg --graph joint  the joint graph as SVG, no Graphviz needed
  gradc show examples/xor.rs --network xor --emit report  optimizer report, saved residuals, scratch size
  gradc show examples/xor.rs --network predict --emit rust   a network without parameters: its forward pass

--network may be left out when the file has one network; --graph applies to --emit dot and svg only.";

const CHECK_EXAMPLES: &str = "\
Examples:
  gradc check examples/xor.rs                   check every #[network] in the file
  gradc check examples/xor.rs --network xor     check one

Prints the diagnostics the macro would give, rustc style, and exits non-zero if any.";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  gradc explain examples/xor.rs --network xor --node d_h
  gradc explain examples/xor.rs --network xor --node h_matmul

NODE is a local of the generated code (see `gradc show FILE --emit rust`) or a
source variable name.";

const EXPLORE_EXAMPLES: &str = "\
Examples:
  gradc explore examples/xor.rs --network xor -o xor.html

The page needs no server and no network: open it in a browser. Click a line of
generated code to see its source statement, graph nodes and chain-rule term;
click a node to see the rewrites that produced it.";

/// Inspect what gradc generates for a network: every stage, diagnostics, and
/// where each line of the gradient code comes from.
#[derive(Parser)]
#[command(name = "gradc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print one stage of a network's compilation.
    #[command(after_help = SHOW_EXAMPLES)]
    Show {
        /// A Rust source file holding `#[network]` functions.
        file: PathBuf,
        /// Which network (required when the file has several).
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Emit::Rust)]
        emit: Emit,
        /// Which graph `--emit dot` and `--emit svg` draw [default: optimized].
        #[arg(long, value_enum)]
        graph: Option<Stage>,
    },
    /// Parse and verify the networks of a file, printing the macro's diagnostics.
    #[command(after_help = CHECK_EXAMPLES)]
    Check {
        /// A Rust source file holding `#[network]` functions.
        file: PathBuf,
        /// Check only this network.
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
    },
    /// Show where a line of the generated gradient code comes from.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain {
        /// A Rust source file holding `#[network]` functions.
        file: PathBuf,
        /// Which network (required when the file has several).
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
        /// A local of the generated code, such as `d_h` or `t7`.
        #[arg(long, value_name = "NAME")]
        node: String,
    },
    /// Write one self-contained HTML page to explore a network: source, graphs,
    /// generated code and optimizer report, linked to each other.
    #[command(after_help = EXPLORE_EXAMPLES)]
    Explore {
        /// A Rust source file holding `#[network]` functions.
        file: PathBuf,
        /// Which network (required when the file has several).
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
        /// Where to write the page.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// A stage of the pipeline to print.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The forward graph, text form.
    Ir,
    /// The joint forward+backward graph after differentiation, before rewriting.
    Joint,
    /// The joint graph after e-graph optimization.
    Optimized,
    /// The generated fused pass, formatted and commented (`NAME::GRADIENT_CODE`).
    Rust,
    /// Graphviz DOT of the graph chosen by `--graph`.
    Dot,
    /// An SVG picture of the graph chosen by `--graph` (no Graphviz needed).
    Svg,
    /// Optimizer report, saved residuals and scratch size.
    Report,
}

/// A graph for `--emit dot` and `--emit svg`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Stage {
    Forward,
    Joint,
    Optimized,
}

/// A failure the user sees as one line (or as diagnostics already printed).
pub(crate) enum Failure {
    /// `gradc: <message>`.
    Message(String),
    /// Diagnostics were printed; just exit non-zero.
    Reported,
}

impl<T: Into<String>> From<T> for Failure {
    fn from(m: T) -> Self {
        Failure::Message(m.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Show {
            file,
            network,
            emit,
            graph,
        } => show(&file, network.as_deref(), emit, graph),
        Command::Check { file, network } => check(&file, network.as_deref()),
        Command::Explain {
            file,
            network,
            node,
        } => explain::explain(&file, network.as_deref(), &node),
        Command::Explore {
            file,
            network,
            output,
        } => explore::write(&file, network.as_deref(), &output),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(Failure::Message(m)) => {
            eprintln!("gradc: {m}");
            ExitCode::FAILURE
        }
        Err(Failure::Reported) => ExitCode::FAILURE,
    }
}

fn show(
    file: &std::path::Path,
    network: Option<&str>,
    emit: Emit,
    graph: Option<Stage>,
) -> Result<String, Failure> {
    // A flag that would change nothing is a mistake worth hearing about.
    let graph = match (emit, graph) {
        (Emit::Dot | Emit::Svg, g) => g.unwrap_or(Stage::Optimized),
        (Emit::Ir | Emit::Joint | Emit::Optimized | Emit::Rust | Emit::Report, None) => {
            Stage::Optimized
        }
        (Emit::Ir | Emit::Joint | Emit::Optimized | Emit::Rust | Emit::Report, Some(_)) => {
            return Err(Failure::from(
                "--graph picks the graph that --emit dot or --emit svg draws; add one of them or leave --graph out",
            ));
        }
    };
    let src = source::Source::load(file)?;
    let found = src.select(network)?;
    let compiled = src.compile(&found)?;
    let name = &found.name;
    let joint = |what: &str| {
        compiled.joint.as_ref().ok_or_else(|| {
            Failure::from(format!(
                "network `{name}` has no parameters, so it has no {what} graph (try --emit ir or rust)"
            ))
        })
    };
    Ok(match emit {
        Emit::Ir => compiled.network.graph.to_string(),
        Emit::Joint => joint("joint")?.to_string(),
        Emit::Optimized => {
            joint("optimized")?;
            compiled
                .optimized
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        }
        Emit::Rust => compiled.gradient_code.clone(),
        Emit::Dot | Emit::Svg => {
            let g = match graph {
                Stage::Forward => &compiled.network.graph,
                Stage::Joint => joint("joint")?,
                Stage::Optimized => {
                    joint("optimized")?;
                    compiled
                        .optimized
                        .as_ref()
                        .unwrap_or(&compiled.network.graph)
                }
            };
            if emit == Emit::Dot {
                dot::to_dot(g, name)
            } else {
                svg::render(g, "graph", &svg::title(graph, name))
            }
        }
        Emit::Report => explore::report_text(name, &compiled),
    })
}

fn check(file: &std::path::Path, network: Option<&str>) -> Result<String, Failure> {
    let src = source::Source::load(file)?;
    let networks = match network {
        Some(n) => vec![src.select(Some(n))?],
        None => src.networks()?,
    };
    let mut failed = 0;
    let mut names = Vec::new();
    for n in &networks {
        match src.compile(n) {
            Ok(_) => names.push(n.name.clone()),
            Err(Failure::Reported) => failed += 1,
            Err(e) => return Err(e),
        }
    }
    if failed > 0 {
        eprintln!(
            "gradc: {failed} of {} network(s) in {} failed to compile",
            networks.len(),
            file.display()
        );
        return Err(Failure::Reported);
    }
    Ok(format!(
        "{}: {} network(s) ok: {}\n",
        file.display(),
        names.len(),
        names.join(", ")
    ))
}
