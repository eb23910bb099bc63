//! Minimal five-point relative pose solver on bearing rays.
//!
//! Method: D. Nistér, "An efficient solution to the five-point relative pose problem", IEEE TPAMI
//! 26(6), 2004 (hidden-variable formulation), with the constraint formulation of H. Stewénius,
//! C. Engels and D. Nistér, "Recent developments on direct relative orientation", ISPRS J.
//! Photogrammetry and Remote Sensing 60(4), 2006:
//!
//! 1. The five epipolar constraints `b2_k^T E b1_k = 0` (row-major `E`) leave a 4-dimensional null
//!    space: `E = x X + y Y + z Z + W` (basis from Gauss-Jordan elimination with full pivoting).
//! 2. `det(E) = 0` and the trace constraint `2 E E^T E - tr(E E^T) E = 0` give 10 cubic equations in
//!    `(x, y, z)`, 20 monomials, ordered as in Nistér's paper so that the first 10 columns can be
//!    eliminated (one 10x10 LU solve).
//! 3. Three differences of eliminated rows (`<e> - z<f>`, `<g> - z<h>`, `<i> - z<j>`) are linear in
//!    `x, y` with coefficients polynomial in `z`; the determinant of that 3x3 polynomial matrix is a
//!    degree-10 polynomial in `z`, whose real roots are isolated with a Sturm sequence.
//! 4. For each root, `(x, y)` come from the null vector of the 3x3 matrix (cross product of rows),
//!    then `(x, y, z)` is polished by one Gauss-Newton step on the ten cubic constraints.
//!
//! Works directly on unit rays (any direction, including `z <= 0`), never on z-normalised points.
//! Everything lives on the stack; [`five_point_into`] performs no heap allocation.

use nalgebra::{Matrix3, SMatrix, Vector3};

use super::linalg::{null_space_rref, poly_eval, poly_mul_acc, real_roots, MAX_DEG};

// Monomial tables: exponents of (x, y, z).
const LIN: [[u8; 3]; 4] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]];
const QUAD: [[u8; 3]; 10] = [
    [2, 0, 0],
    [1, 1, 0],
    [1, 0, 1],
    [0, 2, 0],
    [0, 1, 1],
    [0, 0, 2],
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [0, 0, 0],
];
/// Nistér's order: x^3, y^3, x^2y, xy^2, x^2z, x^2, y^2z, y^2, xyz, xy | xz^2, xz, x, yz^2, yz, y,
/// z^3, z^2, z, 1.
const CUBIC: [[u8; 3]; 20] = [
    [3, 0, 0],
    [0, 3, 0],
    [2, 1, 0],
    [1, 2, 0],
    [2, 0, 1],
    [2, 0, 0],
    [0, 2, 1],
    [0, 2, 0],
    [1, 1, 1],
    [1, 1, 0],
    [1, 0, 2],
    [1, 0, 1],
    [1, 0, 0],
    [0, 1, 2],
    [0, 1, 1],
    [0, 1, 0],
    [0, 0, 3],
    [0, 0, 2],
    [0, 0, 1],
    [0, 0, 0],
];

const fn index_of<const N: usize>(table: &[[u8; 3]; N], e: [u8; 3]) -> usize {
    let mut i = 0;
    while i < N {
        if table[i][0] == e[0] && table[i][1] == e[1] && table[i][2] == e[2] {
            return i;
        }
        i += 1;
    }
    panic!("monomial missing from table (compile-time check)")
}

const fn ll_table() -> [[usize; 4]; 4] {
    let mut t = [[0; 4]; 4];
    let mut i = 0;
    while i < 4 {
        let mut j = 0;
        while j < 4 {
            t[i][j] = index_of(
                &QUAD,
                [
                    LIN[i][0] + LIN[j][0],
                    LIN[i][1] + LIN[j][1],
                    LIN[i][2] + LIN[j][2],
                ],
            );
            j += 1;
        }
        i += 1;
    }
    t
}

