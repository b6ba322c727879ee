//! Linear algebra on dense matrices (nalgebra): arithmetic, determinant, inverse, pseudo-inverse,
//! rank, trace, solving (exact or least squares), eigen decomposition and the LU, QR, SVD and
//! Cholesky factorizations. Matrices travel as row-major `Vec<Vec<f64>>`.

use nalgebra::DMatrix;

use super::{MathError, Result};

/// Singular values below this (relative to the largest) count as zero.
const RANK_TOLERANCE: f64 = 1e-10;

pub type Rows = Vec<Vec<f64>>;

/// Largest side accepted (a 500×500 inverse takes well under a second).
pub const MAX_SIDE: usize = 500;

/// Reads rows into a matrix: rectangular, finite, within [`MAX_SIDE`].
pub fn from_rows(rows: &Rows, field: &str) -> Result<DMatrix<f64>> {
    let height = rows.len();
    let width = rows.first().map_or(0, Vec::len);
    if height == 0 || width == 0 {
        return Err(MathError::invalid(
            field,
            "must have at least one row and one column",
        ));
    }
    if height > MAX_SIDE || width > MAX_SIDE {
        return Err(MathError::TooComplex(format!(
            "{field} is {height}×{width}; at most {MAX_SIDE}×{MAX_SIDE}"
        )));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(MathError::invalid(
                format!("{field}[{i}]"),
                format!("has {} values; row 0 has {width}", row.len()),
            ));
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(MathError::invalid(
                format!("{field}[{i}][{j}]"),
                "is not a finite number",
            ));
        }
    }
    Ok(DMatrix::from_fn(height, width, |i, j| rows[i][j]))
}

pub fn to_rows(matrix: &DMatrix<f64>) -> Rows {
    (0..matrix.nrows())
        .map(|i| (0..matrix.ncols()).map(|j| clean(matrix[(i, j)])).collect())
        .collect()
}

/// Turns `-0.0` into `0.0` so answers read naturally.
fn clean(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}

fn square(matrix: &DMatrix<f64>, field: &str) -> Result<()> {
    if matrix.is_square() {
        Ok(())
    } else {
        Err(MathError::invalid(
            field,
            format!("must be square, is {}×{}", matrix.nrows(), matrix.ncols()),
        ))
    }
}

fn same_shape(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<()> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(MathError::invalid(
            "b",
            format!(
                "is {}×{}; a is {}×{}",
                b.nrows(),
                b.ncols(),
                a.nrows(),
                a.ncols()
            ),
        ))
    }
}

pub fn add(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    same_shape(a, b)?;
    Ok(a + b)
}

pub fn subtract(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    same_shape(a, b)?;
    Ok(a - b)
}

pub fn multiply(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    if a.ncols() != b.nrows() {
        return Err(MathError::invalid(
            "b",
            format!("has {} rows; a has {} columns", b.nrows(), a.ncols()),
        ));
    }
    Ok(a * b)
}

pub fn determinant(a: &DMatrix<f64>) -> Result<f64> {
    square(a, "a")?;
    Ok(clean(a.clone().lu().determinant()))
}

pub fn trace(a: &DMatrix<f64>) -> Result<f64> {
    square(a, "a")?;
    Ok(a.trace())
}

pub fn rank(a: &DMatrix<f64>) -> usize {
    let svd = a.clone().svd(false, false);
    let largest = svd.singular_values.max();
    svd.rank(largest * RANK_TOLERANCE * a.nrows().max(a.ncols()) as f64)
}

fn singular() -> MathError {
    MathError::Singular("the matrix is singular (its determinant is 0)".into())
}

pub fn inverse(a: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    square(a, "a")?;
    if rank(a) < a.nrows() {
        return Err(singular());
    }
    a.clone().try_inverse().ok_or_else(singular)
}

pub fn pseudo_inverse(a: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let largest = a.clone().svd(false, false).singular_values.max();
    a.clone()
        .pseudo_inverse(largest * RANK_TOLERANCE)
        .map_err(|e| MathError::Singular(e.to_string()))
}

/// How `solve` found `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolveMethod {
    /// A square system with one solution (LU).
    Exact,
    /// Minimizes ‖Ax − b‖ (SVD); for over- or under-determined systems.
    LeastSquares,
}

