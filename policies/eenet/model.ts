/**
 * EENet's model (policies/eenet/): configuration, weights, and everything after training in plain JavaScript
 * (learned scores, exit probabilities, shares, thresholds). Training is `training.ts`, save/load
 * `serialisation.ts`, the registry entry `spec.ts`.
 *
 * EENet (Ilhan et al., "EENet: Learning to Early Exit for Adaptive Inference", arXiv 2301.07099; reference code
 * GitHub git-disl/EENet, `utils/predict_helpers.py` and `utils/predict_utils.py`): learned exit utility scores
 * q_k = g_k(features) and a budget-driven exit assignment, trained on a labelled validation trace.
 *
 * Pieces, each reusable on its own:
 * - features at exit k (reference `prepare_input`): [p_1..p_C, maxprob, conf, q̃_0..q̃_{k−1}], width C + 2 + k,
 *   where conf = 1 − H(p)/log C is the core's `entropy` score and q̃_j = clamp(q_j, 0, 1) are the earlier
 *   exits' scores (no gradient flows through them in training);
 * - score functions g_k: linear without bias, initialised to pick maxprob, so q starts as MSDNet's score
 *   (`ScoreNormalizer.q_layer_*`);
 * - assignment heads h_k: Linear(d, ⌊d·r⌋) → sigmoid → Linear(·, 1) [→ sigmoid], softmax across exits gives
 *   per-sample exit probabilities π[n][k] (`ScoreNormalizer.prob_out`, used in training only);
 * - the loss (`ExitAssigner.compute_loss`): weighted BCE of clamp(q) against exit correctness (weights π/Σ_n π,
 *   detached), KL(target ‖ π) with target ∝ clamp(q)^β (detached), and |E[cost] − B|/B, phases alternating;
 * - thresholds by the sorting procedure on the unclamped validation scores with the shares π̄ = mean_n π.
 *
 * Training runs in plain JavaScript (`fused.ts`, driven by `training.ts`); everything after training (scores,
 * shares, thresholds, inference, save/load) is plain JavaScript on the weights, so a fitted model decides without
 * TensorFlow.js and identically on every backend.
 *
 * Array layouts: probabilities are the trace's [sample][exit][class]; scores q and exit probabilities π are
 * [sample][exit] row-major; g weights per exit are length C + 2 + k in feature order; a head's first layer is
 * [input][hidden] row-major.
 */
import { exitsByThresholds, geometricShares, thresholdsBySorting } from '../../lib/calibrate.ts';
import { InputError, describe } from '../../lib/errors.ts';
import type { ExitView } from '../../lib/policy.ts';
import type { Rng } from '../../lib/random.ts';
import type { ScoredTrace } from '../../lib/scores.ts';

export interface EENetConfig {
  /** Seeded training runs; the best one is kept (see `fitEENet`). [10] */
  readonly trials: number;
  /** Maximum epochs per trial. [1000] */
  readonly epochs: number;
  /** Early stopping: epochs without improvement of the objective, counted only while the cost term < `costGate`. [100] */
  readonly patience: number;
  /** Mini-batch size, samples. [512] */
  readonly batchSize: number;
  /** Adam learning rate. [3e-5] */
  readonly lr: number;
  /** L2 weight decay added to the gradient (PyTorch `Adam(weight_decay=…)` semantics, i.e. coupled, not AdamW). [1e-2] */
  readonly weightDecay: number;
  /** Phase length in epochs: q-phase (g_k on BCE) for `period` epochs, then h-phase (h_k on KL + cost). [10] */
  readonly period: number;
  /** Hidden width ratio r of the heads: hidden = max(1, ⌊d·r⌋). [0.5 for CNNs, 2 for BERT] */
  readonly hiddenRatio: number;
  /** Whether a head's output goes through a final sigmoid before the softmax across exits. ['sigmoid'; see `policies/eenet/spec.ts`] */
  readonly headOutput: 'logit' | 'sigmoid';
  /** Weight of the KL term. [1e-3] */
  readonly alphaKl: number;
  /** Weight of the budget term |cost − B|/B. [1e-2] */
  readonly alphaCost: number;
  /** Exponent β of the KL target q^β / Σ q^β. [1] */
  readonly betaCe: number;
  /** Early stopping counts only while the epoch's mean cost term is below this. [0.1] */
  readonly costGate: number;
  /** Trials whose head-expected cost is within this relative distance of B are eligible for selection. [0.1] */
  readonly selectTolerance: number;
}

/** The reference code's values (1000 epochs × 10 trials: minutes per budget here; see `DEFAULT_EENET_CONFIG`). */
export const REFERENCE_EENET_CONFIG: EENetConfig = {
  trials: 10,
  epochs: 1000,
  patience: 100,
  batchSize: 512,
  lr: 3e-5,
  weightDecay: 1e-2,
  period: 10,
  hiddenRatio: 0.5,
  headOutput: 'sigmoid',
  alphaKl: 1e-3,
  alphaCost: 1e-2,
  betaCe: 1,
  costGate: 0.1,
  selectTolerance: 0.1,
};

