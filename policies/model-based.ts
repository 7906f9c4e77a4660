/**
 * Model-based single-exit scheduler (Casale & Roveri, "Scheduling Inputs in Early Exit Neural Networks", IEEE
 * TC 2024; read in imperial-qore/CEED). For the estimated arrival rate λ and system capacity K = B + 1:
 * for each mean service time p on a grid over [min t_i, max t_i], ρ = λp; find the largest squared coefficient
 * of variation c² whose M/G/1/K approximate loss (`mg1kLoss`) stays within ε; then solve the LP
 *   max Σ π_i a_i  s.t.  Σ π_i = 1,  Σ π_i t_i = p,  Σ π_i t_i² ≤ (1 + c²) p²,  0 ≤ π_i ≤ 1,
 * keep the best π over the grid (none feasible: everything at the first exit), and draw each job's exit from π.
 *
 * Deliberate differences from the reference code:
 * - one consistent c² in the loss formula and in the LP (the code mixes s and s²);
 * - ρ = 1 and K = ∞ guarded (see `mg1kLoss`);
 * - π is re-solved only when the rate estimate leaves its bucket: λ is snapped to a log-spaced grid
 *   (`rateBucket` relative width, default 5%), and each (bucket, K) solution is cached — a table over λ built
 *   lazily and shared by every instance with the same profile, so sweeps pay for each LP once.
 * The LP solver is HiGHS (npm `highs`, the WASM build of the HiGHS solver): a maintained, industrial-grade
 * simplex/IPM code that returns exact optimality status, rather than a hand-written simplex.
 */
import { mg1kLoss } from './mg1k.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { mostAccurateExit, oneHot, profileExits, requireProfile, sampleExit, type ExitProfile } from './scheduler-common.ts';

type HighsLoader = (typeof import('highs'))['default'];
/** The HiGHS solver, once `modelBased.load()` ran: its 3.5 MB wasm is compiled only when this policy is used. */
let highs: Awaited<ReturnType<HighsLoader>> | undefined;

async function loadHighs(): Promise<void> {
  if (highs) return;
  // `highs` is CommonJS whose typings declare an ES default export: under NodeNext the default import is the
  // whole module.exports (the loader function at run time), so take `.default` when present, else the module.
  const mod = (await import('highs')).default as unknown as HighsLoader | { default: HighsLoader };
  const loader = typeof mod === 'function' ? mod : mod.default;
  highs ??= await loader();
}

/** Parameters of `model-based`. */
export interface ModelBasedParams {
  /** Loss target ε: the largest acceptable predicted loss probability. */
  readonly lossTarget: number;
  /** Points on the grid of mean service times p. */
  readonly gridPoints: number;
  /** Relative width of the λ buckets π is cached for. */
  readonly rateBucket: number;
}

/** Largest c² searched; beyond it the second-moment constraint no longer binds for realistic exit costs. */
const C2_MAX = 100;

const cache = new Map<string, Float64Array>();

/**
 * Solve the model-based scheduler's problem for one arrival rate.
 * @param ratePerMs λ, jobs per ms.
 * @param capacity K = B + 1.
 * @returns π, length = number of exits.
 */
export function solveModelBased(profile: ExitProfile, ratePerMs: number, capacity: number, lossTarget: number, gridPoints: number): Float64Array {
  const { timeMs: t, accuracy: a } = profile;
  const K = t.length;
  const tMin = Math.min(...t);
  const tMax = Math.max(...t);
  let bestObj = -Infinity;
  let best: Float64Array | undefined;
  for (let g = 0; g < gridPoints; g++) {
    const p = gridPoints === 1 ? tMax : tMin + ((tMax - tMin) * g) / (gridPoints - 1);
    const rho = ratePerMs * p;
    if (mg1kLoss(rho, 0, capacity) > lossTarget) continue;
    let c2: number;
    if (mg1kLoss(rho, C2_MAX, capacity) <= lossTarget) c2 = C2_MAX;
    else {
      let lo = 0;
      let hi = C2_MAX;
      for (let i = 0; i < 50; i++) {
        const mid = (lo + hi) / 2;
        if (mg1kLoss(rho, mid, capacity) <= lossTarget) lo = mid;
        else hi = mid;
      }
      c2 = lo;
    }
    const pi = solveLp(t, a, p, c2);
    if (!pi) continue;
    let obj = 0;
    for (let i = 0; i < K; i++) obj += pi[i] * a[i];
    if (obj > bestObj + 1e-12) {
      bestObj = obj;
      best = pi;
    }
  }
  if (!best) {
    best = new Float64Array(K);
    best[0] = 1;
  }
  return best;
}

