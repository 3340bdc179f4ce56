use std::fmt;

/// The batch size `B` of a batch-generic network (`fn net<const B: usize>(..)`)
/// when it stands as a dimension: a prime that no accepted literal length is a
/// multiple of (the frontend rejects such lengths), so an extent is `c·B`
/// exactly when it is a multiple of `BATCH`. Shapes stay plain `usize`s through
/// every pass; only code generation, the cost model and [`Shape::instantiate`]
/// read the symbol back. At most one dimension of a shape may be symbolic, so
/// every extent and element count is `c` or `c·B`.
pub const BATCH: usize = 1_000_003;

/// The batch size the cost model and reports assume for a symbolic `B`.
pub const NOMINAL_BATCH: usize = 32;

/// The most bytes one value may take: Rust's limit on the size of any object.
/// Every shape in a graph fits it at the element size of the graph, so element
/// counts, strides and byte sizes never overflow `usize`.
pub const MAX_BYTES: usize = isize::MAX as usize;

/// An extent read back from its `usize` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// A literal length.
    Fixed(usize),
    /// `c·B`, with the coefficient `c`.
    Batch(usize),
}

impl Extent {
    /// Decodes an extent or element count.
    pub fn of(d: usize) -> Extent {
        if d != 0 && d.is_multiple_of(BATCH) {
            Extent::Batch(d / BATCH)
        } else {
            Extent::Fixed(d)
        }
    }

    /// The value for a concrete batch size `b`.
    pub fn at(self, b: usize) -> usize {
        match self {
            Extent::Fixed(d) => d,
            Extent::Batch(c) => c * b,
        }
    }
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extent::Fixed(d) => write!(f, "{d}"),
            Extent::Batch(1) => f.write_str("B"),
            Extent::Batch(c) => write!(f, "{c}B"),
        }
    }
}

/// How many factors of `B` the extent or count `d` has.
pub(crate) fn batch_power(mut d: usize) -> usize {
    let mut k = 0;
    while d != 0 && d.is_multiple_of(BATCH) {
        d /= BATCH;
        k += 1;
    }
    k
}

/// `d` (an extent or count, possibly `c·B`) with `B` = [`NOMINAL_BATCH`]: what
/// costs and reports count.
pub fn nominal(d: usize) -> usize {
    Extent::of(d).at(NOMINAL_BATCH)
}

/// Parses an extent as [`Extent`]'s `Display` writes it: `4`, `B`, `64B`.
pub fn parse_extent(t: &str) -> Option<usize> {
    match t.strip_suffix('B') {
        Some("") => Some(BATCH),
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|c| *c > 0)?
            .checked_mul(BATCH),
        None => t.parse().ok(),
    }
}

/// A static tensor shape, outermost dimension first. The empty shape is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The shape of a scalar: no dimensions.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// The shape with dimensions `dims`, outermost first.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no dimensions.
    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of elements (1 for a scalar). Saturates: a shape in a graph
    /// never gets near `usize::MAX` (see [`Shape::bytes`]), and a hostile one
    /// must not panic before it is rejected.
    pub fn numel(&self) -> usize {
        self.0.iter().fold(1, |n, d| n.saturating_mul(*d))
    }

    /// Bytes of a value of this shape with `elem`-byte elements, or `None`
    /// when that is more than [`MAX_BYTES`] (no such value can exist).
    pub fn bytes(&self, elem: usize) -> Option<usize> {
        self.0
            .iter()
            .try_fold(elem, |n, d| n.checked_mul(*d))
            .filter(|b| *b <= MAX_BYTES)
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1usize; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1].saturating_mul(self.0[i + 1]);
        }
        s
    }

    /// Strides for reading `self` as if broadcast to `out` (NumPy rules):
    /// broadcast dimensions get stride 0. `self` must broadcast to `out`.
    pub fn broadcast_strides(&self, out: &Shape) -> Vec<usize> {
        let own = self.strides();
        let off = out.rank() - self.rank();
        (0..out.rank())
            .map(|i| {
                if i < off || self.0[i - off] == 1 && out.0[i] != 1 {
                    0
                } else {
                    own[i - off]
                }
            })
            .collect()
    }

    /// Whether `self` broadcasts to exactly `out`.
    pub fn broadcasts_to(&self, out: &Shape) -> bool {
        broadcast_shapes(self, out).as_ref() == Some(out)
    }

    /// How many factors of the symbolic batch size `B` the dimensions hold (a
    /// dimension `c·B` counts one; the IR allows at most one in all).
    pub fn batch_degree(&self) -> usize {
        self.0.iter().map(|d| batch_power(*d)).sum()
    }

    /// Whether some dimension is the symbolic batch size.
    pub fn is_batch_generic(&self) -> bool {
        self.batch_degree() > 0
    }

    /// The shape with `B` = `b`.
    pub fn instantiate(&self, b: usize) -> Shape {
        Shape(self.0.iter().map(|d| Extent::of(*d).at(b)).collect())
    }

    /// Element count with `B` = [`NOMINAL_BATCH`] (for costs and reports).
    pub fn nominal_numel(&self) -> usize {
        nominal(self.numel())
    }

    /// The last dimension (the class axis of softmax-like ops).
    pub fn last(&self) -> Option<usize> {
        self.0.last().copied()
    }
}