/**
 * Our defaults. Fewer epochs and trials than the reference, so that a full fit (all trials) of the 5,000-sample
 * Fashion-MNIST validation split takes under 60 s on one core with wasm; a larger learning rate and smaller weight
 * decay, because with the reference's lr 3e-5 (at most 3e-5 per weight per Adam step) and coupled decay 1e-2
 * (as strong as the 1e-2-weighted cost term's gradient) the heads cannot move their exit shares far from the
 * initial near-uniform split: measured on Fashion-MNIST at B = 0.545 ms, π̄ stayed at [.19, .20, .24, .36]
 * (expected cost 0.41 ms) with decay 1e-2, and reached B with [.07, .08, .13, .72] with 1e-4. Heads output logits
 * (see `policies/eenet/spec.ts` for why).
 */
export const DEFAULT_EENET_CONFIG: EENetConfig = {
  ...REFERENCE_EENET_CONFIG,
  trials: 4,
  epochs: 100,
  patience: 20,
  lr: 5e-3,
  weightDecay: 1e-4,
  headOutput: 'logit',
};

/** One assignment head h_k: Linear(d, m) → sigmoid → Linear(m, 1) [→ sigmoid]. */
export interface HeadWeights {
  /** Hidden width m. */
  readonly hidden: number;
  /** First layer, [input d][hidden m] row-major, length d·m. */
  readonly w1: Float64Array;
  /** First-layer bias, length m. */
  readonly b1: Float64Array;
  /** Second layer, length m. */
  readonly w2: Float64Array;
  /** Second-layer bias. */
  readonly b2: number;
}

/** The learnable part of an EENet: score functions and assignment heads for K exits and C classes. */
export interface EENetWeights {
  readonly nExits: number;
  readonly nClasses: number;
  /** g_k per exit: weights of [p_1..p_C, maxprob, conf, q̃_0..q̃_{k−1}], length C + 2 + k. */
  readonly g: readonly Float64Array[];
  /** h_k per exit (input width C + 2 + k). */
  readonly heads: readonly HeadWeights[];
  /** Whether the heads end in a sigmoid. */
  readonly headOutput: 'logit' | 'sigmoid';
}

/** A fitted EENet: everything needed to decide on new data, without TensorFlow.js. */
export interface FittedEENet {
  readonly weights: EENetWeights;
  /** Per-exit thresholds on the unclamped score q, length K; t[K−1] = −Infinity; +Infinity = nobody exits there. */
  readonly thresholds: Float64Array;
  /** Shares the thresholds were sorted for (π̄, moved towards cheaper exits if needed to meet B), length K. */
  readonly shares: readonly number[];
  /** Budget it was fitted for, ms. */
  readonly budgetMs: number;
  /** The model's cumulative per-exit costs, ms, length K. */
  readonly costMs: readonly number[];
  /** The configuration it was trained with. */
  readonly config: EENetConfig;
}

/** Width of exit k's feature vector. */
export function featureWidth(nClasses: number, exit: number): number {
  return nClasses + 2 + exit;
}

/** Hidden width of head k for ratio r (the reference's `int(in_dim * ratio)`, at least 1). */
export function hiddenWidth(nClasses: number, exit: number, ratio: number): number {
  return Math.max(1, Math.floor(featureWidth(nClasses, exit) * ratio));
}

/**
 * Initial weights. g_k picks maxprob (w = 1 on the maxprob feature, 0 elsewhere), so q starts as MSDNet's score;
 * this is what the shipped reference weights imply. Head weights and biases are U(−1/√fan_in, 1/√fan_in), PyTorch's
 * default `nn.Linear` initialisation, drawn from `rng` (no TensorFlow.js initialiser, so the draws are the same on
 * every backend).
 */
export function initEENetWeights(nExits: number, nClasses: number, hiddenRatio: number, headOutput: 'logit' | 'sigmoid', rng: Rng): EENetWeights {
  const g: Float64Array[] = [];
  const heads: HeadWeights[] = [];
  const uniform = (bound: number): number => (2 * rng.float() - 1) * bound;
  for (let k = 0; k < nExits; k++) {
    const d = featureWidth(nClasses, k);
    const w = new Float64Array(d);
    w[nClasses] = 1;
    g.push(w);
    const m = hiddenWidth(nClasses, k, hiddenRatio);
    const b1Bound = 1 / Math.sqrt(d);
    const b2Bound = 1 / Math.sqrt(m);
    const w1 = Float64Array.from({ length: d * m }, () => uniform(b1Bound));
    const b1 = Float64Array.from({ length: m }, () => uniform(b1Bound));
    const w2 = Float64Array.from({ length: m }, () => uniform(b2Bound));
    heads.push({ hidden: m, w1, b1, w2, b2: uniform(b2Bound) });
  }
  return { nExits, nClasses, g, heads, headOutput };
}

