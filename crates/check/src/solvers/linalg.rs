//! Small fixed-size numerical helpers shared by the solvers: null spaces by Gauss-Jordan
//! elimination, real roots of univariate polynomials by Sturm sequences, the cross-product matrix,
//! the smallest eigenvector of a 9x9 normal matrix and the projection onto the essential manifold.
//! Everything here works on stack arrays / fixed-size nalgebra matrices (no heap allocation).

use nalgebra::{Matrix3, SMatrix, SymmetricEigen, Vector3};

/// Highest polynomial degree handled by [`real_roots`] (the five-point solver's degree-10 polynomial).
pub(crate) const MAX_DEG: usize = 10;

/// `[v]x`, the matrix with `[v]x w = v x w`.
#[inline]
pub fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

/// Basis of the null space of an `R x 9` matrix (rows given), `K = 9 - R` vectors, by Gauss-Jordan
/// elimination with full pivoting. The basis is not orthonormal. `None` when the matrix has rank
/// below `R` (relative pivot tolerance 1e-11), i.e. a degenerate sample.
pub(crate) fn null_space_rref<const R: usize, const K: usize>(
    mut a: [[f64; 9]; R],
) -> Option<[[f64; 9]; K]> {
    debug_assert_eq!(R + K, 9);
    let mut perm = [0usize, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut scale = 0.0f64;
    for row in &a {
        for &v in row {
            scale = scale.max(v.abs());
        }
    }
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let tol = scale * 1e-11;
    for k in 0..R {
        let (mut pr, mut pc, mut pv) = (k, k, 0.0f64);
        for (r, row) in a.iter().enumerate().skip(k) {
            for (c, v) in row.iter().enumerate().skip(k) {
                if v.abs() > pv {
                    pv = v.abs();
                    pr = r;
                    pc = c;
                }
            }
        }
        if !(pv > tol) {
            return None;
        }
        a.swap(k, pr);
        if pc != k {
            for row in a.iter_mut() {
                row.swap(k, pc);
            }
            perm.swap(k, pc);
        }
        let inv = 1.0 / a[k][k];
        for c in k..9 {
            a[k][c] *= inv;
        }
        let pivot_row = a[k];
        for (r, row) in a.iter_mut().enumerate() {
            if r == k {
                continue;
            }
            let f = row[k];
            if f != 0.0 {
                for c in k..9 {
                    row[c] -= f * pivot_row[c];
                }
            }
        }
    }
    let mut out = [[0.0; 9]; K];
    for (f, v) in out.iter_mut().enumerate() {
        let col = R + f;
        v[perm[col]] = 1.0;
        for i in 0..R {
            v[perm[i]] = -a[i][col];
        }
    }
    Some(out)
}

/// Row-major 9-vector to a 3x3 matrix (`m[(i, j)] = v[3 i + j]`).
#[inline]
pub(crate) fn mat3_from_row_major(v: &[f64; 9]) -> Matrix3<f64> {
    Matrix3::from_fn(|i, j| v[3 * i + j])
}

/// Unit eigenvector of the smallest eigenvalue of a symmetric positive semi-definite 9x9 matrix
/// (the algebraic least-squares solution of `A f = 0`, `|f| = 1`, given `ata = A^T A`). `None` when
/// the null space is (numerically) more than one-dimensional or the input is not finite.
/// The 9x9 normal matrix `sum_k w_k a_k a_k^T` of the epipolar constraint `x2^T M x1 = 0` over
/// homogeneous correspondences `(x1, x2, w)`, where `a_k` is `x2 x1^T` in row-major order: the
/// shared step of the weighted linear fundamental and essential fits.
pub(crate) fn epipolar_normal_matrix(n: usize, get: impl Fn(usize) -> (Vector3<f64>, Vector3<f64>, f64)) -> SMatrix<f64, 9, 9> {
    let mut ata = SMatrix::<f64, 9, 9>::zeros();
    for k in 0..n {
        let (x1, x2, w) = get(k);
        let mut a = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                a[3 * i + j] = x2[i] * x1[j];
            }
        }
        for r in 0..9 {
            let wr = w * a[r];
            for c in r..9 {
                ata[(r, c)] += wr * a[c];
            }
        }
    }
    for r in 0..9 {
        for c in 0..r {
            ata[(r, c)] = ata[(c, r)];
        }
    }
    ata
}

pub(crate) fn smallest_eigenvector9(ata: &SMatrix<f64, 9, 9>) -> Option<[f64; 9]> {
    if !ata.iter().all(|v| v.is_finite()) {
        return None;
    }
    let eig = SymmetricEigen::new(*ata);
    let mut order = [0usize, 1, 2, 3, 4, 5, 6, 7, 8];
    order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let largest = eig.eigenvalues[order[8]].abs();
    if !(largest > 0.0) || eig.eigenvalues[order[1]].abs() <= 1e-15 * largest {
        return None;
    }
    let col = eig.eigenvectors.column(order[0]);
    let mut out = [0.0; 9];
    for (o, v) in out.iter_mut().zip(col.iter()) {
        *o = *v;
    }
    Some(out)
}

