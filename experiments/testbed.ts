/**
 * Real serving vs the simulator (issue 19): the shipped TF.js models served over HTTP with real early exits
 * (experiments/testbed/), the plain network, the ordinary EEN, the backlog schedulers and a backlog-aware threshold ladder at λ/μ ∈ {0.5, 1, 1.5,
 * 2} of the full network's rate measured on the server, B = 10, Poisson and bursty arrivals, fashion-mnist-wide and nsl-kdd-mlp,
 * three seeds; every record carries the simulator's prediction for the same cell with the measured service
 * times. Run: npx exitlab run testbed --workers 1 [--quick]. Recorded in docs/results/testbed.md.
 */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'testbed',
  description: 'Real HTTP serving with early exits vs the simulator fed the measured service times.',
  traces: ['fixtures/fashion-mnist-wide/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'serve',
      workload: { kind: 'testbed', requests: 3000, timeLimitS: 20 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'EEN', policy: 'budgeted-threshold', params: { score: 'maxprob' }, budgetFraction: 0.5 },
        { label: 'reactive', policy: 'reactive' },
        { label: 'model-based', policy: 'model-based' },
        { label: 'rate-based', policy: 'rate-based' },
        // Backlog-aware thresholds (issue 17): the model control on max-prob, fixed in advance.
        { label: 'bt-model', policy: 'backlog-threshold', params: { score: 'maxprob', control: 'model' } },
      ],
      axes: { lambdaOverMu: [0.5, 1, 1.5, 2], bufferSize: [10], arrivals: ['poisson', 'bursty'] },
      baselines: ['EEN', 'plain'],
    },
  ],
  quick: { seeds: [1], axes: { serve: { lambdaOverMu: [0.5, 2], arrivals: ['poisson'] } }, requests: 300, calibrationPasses: 200, probeRequests: 200 },
});