/// Solves `A x = b` (`b` a column, or a matrix of several right-hand sides).
pub fn solve(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<(DMatrix<f64>, SolveMethod)> {
    if b.nrows() != a.nrows() {
        return Err(MathError::invalid(
            "b",
            format!("has {} rows; a has {}", b.nrows(), a.nrows()),
        ));
    }
    if a.is_square() {
        if rank(a) < a.nrows() {
            return Err(MathError::Singular(
                "the system has no unique solution (a is singular); ask for leastSquares".into(),
            ));
        }
        let x = a.clone().lu().solve(b).ok_or_else(singular)?;
        return Ok((x, SolveMethod::Exact));
    }
    least_squares(a, b)
}

pub fn least_squares(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<(DMatrix<f64>, SolveMethod)> {
    let largest = a.clone().svd(false, false).singular_values.max();
    let x = a
        .clone()
        .svd(true, true)
        .solve(b, largest * RANK_TOLERANCE)
        .map_err(|e| MathError::Singular(e.to_string()))?;
    Ok((x, SolveMethod::LeastSquares))
}

/// Eigenvalues (real parts, imaginary parts) and, for symmetric matrices, eigenvectors (as columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Eigen {
    pub values: Vec<f64>,
    pub imaginary: Vec<f64>,
    pub vectors: Option<DMatrix<f64>>,
    pub symmetric: bool,
}

pub fn eigen(a: &DMatrix<f64>) -> Result<Eigen> {
    square(a, "a")?;
    let symmetric = (a - a.transpose()).amax() <= 1e-12 * a.amax().max(1.0);
    if symmetric {
        let decomposition = a.clone().symmetric_eigen();
        // Ascending, with vectors in the same order (numpy.linalg.eigh's convention).
        let mut order: Vec<usize> = (0..a.nrows()).collect();
        order.sort_by(|i, j| {
            decomposition.eigenvalues[*i].total_cmp(&decomposition.eigenvalues[*j])
        });
        let values = order
            .iter()
            .map(|i| decomposition.eigenvalues[*i])
            .collect();
        let vectors = DMatrix::from_fn(a.nrows(), a.ncols(), |r, c| {
            decomposition.eigenvectors[(r, order[c])]
        });
        return Ok(Eigen {
            imaginary: vec![0.0; a.nrows()],
            values,
            vectors: Some(vectors),
            symmetric,
        });
    }
    let mut pairs: Vec<(f64, f64)> = a
        .clone()
        .complex_eigenvalues()
        .iter()
        .map(|c| (clean(c.re), clean(c.im)))
        .collect();
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    Ok(Eigen {
        values: pairs.iter().map(|p| p.0).collect(),
        imaginary: pairs.iter().map(|p| p.1).collect(),
        vectors: None,
        symmetric,
    })
}

/// `P A = L U`.
pub fn lu(a: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>, DMatrix<f64>)> {
    square(a, "a")?;
    let decomposition = a.clone().lu();
    let mut p = DMatrix::identity(a.nrows(), a.nrows());
    decomposition.p().permute_rows(&mut p);
    Ok((p, decomposition.l(), decomposition.u()))
}

/// `A = Q R`.
pub fn qr(a: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let decomposition = a.clone().qr();
    (decomposition.q(), decomposition.r())
}

/// `A = U Σ Vᵀ`: (U, singular values, Vᵀ).
pub fn svd(a: &DMatrix<f64>) -> Result<(DMatrix<f64>, Vec<f64>, DMatrix<f64>)> {
    let decomposition = a.clone().svd(true, true);
    let (Some(u), Some(v_t)) = (decomposition.u, decomposition.v_t) else {
        return Err(MathError::NoConvergence("the SVD did not converge".into()));
    };
    Ok((
        u,
        decomposition.singular_values.iter().copied().collect(),
        v_t,
    ))
}

/// `A = L Lᵀ` for symmetric positive-definite `A`.
pub fn cholesky(a: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    square(a, "a")?;
    a.clone().cholesky().map(|c| c.l()).ok_or_else(|| {
        MathError::invalid(
            "a",
            "must be symmetric positive-definite for a Cholesky factorization",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[&[f64]]) -> DMatrix<f64> {
        from_rows(&rows.iter().map(|r| r.to_vec()).collect(), "a").unwrap()
    }

    fn close(a: &DMatrix<f64>, b: &DMatrix<f64>) {
        assert!((a - b).amax() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn arithmetic_and_shapes() {
        let a = m(&[&[1.0, 2.0], &[3.0, 4.0]]);
        let b = m(&[&[5.0, 6.0], &[7.0, 8.0]]);
        assert_eq!(
            to_rows(&multiply(&a, &b).unwrap()),
            vec![vec![19.0, 22.0], vec![43.0, 50.0]]
        );
        assert_eq!(
            to_rows(&add(&a, &b).unwrap()),
            vec![vec![6.0, 8.0], vec![10.0, 12.0]]
        );
        assert!(multiply(&a, &m(&[&[1.0, 2.0, 3.0]])).is_err());
        assert_eq!(determinant(&a).unwrap(), -2.0);
        assert_eq!(trace(&a).unwrap(), 5.0);
        assert!(from_rows(&vec![vec![1.0, 2.0], vec![3.0]], "a").is_err());
    }

    #[test]
    fn inverse_solve_and_singularity() {
        let a = m(&[&[4.0, 7.0], &[2.0, 6.0]]);
        close(&inverse(&a).unwrap(), &m(&[&[0.6, -0.7], &[-0.2, 0.4]]));
        let singular = m(&[&[1.0, 2.0], &[2.0, 4.0]]);
        assert!(matches!(inverse(&singular), Err(MathError::Singular(_))));
        assert_eq!(rank(&singular), 1);
        // 2x + y = 5, x + 3y = 10 -> x = 1, y = 3.
        let (x, method) = solve(&m(&[&[2.0, 1.0], &[1.0, 3.0]]), &m(&[&[5.0], &[10.0]])).unwrap();
        assert_eq!(method, SolveMethod::Exact);
        close(&x, &m(&[&[1.0], &[3.0]]));
        // Least squares line through (0,1), (1,3), (2,4): numpy.linalg.lstsq -> [1.1667, 1.5].
        let (x, method) = solve(
            &m(&[&[1.0, 0.0], &[1.0, 1.0], &[1.0, 2.0]]),
            &m(&[&[1.0], &[3.0], &[4.0]]),
        )
        .unwrap();
        assert_eq!(method, SolveMethod::LeastSquares);
        close(&x, &m(&[&[7.0 / 6.0], &[1.5]]));
        close(
            &pseudo_inverse(&singular).unwrap(),
            &m(&[&[0.04, 0.08], &[0.08, 0.16]]),
        );
    }

    #[test]
    fn decompositions_reassemble() {
        let a = m(&[
            &[4.0, 12.0, -16.0],
            &[12.0, 37.0, -43.0],
            &[-16.0, -43.0, 98.0],
        ]);
        let l = cholesky(&a).unwrap();
        close(
            &l,
            &m(&[&[2.0, 0.0, 0.0], &[6.0, 1.0, 0.0], &[-8.0, 5.0, 3.0]]),
        );
        let (p, l, u) = lu(&a).unwrap();
        close(&(p * &a), &(l * u));
        let (q, r) = qr(&a);
        close(&(q * r), &a);
        let (u, s, v_t) = svd(&a).unwrap();
        close(
            &(u * DMatrix::from_diagonal(&nalgebra::DVector::from_vec(s)) * v_t),
            &a,
        );
        assert!(cholesky(&m(&[&[1.0, 2.0], &[2.0, 1.0]])).is_err());
    }

    #[test]
    fn eigenvalues_symmetric_and_general() {
        let symmetric = eigen(&m(&[&[2.0, 1.0], &[1.0, 2.0]])).unwrap();
        assert!(symmetric.symmetric);
        assert!(
            (symmetric.values[0] - 1.0).abs() < 1e-12 && (symmetric.values[1] - 3.0).abs() < 1e-12
        );
        // A rotation by 90°: eigenvalues ±i.
        let rotation = eigen(&m(&[&[0.0, -1.0], &[1.0, 0.0]])).unwrap();
        assert!(!rotation.symmetric && rotation.vectors.is_none());
        assert_eq!(rotation.values, vec![0.0, 0.0]);
        assert!(
            (rotation.imaginary[0] + 1.0).abs() < 1e-12
                && (rotation.imaginary[1] - 1.0).abs() < 1e-12
        );
    }
}
