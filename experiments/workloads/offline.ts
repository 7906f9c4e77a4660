/**
 * The offline workload: fit each policy on the validation split (budgeted ones at a budget), run it over every
 * test sample in order (`runPolicy`: no queue, no clock but accumulated cost), and record accuracy, mean cost and
 * exit shares. Every trace also gets the oracle (cheapest correct exit), the bound on every policy.
 */
import { InputError } from '../../lib/errors.ts';
import { evaluateOracle, runPolicy, summarizeExits } from '../../lib/offline.ts';
import { encodeExits } from '../../lib/stats.ts';
import { axis, instantiate, isFraction, knownKeys } from './common.ts';
import type { Axis, PolicyInfo, Workload } from './types.ts';

/** `part.workload` of an offline part: nothing to set. */
export interface OfflineWorkloadDecl {
  readonly kind: 'offline';
}

/** Sweep axes of an offline part. */
export interface OfflineAxes {
  /** Budgets for budgeted policies, as fractions in [0, 1] between the first and last exit's cost. */
  readonly budgetFraction?: readonly number[];
}

/** The offline workload (kind `offline`). */
export const offline: Workload<OfflineWorkloadDecl, OfflineAxes | undefined, Record<string, never>> = {
  kind: 'offline',
  description: 'fit on the validation split, evaluate every test sample in order; budgeted policies over a budget axis; the oracle as the bound',
  parse(workload, axes, where) {
    knownKeys(where, 'workload', workload, ['kind']);
    const a = knownKeys(where, 'axes', axes, ['budgetFraction']);
    const list: Axis[] = [];
    if (a.budgetFraction !== undefined) list.push(axis(where, 'budgetFraction', a.budgetFraction, isFraction, 'fractions in [0, 1]', { title: 'budget fraction' }));
    return { options: {}, axes: list };
  },
  checkPolicies(parsed, policies, where) {
    if (parsed.axes.length === 0 && policies.some((p) => p.budgeted && p.budgetFraction === undefined)) {
      throw new InputError(where.source, `${where.at}.axes.budgetFraction`, 'budgets for the budgeted policies without a budgetFraction of their own', 'none');
    }
  },
  // A non-budgeted policy, or a budgeted one with a budget of its own, does not depend on the budget axis: it runs
  // once, not once per budget.
  dependsOn: (name: string, p: PolicyInfo) => name !== 'budgetFraction' || (p.budgeted && p.budgetFraction === undefined),
  budgetFraction: (p, axes) => (p.budgeted ? (p.budgetFraction ?? (axes.budgetFraction as number)) : undefined),
  // The oracle reads labels, so it is a reference row rather than a registered policy; it depends on the trace only.
  references: [{ label: 'oracle', name: 'oracle' }],
  quickKeys: [],
  quick: (workload) => workload,
  async run(cell, ctx) {
    if (cell.reference) {
      const { result, exits } = evaluateOracle(ctx.test);
      return { metrics: { accuracy: result.accuracy, meanCostMs: result.meanCostMs, relativeCost: result.relativeCost }, exitShares: result.exitShares, exits: encodeExits(exits) };
    }
    const policy = instantiate(ctx.spec!, cell.params, { seed: cell.seed, model: ctx.model });
    const budgetMs = ctx.budgetMs;
    const fit = policy.fit?.(ctx.validation, budgetMs === undefined ? {} : { budgetMs });
    const exits = runPolicy(policy, ctx.test);
    const result = summarizeExits(exits, ctx.test);
    return {
      metrics: {
        accuracy: result.accuracy,
        meanCostMs: result.meanCostMs,
        relativeCost: result.relativeCost,
        ...(fit?.expectedCostMs === undefined ? {} : { fitExpectedCostMs: fit.expectedCostMs }),
        // Judged on the test split, which the fit never saw: by how much the mean cost exceeds B, in percent
        // (negative = under budget). A 0/1 "met" would call a miss of 0.1% and one of 20% the same failure, and
        // has no sample-level interval; the report gives this one a paired-bootstrap interval from the exits.
        ...(budgetMs === undefined ? {} : { testOvershootPct: (result.meanCostMs / budgetMs - 1) * 100 }),
      },
      exitShares: result.exitShares,
      exits: encodeExits(exits),
    };
  },
  metrics: [
    { name: 'accuracy', description: 'fraction of test samples whose exit predicts the label', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'meanCostMs', description: 'mean cumulative cost per test sample', unit: 'ms', kind: 'mean', better: 'lower', summary: true },
    { name: 'relativeCost', description: 'mean cost over the last exit’s cost', unit: '', kind: 'mean', better: 'lower', summary: true },
    { name: 'fitExpectedCostMs', description: 'mean cost the fit promised on the validation split', unit: 'ms', kind: 'mean' },
    { name: 'testOvershootPct', description: '(test mean cost / budget − 1)·100: how far the test split’s mean cost exceeds the budget (negative: under it)', unit: '%', kind: 'mean', summary: true },
  ],
  rankBy: 'accuracy',
  plots: (parsed) =>
    parsed.axes.map((a) => ({
      kind: 'tradeoff' as const,
      along: a.name,
      title: 'Accuracy vs mean cost on test, over budgets (lines: budgeted policies; points: others)',
      x: { metric: 'meanCostMs', title: 'mean cost (ms)' },
      y: { metric: 'accuracy', title: 'accuracy', zeroFree: true },
    })),
};
