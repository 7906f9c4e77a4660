/**
 * The online reward and its contexts, in one place: the online harness (`lib/online.ts`) scores a policy with
 * them and every bandit learner (`policies/dee.ts`, `egreedy-context.ts`, `lee-ucb.ts`, `adaee-ucb.ts`,
 * `tuned-threshold.ts`) learns from them, so "the reward" means the same number everywhere.
 *
 * Reward of leaving an input at exit m (the reconstruction of DEE's reward in ../shared/research/dee.md):
 *   r_m = c_m − β · L_m,   c_m = a score at exit m with values in [0, 1] (default `maxprob`),
 *   L_m = costMs[m] / costMs[K−1] (normalised cumulative cost, 1 = the whole network).
 * It is label-free: a policy can compute r_m itself for every exit it ran.
 *
 * Contexts: (exit m, bin of c_m) with `contextBin`, the contexts of DEE, ε-greedy and the harness's hindsight
 * reference.
 */
import { InputError } from './errors.ts';

/** How a score is turned into a context bin (`contextBin`). */
export type BinScale = 'linear' | 'sqrt';

/** The reward definition shared by the harness and the learners. */
export interface RewardSpec {
  /** Core score c_m (`maxprob`, `margin`, `entropy`, or a learned score with values in [0, 1]). */
  readonly score: string;
  /** β ≥ 0: reward units given up per unit of normalised cumulative cost (1 = the whole network). */
  readonly beta: number;
}

/** The contexts of the hindsight reference (and of DEE / ε-greedy): bins of the reward's score per exit. */
export interface ContextSpec {
  /** Bins per exit (≥ 2). */
  readonly bins: number;
  /** `linear`: equal-width bins of c on [0, 1]; `sqrt`: equal-width bins of 1 − √(1 − c) (see `contextBin`). */
  readonly scale: BinScale;
}

/** Default reward: `maxprob`, β = 0.1 (an early exit is worth it when it loses < 0.1·ΔL confidence). */
export const DEFAULT_REWARD: RewardSpec = Object.freeze({ score: 'maxprob', beta: 0.1 });
/** Default contexts: 10 bins on the √ scale. */
export const DEFAULT_CONTEXT: ContextSpec = Object.freeze({ bins: 10, scale: 'sqrt' as const });

/**
 * The context bin of a score value c (clamped to [0, 1]) among `bins` bins.
 * `sqrt` bins are equal-width in g(c) = 1 − √(1 − c): confidences of trained networks pile up near 1, and g
 * spreads that end (with 10 bins: c ≥ 0.99 is bin 9, 0.96 ≤ c < 0.99 bin 8, 0.75 ≤ c < 0.96 bins 5..7) while keeping
 * low confidences apart. A monotone map, so "bin ≥ θ" rules are still confidence thresholds.
 */
export function contextBin(c: number, bins: number, sqrtScale: boolean): number {
  const v = c >= 1 ? 1 : c > 0 ? c : 0;
  const g = sqrtScale ? 1 - Math.sqrt(1 - v) : v;
  const b = Math.floor(g * bins);
  return b >= bins ? bins - 1 : b;
}

/**
 * Check that a score name is one of those available, naming the field on error. The one score-name check of
 * the policies and harnesses (thresholds, bandits, the online harness).
 * @throws InputError(source, field, "one of …", the name).
 */
export function checkScoreName(source: string, field: string, name: string, available: readonly string[]): void {
  if (!available.includes(name)) throw new InputError(source, field, `one of ${available.join(', ')}`, JSON.stringify(name));
}

/** Check a context definition, naming `field` ("context", "params") in errors. */
export function checkContextSpec(source: string, field: string, ctx: ContextSpec): void {
  if (!Number.isInteger(ctx.bins) || ctx.bins < 2 || ctx.bins > 1000) throw new InputError(source, `${field}.bins`, 'an integer in [2, 1000]', String(ctx.bins));
  if (ctx.scale !== 'linear' && ctx.scale !== 'sqrt') throw new InputError(source, `${field}.scale`, '"linear" or "sqrt"', String(ctx.scale));
}

/** L_m = costMs[m] / costMs[K−1], length K (normalised cumulative cost). */
export function normalisedCosts(costMs: readonly number[]): Float64Array {
  const last = costMs[costMs.length - 1];
  return Float64Array.from(costMs, (c) => c / last);
}

/** A reward bound to one network: r_m = c − β·L_m for scores c read at exit m. */
export interface Reward extends RewardSpec {
  /** L_m per exit, length K. */
  readonly L: Float64Array;
  /** β·L_m per exit, length K (so r_m = c − offset[m], one subtraction in hot loops). */
  readonly offset: Float64Array;
  /** r_m for a score value c observed at exit m. */
  value(c: number, exit: number): number;
}

/**
 * Validate a reward for a network and bind it: β a finite number ≥ 0 and the score among `scoreNames`.
 * @param field prefix of the fields named in errors: "reward" (harness options) or "params" (policy parameters).
 * @throws InputError naming `${field}.beta` or `${field}.score`.
 */
export function makeReward(source: string, field: string, spec: RewardSpec, model: { readonly costMs: readonly number[]; readonly scoreNames: readonly string[] }): Reward {
  const { score, beta } = spec;
  if (!(typeof beta === 'number' && Number.isFinite(beta) && beta >= 0)) throw new InputError(source, `${field}.beta`, 'a finite number ≥ 0', String(beta));
  checkScoreName(source, `${field}.score`, score, model.scoreNames);
  const L = normalisedCosts(model.costMs);
  const offset = Float64Array.from(L, (l) => beta * l);
  return { score, beta, L, offset, value: (c, exit) => c - offset[exit] };
}
