use std::fmt;

/// A static tensor shape, outermost dimension first. The empty shape is a scalar.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.0[i + 1];
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
            write!(f, "{d}")?;
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
}
