/**
 * Risk control (issue 18): do calibrated thresholds keep their target on new data, and what does a guarantee
 * cost? Both fixtures (fashion-mnist-wide, nsl-kdd-mlp), one seed, 200 seeded calibration/test draws per cell
 * (`risk` workload):
 * - `cost` parts: budgets at 0.2, 0.35, 0.5 of the way from the first exit's cost to the last's. Plain calibration
 *   (MSDNet budgeted max-prob thresholds, `budgeted-threshold`), the naive rule and CRC on the same budget path
 *   (`risk-cost`), and Learn-then-Test with a Waudby-Smith–Ramdas or Hoeffding–Bentkus p-value at δ ∈ {0.05, 0.1}
 *   (`risk-cost` ltt; the WSR one at each δ is also `budgeted-threshold` with `guarantee: { kind: 'cost', delta }`,
 *   the same thresholds).
 * - `gap` parts: ε ∈ {0.01, 0.02, 0.05} for the performance gap (early exit wrong, last exit right), on RC-EENN's
 *   shared-threshold path: naive, CRC, LTT (exact binomial test) at δ ∈ {0.05, 0.1}.
 * - designs: `pool` — the test split cut in random halves (exchangeable); `shift` — calibrate on a random half of
 *   validation, test on the whole test split (NSL-KDD: a real shift; Fashion-MNIST: a small one, held-out training
 *   images against the official test set, which on the wide fixture costs the early exits about twice the last's
 *   accuracy drop — enough to break the gap guarantee at ε = 0.05, docs/results/risk-control.md).
 * Records carry `violationRate` (share of draws over the target on the test draw), `poolViolationRate` (over the
 * target on the whole pool, the quantity the guarantee is about), `delta`, accuracy and cost.
 *
 * Run: npx exitlab run risk-control [--quick] [--out DIR]. Recorded in docs/results/risk-control.md.
 */
import { defineExperiment } from './harness/experiment.ts';

const DELTAS = [0.05, 0.1];

const costPolicies = [
  { label: 'plain', policy: 'budgeted-threshold', params: { score: 'maxprob' } },
  { label: 'naive', policy: 'risk-cost', params: { method: 'naive' } },
  { label: 'CRC', policy: 'risk-cost', params: { method: 'crc' } },
  ...DELTAS.flatMap((delta) => [
    { label: `LTT-WSR δ=${delta}`, policy: 'risk-cost', params: { method: 'ltt', bound: 'wsr', delta } },
    { label: `LTT-HB δ=${delta}`, policy: 'risk-cost', params: { method: 'ltt', bound: 'hb', delta } },
  ]),
];

const gapPolicies = [
  { label: 'naive', policy: 'risk-gap', params: { method: 'naive', path: 'shared' } },
  { label: 'CRC', policy: 'risk-gap', params: { method: 'crc', path: 'shared' } },
  ...DELTAS.map((delta) => ({ label: `LTT δ=${delta}`, policy: 'risk-gap', params: { method: 'ltt', path: 'shared', delta } })),
];

const BUDGETS = [0.2, 0.35, 0.5];
const EPSILONS = [0.01, 0.02, 0.05];
const SPLITS = 200;

export default defineExperiment({
  id: 'risk-control',
  description: 'Violation rate of budgets and accuracy-gap targets over 200 calibration/test draws: plain calibration, naive, CRC, Learn-then-Test (WSR, HB) at δ 0.05 and 0.1; exchangeable halves and validation → test.',
  traces: ['fixtures/fashion-mnist-wide/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1],
  parts: [
    { name: 'cost', workload: { kind: 'risk', risk: 'cost', design: 'pool', splits: SPLITS }, policies: costPolicies, axes: { budgetFraction: BUDGETS }, baselines: ['plain'] },
    { name: 'gap', workload: { kind: 'risk', risk: 'gap', design: 'pool', splits: SPLITS }, policies: gapPolicies, axes: { epsilon: EPSILONS }, baselines: ['naive'] },
    { name: 'cost-shift', workload: { kind: 'risk', risk: 'cost', design: 'shift', splits: SPLITS }, policies: costPolicies, axes: { budgetFraction: BUDGETS }, baselines: ['plain'] },
    { name: 'gap-shift', workload: { kind: 'risk', risk: 'gap', design: 'shift', splits: SPLITS }, policies: gapPolicies, axes: { epsilon: EPSILONS }, baselines: ['naive'] },
  ],
  quick: {
    splits: 8,
    axes: { cost: { budgetFraction: [0.35] }, gap: { epsilon: [0.02] }, 'cost-shift': { budgetFraction: [0.35] }, 'gap-shift': { epsilon: [0.02] } },
  },
});
