/**
 * EENet's training (policies/eenet/), in TensorFlow.js: the packed model, the loss terms of the reference's
 * `ExitAssigner.compute_loss` (with the fixes listed in `spec.ts`), one seeded training run (`trainTrial`) and
 * the multi-trial fit with model selection (`fitEENet`).
 *
 * TensorFlow.js is never imported at module load: `initBackend()` (lib/tensor.ts) loads it, and this file takes
 * the loaded module from `loadedTfjs()`, so `import 'exitlab/policies'` costs no TF.js until an EENet is fitted.
 * No exported signature mentions a TF.js type (tensor types are type parameters), so exitlab's published
 * declarations type-check without TensorFlow.js's.
 */
import type * as TF from '@tensorflow/tfjs';
import { InputError } from '../../lib/errors.ts';
import type { Rng } from '../../lib/random.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import { loadedTfjs } from '../../lib/tensor.ts';
import { checkConfig, clamp01, evaluateThresholds, featureWidth, initEENetWeights, thresholdsFor, type EENetConfig, type EENetWeights, type FittedEENet, type HeadWeights } from './model.ts';

/** The TF.js module `initBackend` loaded. @throws Error when none is loaded yet. */
function tfjs(): typeof TF {
  const tf = loadedTfjs() as typeof TF | undefined;
  if (!tf) throw new Error('EENet training: TensorFlow.js is not loaded; await initBackend() (lib/tensor.ts, or \'exitlab/tensor\') first');
  return tf;
}

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

/**
 * Trainable TF.js variables of the packed model and its constant masks. The tensor types are type parameters
 * (`V` = tf.Variable, `T` = tf.Tensor2D for a caller holding TF.js types, e.g. a gradient test) so that
 * exitlab's published declarations never mention TensorFlow.js: a consumer type-checks without its types.
 */
export interface EENetVariables<V = unknown, T = unknown> {
  readonly layout: PackedLayout;
  /** g, [D, K]. */
  readonly g: V;
  /** Heads' first layer [D, H], bias [H]; second layer [H, K], bias [K]. */
  readonly w1: V;
  readonly b1: V;
  readonly w2: V;
  readonly b2: V;
  readonly maskG: T;
  readonly maskW1: T;
  readonly maskW2: T;
  readonly headOutput: 'logit' | 'sigmoid';
}

/** The variables as this file's code sees them. */
type TfVariables = EENetVariables<TF.Variable, TF.Tensor2D>;