/// Closest essential matrix (singular values `(1, 1, 0)`, scaled to unit Frobenius norm) to `m`
/// in the Frobenius sense.
pub fn project_to_essential(m: &Matrix3<f64>) -> Option<Matrix3<f64>> {
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let e = u * Matrix3::from_diagonal(&Vector3::new(s, s, 0.0)) * vt;
    e.iter().all(|v| v.is_finite()).then_some(e)
}

/// Horner evaluation of an ascending coefficient slice.
#[inline]
pub(crate) fn poly_eval(p: &[f64], x: f64) -> f64 {
    let mut r = 0.0;
    for &c in p.iter().rev() {
        r = r * x + c;
    }
    r
}

/// `out += sign * a * b` for ascending coefficient slices (`out.len() >= a.len() + b.len() - 1`).
#[inline]
pub(crate) fn poly_mul_acc(a: &[f64], b: &[f64], sign: f64, out: &mut [f64]) {
    for (i, &ai) in a.iter().enumerate() {
        for (j, &bj) in b.iter().enumerate() {
            out[i + j] += sign * ai * bj;
        }
    }
}

type Poly = [f64; MAX_DEG + 1];

fn degree_of(p: &Poly, deg: usize, tol: f64) -> Option<usize> {
    (0..=deg).rev().find(|&i| p[i].abs() > tol)
}

fn normalize_max(p: &mut Poly, deg: usize) {
    let m = p[..=deg].iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if m > 0.0 {
        for c in &mut p[..=deg] {
            *c /= m;
        }
    }
}

struct Sturm {
    seq: [Poly; MAX_DEG + 1],
    deg: [usize; MAX_DEG + 1],
    len: usize,
}

impl Sturm {
    fn new(p: &Poly, d: usize) -> Self {
        let mut seq = [[0.0; MAX_DEG + 1]; MAX_DEG + 1];
        let mut deg = [0usize; MAX_DEG + 1];
        seq[0] = *p;
        deg[0] = d;
        for i in 1..=d {
            seq[1][i - 1] = i as f64 * p[i];
        }
        deg[1] = d - 1;
        normalize_max(&mut seq[1], d - 1);
        let mut len = 2;
        while len <= MAX_DEG && deg[len - 1] > 0 {
            // r = -(seq[len-2] mod seq[len-1])
            let (a, da) = (seq[len - 2], deg[len - 2]);
            let (b, db) = (seq[len - 1], deg[len - 1]);
            let mut r = a;
            let lead = b[db];
            for i in (db..=da).rev() {
                let q = r[i] / lead;
                for j in 0..=db {
                    r[i - db + j] -= q * b[j];
                }
                r[i] = 0.0;
            }
            let scale = a[..=da].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let Some(dr) = (if db == 0 {
                None
            } else {
                degree_of(&r, db - 1, 1e-13 * scale)
            }) else {
                break;
            };
            for c in &mut r[..=dr] {
                *c = -*c;
            }
            normalize_max(&mut r, dr);
            seq[len] = r;
            deg[len] = dr;
            len += 1;
        }
        Self { seq, deg, len }
    }

    fn sign_changes(&self, x: f64) -> usize {
        let mut changes = 0;
        let mut last = 0.0f64;
        for k in 0..self.len {
            let v = poly_eval(&self.seq[k][..=self.deg[k]], x);
            if v != 0.0 {
                if last != 0.0 && (v > 0.0) != (last > 0.0) {
                    changes += 1;
                }
                last = v;
            }
        }
        changes
    }
}

/// Polishes a root of `p` isolated in `[lo, hi]`: Newton steps, replaced by bisection whenever
/// they would leave the bracket or fail to halve the step (the classic safeguarded Newton).
fn polish(p: &[f64], dp: &[f64], mut lo: f64, mut hi: f64) -> f64 {
    let flo = poly_eval(p, lo);
    let fhi = poly_eval(p, hi);
    if flo == 0.0 {
        return lo;
    }
    if fhi == 0.0 {
        return hi;
    }
    let bracketed = (flo > 0.0) != (fhi > 0.0);
    if bracketed && flo > 0.0 {
        // Orient so that p(lo) < 0 < p(hi).
        std::mem::swap(&mut lo, &mut hi);
    }
    let mut x = 0.5 * (lo + hi);
    let mut dx_old = (hi - lo).abs();
    let mut dx = dx_old;
    let mut f = poly_eval(p, x);
    let mut d = poly_eval(dp, x);
    for _ in 0..100 {
        if f == 0.0 {
            return x;
        }
        let bisect = bracketed
            && (((x - hi) * d - f) * ((x - lo) * d - f) > 0.0
                || (2.0 * f).abs() > (dx_old * d).abs());
        if bisect {
            dx_old = dx;
            dx = 0.5 * (hi - lo);
            x = lo + dx;
        } else {
            if d == 0.0 {
                return x;
            }
            dx_old = dx;
            dx = f / d;
            x -= dx;
        }
        if !x.is_finite() {
            return 0.5 * (lo + hi);
        }
        if dx.abs() <= 1e-15 * x.abs().max(1e-300) {
            return x;
        }
        f = poly_eval(p, x);
        d = poly_eval(dp, x);
        if bracketed {
            if f < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
        }
    }
    x
}

