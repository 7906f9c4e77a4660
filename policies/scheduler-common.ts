/**
 * Pieces shared by the backlog-aware single-exit schedulers: the per-exit profile (t_i, a_i) they are fitted
 * with, sampling an exit from a distribution, and the one-hot distribution of a single committed exit.
 */
import { InputError } from '../lib/errors.ts';
import type { Rng } from '../lib/random.ts';
import type { ScoredTrace } from '../lib/scores.ts';

/** Per-exit profile from a validation trace: t_i = cumulative cost (ms), a_i = accuracy of exit i. */
export interface ExitProfile {
  readonly timeMs: readonly number[];
  readonly accuracy: readonly number[];
}

/** Profile a validation trace (what the schedulers' `fit` does). */
export function profileExits(validation: ScoredTrace): ExitProfile {
  return { timeMs: [...validation.trace.costMs], accuracy: validation.scores.exitAccuracy() };
}

/** Throw the standard "fit first" error for a scheduler used before `fit`. */
export function requireProfile(profile: ExitProfile | undefined, policy: string): ExitProfile {
  if (!profile) throw new InputError(`policy "${policy}"`, 'fit', 'fit(validation) before the first job (it profiles t_i and a_i per exit)', 'an unfitted policy');
  return profile;
}

/** The most accurate exit (the cheapest among equally accurate ones): the choice when load is unknown. */
export function mostAccurateExit(profile: ExitProfile): number {
  let best = 0;
  for (let i = 1; i < profile.accuracy.length; i++) if (profile.accuracy[i] > profile.accuracy[best]) best = i;
  return best;
}

/** The distribution that puts every job at exit `exit`, length `nExits` (for `Policy.exitDistribution`). */
export function oneHot(exit: number, nExits: number): number[] {
  return Array.from({ length: nExits }, (_, k) => (k === exit ? 1 : 0));
}

/** Draw an exit from probabilities `pi` (length K, summing to 1) with one uniform draw. */
export function sampleExit(pi: ArrayLike<number>, rng: Rng): number {
  const u = rng.float();
  let acc = 0;
  for (let i = 0; i < pi.length - 1; i++) {
    acc += pi[i];
    if (u < acc) return i;
  }
  return pi.length - 1;
}
