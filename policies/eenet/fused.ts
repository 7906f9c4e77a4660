/**
 * EENet's training step as one fused kernel in plain JavaScript: forward pass, the three loss terms, the
 * hand-derived gradient of the active phase's objective and the Adam update, over preallocated float64 buffers
 * (no tensor, no allocation per step). The model is tiny (K score functions of width C + 2 + k and K heads of
 * width ⌊(C + 2 + k)·r⌋), so a step is ~10^5–10^6 multiply-adds: per-op dispatch of a tensor library costs more
 * than the arithmetic (TF.js spent ~35 ms of CPU per Fashion-MNIST epoch on ~130 op dispatches per step, PyTorch
 * ~16 ms; see docs/results/benchmarks.md).
 *
 * The objective is exactly `lossTerms` + `phaseLoss` of `training.ts` (kept in TF.js as the executable
 * specification; test/eenet.test.ts checks these gradients against TF.js autodiff of it):
 * - Q = clip(F·g, 0, 1); BCE = (1/K) Σ_{n,k} w_nk · BCE(clip(Q, 1e−7, 1 − 1e−7), correct), w = π / Σ_n π detached;
 * - KL = mean over B·K of t·log t − t·log π, t = Q^β / Σ_k Q^β detached (uniform on all-zero rows);
 * - cost term |Σ_{n,k} π_nk c_k / B − budget| / budget;
 * - q-phase: BCE + ½λ‖g‖²; h-phase: α_KL·KL + α_cost·cost + ½λ‖heads‖² (coupled L2, biases included);
 * - Adam as TF.js's `tf.train.adam(lr, 0.9, 0.999, 1e−8)` (= PyTorch's), one per phase.
 * Differences from the TF.js trainer: float64 arithmetic instead of float32 (so trajectories differ in the last
 * bits and diverge over epochs, as two backends' do); the gradient at the measure-zero kinks (clip bounds, |0|)
 * follows TF.js's conventions.
 */
import type { EENetConfig, EENetWeights } from './model.ts';
import { clamp01, featureWidth } from './model.ts';

/** Training inputs as `training.ts`'s `EENetData` (base features [sample][exit][C + 2], correctness [sample][exit]). */
export interface FusedData {
  readonly base: Float32Array;
  readonly correct: Float32Array;
  readonly nSamples: number;
  readonly nExits: number;
  readonly nClasses: number;
}

/** The three loss terms of a batch (float64). */
export interface FusedTerms {
  bce: number;
  kl: number;
  costLoss: number;
}

/** Adam state of one phase's flat parameter vector. */
class Adam {
  readonly m: Float64Array;
  readonly v: Float64Array;
  accBeta1 = 0.9;
  accBeta2 = 0.999;
  constructor(size: number) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  /** One step on `params` with gradient `grad` (TF.js's update order and bias correction). */
  step(params: Float64Array, grad: Float64Array, lr: number): void {
    const { m, v } = this;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    for (let i = 0; i < params.length; i++) {
      const gi = grad[i];
      const mi = (m[i] = 0.9 * m[i] + 0.1 * gi);
      const vi = (v[i] = 0.999 * v[i] + 0.001 * gi * gi);
      params[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + 1e-8);
    }
    this.accBeta1 *= 0.9;
    this.accBeta2 *= 0.999;
  }
}

/**
 * The parameters of one EENet in two flat float64 vectors (g for the q-phase; the heads for the h-phase), the
 * per-batch buffers, and the fused step. Layouts: g = [g_0 | g_1 | …], g_k of width d_k = C + 2 + k; heads =
 * per exit k [W1_k (d_k × m_k, row-major [input][hidden]) | b1_k (m_k) | w2_k (m_k) | b2_k (1)].
 */
