//! The pieces of fastText's binary model format (little-endian, as its C++ `write`s them): a
//! cursor over the bytes and the two matrix kinds, dense and product-quantized.

use super::ModelError;

/// Reads the fields of a model file in order.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(ModelError::Truncated(self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn i32(&mut self) -> Result<i32, ModelError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, ModelError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(super) fn f64(&mut self) -> Result<f64, ModelError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    pub(super) fn f32s(&mut self, n: usize) -> Result<Vec<f32>, ModelError> {
        let bytes = self.take(n.checked_mul(4).ok_or(ModelError::Truncated(self.at))?)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// A count that must be non-negative (fastText writes sizes as signed integers).
    pub(super) fn len32(&mut self) -> Result<usize, ModelError> {
        let at = self.at;
        usize::try_from(self.i32()?).map_err(|_| ModelError::Invalid(at, "a negative size"))
    }

    pub(super) fn len64(&mut self) -> Result<usize, ModelError> {
        let at = self.at;
        usize::try_from(self.i64()?).map_err(|_| ModelError::Invalid(at, "a negative size"))
    }

    /// A NUL-terminated string (dictionary entries).
    pub(super) fn cstr(&mut self) -> Result<&'a [u8], ModelError> {
        let rest = &self.bytes[self.at..];
        let n = rest.iter().position(|&b| b == 0).ok_or(ModelError::Truncated(self.bytes.len()))?;
        self.at += n + 1;
        Ok(&rest[..n])
    }

    pub(super) fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// A product quantizer: each row is cut into `nsubq` pieces of `dsub` values (the last of
/// `lastdsub`), each piece stored as the index of one of 256 centroids.
pub(super) struct Quantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

const KSUB: usize = 256;

impl Quantizer {
    fn read(c: &mut Cursor) -> Result<Self, ModelError> {
        let dim = c.len32()?;
        let (nsubq, dsub, lastdsub) = (c.len32()?, c.len32()?, c.len32()?);
        if nsubq == 0 || (nsubq - 1) * dsub + lastdsub != dim {
            return Err(ModelError::Invalid(0, "product quantizer pieces that do not add up to its dimension"));
        }
        Ok(Self { nsubq, dsub, lastdsub, centroids: c.f32s(dim * KSUB)? })
    }

    /// The centroid that code `code` of piece `m` names. Pieces are stored piece by piece, the
    /// last one with its own width.
    fn centroid(&self, m: usize, code: u8) -> &[f32] {
        let (start, width) = if m == self.nsubq - 1 {
            (m * KSUB * self.dsub + usize::from(code) * self.lastdsub, self.lastdsub)
        } else {
            ((m * KSUB + usize::from(code)) * self.dsub, self.dsub)
        };
        &self.centroids[start..start + width]
    }

    fn dim(&self) -> usize {
        (self.nsubq - 1) * self.dsub + self.lastdsub
    }

    fn add(&self, x: &mut [f32], codes: &[u8], alpha: f32) {
        for (m, &code) in codes.iter().enumerate() {
            let piece = &mut x[m * self.dsub..];
            for (v, c) in piece.iter_mut().zip(self.centroid(m, code)) {
                *v += alpha * c;
            }
        }
    }

    fn dot(&self, x: &[f32], codes: &[u8]) -> f32 {
        // One accumulator across pieces, in order, as fastText's `mulcode`: the same rounding.
        let mut sum = 0.0f32;
        for (m, &code) in codes.iter().enumerate() {
            for (a, b) in x[m * self.dsub..].iter().zip(self.centroid(m, code)) {
                sum += a * b;
            }
        }
        sum
    }
}

/// A model matrix, dense or quantized (`.ftz` files quantize the input one, often the output too).
pub(super) enum Matrix {
    Dense { cols: usize, data: Vec<f32> },
    Quantized { rows: usize, codes: Vec<u8>, pq: Quantizer, norms: Option<(Vec<u8>, Quantizer)> },
}

impl Matrix {
    pub(super) fn read(c: &mut Cursor, quantized: bool) -> Result<Self, ModelError> {
        if !quantized {
            let (rows, cols) = (c.len64()?, c.len64()?);
            let data = c.f32s(rows.checked_mul(cols).ok_or(ModelError::Invalid(0, "a matrix too large"))?)?;
            return Ok(Matrix::Dense { cols, data });
        }
        let qnorm = c.u8()? != 0;
        let (rows, _cols) = (c.len64()?, c.len64()?);
        let size = c.len32()?;
        let codes = c.take(size)?.to_vec();
        let pq = Quantizer::read(c)?;
        if codes.len() != rows * pq.nsubq {
            return Err(ModelError::Invalid(0, "quantized codes that do not cover the rows"));
        }
        let norms = if qnorm { Some((c.take(rows)?.to_vec(), Quantizer::read(c)?)) } else { None };
        Ok(Matrix::Quantized { rows, codes, pq, norms })
    }

    pub(super) fn rows(&self) -> usize {
        match self {
            Matrix::Dense { cols, data } => data.len() / (*cols).max(1),
            Matrix::Quantized { rows, .. } => *rows,
        }
    }

    /// The same matrix with every quantized row decoded once, as `add_row` would decode it each
    /// time (`norm × centroid`, one f32 product per value), so adding a row is then one contiguous
    /// read instead of a code, a norm and a centroid per piece: the same values, the same sums.
    /// Kept quantized when decoding would take more than 256 MiB (an unpruned 2 M-bucket model).
    pub(super) fn dequantized(self, dim: usize) -> Self {
        let Matrix::Quantized { rows, codes, pq, norms } = &self else {
            return self;
        };
        if rows.saturating_mul(dim) > 1 << 26 || pq.dim() != dim {
            return self;
        }
        let mut data = Vec::with_capacity(rows * dim);
        for row in 0..*rows {
            let alpha = Self::norm(norms, row);
            for (m, &code) in codes[row * pq.nsubq..(row + 1) * pq.nsubq].iter().enumerate() {
                data.extend(pq.centroid(m, code).iter().map(|c| alpha * c));
            }
        }
        Matrix::Dense { cols: dim, data }
    }

    /// A quantized row's norm, itself quantized (1 when norms are not stored apart).
    fn norm(norms: &Option<(Vec<u8>, Quantizer)>, row: usize) -> f32 {
        norms.as_ref().map_or(1.0, |(codes, q)| q.centroid(0, codes[row])[0])
    }

    /// `x += row`.
    pub(super) fn add_row(&self, x: &mut [f32], row: usize) {
        match self {
            Matrix::Dense { cols, data } => {
                for (v, d) in x.iter_mut().zip(&data[row * cols..(row + 1) * cols]) {
                    *v += d;
                }
            }
            Matrix::Quantized { codes, pq, norms, .. } => {
                pq.add(x, &codes[row * pq.nsubq..(row + 1) * pq.nsubq], Self::norm(norms, row));
            }
        }
    }

    /// `row · x`.
    pub(super) fn dot_row(&self, x: &[f32], row: usize) -> f32 {
        match self {
            Matrix::Dense { cols, data } => data[row * cols..(row + 1) * cols].iter().zip(x).map(|(a, b)| a * b).sum(),
            Matrix::Quantized { codes, pq, norms, .. } => {
                pq.dot(x, &codes[row * pq.nsubq..(row + 1) * pq.nsubq]) * Self::norm(norms, row)
            }
        }
    }
}
