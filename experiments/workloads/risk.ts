/**
 * The risk workload: does a calibrated policy keep its target on new data? One cell is one policy at one target
 * (a budget B on a `cost` part, an ε on a `gap` part) on one trace and seed, run over `splits` seeded
 * calibration/test draws by `violationStudy` (experiments/risk/study.ts): fit on the calibration draw, run on the
 * test draw, count the draws whose test risk exceeds the target.
 *
 * Designs (`design`):
 * - `pool`: calibration and test are disjoint random halves (share `calibrationShare`) of the trace's test split
 *   — exchangeable, the guarantees' assumption;
 * - `shift`: calibration is a random share of the validation split, test is the whole test split (for NSL-KDD:
 *   KDDTrain+-derived validation against KDDTest+, a real shift; for Fashion-MNIST: held-out training images
 *   against the official test images, nominally one distribution, though on fashion-mnist-wide the early exits
 *   lose about twice as much accuracy from validation to test as the last one — docs/results/risk-control.md).
 * On a `gap` part every policy gets `params.epsilon` from the `epsilon` axis (the `risk-gap` family's target); on
 * a `cost` part every policy must be budgeted and gets its budget from `budgetFraction`. Records carry
 * `violationRate` and the policy's `delta` (its `params.delta` or `params.guarantee.delta`; absent for methods
 * without one), so summary.csv lists both.
 */
import { InputError } from '../../lib/errors.ts';
import type { RiskTarget } from '../../lib/guarantee.ts';
import type { RawParams } from '../../lib/registry.ts';
import { violationStudy } from '../risk/study.ts';
import { axis, intOption, isFraction, isOneOf, knownKeys, num } from './common.ts';
import type { Axis, PolicyInfo, Workload } from './types.ts';

/** `part.workload` of a risk part. */
export interface RiskWorkloadDecl {
  readonly kind: 'risk';
  /** Which risk a violation is judged on: mean cost over the budget, or the performance gap over ε. */
  readonly risk: 'cost' | 'gap';
  /** `pool` (exchangeable halves of the test split) or `shift` (calibrate on validation, test on test). */
  readonly design: 'pool' | 'shift';
  /** Calibration/test draws per cell (≥ 1). */
  readonly splits: number;
  /** Share of the calibration pool drawn for calibration, in (0, 1). Default 0.5. */
  readonly calibrationShare?: number;
}

/** Sweep axes of a risk part: budgets on a cost part, gap targets on a gap part. */
export interface RiskAxes {
  /** Budgets, as fractions in [0, 1] between the first and last exit's cost (cost parts). */
  readonly budgetFraction?: readonly number[];
  /** Targets ε ∈ [0, 1] of the performance gap (gap parts). */
  readonly epsilon?: readonly number[];
}

/** Validated options of a risk part. */
export interface RiskOptions extends Readonly<Record<string, unknown>> {
  readonly risk: 'cost' | 'gap';
  readonly design: 'pool' | 'shift';
  readonly splits: number;
  readonly calibrationShare: number;
}

/** The δ a policy's parameters declare, if any. */
function deltaOf(params: RawParams): number | undefined {
  if (typeof params.delta === 'number') return params.delta;
  const g = params.guarantee as RawParams | undefined;
  return g && typeof g.delta === 'number' ? g.delta : undefined;
}