export class FusedEENet {
  readonly nExits: number;
  readonly nClasses: number;
  readonly headOutput: 'logit' | 'sigmoid';
  /** Feature width d_k and its offset in a packed feature row, per exit; D = Σ d_k. */
  readonly width: readonly number[];
  readonly featOffset: readonly number[];
  /** Hidden width m_k and offsets into g and the head vector, per exit. */
  readonly hidden: readonly number[];
  readonly gOffset: readonly number[];
  readonly headOffset: readonly number[];
  readonly hiddenOffset: readonly number[];
  readonly g: Float64Array;
  readonly heads: Float64Array;
  readonly #gradG: Float64Array;
  readonly #gradH: Float64Array;
  readonly #adam: { q: Adam; h: Adam };
  readonly #costMs: Float64Array;
  readonly #budgetMs: number;
  readonly #config: Pick<EENetConfig, 'lr' | 'weightDecay' | 'alphaKl' | 'alphaCost' | 'betaCe'>;
  // Per-batch buffers for up to `maxBatch` samples: features [n][D], raw scores, π, log π, hidden units [n][H].
  #maxBatch = 0;
  #F = new Float64Array(0);
  #Q = new Float64Array(0);
  #pi = new Float64Array(0);
  #logPi = new Float64Array(0);
  #z = new Float64Array(0);
  #H = new Float64Array(0);
  readonly #colSum: Float64Array;
  readonly #a: Float64Array;
  readonly #dpi: Float64Array;
  /** Expected cost Σ π c / B of the last forward batch, ms. */
  #lastCost = 0;

  constructor(init: EENetWeights, costMs: readonly number[], budgetMs: number, config: Pick<EENetConfig, 'lr' | 'weightDecay' | 'alphaKl' | 'alphaCost' | 'betaCe'>) {
    const K = init.nExits;
    const C = init.nClasses;
    this.nExits = K;
    this.nClasses = C;
    this.headOutput = init.headOutput;
    const width: number[] = [];
    const featOffset: number[] = [0];
    const hidden: number[] = [];
    const gOffset: number[] = [0];
    const headOffset: number[] = [0];
    const hiddenOffset: number[] = [0];
    for (let k = 0; k < K; k++) {
      const d = featureWidth(C, k);
      const m = init.heads[k].hidden;
      width.push(d);
      hidden.push(m);
      featOffset.push(featOffset[k] + d);
      gOffset.push(gOffset[k] + d);
      headOffset.push(headOffset[k] + d * m + 2 * m + 1);
      hiddenOffset.push(hiddenOffset[k] + m);
    }
    this.width = width;
    this.featOffset = featOffset;
    this.hidden = hidden;
    this.gOffset = gOffset;
    this.headOffset = headOffset;
    this.hiddenOffset = hiddenOffset;
    this.g = new Float64Array(gOffset[K]);
    this.heads = new Float64Array(headOffset[K]);
    for (let k = 0; k < K; k++) {
      this.g.set(init.g[k], gOffset[k]);
      const h = init.heads[k];
      const o = headOffset[k];
      const d = width[k];
      const m = hidden[k];
      this.heads.set(h.w1, o);
      this.heads.set(h.b1, o + d * m);
      this.heads.set(h.w2, o + d * m + m);
      this.heads[o + d * m + 2 * m] = h.b2;
    }
    this.#gradG = new Float64Array(this.g.length);
    this.#gradH = new Float64Array(this.heads.length);
    this.#adam = { q: new Adam(this.g.length), h: new Adam(this.heads.length) };
    this.#costMs = Float64Array.from(costMs);
    this.#budgetMs = budgetMs;
    this.#config = config;
    this.#colSum = new Float64Array(K);
    this.#a = new Float64Array(K);
    this.#dpi = new Float64Array(K);
  }

  /** The current parameters as per-exit weights (a copy). */
  weights(): EENetWeights {
    const K = this.nExits;
    return {
      nExits: K,
      nClasses: this.nClasses,
      headOutput: this.headOutput,
      g: Array.from({ length: K }, (_, k) => this.g.slice(this.gOffset[k], this.gOffset[k + 1])),
      heads: Array.from({ length: K }, (_, k) => {
        const o = this.headOffset[k];
        const d = this.width[k];
        const m = this.hidden[k];
        return {
          hidden: m,
          w1: this.heads.slice(o, o + d * m),
          b1: this.heads.slice(o + d * m, o + d * m + m),
          w2: this.heads.slice(o + d * m + m, o + d * m + 2 * m),
          b2: this.heads[o + d * m + 2 * m],
        };
      }),
    };
  }

  #ensure(B: number): void {
    if (B <= this.#maxBatch) return;
    const K = this.nExits;
    this.#maxBatch = B;
    this.#F = new Float64Array(B * this.featOffset[K]);
    this.#Q = new Float64Array(B * K);
    this.#pi = new Float64Array(B * K);
    this.#logPi = new Float64Array(B * K);
    this.#z = new Float64Array(B * K);
    this.#H = new Float64Array(B * this.hiddenOffset[K]);
  }

