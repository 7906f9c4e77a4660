/**
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
 * Training runs in TensorFlow.js (the backend chosen by `lib/tensor.ts`); everything after training (scores,
 * shares, thresholds, inference, save/load) is plain JavaScript on the weights, so a fitted model decides without
 * TensorFlow.js and identically on every backend.
 *
 * Array layouts: probabilities are the trace's [sample][exit][class]; scores q and exit probabilities π are
 * [sample][exit] row-major; g weights per exit are length C + 2 + k in feature order; a head's first layer is
 * [input][hidden] row-major.
 */
import { exitsByThresholds, geometricShares, thresholdsBySorting } from './calibrate.ts';
import { InputError, describe } from './errors.ts';
import type { Rng } from './random.ts';
import type { ScoredTrace } from './scores.ts';
import { tf } from './tensor.ts';

/** Hyper-parameters of one EENet fit. Reference values (`config.py`, CIFAR/BERT entries) in brackets. */
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
  /** Whether a head's output goes through a final sigmoid before the softmax across exits. ['sigmoid'; see `policies/eenet.ts`] */
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
 * (see `policies/eenet.ts` for why).
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

function clamp01(x: number): number {
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

// ---------------------------------------------------------------------------------------------------------
// Training in TensorFlow.js
// ---------------------------------------------------------------------------------------------------------
//
// All K exits are trained as one packed model, so a step is a handful of TF.js ops whatever K is (per-op
// overhead dominates at these sizes: 15 ms per step with one small matMul per exit and head on wasm):
// - the features of every exit side by side, F [B, D], D = Σ_k (C + 2 + k), exit k at offset off_k;
// - g as one [D, K] matrix and the heads as [D, H] and [H, K] matrices (H = Σ_k m_k), each multiplied by a
//   constant block mask so exit k only sees its own features and hidden units (masked entries get zero gradient
//   and stay 0);
// - the earlier scores q̃_j inside F are computed in JavaScript from the current g before each step and enter as
//   constants: that is exactly the reference's `.detach()` (same values, no gradient), without a sequential
//   chain of K ops.

/** Training inputs: per-sample base features [p, maxprob, conf] for every exit, and correctness. */
export interface EENetData {
  /** [sample][exit][C + 2] row-major: p_1..p_C, maxprob, conf. */
  readonly base: Float32Array;
  /** Exit correctness, [sample][exit], 0/1. */
  readonly correct: Float32Array;
  /** Cumulative costs, ms, length K. */
  readonly costMs: readonly number[];
  readonly nSamples: number;
  readonly nExits: number;
  readonly nClasses: number;
}

/** Training inputs of a scored trace (plain arrays; no tensors held). */
export function makeData(scored: ScoredTrace): EENetData {
  const { nSamples: N, nExits: K, nClasses: C, probs, costMs } = scored.trace;
  const maxprob = scored.scores.get('maxprob');
  const conf = scored.scores.get('entropy');
  const W = C + 2;
  const base = new Float32Array(N * K * W);
  for (let row = 0; row < N * K; row++) {
    base.set(probs.subarray(row * C, row * C + C), row * W);
    base[row * W + C] = maxprob[row];
    base[row * W + C + 1] = conf[row];
  }
  return { base, correct: Float32Array.from(scored.scores.correct), costMs: [...costMs], nSamples: N, nExits: K, nClasses: C };
}

/** Where each exit's features and hidden units sit in the packed model. */
export interface PackedLayout {
  readonly nExits: number;
  readonly nClasses: number;
  /** Offset of exit k's features in a packed feature row, length K + 1 (last = D). */
  readonly featOffset: readonly number[];
  /** Offset of head k's hidden units, length K + 1 (last = H). */
  readonly hiddenOffset: readonly number[];
}

/** The packed layout for K exits, C classes and the given hidden widths. */
export function packedLayout(nExits: number, nClasses: number, hidden: readonly number[]): PackedLayout {
  const featOffset = [0];
  const hiddenOffset = [0];
  for (let k = 0; k < nExits; k++) {
    featOffset.push(featOffset[k] + featureWidth(nClasses, k));
    hiddenOffset.push(hiddenOffset[k] + hidden[k]);
  }
  return { nExits, nClasses, featOffset, hiddenOffset };
}

/** Trainable TF.js variables of the packed model and its constant masks. */
export interface EENetVariables {
  readonly layout: PackedLayout;
  /** g, [D, K]. */
  readonly g: tf.Variable;
  /** Heads' first layer [D, H], bias [H]; second layer [H, K], bias [K]. */
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  readonly maskG: tf.Tensor2D;
  readonly maskW1: tf.Tensor2D;
  readonly maskW2: tf.Tensor2D;
  readonly headOutput: 'logit' | 'sigmoid';
}

/** Packed float32 variables holding `weights`. Dispose with `disposeVariables`. */
export function toVariables(weights: EENetWeights): EENetVariables {
  const K = weights.nExits;
  const C = weights.nClasses;
  const layout = packedLayout(K, C, weights.heads.map((h) => h.hidden));
  const D = layout.featOffset[K];
  const H = layout.hiddenOffset[K];
  const g = new Float32Array(D * K);
  const mg = new Float32Array(D * K);
  const w1 = new Float32Array(D * H);
  const m1 = new Float32Array(D * H);
  const b1 = new Float32Array(H);
  const w2 = new Float32Array(H * K);
  const m2 = new Float32Array(H * K);
  const b2 = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const fo = layout.featOffset[k];
    const ho = layout.hiddenOffset[k];
    const h = weights.heads[k];
    for (let r = 0; r < featureWidth(C, k); r++) {
      g[(fo + r) * K + k] = weights.g[k][r];
      mg[(fo + r) * K + k] = 1;
      for (let i = 0; i < h.hidden; i++) {
        w1[(fo + r) * H + ho + i] = h.w1[r * h.hidden + i];
        m1[(fo + r) * H + ho + i] = 1;
      }
    }
    for (let i = 0; i < h.hidden; i++) {
      b1[ho + i] = h.b1[i];
      w2[(ho + i) * K + k] = h.w2[i];
      m2[(ho + i) * K + k] = 1;
    }
    b2[k] = h.b2;
  }
  // tf.variable shares its initial tensor's data (reference-counted): free the initial tensor, keep the variable.
  const variable = (t: tf.Tensor): tf.Variable => {
    const out = tf.variable(t);
    t.dispose();
    return out;
  };
  return {
    layout,
    g: variable(tf.tensor2d(g, [D, K])),
    w1: variable(tf.tensor2d(w1, [D, H])),
    b1: variable(tf.tensor1d(b1)),
    w2: variable(tf.tensor2d(w2, [H, K])),
    b2: variable(tf.tensor1d(b2)),
    maskG: tf.tensor2d(mg, [D, K]),
    maskW1: tf.tensor2d(m1, [D, H]),
    maskW2: tf.tensor2d(m2, [H, K]),
    headOutput: weights.headOutput,
  };
}

