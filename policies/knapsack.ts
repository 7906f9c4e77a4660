/**
 * The bounded knapsack of the rate-based scheduler, solved exactly: choose integers n_i ≥ 0 with Σ n_i = k
 * maximising Σ n_i a_i subject to Σ n_i t_i ≤ T.
 *
 * Instead of a branch-and-bound per job (the reference's bound is not valid and can prune the optimum), we
 * precompute, for every k up to the system capacity, the Pareto frontier of (total time, total accuracy) over
 * all ways of assigning k jobs to exits. The recursion F_k = Pareto(⋃_i (F_{k−1} + (t_i, a_i))) is exact: if a
 * k-assignment is Pareto-optimal, removing any one job leaves a Pareto-optimal (k−1)-assignment (a dominating
 * (k−1)-assignment plus that job would dominate it). A query (k, T) is then a binary search for the point with
 * the largest time ≤ T, whose accuracy is maximal among everything that fits.
 */

/** The Pareto frontier for one k: times ascending, accuracies strictly ascending, counts per exit. */
interface Frontier {
  readonly time: Float64Array;
  readonly acc: Float64Array;
  /** counts[p·K + i] = n_i of point p. */
  readonly counts: Int32Array;
}

/** Exact solver for all k ≤ kMax, built once per (t, a, kMax). */
export class ExitKnapsack {
  readonly nExits: number;
  readonly kMax: number;
  readonly #frontiers: Frontier[] = [];

  /**
   * @param timeMs per-exit service time t_i, ms (positive).
   * @param accuracy per-exit accuracy a_i in [0, 1].
   * @param kMax largest number of jobs a query may ask for (system capacity B + 1).
   */
  constructor(timeMs: readonly number[], accuracy: readonly number[], kMax: number) {
    const K = timeMs.length;
    this.nExits = K;
    this.kMax = kMax;
    let prev: Frontier = { time: Float64Array.of(0), acc: Float64Array.of(0), counts: new Int32Array(K) };
    for (let k = 1; k <= kMax; k++) {
      const m = prev.time.length;
      const candTime = new Float64Array(m * K);
      const candAcc = new Float64Array(m * K);
      for (let p = 0; p < m; p++) {
        for (let i = 0; i < K; i++) {
          candTime[p * K + i] = prev.time[p] + timeMs[i];
          candAcc[p * K + i] = prev.acc[p] + accuracy[i];
        }
      }
      const order = Array.from({ length: m * K }, (_, j) => j).sort((x, y) => candTime[x] - candTime[y] || candAcc[y] - candAcc[x]);
      const keep: number[] = [];
      let best = -Infinity;
      for (const j of order) {
        if (candAcc[j] > best) {
          keep.push(j);
          best = candAcc[j];
        }
      }
      const time = new Float64Array(keep.length);
      const acc = new Float64Array(keep.length);
      const counts = new Int32Array(keep.length * K);
      keep.forEach((j, q) => {
        const p = Math.floor(j / K);
        const i = j % K;
        time[q] = candTime[j];
        acc[q] = candAcc[j];
        counts.set(prev.counts.subarray(p * K, p * K + K), q * K);
        counts[q * K + i]++;
      });
      prev = { time, acc, counts };
      this.#frontiers.push(prev);
    }
  }

  /** Size of the frontier for k jobs (how many Pareto-optimal assignments exist). */
  frontierSize(k: number): number {
    return this.#frontiers[k - 1].time.length;
  }

  /**
   * The best assignment of k jobs within time T.
   * @returns counts per exit (a view into the table: do not modify), or undefined when even k jobs at the
   *   fastest exit exceed T.
   */
  solve(k: number, T: number): Int32Array | undefined {
    if (!Number.isInteger(k) || k < 1 || k > this.kMax) throw new RangeError(`ExitKnapsack.solve: k must be an integer in [1, ${this.kMax}], got ${k}`);
    const f = this.#frontiers[k - 1];
    // Largest index with time ≤ T (times ascending).
    let lo = 0;
    let hi = f.time.length - 1;
    if (!(f.time[0] <= T)) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (f.time[mid] <= T) lo = mid;
      else hi = mid - 1;
    }
    return f.counts.subarray(lo * this.nExits, lo * this.nExits + this.nExits);
  }
}