// ---------------------------------------------------------------------------------------------------------
// Plain-JS evaluation of a fitted model (inference, thresholds, shares)
// ---------------------------------------------------------------------------------------------------------

/** x clamped to [0, 1] (the earlier-score features q̃_j). */
export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * q_k of one sample from its features, with earlier scores already known.
 * @param probs the trace's probs array; `base` the offset of (sample, exit k)'s C probabilities in it.
 * @param qEarlier unclamped q_0..q_{k−1} of the same sample (clamped here, as the features use them).
 */
export function scoreAt(w: Float64Array, nClasses: number, probs: ArrayLike<number>, base: number, maxprob: number, conf: number, qEarlier: ArrayLike<number>, k: number): number {
  let q = 0;
  for (let c = 0; c < nClasses; c++) q += w[c] * probs[base + c];
  q += w[nClasses] * maxprob + w[nClasses + 1] * conf;
  for (let j = 0; j < k; j++) q += w[nClasses + 2 + j] * clamp01(qEarlier[j]);
  return q;
}

/**
 * q_0..q_k of the sample a view shows, k = `view.exit`, recomputed from exit 0 (the view is the only source of
 * earlier exits' outputs, so nothing is cached across calls), written into `q` (length ≥ k + 1).
 * @param g the per-exit score weights (`EENetWeights.g`).
 * @returns q_k, unclamped (the value `eenetScores` stores, before its float32 rounding).
 */
export function scoresFromView(g: readonly Float64Array[], nClasses: number, view: ExitView, q: Float64Array): number {
  const k = view.exit;
  for (let j = 0; j <= k; j++) q[j] = scoreAt(g[j], nClasses, view.probs(j), 0, view.score('maxprob', j), view.score('entropy', j), q, j);
  return q[k];
}

/**
 * EENet's learned utility q (unclamped) for every sample and exit of a trace: the score the thresholds apply to.
 * Add it to the core with `scored.scores.withScore('eenet', eenetScores(weights, scored))` and any threshold
 * policy or scheduler can use it by name.
 * @returns Float32Array [sample][exit], length N·K.
 */
export function eenetScores(weights: EENetWeights, scored: ScoredTrace): Float32Array {
  checkShape(weights, scored, 'eenetScores');
  const { nSamples: N, nExits: K, nClasses: C, probs } = scored.trace;
  const maxprob = scored.scores.get('maxprob');
  const conf = scored.scores.get('entropy');
  const out = new Float32Array(N * K);
  const q = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const row = n * K + k;
      q[k] = scoreAt(weights.g[k], C, probs, row * C, maxprob[row], conf[row], q, k);
      out[row] = q[k];
    }
  }
  return out;
}

/**
 * The heads' exit probabilities π[n][k] (softmax across exits of h_k), computed in float64.
 * @param q unclamped scores [sample][exit] from `eenetScores` (the heads see their clamped values).
 * @returns Float64Array [sample][exit].
 */
export function exitProbabilities(weights: EENetWeights, scored: ScoredTrace, q: Float32Array): Float64Array {
  checkShape(weights, scored, 'exitProbabilities');
  const { nSamples: N, nExits: K, nClasses: C, probs } = scored.trace;
  const maxprob = scored.scores.get('maxprob');
  const conf = scored.scores.get('entropy');
  const out = new Float64Array(N * K);
  const x = new Float64Array(featureWidth(C, K - 1));
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  for (let n = 0; n < N; n++) {
    let mx = -Infinity;
    for (let k = 0; k < K; k++) {
      const row = n * K + k;
      const d = featureWidth(C, k);
      for (let c = 0; c < C; c++) x[c] = probs[row * C + c];
      x[C] = maxprob[row];
      x[C + 1] = conf[row];
      for (let j = 0; j < k; j++) x[C + 2 + j] = clamp01(q[n * K + j]);
      const h = weights.heads[k];
      let o = h.b2;
      for (let i = 0; i < h.hidden; i++) {
        let a = h.b1[i];
        for (let r = 0; r < d; r++) a += x[r] * h.w1[r * h.hidden + i];
        o += h.w2[i] * sig(a);
      }
      if (weights.headOutput === 'sigmoid') o = sig(o);
      out[row] = o;
      if (o > mx) mx = o;
    }
    let z = 0;
    for (let k = 0; k < K; k++) z += out[n * K + k] = Math.exp(out[n * K + k] - mx);
    for (let k = 0; k < K; k++) out[n * K + k] /= z;
  }
  return out;
}