/** Read the packed variables back into per-exit weights (a copy). */
export function fromVariables(v: EENetVariables): EENetWeights {
  const { nExits: K, nClasses: C, featOffset, hiddenOffset } = v.layout;
  const H = hiddenOffset[K];
  const g = v.g.dataSync();
  const w1 = v.w1.dataSync();
  const b1 = v.b1.dataSync();
  const w2 = v.w2.dataSync();
  const b2 = v.b2.dataSync();
  const gs: Float64Array[] = [];
  const heads: HeadWeights[] = [];
  for (let k = 0; k < K; k++) {
    const d = featureWidth(C, k);
    const m = hiddenOffset[k + 1] - hiddenOffset[k];
    const fo = featOffset[k];
    const ho = hiddenOffset[k];
    gs.push(Float64Array.from({ length: d }, (_, r) => g[(fo + r) * K + k]));
    heads.push({
      hidden: m,
      w1: Float64Array.from({ length: d * m }, (_, j) => w1[(fo + Math.floor(j / m)) * H + ho + (j % m)]),
      b1: Float64Array.from({ length: m }, (_, i) => b1[ho + i]),
      w2: Float64Array.from({ length: m }, (_, i) => w2[(ho + i) * K + k]),
      b2: b2[k],
    });
  }
  return { nExits: K, nClasses: C, g: gs, heads, headOutput: v.headOutput };
}

