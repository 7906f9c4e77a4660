/**
 * The model-based scheduler's linear programme, solved exactly by enumerating its vertices (no LP text, no
 * solver). The programme (Casale & Roveri, IEEE TC 2024, the LP of the model-based scheduler) is
 *   max Σ π_i a_i   s.t.   Σ π_i = 1,   Σ π_i t_i = p,   Σ π_i t_i² ≤ s,   π ≥ 0
 * (π_i ≤ 1 is implied by π ≥ 0 and Σ π_i = 1). With a slack on the third row it is a standard-form LP with three
 * equality rows, so every basic feasible solution has at most three non-zero variables among π and the slack:
 * - slack basic: at most two non-zero π — one exit with t_i = p, or a pair (i, j) with t_i < p < t_j, whose shares
 *   are fixed by the first two rows: π_i = (t_j − p)/(t_j − t_i), π_j = (p − t_i)/(t_j − t_i);
 * - slack zero: at most three non-zero π solving the 3×3 Vandermonde system of the three rows as equalities; by
 *   Lagrange interpolation on the nodes (t_i, t_j, t_k), π_i = (s − (t_j + t_k) p + t_j t_k) / ((t_i − t_j)(t_i − t_k)),
 *   and cyclically.
 * The feasible set is a bounded polytope (a face of the simplex), so if it is non-empty the optimum is attained at
 * one of these vertices; checking all O(K³) candidates (K ≤ 10 exits: at most 175) is exact and takes microseconds.
 */

/** Relative feasibility tolerance: rows are checked to this fraction of their scale (t_max, t_max²). */
const TOL = 1e-12;

/**
 * Solve the LP above.
 * @param t mean service time of each exit, ms (any order; duplicates allowed).
 * @param a accuracy of each exit, in [0, 1].
 * @param p target mean service time, ms.
 * @param s bound on the second moment Σ π_i t_i², ms².
 * @returns the optimal π (length K, sums to 1), or undefined when the LP is infeasible. Among optimal vertices
 *   the first found wins (singles, then pairs, then triples, each in index order), so ties are broken
 *   deterministically.
 */
export function solveMomentLp(t: ArrayLike<number>, a: ArrayLike<number>, p: number, s: number): Float64Array | undefined {
  const K = t.length;
  let tMax = 0;
  for (let i = 0; i < K; i++) tMax = Math.max(tMax, Math.abs(t[i]));
  const tol1 = TOL * Math.max(tMax, Math.abs(p), 1e-300);
  const tol2 = TOL * Math.max(tMax * tMax, Math.abs(s), 1e-300);
  const negTol = -1e-12;
  let bestObj = -Infinity;
  let bi = -1;
  let bj = -1;
  let bk = -1;
  let wi = 0;
  let wj = 0;
  let wk = 0;
  const consider = (obj: number, i: number, j: number, k: number, x: number, y: number, z: number) => {
    if (obj > bestObj + 1e-15) {
      bestObj = obj;
      bi = i;
      bj = j;
      bk = k;
      wi = x;
      wj = y;
      wk = z;
    }
  };
  // One exit: t_i = p and t_i² ≤ s.
  for (let i = 0; i < K; i++) {
    if (Math.abs(t[i] - p) <= tol1 && t[i] * t[i] <= s + tol2) consider(a[i], i, -1, -1, 1, 0, 0);
  }
  // Two exits, second moment slack or tight.
  for (let i = 0; i < K; i++) {
    for (let j = i + 1; j < K; j++) {
      const d = t[j] - t[i];
      if (Math.abs(d) <= tol1) continue;
      const x = (t[j] - p) / d;
      const y = (p - t[i]) / d;
      if (x < negTol || y < negTol) continue;
      if (x * t[i] * t[i] + y * t[j] * t[j] > s + tol2) continue;
      consider(x * a[i] + y * a[j], i, j, -1, x, y, 0);
    }
  }
  // Three exits with the second moment tight.
  for (let i = 0; i < K; i++) {
    for (let j = i + 1; j < K; j++) {
      for (let k = j + 1; k < K; k++) {
        const ti = t[i];
        const tj = t[j];
        const tk = t[k];
        const dij = ti - tj;
        const dik = ti - tk;
        const djk = tj - tk;
        if (Math.abs(dij) <= tol1 || Math.abs(dik) <= tol1 || Math.abs(djk) <= tol1) continue;
        const x = (s - (tj + tk) * p + tj * tk) / (dij * dik);
        const y = (s - (ti + tk) * p + ti * tk) / (-dij * djk);
        const z = (s - (ti + tj) * p + ti * tj) / (dik * djk);
        if (x < negTol || y < negTol || z < negTol) continue;
        consider(x * a[i] + y * a[j] + z * a[k], i, j, k, x, y, z);
      }
    }
  }
  if (bi < 0) return undefined;
  const pi = new Float64Array(K);
  pi[bi] += Math.max(0, wi);
  if (bj >= 0) pi[bj] += Math.max(0, wj);
  if (bk >= 0) pi[bk] += Math.max(0, wk);
  // Renormalise the round-off (≈1e-16) so π is an exact distribution for sampling.
  let sum = 0;
  for (let i = 0; i < K; i++) sum += pi[i];
  for (let i = 0; i < K; i++) pi[i] /= sum;
  return pi;
}