/// Real roots of the polynomial with ascending coefficients `coeffs` (degree at most
/// [`MAX_DEG`]), isolated by a Sturm sequence and bisection, then polished by safeguarded Newton
/// steps. Leading coefficients below 1e-14 of the largest are dropped (roots near infinity).
/// Returns the number of roots written to `out` (ascending order).
pub(crate) fn real_roots(coeffs: &[f64], out: &mut [f64; MAX_DEG]) -> usize {
    let n = coeffs.len().min(MAX_DEG + 1);
    let mut p: Poly = [0.0; MAX_DEG + 1];
    p[..n].copy_from_slice(&coeffs[..n]);
    let scale = p.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) || n == 0 {
        return 0;
    }
    let Some(d) = degree_of(&p, n - 1, 1e-14 * scale) else {
        return 0;
    };
    if d == 0 {
        return 0;
    }
    let lead = p[d];
    for c in &mut p[..=d] {
        *c /= lead;
    }
    if d == 1 {
        out[0] = -p[0];
        return 1;
    }
    let mut dp: Poly = [0.0; MAX_DEG + 1];
    for i in 1..=d {
        dp[i - 1] = i as f64 * p[i];
    }
    // Fujiwara's bound on the magnitude of the roots of a monic polynomial (slightly widened).
    let mut bound = 0.0f64;
    for k in 1..=d {
        let c = if k == d {
            0.5 * p[0].abs()
        } else {
            p[d - k].abs()
        };
        if c > 0.0 {
            bound = bound.max(c.powf(1.0 / k as f64));
        }
    }
    let bound = 2.0 * bound * (1.0 + 1e-9) + 1e-300;
    let sturm = Sturm::new(&p, d);
    let mut count = 0;
    // Explicit stack of (lo, hi, changes(lo), changes(hi), depth).
    let mut stack = [(0.0f64, 0.0f64, 0usize, 0usize, 0u32); 160];
    let mut top = 0;
    stack[top] = (
        -bound,
        bound,
        sturm.sign_changes(-bound),
        sturm.sign_changes(bound),
        0,
    );
    top += 1;
    while top > 0 {
        top -= 1;
        let (lo, hi, clo, chi, depth) = stack[top];
        let k = clo.saturating_sub(chi);
        if k == 0 {
            continue;
        }
        if k == 1 {
            if count < MAX_DEG {
                out[count] = polish(&p[..=d], &dp[..d], lo, hi);
                count += 1;
            }
            continue;
        }
        let mid = 0.5 * (lo + hi);
        if depth > 120 || hi - lo <= 1e-14 * (1.0 + mid.abs()) {
            // (Numerically) multiple root.
            if count < MAX_DEG {
                out[count] = mid;
                count += 1;
            }
            continue;
        }
        let cmid = sturm.sign_changes(mid);
        if top + 2 <= stack.len() {
            stack[top] = (mid, hi, cmid, chi, depth + 1);
            stack[top + 1] = (lo, mid, clo, cmid, depth + 1);
            top += 2;
        }
    }
    out[..count].sort_by(|a, b| a.total_cmp(b));
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_of_known_polynomials() {
        // (x - 1)(x + 2)(x - 3.5) = x^3 - 2.5x^2 - 5.5x + 7
        let mut out = [0.0; MAX_DEG];
        let n = real_roots(&[7.0, -5.5, -2.5, 1.0], &mut out);
        assert_eq!(n, 3);
        for (r, e) in out[..3].iter().zip([-2.0, 1.0, 3.5]) {
            assert!((r - e).abs() < 1e-12, "{r} vs {e}");
        }
        // x^2 + 1: no real roots.
        assert_eq!(real_roots(&[1.0, 0.0, 1.0], &mut out), 0);
        // Degree 10 with roots 1..=10 spread and scaled.
        let mut p = [0.0; 11];
        p[0] = 1.0;
        for (deg, r) in (1..=10).enumerate() {
            let root = r as f64 * 0.37 - 2.0;
            let mut q = [0.0; 11];
            for i in 0..=deg {
                q[i + 1] += p[i];
                q[i] -= root * p[i];
            }
            p = q;
        }
        let n = real_roots(&p, &mut out);
        assert_eq!(n, 10);
        for (i, r) in out.iter().enumerate() {
            let e = (i + 1) as f64 * 0.37 - 2.0;
            assert!((r - e).abs() < 1e-7, "{r} vs {e}");
        }
    }

    #[test]
    fn null_space_of_rank_deficient_rows() {
        let mut rows = [[0.0; 9]; 5];
        for (k, row) in rows.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((k * 7 + j * 3) % 11) as f64 - 5.0 + (k * j) as f64 * 0.1;
            }
        }
        let ns = null_space_rref::<5, 4>(rows).expect("full rank");
        for v in &ns {
            for row in &rows {
                let d: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
                assert!(d.abs() < 1e-10);
            }
        }
        let mut dup = rows;
        dup[4] = dup[3];
        assert!(null_space_rref::<5, 4>(dup).is_none());
    }
}