/** Free the variables and masks of `toVariables`. */
export function disposeVariables(v: EENetVariables): void {
  for (const t of [v.g, v.w1, v.b1, v.w2, v.b2, v.maskG, v.maskW1, v.maskW2]) t.dispose();
}

/**
 * Packed feature rows [p, maxprob, conf, q̃_0..q̃_{k−1}] for every exit of the given samples, with the earlier
 * scores q̃_j = clamp(q_j, 0, 1) computed from the packed g (`gPacked`, [D, K] row-major, float32).
 * @returns Float32Array [sample of idx][D].
 */
export function packFeatures(data: EENetData, layout: PackedLayout, gPacked: ArrayLike<number>, idx: ArrayLike<number>): Float32Array {
  const { nExits: K, nClasses: C } = data;
  const W = C + 2;
  const D = layout.featOffset[K];
  const out = new Float32Array(idx.length * D);
  const q = new Float64Array(K);
  for (let i = 0; i < idx.length; i++) {
    const n = idx[i];
    for (let k = 0; k < K; k++) {
      const at = i * D + layout.featOffset[k];
      const src = (n * K + k) * W;
      for (let r = 0; r < W; r++) out[at + r] = data.base[src + r];
      for (let j = 0; j < k; j++) out[at + W + j] = clamp01(q[j]);
      const fo = layout.featOffset[k];
      let s = 0;
      for (let r = 0; r < W + k; r++) s += gPacked[(fo + r) * K + k] * out[at + r];
      q[k] = s;
    }
  }
  return out;
}