const fn ql_table() -> [[usize; 4]; 10] {
    let mut t = [[0; 4]; 10];
    let mut i = 0;
    while i < 10 {
        let mut j = 0;
        while j < 4 {
            t[i][j] = index_of(
                &CUBIC,
                [
                    QUAD[i][0] + LIN[j][0],
                    QUAD[i][1] + LIN[j][1],
                    QUAD[i][2] + LIN[j][2],
                ],
            );
            j += 1;
        }
        i += 1;
    }
    t
}

const LL: [[usize; 4]; 4] = ll_table();
const QL: [[usize; 4]; 10] = ql_table();

type Lin = [f64; 4];
type Quad = [f64; 10];
type Cubic = [f64; 20];

#[inline]
fn acc_ll(out: &mut Quad, a: &Lin, b: &Lin, s: f64) {
    for i in 0..4 {
        for j in 0..4 {
            out[LL[i][j]] += s * a[i] * b[j];
        }
    }
}

#[inline]
fn acc_ql(out: &mut Cubic, q: &Quad, l: &Lin, s: f64) {
    for i in 0..10 {
        let qi = s * q[i];
        for j in 0..4 {
            out[QL[i][j]] += qi * l[j];
        }
    }
}

/// Monomials of [`CUBIC`] at `(x, y, z)` and their partial derivatives.
#[inline]
fn monomials(x: f64, y: f64, z: f64) -> ([f64; 20], [[f64; 20]; 3]) {
    let (x2, y2, z2) = (x * x, y * y, z * z);
    let (xy, xz, yz) = (x * y, x * z, y * z);
    let v = [
        x2 * x,
        y2 * y,
        x2 * y,
        x * y2,
        x2 * z,
        x2,
        y2 * z,
        y2,
        xy * z,
        xy,
        x * z2,
        xz,
        x,
        y * z2,
        yz,
        y,
        z2 * z,
        z2,
        z,
        1.0,
    ];
    let dx = [
        3.0 * x2,
        0.0,
        2.0 * xy,
        y2,
        2.0 * xz,
        2.0 * x,
        0.0,
        0.0,
        yz,
        y,
        z2,
        z,
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let dy = [
        0.0,
        3.0 * y2,
        x2,
        2.0 * xy,
        0.0,
        0.0,
        2.0 * yz,
        2.0 * y,
        xz,
        x,
        0.0,
        0.0,
        0.0,
        z2,
        z,
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let dz = [
        0.0,
        0.0,
        0.0,
        0.0,
        x2,
        0.0,
        y2,
        0.0,
        xy,
        0.0,
        2.0 * xz,
        x,
        0.0,
        2.0 * yz,
        y,
        0.0,
        3.0 * z2,
        2.0 * z,
        1.0,
        0.0,
    ];
    (v, [dx, dy, dz])
}

/// Gauss-Newton polish (one step, kept only if it lowers the residual) of a root of
/// the ten cubic constraints `m * monomials(x, y, z) = 0`: recovers the digits lost in the
/// elimination and in the degree-10 polynomial when roots cluster.
fn polish(m: &[[f64; 20]; 10], x0: f64, y0: f64, z0: f64) -> (f64, f64, f64) {
    let (mut x, mut y, mut z) = (x0, y0, z0);
    let mut best = (x0, y0, z0, f64::INFINITY);
    for it in 0..2 {
        let (v, d) = monomials(x, y, z);
        let mut jtj = nalgebra::Matrix3::<f64>::zeros();
        let mut jtr = Vector3::<f64>::zeros();
        let mut rr = 0.0;
        for row in m {
            let (mut r, mut j0, mut j1, mut j2) = (0.0, 0.0, 0.0, 0.0);
            for k in 0..20 {
                r += row[k] * v[k];
                j0 += row[k] * d[0][k];
                j1 += row[k] * d[1][k];
                j2 += row[k] * d[2][k];
            }
            let j = Vector3::new(j0, j1, j2);
            jtj += j * j.transpose();
            jtr += j * r;
            rr += r * r;
        }
        if !(rr < best.3) {
            break; // not improving: keep the best point so far
        }
        best = (x, y, z, rr);
        if it == 1 {
            break;
        }
        let Some(step) = jtj.lu().solve(&jtr) else {
            break;
        };
        if !step.iter().all(|s| s.is_finite()) {
            break;
        }
        x -= step.x;
        y -= step.y;
        z -= step.z;
    }
    (best.0, best.1, best.2)
}

/// Five-point solver writing up to 10 essential matrices (unit Frobenius norm, `b2^T E b1 = 0`) into
/// `out`; returns how many. Zero for a degenerate sample. Rays should be unit length (only their
/// direction matters for the constraint). No heap allocation.
pub fn five_point_into(
    b1: &[Vector3<f64>; 5],
    b2: &[Vector3<f64>; 5],
    out: &mut [Matrix3<f64>; 10],
) -> usize {
    let mut rows = [[0.0; 9]; 5];
    for (k, row) in rows.iter_mut().enumerate() {
        for i in 0..3 {
            for j in 0..3 {
                row[3 * i + j] = b2[k][i] * b1[k][j];
            }
        }
    }
    let Some(mut basis) = null_space_rref::<5, 4>(rows) else {
        return 0;
    };
    // Orthonormalise the basis (modified Gram-Schmidt, twice): better conditioned elimination.
    for _ in 0..2 {
        for i in 0..4 {
            for j in 0..i {
                let d: f64 = (0..9).map(|k| basis[i][k] * basis[j][k]).sum();
                for k in 0..9 {
                    basis[i][k] -= d * basis[j][k];
                }
            }
            let n = (0..9)
                .map(|k| basis[i][k] * basis[i][k])
                .sum::<f64>()
                .sqrt();
            if !(n > 0.0) {
                return 0;
            }
            for v in &mut basis[i] {
                *v /= n;
            }
        }
    }
    // E_ij as a linear polynomial [x, y, z, 1].
    let mut e = [[[0.0; 4]; 3]; 3];
    for (i, ei) in e.iter_mut().enumerate() {
        for (j, eij) in ei.iter_mut().enumerate() {
            let k = 3 * i + j;
            *eij = [basis[0][k], basis[1][k], basis[2][k], basis[3][k]];
        }
    }

    let mut m = [[0.0f64; 20]; 10];
    // det(E) by cofactor expansion along the first row.
    {
        let mut c0 = [0.0; 10];
        acc_ll(&mut c0, &e[1][1], &e[2][2], 1.0);
        acc_ll(&mut c0, &e[1][2], &e[2][1], -1.0);
        let mut c1 = [0.0; 10];
        acc_ll(&mut c1, &e[1][2], &e[2][0], 1.0);
        acc_ll(&mut c1, &e[1][0], &e[2][2], -1.0);
        let mut c2 = [0.0; 10];
        acc_ll(&mut c2, &e[1][0], &e[2][1], 1.0);
        acc_ll(&mut c2, &e[1][1], &e[2][0], -1.0);
        acc_ql(&mut m[0], &c0, &e[0][0], 1.0);
        acc_ql(&mut m[0], &c1, &e[0][1], 1.0);
        acc_ql(&mut m[0], &c2, &e[0][2], 1.0);
    }
    // E E^T E - tr(E E^T)/2 E = 0.
    let mut eet = [[[0.0; 10]; 3]; 3];
    for i in 0..3 {
        for j in i..3 {
            let mut q = [0.0; 10];
            for k in 0..3 {
                acc_ll(&mut q, &e[i][k], &e[j][k], 1.0);
            }
            eet[i][j] = q;
            eet[j][i] = q;
        }
    }
    let mut tr = [0.0; 10];
    for (t, ((a, b), c)) in tr
        .iter_mut()
        .zip(eet[0][0].iter().zip(&eet[1][1]).zip(&eet[2][2]))
    {
        *t = a + b + c;
    }
    for i in 0..3 {
        for j in 0..3 {
            let row = &mut m[1 + 3 * i + j];
            for k in 0..3 {
                acc_ql(row, &eet[i][k], &e[k][j], 1.0);
            }
            acc_ql(row, &tr, &e[i][j], -0.5);
        }
    }

    let a = SMatrix::<f64, 10, 10>::from_fn(|r, c| m[r][c]);
    let c = SMatrix::<f64, 10, 10>::from_fn(|r, c| m[r][10 + c]);
    let Some(b) = a.lu().solve(&c) else {
        return 0;
    };
    if !b.iter().all(|v| v.is_finite()) {
        return 0;
    }

    // Row r reads: mon_r + sum_j B[r][j] * [xz^2, xz, x, yz^2, yz, y, z^3, z^2, z, 1]_j = 0.
    // Row r4 - z * row r5 (pivots x^2 z and x^2, ...) is linear in x, y.
    let diff = |r4: usize, r5: usize| -> ([f64; 4], [f64; 4], [f64; 5]) {
        let p = |j: usize| b[(r4, j)];
        let q = |j: usize| b[(r5, j)];
        (
            [p(2), p(1) - q(2), p(0) - q(1), -q(0)],
            [p(5), p(4) - q(5), p(3) - q(4), -q(3)],
            [p(9), p(8) - q(9), p(7) - q(8), p(6) - q(7), -q(6)],
        )
    };
    let (kx, ky, kc) = diff(4, 5);
    let (lx, ly, lc) = diff(6, 7);
    let (mx, my, mc) = diff(8, 9);

    // det [[kx ky kc] [lx ly lc] [mx my mc]] = kx (ly mc - lc my) - ky (lx mc - lc mx)
    //                                          + kc (lx my - ly mx)
    let mut t1 = [0.0; 8];
    poly_mul_acc(&ly, &mc, 1.0, &mut t1);
    poly_mul_acc(&lc, &my, -1.0, &mut t1);
    let mut t2 = [0.0; 8];
    poly_mul_acc(&lx, &mc, 1.0, &mut t2);
    poly_mul_acc(&lc, &mx, -1.0, &mut t2);
    let mut t3 = [0.0; 7];
    poly_mul_acc(&lx, &my, 1.0, &mut t3);
    poly_mul_acc(&ly, &mx, -1.0, &mut t3);
    let mut det = [0.0; MAX_DEG + 1];
    poly_mul_acc(&kx, &t1, 1.0, &mut det);
    poly_mul_acc(&ky, &t2, -1.0, &mut det);
    poly_mul_acc(&kc, &t3, 1.0, &mut det);

    let mut roots = [0.0; MAX_DEG];
    let nroots = real_roots(&det, &mut roots);
    let mut count = 0;
    for &z in &roots[..nroots] {
        let r0 = Vector3::new(poly_eval(&kx, z), poly_eval(&ky, z), poly_eval(&kc, z));
        let r1 = Vector3::new(poly_eval(&lx, z), poly_eval(&ly, z), poly_eval(&lc, z));
        let r2 = Vector3::new(poly_eval(&mx, z), poly_eval(&my, z), poly_eval(&mc, z));
        let mut v = r0.cross(&r1);
        for cand in [r0.cross(&r2), r1.cross(&r2)] {
            if cand.norm_squared() > v.norm_squared() {
                v = cand;
            }
        }
        if !(v.z.abs() > 1e-14 * v.norm()) {
            continue;
        }
        let (x, y, z) = polish(&m, v.x / v.z, v.y / v.z, z);
        let mut ev = [0.0; 9];
        for (k, o) in ev.iter_mut().enumerate() {
            *o = x * basis[0][k] + y * basis[1][k] + z * basis[2][k] + basis[3][k];
        }
        let em = super::linalg::mat3_from_row_major(&ev);
        let norm = em.norm();
        if !(norm > 0.0 && norm.is_finite()) {
            continue;
        }
        out[count] = em / norm;
        count += 1;
        if count == out.len() {
            break;
        }
    }
    count
}

/// Five-point solver on exactly five ray correspondences (other lengths give no solution). Returns
/// every real essential matrix (up to 10, unit Frobenius norm) with `b2_k^T E b1_k = 0`.
pub fn five_point(b1: &[Vector3<f64>], b2: &[Vector3<f64>]) -> Vec<Matrix3<f64>> {
    let (Ok(a), Ok(b)) = (
        <&[Vector3<f64>; 5]>::try_from(b1),
        <&[Vector3<f64>; 5]>::try_from(b2),
    ) else {
        return Vec::new();
    };
    let mut out = [Matrix3::zeros(); 10];
    let n = five_point_into(a, b, &mut out);
    out[..n].to_vec()
}
