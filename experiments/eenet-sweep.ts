/**
 * EENet budget sweep (issue 5), on both fixtures: at 11 budgets evenly spaced from the first exit's cost
 * (`budgetFraction` 0) to the last's (1), for every seed, fit on the validation split and evaluate on the test split:
 * - EENet (`eenet`, `DEFAULT_EENET_CONFIG`: 4 seeded trials, ≤ 100 epochs, the best kept),
 * - MSDNet: budgeted thresholds on max-prob (`budgeted-threshold`, score maxprob),
 * - BranchyNet: budgeted thresholds on entropy (`budgeted-threshold`, score entropy),
 * and, outside the budget grid (PABEE has no budget), PABEE as the static `threshold` on `patience` at patience
 * 1, 2, 3 (cost/accuracy points; both fixtures have K = 4), plus the oracle (cheapest correct exit) that every
 * offline part adds. Each budgeted record carries `testOvershootPct` (how far the mean test cost exceeds B, in
 * percent) next to the cost its fit promised on validation (`fitExpectedCostMs`), so "meets the budget" is judged
 * on data it was not fitted on.
 *
 * Run: npx exitlab run eenet-sweep [--quick] [--seeds 1,2,3] [--out DIR]. The recorded result is
 * docs/results/eenet-sweep.md.
 */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'eenet-sweep',
  description: 'EENet vs budgeted max-prob (MSDNet) and entropy (BranchyNet) thresholds, PABEE and the oracle, over 11 budgets.',
  traces: ['fixtures/fashion-mnist-wide/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'budget',
      workload: { kind: 'offline' },
      policies: [
        { label: 'EENet', policy: 'eenet' },
        { label: 'MSDNet (maxprob)', policy: 'budgeted-threshold', params: { score: 'maxprob' } },
        { label: 'BranchyNet (entropy)', policy: 'budgeted-threshold', params: { score: 'entropy' } },
        { label: 'PABEE (patience 1)', policy: 'threshold', params: { score: 'patience', thresholds: 1 } },
        { label: 'PABEE (patience 2)', policy: 'threshold', params: { score: 'patience', thresholds: 2 } },
        { label: 'PABEE (patience 3)', policy: 'threshold', params: { score: 'patience', thresholds: 3 } },
      ],
      axes: { budgetFraction: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] },
      baselines: ['MSDNet (maxprob)', 'BranchyNet (entropy)'],
    },
  ],
  quick: { seeds: [1], axes: { budget: { budgetFraction: [0.2, 0.5, 0.8] } } },
});
