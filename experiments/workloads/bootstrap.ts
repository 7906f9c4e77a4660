/**
 * SCRATCH toy kind: offline evaluation on a seeded bootstrap resample of the test split (fraction of N drawn with
 * replacement), to count the files a new workload kind touches.
 */
import { runPolicy, summarizeExits } from '../../lib/offline.ts';
import { Rng } from '../../lib/random.ts';
import { ExitTrace } from '../../lib/trace.ts';
import { scoreTrace } from '../../lib/scores.ts';
import { axis, instantiate, isPositive, knownKeys, ownBudget, requireOwnBudgets } from './common.ts';
import type { Workload } from './types.ts';

export const bootstrap: Workload<{ readonly kind: 'bootstrap' }, { readonly fraction: readonly number[] }, Record<string, never>> = {
  kind: 'bootstrap',
  description: 'offline on a bootstrap resample of the test split',
  parse(workload, axes, where) {
    knownKeys(where, 'workload', workload, ['kind']);
    const a = knownKeys(where, 'axes', axes, ['fraction']);
    return { options: {}, axes: [axis(where, 'fraction', a.fraction, isPositive, 'positive fractions of N')] };
  },
  checkPolicies: (_p, policies, where) => requireOwnBudgets(where, 'bootstrap', policies),
  dependsOn: () => true,
  budgetFraction: ownBudget,
  quickKeys: [],
  quick: (w) => w,
  async run(cell, ctx) {
    const t = ctx.test.trace;
    const n = Math.max(1, Math.round(Number(cell.axes.fraction) * t.nSamples));
    const rng = new Rng(cell.seed).fork('bootstrap');
    const K = t.nExits;
    const C = t.nClasses;
    const probs = new Float32Array(n * K * C);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const j = rng.int(t.nSamples);
      labels[i] = t.labels[j];
      probs.set(t.probs.subarray(j * K * C, (j + 1) * K * C), i * K * C);
    }
    const sample = scoreTrace(new ExitTrace({ nSamples: n, nExits: K, nClasses: C, probs, labels, costMs: t.costMs, provenance: t.provenance }));
    const policy = instantiate(ctx.spec!, cell.params, { seed: cell.seed, model: ctx.model });
    policy.fit?.(ctx.validation, ctx.budgetMs === undefined ? {} : { budgetMs: ctx.budgetMs });
    const r = summarizeExits(runPolicy(policy, sample), sample);
    return { metrics: { accuracy: r.accuracy, meanCostMs: r.meanCostMs }, exitShares: r.exitShares };
  },
  metrics: [
    { name: 'accuracy', description: 'accuracy on the resample', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'meanCostMs', description: 'mean cost on the resample', unit: 'ms', kind: 'mean', better: 'lower', summary: true },
  ],
  rankBy: 'accuracy',
  plots: (parsed) => parsed.axes.map((a) => ({ kind: 'axis' as const, along: a.name, title: `Accuracy along ${a.name}`, panels: [{ metric: 'accuracy', title: 'accuracy' }] })),
};