/** The risk workload (kind `risk`). */
export const risk: Workload<RiskWorkloadDecl, RiskAxes, RiskOptions> = {
  kind: 'risk',
  description: 'violation rate of a target (mean cost ≤ B, or performance gap ≤ ε) over many seeded calibration/test draws from one pool, or validation → test',
  parse(workload, axes, where) {
    const w = knownKeys(where, 'workload', workload, ['kind', 'risk', 'design', 'splits', 'calibrationShare']);
    if (!isOneOf('cost', 'gap')(w.risk)) throw new InputError(where.source, `${where.at}.workload.risk`, '"cost" or "gap"', JSON.stringify(w.risk));
    if (!isOneOf('pool', 'shift')(w.design)) throw new InputError(where.source, `${where.at}.workload.design`, '"pool" or "shift"', JSON.stringify(w.design));
    const splits = intOption(where, 'workload.splits', w.splits, 1, 'calibration/test draws per cell');
    const share = w.calibrationShare ?? 0.5;
    if (typeof share !== 'number' || !(share > 0 && share < 1)) throw new InputError(where.source, `${where.at}.workload.calibrationShare`, 'a number in (0, 1)', String(share));
    const r = w.risk as 'cost' | 'gap';
    const a = knownKeys(where, 'axes', axes, [r === 'cost' ? 'budgetFraction' : 'epsilon']);
    const list: Axis[] =
      r === 'cost'
        ? [axis(where, 'budgetFraction', a.budgetFraction, isFraction, 'fractions in [0, 1]', { title: 'budget fraction' })]
        : [axis(where, 'epsilon', a.epsilon, isFraction, 'gap targets in [0, 1]', { title: 'ε (performance gap)' })];
    return { options: { risk: r, design: w.design as 'pool' | 'shift', splits, calibrationShare: share }, axes: list };
  },
  checkPolicies(parsed, policies, where) {
    policies.forEach((p, j) => {
      if (parsed.options.risk === 'cost' && !p.budgeted) {
        throw new InputError(where.source, `${where.at}.policies[${j}]`, 'a budgeted policy (a cost part judges each policy against its budget)', JSON.stringify(p.name));
      }
      if (parsed.options.risk === 'gap') {
        try {
          p.spec.parse({ ...p.params, epsilon: 0.05 });
        } catch (err) {
          throw new InputError(where.source, `${where.at}.policies[${j}]`, 'a policy with an `epsilon` parameter (a gap part sets it from the epsilon axis)', (err as Error).message);
        }
      }
    });
  },
  dependsOn: (name: string, p: PolicyInfo) => (name === 'budgetFraction' ? p.budgeted && p.budgetFraction === undefined : true),
  budgetFraction: (p, axes) => (p.budgeted ? (p.budgetFraction ?? (axes.budgetFraction as number | undefined)) : undefined),
  quickKeys: ['splits'],
  quick: (workload, q, where) => (q.splits === undefined ? workload : { ...workload, splits: intOption({ source: where.source, at: 'quick' }, 'splits', q.splits, 1, 'draws per cell') }),
  async run(cell, ctx) {
    const o = cell.options as RiskOptions;
    const spec = ctx.spec!;
    const epsilon = o.risk === 'gap' ? num(cell.axes, 'epsilon') : undefined;
    const params: RawParams = epsilon === undefined ? cell.params : { ...cell.params, epsilon };
    let target: RiskTarget;
    if (o.risk === 'cost') {
      if (ctx.budgetMs === undefined) throw new InputError(`cell ${cell.key}`, 'budgetMs', 'a budget (cost part)', 'none');
      target = { kind: 'cost', budgetMs: ctx.budgetMs };
    } else {
      target = { kind: 'gap', epsilon: epsilon! };
    }
    const pools =
      o.design === 'pool'
        ? { calibrationPool: ctx.test, calibrationSize: Math.max(1, Math.floor(o.calibrationShare * ctx.test.trace.nSamples)) }
        : { calibrationPool: ctx.validation, testPool: ctx.test, calibrationSize: Math.max(1, Math.floor(o.calibrationShare * ctx.validation.trace.nSamples)) };
    const res = violationStudy({
      ...pools,
      splits: o.splits,
      seed: cell.seed,
      // Policies are created by the core's `instantiate`, one run seed per draw (violationStudy's default).
      entries: [{ label: cell.label, spec, params, target }],
    });
    const s = res.summary[0];
    const delta = deltaOf(params);
    return {
      metrics: {
        violationRate: s.violationRate,
        poolViolationRate: s.poolViolationRate,
        ...(delta === undefined ? {} : { delta }),
        target: o.risk === 'cost' ? (target as { budgetMs: number }).budgetMs : epsilon!,
        meanTestRisk: s.meanTestRisk,
        accuracy: s.meanAccuracy,
        meanCostMs: s.meanCostMs,
        gap: s.meanGap,
        splits: s.splits,
      },
      exitShares: s.exitShares,
    };
  },
  metrics: [
    { name: 'violationRate', description: 'share of draws whose test risk exceeds the target (cost > B, or gap > ε)', unit: '', kind: 'share', better: 'lower', summary: true },
    { name: 'poolViolationRate', description: 'share of draws whose risk over the whole pool (the population drawn from) exceeds the target', unit: '', kind: 'share', better: 'lower', summary: true },
    { name: 'delta', description: 'the δ the policy was asked to hold the target with (1 − δ probability)', unit: '', kind: 'mean', summary: true },
    { name: 'target', description: 'the target: budget B (ms) on cost parts, ε on gap parts', unit: '', kind: 'mean' },
    { name: 'meanTestRisk', description: 'mean over draws of the test risk (ms on cost parts, share on gap parts)', unit: '', kind: 'mean', better: 'lower' },
    { name: 'accuracy', description: 'mean over draws of the test accuracy', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'meanCostMs', description: 'mean over draws of the test mean cost per sample', unit: 'ms', kind: 'mean', better: 'lower', summary: true },
    { name: 'gap', description: 'mean over draws of the performance gap on test (wrong where the last exit is right)', unit: '', kind: 'share', better: 'lower', summary: true },
    { name: 'splits', description: 'calibration/test draws', unit: '', kind: 'count' },
  ],
  rankBy: 'accuracy',
  plots: (parsed) =>
    parsed.axes.map((a) => ({
      kind: 'axis' as const,
      along: a.name,
      title: `Violation rate and accuracy over ${a.title ?? a.name}`,
      panels: [
        { metric: 'violationRate', title: 'violation rate' },
        { metric: 'accuracy', title: 'accuracy', zeroFree: true },
      ],
    })),
};
