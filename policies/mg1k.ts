/**
 * The M/G/1/K blocking-probability approximation used by the model-based scheduler (Casale & Roveri, IEEE TC
 * 2024; as implemented in imperial-qore/CEED), and the exact M/M/1/K quantities it reduces to.
 */

/** Exact M/M/1/K loss probability (1−ρ)ρ^K / (1−ρ^{K+1}); 1/(K+1) at ρ = 1. K = system capacity (B + 1). */
export function mm1kLoss(rho: number, K: number): number {
  if (rho === 0) return 0;
  if (Math.abs(rho - 1) < 1e-9) return 1 / (K + 1);
  return ((1 - rho) * Math.pow(rho, K)) / (1 - Math.pow(rho, K + 1));
}

/** Exact M/M/1/K time-average number in system Σ n·p_n; K/2 at ρ = 1. */
export function mm1kMeanInSystem(rho: number, K: number): number {
  if (Math.abs(rho - 1) < 1e-9) return K / 2;
  let z = 0;
  let l = 0;
  for (let n = 0; n <= K; n++) {
    const p = Math.pow(rho, n);
    z += p;
    l += n * p;
  }
  return l / z;
}

/**
 * Approximate loss probability of an M/G/1/K queue with load ρ and squared coefficient of variation c² of the
 * service time (s = √ρ):
 *   P = ρ^((s c² − s + 2K)/(2 + s c² − s)) · (ρ − 1) / (ρ^(2(1 + s c² − s + K)/(2 + s c² − s)) − 1).
 * Equals the exact M/M/1/K loss at c² = 1.
 * Guards: ρ = 1 is 0/0, replaced by its limit 1/b with b the second exponent at s = 1, i.e.
 * (1 + c²)/(2(c² + K)) (= 1/(K+1) at c² = 1); K = ∞ gives 0 below saturation and 1 − 1/ρ above; where the
 * exponents' denominator 2 + s(c² − 1) is not positive (ρ > 4 with small c²) the formula is invalid and we
 * return the lower bound 1 − 1/ρ on loss at load ρ, which is already ≥ 0.75 there.
 * @param K system capacity (buffer places + 1).
 */
export function mg1kLoss(rho: number, c2: number, K: number): number {
  if (rho <= 0) return 0;
  if (!Number.isFinite(K)) return rho < 1 ? 0 : 1 - 1 / rho;
  const s = Math.sqrt(rho);
  const d = 2 + s * c2 - s;
  if (!(d > 0)) return Math.max(0, 1 - 1 / rho);
  const a = (s * c2 - s + 2 * K) / d;
  const b = (2 * (1 + s * c2 - s + K)) / d;
  if (Math.abs(rho - 1) < 1e-7) return (1 + c2) / (2 * (c2 + K));
  const p = (Math.pow(rho, a) * (rho - 1)) / (Math.pow(rho, b) - 1);
  // For very large ρ both powers overflow to Infinity and the ratio is NaN; the loss then tends to 1 − 1/ρ.
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : Math.max(0, 1 - 1 / rho);
}
