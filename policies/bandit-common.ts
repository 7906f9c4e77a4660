/**
 * What the online learners (DEE, ε-greedy, LEE-UCB, AdaEE-UCB, tuned threshold) share: the reward
 * r_m = c_m − β·L_m read from a view (the same definition as the harness in `lib/online.ts`), its parameters, and
 * the per-(exit, bin) table of the value of continuing that DEE and ε-greedy learn. Not a registered policy.
 */
import { InputError } from '../lib/errors.ts';
import { contextBin, type BinScale } from '../lib/online.ts';
import type { ExitView, ModelInfo } from '../lib/policy.ts';
import type { ParamReader } from '../lib/registry.ts';

/** Reward parameters every online learner takes (must match the harness's `RewardSpec` to mean the same reward). */
export interface RewardParams {
  /** Core score c_m with values in [0, 1] (`maxprob`, `margin`, `entropy`). */
  readonly score: string;
  /** β ≥ 0: reward given up per unit of cumulative cost normalised by the last exit's cost. */
  readonly beta: number;
}

/** Context parameters of DEE and ε-greedy (must match the harness's `ContextSpec` for the hindsight reference). */
export interface ContextParams {
  /** Bins per exit of c_m, in [2, 1000]. */
  readonly bins: number;
  /** Bin scale (see `contextBin`). */
  readonly binScale: BinScale;
}

/** Defaults shared by every online learner. β = 0.1: an early exit is worth it when it loses < 0.1·ΔL confidence. */
export const REWARD_DEFAULTS: RewardParams = { score: 'maxprob', beta: 0.1 };
/** Default contexts: 10 bins on the √ scale. */
export const CONTEXT_DEFAULTS: ContextParams = { bins: 10, binScale: 'sqrt' };

/** Read `score` and `beta`. */
export function readReward(r: ParamReader, d: RewardParams = REWARD_DEFAULTS): RewardParams {
  return { score: r.choice('score', undefined, d.score), beta: r.number('beta', d.beta, { min: 0, max: 1e6 }) };
}

/** Read `bins` and `binScale`. */
export function readContext(r: ParamReader, d: ContextParams = CONTEXT_DEFAULTS): ContextParams {
  return { bins: r.number('bins', d.bins, { min: 2, max: 1000, integer: true }), binScale: r.choice('binScale', ['linear', 'sqrt'] as const, d.binScale) };
}

/** Check the score exists for this model; returns L_m = costMs[m]/costMs[K−1] (length K). */
export function rewardSetup(source: string, model: ModelInfo, p: RewardParams): Float64Array {
  if (!model.scoreNames.includes(p.score)) throw new InputError(source, 'params.score', `one of ${model.scoreNames.join(', ')}`, JSON.stringify(p.score));
  const K = model.nExits;
  return Float64Array.from(model.costMs, (c) => c / model.costMs[K - 1]);
}

/**
 * The value of continuing, per context (exit m < K−1, bin x of c_m): a running mean of the backward target
 * max(r_{m+1}, V(m+1, x_{m+1})) (r_{K−1} when m + 1 = K−1), learned from every input that continued past m.
 * Arrays are flat [m][x], length (K−1)·bins.
 */
export class ContinueValues {
  /** V̂(m, x): mean of the targets. */
  readonly mean: Float64Array;
  /** Effective number of targets averaged into V̂(m, x) (discounted when forgetting < 1). */
  readonly n: Float64Array;
  /** Visits of context (m, x): inputs that reached exit m with c_m in bin x (a per-context clock). */
  readonly visits: Float64Array;
  readonly K: number;
  readonly bins: number;
  readonly sqrtScale: boolean;
  /** Discount of old targets: n ← γ·n + 1 per update (1 = plain sample mean). */
  readonly forgetting: number;

  constructor(K: number, ctx: ContextParams, forgetting: number) {
    this.K = K;
    this.bins = ctx.bins;
    this.sqrtScale = ctx.binScale === 'sqrt';
    this.forgetting = forgetting;
    const size = (K - 1) * ctx.bins;
    this.mean = new Float64Array(size);
    this.n = new Float64Array(size);
    this.visits = new Float64Array(size);
  }

  /** Flat index of context (m, bin of c). */
  index(m: number, c: number): number {
    return m * this.bins + contextBin(c, this.bins, this.sqrtScale);
  }

  /**
   * Learn from one input that left at `exit`: for m = exit−1 down to 0, update V̂(m, x_m) towards
   * max(r_{m+1}, next(m+1)), where next is the caller's estimate of the value of continuing at m+1 (given the
   * index of that context, or −1 at the last exit). Backwards, so each target uses the value just updated.
   */
  learn(view: ExitView, score: string, beta: number, L: Float64Array, exit: number, next: (i: number) => number): void {
    const K = this.K;
    const g = this.forgetting;
    // target for m = exit − 1 starts from exit's own observation.
    let cNext = view.score(score, exit);
    for (let m = exit - 1; m >= 0; m--) {
      const rNext = cNext - beta * L[m + 1];
      let target = rNext;
      if (m + 1 < K - 1) {
        const v = next(this.index(m + 1, cNext));
        if (v > target) target = v;
      }
      const c = view.score(score, m);
      const i = this.index(m, c);
      const n = g * this.n[i] + 1;
      this.n[i] = n;
      this.mean[i] += (target - this.mean[i]) / n;
      cNext = c;
    }
  }
}