/// NumPy broadcasting of two shapes; `None` if they are incompatible.
pub fn broadcast_shapes(a: &Shape, b: &Shape) -> Option<Shape> {
    let r = a.rank().max(b.rank());
    // Dimension `i` of the result, counting from the left of the longer shape;
    // a shorter shape is padded with 1s on the left.
    let dim = |s: &Shape, i: usize| {
        if i + s.rank() >= r {
            s.0[i + s.rank() - r]
        } else {
            1
        }
    };
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        let (da, db) = (dim(a, i), dim(b, i));
        out.push(if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        });
    }
    Some(Shape(out))
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}", Extent::of(*d))?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::new(d.to_vec());
        assert_eq!(broadcast_shapes(&s(&[4, 2]), &s(&[2])), Some(s(&[4, 2])));
        assert_eq!(broadcast_shapes(&s(&[4, 1]), &s(&[1, 3])), Some(s(&[4, 3])));
        assert_eq!(broadcast_shapes(&s(&[]), &s(&[3])), Some(s(&[3])));
        assert_eq!(broadcast_shapes(&s(&[4, 2]), &s(&[4])), None);
        assert_eq!(s(&[2]).broadcast_strides(&s(&[4, 2])), vec![0, 1]);
        assert_eq!(s(&[4, 1]).broadcast_strides(&s(&[4, 3])), vec![1, 0]);
        assert_eq!(s(&[2, 3, 4]).strides(), vec![12, 4, 1]);
    }

    #[test]
    fn byte_sizes_are_checked() {
        assert_eq!(Shape::new([3, 4]).bytes(8), Some(96));
        assert_eq!(Shape::scalar().bytes(4), Some(4));
        let huge = Shape::new([1 << 31, 1 << 31]);
        assert_eq!(huge.bytes(4), None, "2^64 bytes");
        assert_eq!(
            Shape::new([1 << 30, 1 << 30]).bytes(8),
            None,
            "2^63 > isize::MAX"
        );
        assert_eq!(Shape::new([1 << 30, 1 << 30]).bytes(4), Some(1 << 62));
        assert_eq!(Shape::new([usize::MAX, 2]).numel(), usize::MAX);
    }

    #[test]
    fn batch_extents_read_back() {
        let s = Shape::new([BATCH, 64]);
        assert_eq!(s.to_string(), "[B 64]");
        assert_eq!(Shape::new([64 * BATCH]).to_string(), "[64B]");
        assert_eq!(s.batch_degree(), 1);
        assert_eq!(s.instantiate(7), Shape::new([7, 64]));
        assert_eq!(s.nominal_numel(), 64 * NOMINAL_BATCH);
        assert_eq!(Extent::of(s.numel()), Extent::Batch(64));
        assert_eq!(Extent::of(0), Extent::Fixed(0));
        assert_eq!(parse_extent("B"), Some(BATCH));
        assert_eq!(parse_extent("64B"), Some(64 * BATCH));
        assert_eq!(parse_extent("12"), Some(12));
        assert_eq!(parse_extent("0B"), None);
        assert_eq!(parse_extent("xB"), None);
        // A product of literal lengths is never mistaken for a batch extent
        // while each factor is below the prime.
        assert_eq!(
            Extent::of(1_000_002 * 999_983),
            Extent::Fixed(1_000_002 * 999_983)
        );
    }
}