/** Identity in the forward pass, zero gradient: PyTorch's `.detach()`. */
const detach = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
  const t = input as tf.Tensor;
  return { value: t.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

/** The loss terms of one batch (scalars). */
export interface EENetLossTerms {
  /** (1/K) Σ_k Σ_n w_nk BCE(clamp(q_nk), correct_nk), w = π/Σ_n π (detached). Trains g. */
  readonly bce: tf.Scalar;
  /** KL(target ‖ π), mean over the B·K elements (PyTorch `KLDivLoss()` default), target ∝ clamp(q)^β detached. Trains h. */
  readonly kl: tf.Scalar;
  /** |mean_n Σ_k π_nk c_k − B| / B. Trains h. */
  readonly costLoss: tf.Scalar;
}

/**
 * The EENet loss terms on a batch. Must run inside `tf.tidy` (or a gradient function).
 * @param features packed feature rows [B, D] (`packFeatures`); `correct` [B, K] 0/1; `cost` [1, K] ms.
 */
export function lossTerms(v: EENetVariables, features: tf.Tensor2D, correct: tf.Tensor2D, cost: tf.Tensor2D, budgetMs: number, betaCe: number): EENetLossTerms {
  const B = features.shape[0];
  const K = v.layout.nExits;
  const Q = tf.clipByValue(tf.matMul(features, tf.mul(v.g, v.maskG)), 0, 1);
  const hidden = tf.sigmoid(tf.add(tf.matMul(features, tf.mul(v.w1, v.maskW1)), v.b1));
  let logits = tf.add(tf.matMul(hidden, tf.mul(v.w2, v.maskW2)), v.b2);
  if (v.headOutput === 'sigmoid') logits = tf.sigmoid(logits);
  const logPi = tf.logSoftmax(logits);
  const pi = tf.exp(logPi);

  // BCE: PyTorch's BCELoss clamps log at −100; clipping q inside the log to [1e-7, 1 − 1e-7] keeps float32
  // gradients finite the same way.
  const piDet = detach(pi);
  const w = tf.div(piDet, tf.sum(piDet, 0, true));
  const qs = tf.clipByValue(Q, 1e-7, 1 - 1e-7);
  const bceEl = tf.neg(tf.add(tf.mul(correct, tf.log(qs)), tf.mul(tf.sub(1, correct), tf.log(tf.sub(1, qs)))));
  const bce = tf.div(tf.sum(tf.mul(w, bceEl)), K) as tf.Scalar;

  // KL: target = q^β / Σ_k q^β, uniform when every clamped q of a sample is 0 (the reference divides by zero).
  const qDet = detach(Q);
  const powQ = betaCe === 1 ? qDet : tf.pow(qDet, betaCe);
  const rowSum = tf.sum(powQ, 1, true);
  // 1 − sign(rowSum) is 1 exactly on all-zero rows (rowSum ≥ 0); sign rather than a comparison because
  // comparison ops have no gradient function in TF.js, and this path hangs off q, a source in the q-phase tape.
  const target = tf.add(tf.div(powQ, tf.maximum(rowSum, 1e-30)), tf.div(tf.sub(1, tf.sign(rowSum)), K));
  const tLogT = tf.mul(target, tf.log(tf.maximum(target, 1e-30))); // 0·log 0 = 0: target 0 gives 0·(−69) = 0
  const kl = tf.mean(tf.sub(tLogT, tf.mul(target, logPi))) as tf.Scalar;

  const expCost = tf.div(tf.sum(tf.mul(pi, cost)), B);
  const costLoss = tf.div(tf.abs(tf.sub(expCost, budgetMs)), budgetMs) as tf.Scalar;
  return { bce, kl, costLoss };
}

/** The variables a phase trains: g in the q-phase, the heads in the h-phase. */
export function phaseVariables(v: EENetVariables, phase: 'q' | 'h'): tf.Variable[] {
  return phase === 'q' ? [v.g] : [v.w1, v.b1, v.w2, v.b2];
}

/** The objective of one phase, with coupled L2 on that phase's (unmasked) weights (PyTorch `Adam(weight_decay)`). */
export function phaseLoss(terms: EENetLossTerms, v: EENetVariables, phase: 'q' | 'h', config: Pick<EENetConfig, 'alphaKl' | 'alphaCost' | 'weightDecay'>): tf.Scalar {
  const main = phase === 'q' ? terms.bce : tf.add(tf.mul(config.alphaKl, terms.kl), tf.mul(config.alphaCost, terms.costLoss));
  if (config.weightDecay === 0) return main as tf.Scalar;
  const weights = phase === 'q' ? [tf.mul(v.g, v.maskG)] : [tf.mul(v.w1, v.maskW1), v.b1, tf.mul(v.w2, v.maskW2), v.b2];
  let l2: tf.Tensor = tf.scalar(0);
  for (const t of weights) l2 = tf.add(l2, tf.sum(tf.square(t)));
  return tf.add(main, tf.mul(0.5 * config.weightDecay, l2)) as tf.Scalar;
}

/** What one training run did. */
export interface TrialHistory {
  /** Epochs run (≤ config.epochs). */
  readonly epochs: number;
  /** Whether early stopping ended it. */
  readonly stoppedEarly: boolean;
  /** Epoch whose weights were kept (−1: none passed the cost gate; the final weights were kept). */
  readonly bestEpoch: number;
  /** Per epoch: mean over batches of the full objective BCE + α_KL·KL + α_cost·cost term. */
  readonly objective: number[];
  /** Per epoch: mean cost term. */
  readonly costLoss: number[];
}

/**
 * One training run from `init`: epochs of shuffled mini-batches, phases alternating every `period` epochs (q-phase
 * first, as in the reference; `period` 0 trains both every step), one Adam per phase, early stopping on the full
 * objective, the best epoch's weights copied out. Requires an initialised TF.js backend; disposes every tensor it
 * creates.
 */
export function trainTrial(data: EENetData, init: EENetWeights, budgetMs: number, config: EENetConfig, rng: Rng): { weights: EENetWeights; history: TrialHistory } {
  const N = data.nSamples;
  const K = data.nExits;
  const v = toVariables(init);
  const cost = tf.tensor2d(Float32Array.from(data.costMs), [1, K]);
  const opts = { q: tf.train.adam(config.lr, 0.9, 0.999, 1e-8), h: tf.train.adam(config.lr, 0.9, 0.999, 1e-8) };
  const perm = new Int32Array(N);
  for (let i = 0; i < N; i++) perm[i] = i;
  const objective: number[] = [];
  const costLossHist: number[] = [];
  const D = v.layout.featOffset[K];
  let best: EENetWeights | undefined;
  let bestObjective = Infinity;
  let bestEpoch = -1;
  let left = config.patience;
  let stoppedEarly = false;
  let epoch = 0;
  try {
    for (; epoch < config.epochs; epoch++) {
      const phases: ('q' | 'h')[] = config.period === 0 ? ['q', 'h'] : [Math.floor(epoch / config.period) % 2 === 1 ? 'h' : 'q'];
      rng.shuffle(perm);
      let sumObj = 0;
      let sumCost = 0;
      let batches = 0;
      for (let start = 0; start < N; start += config.batchSize) {
        const idx = perm.subarray(start, Math.min(N, start + config.batchSize));
        const Bn = idx.length;
        const corr = new Float32Array(Bn * K);
        for (let i = 0; i < Bn; i++) corr.set(data.correct.subarray(idx[i] * K, idx[i] * K + K), i * K);
        for (const phase of phases) {
          const feats = packFeatures(data, v.layout, v.g.dataSync(), idx);
          const monitor = tf.tidy(() => {
            const f = tf.tensor2d(feats, [Bn, D]);
            const c = tf.tensor2d(corr, [Bn, K]);
            let kept: tf.Tensor | undefined;
            opts[phase].minimize(
              () => {
                const terms = lossTerms(v, f, c, cost, budgetMs, config.betaCe);
                kept = tf.keep(tf.stack([terms.bce, terms.kl, terms.costLoss]));
                return phaseLoss(terms, v, phase, config);
              },
              false,
              phaseVariables(v, phase),
            );
            return kept!;
          });
          const [bce, kl, cl] = monitor.dataSync();
          monitor.dispose();
          sumObj += bce + config.alphaKl * kl + config.alphaCost * cl;
          sumCost += cl;
          batches++;
        }
      }
      const obj = sumObj / batches;
      const cl = sumCost / batches;
      objective.push(obj);
      costLossHist.push(cl);
      // Reference: improvement is only looked for while the budget term is small; the best epoch is kept as a
      // copy (the reference's `best_model = m` aliases the live model, so it always returned the last epoch).
      if (cl < config.costGate) {
        if (obj < bestObjective) {
          bestObjective = obj;
          bestEpoch = epoch;
          best = fromVariables(v);
          left = config.patience;
        } else if (--left <= 0) {
          stoppedEarly = true;
          epoch++;
          break;
        }
      }
    }
    const weights = best ?? fromVariables(v);
    return { weights, history: { epochs: epoch, stoppedEarly, bestEpoch, objective, costLoss: costLossHist } };
  } finally {
    opts.q.dispose();
    opts.h.dispose();
    cost.dispose();
    disposeVariables(v);
  }
}

/** A trial's outcome on the fitting data. */
export interface TrialSummary {
  readonly trial: number;
  /** Head-expected cost Σ π̄_k c_k, ms. */
  readonly headCostMs: number;
  /** Whether |head cost − B| / B < selectTolerance (eligible for selection). */
  readonly eligible: boolean;
  /** Validation accuracy and realised mean cost with its thresholds. */
  readonly accuracy: number;
  readonly meanCostMs: number;
  readonly epochs: number;
  readonly stoppedEarly: boolean;
  readonly bestEpoch: number;
}

/** What `fitEENet` returns. */
export interface EENetFit {
  readonly model: FittedEENet;
  /** Index of the kept trial. */
  readonly chosen: number;
  readonly trials: readonly TrialSummary[];
  /** Head-expected shares π̄ of the kept trial, before any move towards cheaper exits. */
  readonly pbar: readonly number[];
  /** Validation accuracy and mean cost of the kept model. */
  readonly accuracy: number;
  readonly meanCostMs: number;
}

/** Throw unless a TF.js backend has been initialised (`await initBackend()` from `lib/tensor.ts`). */
export function requireBackend(source: string): void {
  const name = (tf.engine() as unknown as { backendName: string | null }).backendName;
  if (!name) {
    throw new Error(`${source}: no TensorFlow.js backend is initialised; await initBackend() (lib/tensor.ts, or 'exitlab/tensor') before fitting`);
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

/**
 * Fit EENet on a labelled scored trace for a mean-cost budget: `config.trials` seeded trials (each its own fork of
 * `rng` for initial weights and batch order), thresholds of each by the sorting procedure, and the trial with the
 * best fitting-data accuracy among those whose head-expected cost is within `selectTolerance` of B (the
 * reference's rule); if none is, the one whose head cost is closest to B. Ties go to the earlier trial.
 * The fitted model's mean cost on `scored` is ≤ B (see `sharesWithinBudget`).
 * @throws Error if no TF.js backend is initialised; InputError for a budget below the first exit's cost.
 */
export function fitEENet(scored: ScoredTrace, budgetMs: number, config: EENetConfig, rng: Rng): EENetFit {
  const source = 'fitEENet';
  checkConfig(source, config);
  const { nExits: K, nClasses: C, costMs } = scored.trace;
  if (!Number.isFinite(budgetMs) || budgetMs < costMs[0]) {
    throw new InputError(source, 'budgetMs', `a finite budget ≥ the first exit's cost ${costMs[0]} ms`, String(budgetMs));
  }
  requireBackend(source);
  const data = makeData(scored);
  const summaries: TrialSummary[] = [];
  let chosen = -1;
  let chosenModel: { weights: EENetWeights; shares: number[]; thresholds: Float64Array; pbar: number[]; accuracy: number; meanCostMs: number } | undefined;
  let fallback = -1;
  let fallbackModel: typeof chosenModel;
  let fallbackGap = Infinity;
  try {
    for (let t = 0; t < config.trials; t++) {
      const trng = rng.fork(`eenet-trial-${t}`);
      const init = initEENetWeights(K, C, config.hiddenRatio, config.headOutput, trng.fork('init'));
      const { weights, history } = trainTrial(data, init, budgetMs, config, trng.fork('batches'));
      const { q, pbar, shares, thresholds } = thresholdsFor(weights, scored, budgetMs);
      const { accuracy, meanCostMs } = evaluateThresholds(q, thresholds, scored);
      const headCostMs = pbar.reduce((a, p, k) => a + p * costMs[k], 0);
      const gap = Math.abs(headCostMs - budgetMs) / budgetMs;
      const eligible = gap < config.selectTolerance;
      summaries.push({ trial: t, headCostMs, eligible, accuracy, meanCostMs, epochs: history.epochs, stoppedEarly: history.stoppedEarly, bestEpoch: history.bestEpoch });
      const m = { weights, shares, thresholds, pbar, accuracy, meanCostMs };
      if (eligible && (chosenModel === undefined || accuracy > chosenModel.accuracy)) {
        chosen = t;
        chosenModel = m;
      }
      if (gap < fallbackGap) {
        fallbackGap = gap;
        fallback = t;
        fallbackModel = m;
      }
    }
  } finally {
    // (no tensors outlive a trial: trainTrial frees its own)
  }
  if (chosenModel === undefined) {
    chosen = fallback;
    chosenModel = fallbackModel!;
  }
  const model: FittedEENet = { weights: chosenModel.weights, thresholds: chosenModel.thresholds, shares: chosenModel.shares, budgetMs, costMs: [...costMs], config };
  return { model, chosen, trials: summaries, pbar: chosenModel.pbar, accuracy: chosenModel.accuracy, meanCostMs: chosenModel.meanCostMs };
}

// ---------------------------------------------------------------------------------------------------------
// Save / load
// ---------------------------------------------------------------------------------------------------------

/** Format tag of a saved EENet. */
export const EENET_FORMAT = 'exitlab-eenet/1';

/** JSON form of a fitted EENet. Infinite thresholds are written as the strings "Infinity" / "-Infinity". */
export interface EENetJSON {
  readonly format: typeof EENET_FORMAT;
  readonly nExits: number;
  readonly nClasses: number;
  readonly headOutput: 'logit' | 'sigmoid';
  readonly g: number[][];
  readonly heads: { hidden: number; w1: number[]; b1: number[]; w2: number[]; b2: number }[];
  readonly thresholds: (number | 'Infinity' | '-Infinity')[];
  readonly shares: number[];
  readonly budgetMs: number;
  readonly costMs: number[];
  readonly config: EENetConfig;
}

/** A fitted EENet as JSON-safe data (float64 weights kept exactly: JSON numbers round-trip doubles). */
export function eenetToJSON(m: FittedEENet): EENetJSON {
  return {
    format: EENET_FORMAT,
    nExits: m.weights.nExits,
    nClasses: m.weights.nClasses,
    headOutput: m.weights.headOutput,
    g: m.weights.g.map((w) => Array.from(w)),
    heads: m.weights.heads.map((h) => ({ hidden: h.hidden, w1: Array.from(h.w1), b1: Array.from(h.b1), w2: Array.from(h.w2), b2: h.b2 })),
    thresholds: Array.from(m.thresholds, (t) => (t === Infinity ? 'Infinity' : t === -Infinity ? '-Infinity' : t)),
    shares: [...m.shares],
    budgetMs: m.budgetMs,
    costMs: [...m.costMs],
    config: { ...m.config },
  };
}

/**
 * Load a fitted EENet from `eenetToJSON`'s output (parsed JSON), validating every field.
 * @param source where it came from (a path), for error messages.
 * @throws InputError naming the bad field.
 */
export function eenetFromJSON(raw: unknown, source = 'EENet JSON'): FittedEENet {
  const o = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new InputError(source, '(root)', 'an object', describe(raw));
  if (o.format !== EENET_FORMAT) throw new InputError(source, 'format', JSON.stringify(EENET_FORMAT), describe(o.format));
  const K = o.nExits;
  const C = o.nClasses;
  if (typeof K !== 'number' || !Number.isInteger(K) || K < 2) throw new InputError(source, 'nExits', 'an integer ≥ 2', describe(K));
  if (typeof C !== 'number' || !Number.isInteger(C) || C < 2) throw new InputError(source, 'nClasses', 'an integer ≥ 2', describe(C));
  if (o.headOutput !== 'logit' && o.headOutput !== 'sigmoid') throw new InputError(source, 'headOutput', '"logit" or "sigmoid"', describe(o.headOutput));
  const nums = (field: string, v: unknown, len?: number): Float64Array => {
    if (!Array.isArray(v) || (len !== undefined && v.length !== len) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new InputError(source, field, `an array of ${len ?? 'any number of'} finite numbers`, describe(v));
    }
    return Float64Array.from(v as number[]);
  };
  if (!Array.isArray(o.g) || o.g.length !== K) throw new InputError(source, 'g', `${K} weight arrays`, describe(o.g));
  const g = (o.g as unknown[]).map((w, k) => nums(`g[${k}]`, w, featureWidth(C, k)));
  if (!Array.isArray(o.heads) || o.heads.length !== K) throw new InputError(source, 'heads', `${K} heads`, describe(o.heads));
  const heads = (o.heads as unknown[]).map((h, k): HeadWeights => {
    const r = h as Record<string, unknown>;
    const m = r?.hidden;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw new InputError(source, `heads[${k}].hidden`, 'an integer ≥ 1', describe(m));
    const b2 = r.b2;
    if (typeof b2 !== 'number' || !Number.isFinite(b2)) throw new InputError(source, `heads[${k}].b2`, 'a finite number', describe(b2));
    return { hidden: m, w1: nums(`heads[${k}].w1`, r.w1, featureWidth(C, k) * m), b1: nums(`heads[${k}].b1`, r.b1, m), w2: nums(`heads[${k}].w2`, r.w2, m), b2 };
  });
  if (!Array.isArray(o.thresholds) || o.thresholds.length !== K) throw new InputError(source, 'thresholds', `${K} thresholds`, describe(o.thresholds));
  const thresholds = Float64Array.from(o.thresholds as unknown[], (t, k) => {
    if (t === 'Infinity') return Infinity;
    if (t === '-Infinity') return -Infinity;
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new InputError(source, `thresholds[${k}]`, 'a finite number, "Infinity" or "-Infinity"', describe(t));
    return t;
  });
  const shares = Array.from(nums('shares', o.shares, K));
  const costMs = Array.from(nums('costMs', o.costMs, K));
  const budgetMs = o.budgetMs;
  if (typeof budgetMs !== 'number' || !Number.isFinite(budgetMs) || budgetMs <= 0) throw new InputError(source, 'budgetMs', 'a positive finite number', describe(budgetMs));
  const config = { ...REFERENCE_EENET_CONFIG, ...(o.config as object) } as EENetConfig;
  checkConfig(`${source} config`, config);
  return { weights: { nExits: K, nClasses: C, g, heads, headOutput: o.headOutput }, thresholds, shares, budgetMs, costMs, config };
}