  /**
   * Forward pass over the samples `idx` and the loss terms; leaves the activations in the buffers for `#backward`.
   * Features: [p, maxprob, conf, clamp(q_0), …, clamp(q_{k−1})] with the earlier scores from the current g
   * (the reference's detached q̃).
   */
  forward(data: FusedData, idx: ArrayLike<number>): FusedTerms {
    const K = this.nExits;
    const C = this.nClasses;
    const W = C + 2;
    const B = idx.length;
    this.#ensure(B);
    const D = this.featOffset[K];
    const Hn = this.hiddenOffset[K];
    const F = this.#F;
    const Q = this.#Q;
    const pi = this.#pi;
    const logPi = this.#logPi;
    const z = this.#z;
    const Hb = this.#H;
    const g = this.g;
    const P = this.heads;
    const sig = this.headOutput === 'sigmoid';
    const colSum = this.#colSum.fill(0);
    const cost = this.#costMs;
    let expCost = 0;
    for (let i = 0; i < B; i++) {
      const n = idx[i];
      const fRow = i * D;
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        const d = this.width[k];
        const m = this.hidden[k];
        const at = fRow + this.featOffset[k];
        const src = (n * K + k) * W;
        for (let r = 0; r < W; r++) F[at + r] = data.base[src + r];
        for (let j = 0; j < k; j++) F[at + W + j] = clamp01(Q[i * K + j]);
        const go = this.gOffset[k];
        let q = 0;
        for (let r = 0; r < d; r++) q += g[go + r] * F[at + r];
        Q[i * K + k] = q;
        // Head k: hidden = sigmoid(f·W1 + b1), u = hidden·w2 + b2.
        const o = this.headOffset[k];
        const hb = i * Hn + this.hiddenOffset[k];
        const b1 = o + d * m;
        for (let j = 0; j < m; j++) Hb[hb + j] = P[b1 + j];
        for (let r = 0; r < d; r++) {
          const fr = F[at + r];
          const row = o + r * m;
          for (let j = 0; j < m; j++) Hb[hb + j] += fr * P[row + j];
        }
        let u = P[o + d * m + 2 * m];
        const w2 = o + d * m + m;
        for (let j = 0; j < m; j++) {
          const h = 1 / (1 + Math.exp(-Hb[hb + j]));
          Hb[hb + j] = h;
          u += h * P[w2 + j];
        }
        if (sig) u = 1 / (1 + Math.exp(-u));
        z[i * K + k] = u;
        if (u > mx) mx = u;
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(z[i * K + k] - mx);
      const lse = mx + Math.log(s);
      for (let k = 0; k < K; k++) {
        const lp = z[i * K + k] - lse;
        logPi[i * K + k] = lp;
        const p = Math.exp(lp);
        pi[i * K + k] = p;
        colSum[k] += p;
        expCost += p * cost[k];
      }
    }
    // Loss terms (the monitored objective uses all three in both phases).
    const beta = this.#config.betaCe;
    let bce = 0;
    let kl = 0;
    for (let i = 0; i < B; i++) {
      const n = idx[i];
      let rowSum = 0;
      for (let k = 0; k < K; k++) {
        const qc = clamp01(Q[i * K + k]);
        rowSum += beta === 1 ? qc : Math.pow(qc, beta);
      }
      for (let k = 0; k < K; k++) {
        const qc = clamp01(Q[i * K + k]);
        const qs = qc < 1e-7 ? 1e-7 : qc > 1 - 1e-7 ? 1 - 1e-7 : qc;
        const c = data.correct[n * K + k];
        bce += (pi[i * K + k] / colSum[k]) * -(c * Math.log(qs) + (1 - c) * Math.log(1 - qs));
        const t = rowSum > 0 ? (beta === 1 ? qc : Math.pow(qc, beta)) / Math.max(rowSum, 1e-30) : 1 / K;
        kl += t * Math.log(Math.max(t, 1e-30)) - t * logPi[i * K + k];
      }
    }
    const E = expCost / B;
    this.#lastCost = E;
    return { bce: bce / K, kl: kl / (B * K), costLoss: Math.abs(E - this.#budgetMs) / this.#budgetMs };
  }

  /**
   * The gradient of the phase's objective at the last `forward` (same `idx`), into the phase's gradient buffer.
   * @returns that buffer (g's layout in the q-phase, the heads' in the h-phase).
   */
  gradient(data: FusedData, idx: ArrayLike<number>, phase: 'q' | 'h'): Float64Array {
    const K = this.nExits;
    const B = idx.length;
    const D = this.featOffset[K];
    const Hn = this.hiddenOffset[K];
    const F = this.#F;
    const Q = this.#Q;
    const pi = this.#pi;
    const lambda = this.#config.weightDecay;
    if (phase === 'q') {
      const grad = this.#gradG;
      for (let i = 0; i < grad.length; i++) grad[i] = lambda * this.g[i];
      const colSum = this.#colSum;
      for (let i = 0; i < B; i++) {
        const n = idx[i];
        for (let k = 0; k < K; k++) {
          const qr = Q[i * K + k];
          // Gradient flows through both clips only strictly inside (TF.js passes it on the closed interval).
          if (!(qr >= 1e-7 && qr <= 1 - 1e-7)) continue;
          const c = data.correct[n * K + k];
          const dq = ((pi[i * K + k] / colSum[k]) / K) * -(c / qr - (1 - c) / (1 - qr));
          const at = i * D + this.featOffset[k];
          const go = this.gOffset[k];
          const d = this.width[k];
          for (let r = 0; r < d; r++) grad[go + r] += dq * F[at + r];
        }
      }
      return grad;
    }
    const grad = this.#gradH;
    const P = this.heads;
    for (let i = 0; i < grad.length; i++) grad[i] = lambda * P[i];
    const { alphaKl, alphaCost, betaCe: beta } = this.#config;
    const budget = this.#budgetMs;
    const cost = this.#costMs;
    const z = this.#z;
    const Hb = this.#H;
    // d|x|/dx as TF.js takes it (step(x, −1): 1 for x > 0, else −1).
    const sgn = this.#lastCost - budget > 0 ? 1 : -1;
    const sig = this.headOutput === 'sigmoid';
    const a = this.#a;
    const dpi = this.#dpi;
    for (let i = 0; i < B; i++) {
      let rowSum = 0;
      for (let k = 0; k < K; k++) {
        const qc = clamp01(Q[i * K + k]);
        rowSum += beta === 1 ? qc : Math.pow(qc, beta);
      }
      let sumA = 0;
      let sumPiDpi = 0;
      for (let k = 0; k < K; k++) {
        const qc = clamp01(Q[i * K + k]);
        const t = rowSum > 0 ? (beta === 1 ? qc : Math.pow(qc, beta)) / Math.max(rowSum, 1e-30) : 1 / K;
        // d(α_KL·KL)/d log π_k; d(α_cost·cost)/d π_k.
        a[k] = (-alphaKl * t) / (B * K);
        dpi[k] = (alphaCost * sgn * cost[k]) / (budget * B);
        sumA += a[k];
        sumPiDpi += pi[i * K + k] * dpi[k];
      }
      for (let k = 0; k < K; k++) {
        const p = pi[i * K + k];
        // Through log-softmax (for the KL) and softmax (for the cost) to the head's output u_k.
        let du = a[k] - p * sumA + p * (dpi[k] - sumPiDpi);
        if (sig) {
          const s = z[i * K + k];
          du *= s * (1 - s);
        }
        const o = this.headOffset[k];
        const d = this.width[k];
        const m = this.hidden[k];
        const hb = i * Hn + this.hiddenOffset[k];
        const at = i * D + this.featOffset[k];
        const b1 = o + d * m;
        const w2 = b1 + m;
        grad[w2 + m] += du;
        for (let j = 0; j < m; j++) {
          const h = Hb[hb + j];
          grad[w2 + j] += du * h;
          const dpre = du * P[w2 + j] * h * (1 - h);
          grad[b1 + j] += dpre;
          for (let r = 0; r < d; r++) grad[o + r * m + j] += F[at + r] * dpre;
        }
      }
    }
    return grad;
  }

  /** One training step of `phase` on the samples `idx`: forward, gradient, Adam. @returns the batch's loss terms (before the update). */
  step(data: FusedData, idx: ArrayLike<number>, phase: 'q' | 'h'): FusedTerms {
    const terms = this.forward(data, idx);
    const grad = this.gradient(data, idx, phase);
    this.#adam[phase].step(phase === 'q' ? this.g : this.heads, grad, this.#config.lr);
    return terms;
  }
}
