use std::collections::BTreeMap;
use std::fmt;

/// What the optimizer did to one network's joint forward+backward graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Operations (non-leaf nodes) in the joint graph before optimization.
    pub ops_naive: usize,
    /// Operations in the optimized joint graph.
    pub ops_optimized: usize,
    /// Floating-point operations per fused pass, for the real shapes, before
    /// (for a batch-generic network, at `B` = [`crate::NOMINAL_BATCH`]).
    pub flops_naive: u64,
    /// The same after optimization.
    pub flops_optimized: u64,
    /// Equality-saturation iterations run.
    pub iterations: usize,
    /// E-nodes in the e-graph when saturation stopped.
    pub egraph_nodes: usize,
    /// Why saturation stopped (saturated, iteration limit, node limit).
    pub stop_reason: String,
    /// Rule name → number of times it was applied.
    pub rules_fired: BTreeMap<String, usize>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<22} {:>12} {:>12}", "", "naive", "optimized")?;
        writeln!(
            f,
            "{:<22} {:>12} {:>12}",
            "operations", self.ops_naive, self.ops_optimized
        )?;
        writeln!(
            f,
            "{:<22} {:>12} {:>12}",
            "flops per pass", self.flops_naive, self.flops_optimized
        )?;
        writeln!(
            f,
            "saturation: {} iteration(s), {} e-nodes, stopped: {}",
            self.iterations, self.egraph_nodes, self.stop_reason
        )?;
        if self.rules_fired.is_empty() {
            writeln!(f, "rules fired: none")?;
        } else {
            writeln!(f, "rules fired:")?;
            for (name, n) in &self.rules_fired {
                writeln!(f, "  {name:<30} {n:>6}")?;
            }
        }
        Ok(())
    }
}