/** Packed float32 variables holding `weights` (`V`, `T`: see `EENetVariables`). Dispose with `disposeVariables`. */
export function toVariables<V = unknown, T = unknown>(weights: EENetWeights): EENetVariables<V, T> {
  const tf = tfjs();
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
  const variable = (t: TF.Tensor): TF.Variable => {
    const out = tf.variable(t);
    t.dispose();
    return out;
  };
  const out: TfVariables = {
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
  return out as unknown as EENetVariables<V, T>;
}

/** Read the packed variables back into per-exit weights (a copy). */
export function fromVariables(vars: EENetVariables): EENetWeights {
  const v = vars as TfVariables;
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
export function disposeVariables(vars: EENetVariables): void {
  const v = vars as TfVariables;
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

let detachFn: ((x: TF.Tensor) => TF.Tensor) | undefined;
/** Identity in the forward pass, zero gradient: PyTorch's `.detach()` (built on first use: TF.js loads lazily). */
function detach(x: TF.Tensor): TF.Tensor {
  const tf = tfjs();
  detachFn ??= tf.customGrad((input: TF.Tensor | TF.GradSaveFunc) => {
    const t = input as TF.Tensor;
    return { value: t.clone(), gradFunc: (dy: TF.Tensor) => tf.zerosLike(dy) };
  }) as (x: TF.Tensor) => TF.Tensor;
  return detachFn(x);
}

/** The loss terms of one batch: TF.js scalars (`S` = tf.Scalar, a type parameter for the reason in `EENetVariables`). */
export interface EENetLossTerms<S = unknown> {
  /** (1/K) Σ_k Σ_n w_nk BCE(clamp(q_nk), correct_nk), w = π/Σ_n π (detached). Trains g. */
  readonly bce: S;
  /** KL(target ‖ π), mean over the B·K elements (PyTorch `KLDivLoss()` default), target ∝ clamp(q)^β detached. Trains h. */
  readonly kl: S;
  /** |mean_n Σ_k π_nk c_k − B| / B. Trains h. */
  readonly costLoss: S;
}

/**
 * The EENet loss terms on a batch. Must run inside `tf.tidy` (or a gradient function).
 * @param features packed feature rows [B, D] (`packFeatures`); `correct` [B, K] 0/1; `cost` [1, K] ms.
 */
export function lossTerms<S = unknown>(vars: EENetVariables, featuresT: unknown, correctT: unknown, costT: unknown, budgetMs: number, betaCe: number): EENetLossTerms<S> {
  const tf = tfjs();
  const v = vars as TfVariables;
  const features = featuresT as TF.Tensor2D;
  const correct = correctT as TF.Tensor2D;
  const cost = costT as TF.Tensor2D;
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
  const bce = tf.div(tf.sum(tf.mul(w, bceEl)), K) as TF.Scalar;

  // KL: target = q^β / Σ_k q^β, uniform when every clamped q of a sample is 0 (the reference divides by zero).
  const qDet = detach(Q);
  const powQ = betaCe === 1 ? qDet : tf.pow(qDet, betaCe);
  const rowSum = tf.sum(powQ, 1, true);
  // 1 − sign(rowSum) is 1 exactly on all-zero rows (rowSum ≥ 0); sign rather than a comparison because
  // comparison ops have no gradient function in TF.js, and this path hangs off q, a source in the q-phase tape.
  const target = tf.add(tf.div(powQ, tf.maximum(rowSum, 1e-30)), tf.div(tf.sub(1, tf.sign(rowSum)), K));
  const tLogT = tf.mul(target, tf.log(tf.maximum(target, 1e-30))); // 0·log 0 = 0: target 0 gives 0·(−69) = 0
  const kl = tf.mean(tf.sub(tLogT, tf.mul(target, logPi))) as TF.Scalar;

  const expCost = tf.div(tf.sum(tf.mul(pi, cost)), B);
  const costLoss = tf.div(tf.abs(tf.sub(expCost, budgetMs)), budgetMs) as TF.Scalar;
  return { bce, kl, costLoss } as unknown as EENetLossTerms<S>;
}

/** The variables a phase trains: g in the q-phase, the heads in the h-phase. */
export function phaseVariables<V>(v: EENetVariables<V, unknown>, phase: 'q' | 'h'): V[] {
  return phase === 'q' ? [v.g] : [v.w1, v.b1, v.w2, v.b2];
}

/** The objective of one phase, with coupled L2 on that phase's (unmasked) weights (PyTorch `Adam(weight_decay)`). */
export function phaseLoss<S>(termsS: EENetLossTerms<S>, vars: EENetVariables, phase: 'q' | 'h', config: Pick<EENetConfig, 'alphaKl' | 'alphaCost' | 'weightDecay'>): S {
  const tf = tfjs();
  const v = vars as TfVariables;
  const terms = termsS as unknown as EENetLossTerms<TF.Scalar>;
  const main = phase === 'q' ? terms.bce : tf.add(tf.mul(config.alphaKl, terms.kl), tf.mul(config.alphaCost, terms.costLoss));
  if (config.weightDecay === 0) return main as unknown as S;
  const weights = phase === 'q' ? [tf.mul(v.g, v.maskG)] : [tf.mul(v.w1, v.maskW1), v.b1, tf.mul(v.w2, v.maskW2), v.b2];
  let l2: TF.Tensor = tf.scalar(0);
  for (const t of weights) l2 = tf.add(l2, tf.sum(tf.square(t)));
  return tf.add(main, tf.mul(0.5 * config.weightDecay, l2)) as unknown as S;
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
  const tf = tfjs();
  const N = data.nSamples;
  const K = data.nExits;
  const v = toVariables<TF.Variable, TF.Tensor2D>(init);
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
            let kept: TF.Tensor | undefined;
            opts[phase].minimize(
              () => {
                const terms = lossTerms<TF.Scalar>(v, f, c, cost, budgetMs, config.betaCe);
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
  const tf = loadedTfjs() as typeof TF | undefined;
  const name = tf && (tf.engine() as unknown as { backendName: string | null }).backendName;
  if (!name) {
    throw new Error(`${source}: no TensorFlow.js backend is initialised; await initBackend() (lib/tensor.ts, or 'exitlab/tensor') before fitting`);
  }
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