/** Mean over samples of π, normalised to sum to exactly 1 (float64), length K. */
export function meanShares(pi: Float64Array, nExits: number): number[] {
  const s = new Array<number>(nExits).fill(0);
  for (let i = 0; i < pi.length; i++) s[i % nExits] += pi[i];
  const z = s.reduce((a, b) => a + b, 0);
  return s.map((v) => v / z);
}

/**
 * Shares the thresholds are sorted for: π̄ itself when its expected cost is within B; otherwise the mixture
 * (1 − λ)·π̄ + λ·g(B) with g(B) MSDNet's geometric shares for B (`geometricShares`, cost ≤ B) and the smallest λ
 * that brings the expected cost to B. The reference uses π̄ as is, whose cost the cost term only pulls *towards*
 * B (within 10% at selection), so its fitted cost can exceed B; ours cannot (with `thresholdsBySorting`'s
 * rounding towards cheaper exits the realised validation cost is ≤ Σ share_k c_k ≤ B).
 */
export function sharesWithinBudget(pbar: readonly number[], costMs: readonly number[], budgetMs: number): number[] {
  const cost = (s: readonly number[]): number => s.reduce((a, p, k) => a + p * costMs[k], 0);
  const c = cost(pbar);
  if (c <= budgetMs) return [...pbar];
  const g = geometricShares(costMs, budgetMs);
  const cg = cost(g);
  // cg ≤ B < c here, so λ ∈ (0, 1]; a hair more than exact so float rounding cannot land above B.
  let lambda = Math.min(1, (c - budgetMs) / (c - cg) + 1e-12);
  let s = pbar.map((p, k) => (1 - lambda) * p + lambda * g[k]);
  if (cost(s) > budgetMs) {
    lambda = 1;
    s = g;
  }
  const z = s.reduce((a, b) => a + b, 0);
  return s.map((v) => v / z);
}

/** Mean cost and accuracy of "exit at the first k with q_k ≥ t_k" on a scored trace. */
export function evaluateThresholds(q: Float32Array, thresholds: ArrayLike<number>, scored: ScoredTrace): { accuracy: number; meanCostMs: number; exits: Int32Array } {
  const K = scored.trace.nExits;
  const exits = exitsByThresholds(q, K, thresholds);
  let cost = 0;
  let correct = 0;
  for (let n = 0; n < exits.length; n++) {
    cost += scored.trace.costMs[exits[n]];
    correct += scored.scores.correct[n * K + exits[n]];
  }
  return { accuracy: correct / exits.length, meanCostMs: cost / exits.length, exits };
}

/**
 * Thresholds of a trained model on its fitting data: unclamped q, π̄ from the heads, shares kept within B,
 * then the sorting procedure (`thresholdsBySorting`).
 */
export function thresholdsFor(weights: EENetWeights, scored: ScoredTrace, budgetMs: number): { q: Float32Array; pbar: number[]; shares: number[]; thresholds: Float64Array } {
  const q = eenetScores(weights, scored);
  const pbar = meanShares(exitProbabilities(weights, scored, q), scored.trace.nExits);
  const shares = sharesWithinBudget(pbar, scored.trace.costMs, budgetMs);
  const thresholds = thresholdsBySorting(q, scored.trace.nExits, shares);
  return { q, pbar, shares, thresholds };
}

function checkShape(weights: EENetWeights, scored: ScoredTrace, source: string): void {
  if (weights.nExits !== scored.trace.nExits || weights.nClasses !== scored.trace.nClasses) {
    throw new InputError(source, 'trace', `a trace with K = ${weights.nExits} exits and C = ${weights.nClasses} classes`, `K = ${scored.trace.nExits}, C = ${scored.trace.nClasses}`);
  }
}


/** Validate a config (every field), naming the bad one. */
export function checkConfig(source: string, c: EENetConfig): void {
  const int = (k: keyof EENetConfig, min: number): void => {
    const x = c[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min) throw new InputError(source, `params.${k}`, `an integer ≥ ${min}`, describe(x));
  };
  const num = (k: keyof EENetConfig, min: number, strict: boolean): void => {
    const x = c[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min || (strict && x === min)) {
      throw new InputError(source, `params.${k}`, `a finite number ${strict ? '>' : '≥'} ${min}`, describe(x));
    }
  };
  int('trials', 1);
  int('epochs', 1);
  int('patience', 1);
  int('batchSize', 1);
  int('period', 0);
  num('lr', 0, true);
  num('weightDecay', 0, false);
  num('hiddenRatio', 0, true);
  num('alphaKl', 0, false);
  num('alphaCost', 0, false);
  num('betaCe', 0, true);
  num('costGate', 0, true);
  num('selectTolerance', 0, true);
  if (c.headOutput !== 'logit' && c.headOutput !== 'sigmoid') throw new InputError(source, 'params.headOutput', '"logit" or "sigmoid"', describe(c.headOutput));
}
