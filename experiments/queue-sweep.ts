/**
 * Arrival-rate sweep of the backlog-aware schedulers (issue 4): λ from 0.2× to 3× the service rate μ of the full
 * network, buffers B ∈ {5, 10, 50}, Poisson and bursty (MMPP2, 5× peaks 20% of the time) arrivals, both fixtures,
 * three seeds, 20,000 arrivals per cell. Baselines: plain network, ordinary EEN (budgeted max-prob thresholds,
 * budget half-way between the first and last exit's cost), random exit, and a fixed exit distribution.
 * Run: npx exitlab run queue-sweep [--quick]. The recorded result is docs/results/queue-sweep.md.
 */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'queue-sweep',
  description: 'Schedulers vs ordinary EEN and plain network over arrival rate, buffer size and burstiness.',
  traces: ['fixtures/fashion-mnist-cnn/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'sweep',
      workload: { kind: 'queue', jobs: 20000 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'EEN', policy: 'budgeted-threshold', params: { score: 'maxprob' }, budgetFraction: 0.5 },
        { label: 'random', policy: 'random-exit' },
        // The EEN's geometric target shares at that budget, drawn score-blind (fixed exit distribution).
        { label: 'fixed-dist', policy: 'random-exit', params: { geometricBudgetFraction: 0.5 } },
        { label: 'reactive', policy: 'reactive' },
        { label: 'model-based', policy: 'model-based' },
        { label: 'rate-based', policy: 'rate-based' },
      ],
      axes: { lambdaOverMu: [0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0], bufferSize: [5, 10, 50], arrivals: ['poisson', 'bursty'] },
      baselines: ['EEN', 'plain'],
    },
  ],
  quick: { seeds: [1], axes: { sweep: { lambdaOverMu: [0.5, 1, 2], bufferSize: [10] } }, jobs: 3000 },
});