function solveLp(t: readonly number[], a: readonly number[], p: number, c2: number): Float64Array | undefined {
  const K = t.length;
  const terms = (coef: (i: number) => number) => Array.from({ length: K }, (_, i) => `${coef(i)} x${i}`).join(' + ');
  const lp = [
    'Maximize',
    ` obj: ${terms((i) => a[i])}`,
    'Subject To',
    ` sum: ${terms(() => 1)} = 1`,
    ` mean: ${terms((i) => t[i])} = ${p}`,
    ` second: ${terms((i) => t[i] * t[i])} <= ${(1 + c2) * p * p}`,
    'Bounds',
    ...Array.from({ length: K }, (_, i) => ` 0 <= x${i} <= 1`),
    'End',
  ].join('\n');
  if (!highs) throw new Error('model-based: the HiGHS LP solver is not loaded; await loadPolicy(modelBased) (lib/registry.ts) before the first job');
  const r = highs.solve(lp, { output_flag: false });
  if (r.Status !== 'Optimal') return undefined;
  const pi = new Float64Array(K);
  let sum = 0;
  for (let i = 0; i < K; i++) {
    const col = r.Columns[`x${i}`] as { Primal: number } | undefined;
    pi[i] = Math.max(0, col?.Primal ?? 0);
    sum += pi[i];
  }
  // Renormalise away solver round-off (≈1e-15) so π is an exact distribution for sampling.
  for (let i = 0; i < K; i++) pi[i] /= sum;
  return pi;
}

/** Registry entry `model-based`: the backlog scheduler of Casale & Roveri built on the M/G/1/K blocking approximation and an LP over exit shares. */
export const modelBased: PolicySpec<ModelBasedParams> = {
  name: 'model-based',
  description: 'Backlog scheduler: M/G/1/K loss approximation + LP over exit shares (HiGHS), cached per rate bucket.',
  defaults: { lossTarget: 0.01, gridPoints: 100, rateBucket: 0.05 },
  testParams: () => [{}, { lossTarget: 0.1, gridPoints: 20 }],
  budgeted: false,
  stochastic: true,
  parse(raw) {
    const r = new ParamReader('policy "model-based"', raw);
    const lossTarget = r.number('lossTarget', this.defaults.lossTarget, { min: 0, max: 1 });
    const gridPoints = r.number('gridPoints', this.defaults.gridPoints, { min: 1, max: 10000, integer: true });
    const rateBucket = r.number('rateBucket', this.defaults.rateBucket, { min: 1e-6, max: 1 });
    r.done();
    return { lossTarget, gridPoints, rateBucket };
  },
  load: loadHighs,
  create(params, { rng }): Policy {
    let profile: ExitProfile | undefined;
    let profileKey = '';
    const logBase = Math.log(1 + params.rateBucket);
    // Per-instance view of the shared cache for the current capacity, keyed by bucket number: the hot path
    // does one Math.log and one numeric Map lookup per job.
    let local = new Map<number, Float64Array>();
    let localCapacity = NaN;
    /** π of the latest job (for `exitDistribution`). */
    let current: ArrayLike<number> | undefined;
    return {
      name: `model-based scheduler (ε=${params.lossTarget})`,
      fit(validation) {
        profile = profileExits(validation);
        profileKey = JSON.stringify([profile.timeMs, profile.accuracy, params.lossTarget, params.gridPoints, params.rateBucket]);
        local = new Map();
        return { details: { ...profile } };
      },
      commit(state) {
        const prof = requireProfile(profile, 'model-based');
        const rate = state.arrivalRatePerMs;
        if (rate === undefined || !(rate > 0)) {
          const e = mostAccurateExit(prof);
          // Rare (no rate estimate yet): a one-hot distribution.
          current = oneHot(e, prof.timeMs.length);
          return e;
        }
        const capacity = state.bufferCapacity + 1;
        if (capacity !== localCapacity) {
          local = new Map();
          localCapacity = capacity;
        }
        const bucket = Math.round(Math.log(rate) / logBase);
        let pi = local.get(bucket);
        if (!pi) {
          const key = `${profileKey}|${capacity}|${bucket}`;
          pi = cache.get(key);
          if (!pi) {
            pi = solveModelBased(prof, Math.exp(bucket * logBase), capacity, params.lossTarget, params.gridPoints);
            cache.set(key, pi);
          }
          local.set(bucket, pi);
        }
        current = pi;
        return sampleExit(pi, rng);
      },
      exitDistribution: () => (current ? Array.from(current) : undefined),
    };
  },
};
