/**
 * What the online learners (DEE, ε-greedy, LEE-UCB, AdaEE-UCB, tuned threshold) share beyond the reward itself
 * (which is `lib/reward.ts`, the harness's definition): reading the reward and context parameters, the UCB1 arm
 * choice of LEE-UCB and AdaEE-UCB, and the per-(exit, bin) table of the value of continuing that DEE and
 * ε-greedy learn. Not a registered policy.
 */
import type { ExitView, ModelInfo } from '../lib/policy.ts';
import type { ParamReader } from '../lib/registry.ts';
import { DEFAULT_CONTEXT, DEFAULT_REWARD, contextBin, makeReward, type BinScale, type ContextSpec, type Reward, type RewardSpec } from '../lib/reward.ts';

/** Reward parameters every online learner takes: exactly the harness's `RewardSpec` (lib/reward.ts). */
export type RewardParams = RewardSpec;

/** Context parameters of DEE and ε-greedy (must match the harness's `ContextSpec` for the hindsight reference). */
export interface ContextParams {
  /** Bins per exit of c_m, in [2, 1000]. */
  readonly bins: number;
  /** Bin scale (see `contextBin`). */
  readonly binScale: BinScale;
}

/** Defaults shared by every online learner (`DEFAULT_REWARD` of lib/reward.ts). */
export const REWARD_DEFAULTS: RewardParams = DEFAULT_REWARD;
/** Default contexts (`DEFAULT_CONTEXT` of lib/reward.ts, under the parameter name `binScale`). */
export const CONTEXT_DEFAULTS: ContextParams = { bins: DEFAULT_CONTEXT.bins, binScale: DEFAULT_CONTEXT.scale };

/** The harness's `ContextSpec` of context parameters. */
export function contextSpec(p: ContextParams): ContextSpec {
  return { bins: p.bins, scale: p.binScale };
}

/** Read `score` and `beta`. */
export function readReward(r: ParamReader, d: RewardParams = REWARD_DEFAULTS): RewardParams {
  return { score: r.choice('score', undefined, d.score), beta: r.number('beta', d.beta, { min: 0, max: 1e6 }) };
}

/** Read `bins` and `binScale`. */
export function readContext(r: ParamReader, d: ContextParams = CONTEXT_DEFAULTS): ContextParams {
  return { bins: r.number('bins', d.bins, { min: 2, max: 1000, integer: true }), binScale: r.choice('binScale', ['linear', 'sqrt'] as const, d.binScale) };
}

/** Bind the reward parameters to the model (checks the score exists for it): r_m = c − β·L_m. */
export function rewardSetup(source: string, model: ModelInfo, p: RewardParams): Reward {
  return makeReward(source, 'params', p, model);
}

/**
 * UCB1 (Auer et al. 2002, with a scaled bonus): the arm maximising mean_a + α·√(2 ln t / n_a), every arm played
 * once first in index order; ties go to the lowest index.
 * @param n pulls per arm; @param mean mean reward per arm; @param t pulls so far including this one (≥ 1);
 * @param alpha2 2·α².
 */
export function ucb1Arm(n: Float64Array, mean: Float64Array, t: number, alpha2: number): number {
  const logT = Math.log(t);
  let best = 0;
  let bestV = -Infinity;
  for (let a = 0; a < n.length; a++) {
    if (n[a] === 0) return a;
    const v = mean[a] + Math.sqrt((alpha2 * logT) / n[a]);
    if (v > bestV) {
      bestV = v;
      best = a;
    }
  }
  return best;
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
  learn(view: ExitView, reward: Reward, exit: number, next: (i: number) => number): void {
    const K = this.K;
    const g = this.forgetting;
    const score = reward.score;
    // target for m = exit − 1 starts from exit's own observation.
    let cNext = view.score(score, exit);
    for (let m = exit - 1; m >= 0; m--) {
      const rNext = reward.value(cNext, m + 1);
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
