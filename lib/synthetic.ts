/**
 * Synthetic traces with the structure real multi-exit networks show, for property tests and scale benchmarks
 * (experiments and `npm start` use traces of real models from `fixtures/`):
 * - later exits are more accurate and more confident (the true-class logit grows with depth);
 * - outcomes are correlated across exits: each sample has a latent difficulty shared by all exits, and a
 *   "confuser" class that every exit is drawn towards, so exits tend to make the same mistake (which is what
 *   makes PABEE's patience informative and the oracle's gain bounded);
 * - confidence is informative but imperfect (per-exit noise on top of the difficulty).
 */
import { InputError } from './errors.ts';
import { Rng } from './random.ts';
import { ExitTrace } from './trace.ts';

/** Options of `syntheticTrace`. */
export interface SyntheticOptions {
  /** Samples N (≥ 1). */
  readonly nSamples: number;
  /** Exits K (≥ 2). Default 4. */
  readonly nExits?: number;
  /** Classes C (≥ 2). Default 10. */
  readonly nClasses?: number;
  /** Seed of the generator. */
  readonly seed: number;
  /** Cumulative cost per exit, ms, length K. Default: 1 ms per block plus 0.1 ms per head, i.e. [1.1, 2.1, ...]. */
  readonly costMs?: readonly number[];
  /** Strength of the true-class logit at the first and the last exit. Default [1.0, 4.0]. */
  readonly strength?: readonly [number, number];
  /** Split name recorded in provenance. Default "synthetic". */
  readonly split?: string;
}

/**
 * Generate a trace. Deterministic: the same options give the same arrays, bit for bit.
 * Cost: one pass, about N·K·C normal draws.
 */
export function syntheticTrace(opts: SyntheticOptions): ExitTrace {
  const N = opts.nSamples;
  const K = opts.nExits ?? 4;
  const C = opts.nClasses ?? 10;
  const [s0, s1] = opts.strength ?? [1.0, 4.0];
  if (!Number.isSafeInteger(N) || N < 1) throw new InputError('syntheticTrace', 'nSamples', 'an integer ≥ 1', String(N));
  if (!Number.isSafeInteger(K) || K < 2) throw new InputError('syntheticTrace', 'nExits', 'an integer ≥ 2', String(K));
  if (!Number.isSafeInteger(C) || C < 2) throw new InputError('syntheticTrace', 'nClasses', 'an integer ≥ 2', String(C));
  const costMs = opts.costMs ?? Array.from({ length: K }, (_, k) => k + 1 + 0.1);
  const rng = new Rng(opts.seed);
  const probs = new Float32Array(N * K * C);
  const labels = new Int32Array(N);
  const logits = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const y = rng.int(C);
    labels[n] = y;
    const difficulty = rng.normal();
    // A wrong class this sample resembles; every exit is pulled towards it.
    const confuser = (y + 1 + rng.int(C - 1)) % C;
    const confusion = 0.8 + 0.6 * Math.max(0, difficulty);
    for (let k = 0; k < K; k++) {
      const depth = K === 1 ? 1 : k / (K - 1);
      const strength = s0 + (s1 - s0) * depth;
      for (let c = 0; c < C; c++) logits[c] = 0.7 * rng.normal();
      logits[y] += strength * (1 - 0.45 * difficulty) + 0.5 * rng.normal();
      logits[confuser] += confusion + 0.3 * rng.normal();
      // Softmax in float64, then stored as float32 rows that sum to 1 within float32 rounding.
      let m = -Infinity;
      for (let c = 0; c < C; c++) if (logits[c] > m) m = logits[c];
      let z = 0;
      for (let c = 0; c < C; c++) z += logits[c] = Math.exp(logits[c] - m);
      const base = (n * K + k) * C;
      for (let c = 0; c < C; c++) probs[base + c] = logits[c] / z;
    }
  }
  return new ExitTrace({
    nSamples: N,
    nExits: K,
    nClasses: C,
    probs,
    labels,
    costMs,
    provenance: { model: `synthetic-k${K}-c${C}`, dataset: `synthetic-seed${opts.seed}`, split: opts.split ?? 'synthetic' },
  });
}
