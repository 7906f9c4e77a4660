/**
 * Arrival-rate sweep of the backlog-aware policies (issues 4 and 17): λ from 0.2× to 3× the service rate μ of the
 * full network, buffers B ∈ {5, 10, 50}, Poisson, bursty (MMPP2, 5× peaks 20% of the time) and load-step
 * (λ/μ × 0.5 → 2 → 0.8) arrivals, the three fixtures, five seeds (paired comparisons need more than three), 20,000
 * measured arrivals per cell after a warm-up of 2,000 (12,960 cells, 5 min 11 s on 2 cores). Policies: the plain
 * network, the ordinary EEN (budgeted max-prob thresholds, budget half-way between the first and last exit's
 * cost), the three single-exit schedulers of Casale & Roveri (reactive, model-based, rate-based), and our
 * backlog-threshold family with each of its three controls on the max-prob and entropy scores, and its model
 * control on EENet's learned score (`bt-model-eenet`).
 * Run: npx exitlab run queue-sweep [--quick]. The recorded result is docs/results/queue-sweep.md; its headline
 * table comes from `npx tsx experiments/queue-sweep-headline.ts DIR`.
 */
import { defineExperiment } from './harness/experiment.ts';

const controls = (['model', 'reactive', 'backlog'] as const).flatMap((control) =>
  (['maxprob', 'entropy'] as const).map((score) => ({ label: `bt-${control}-${score}`, policy: 'backlog-threshold', params: { control, score } })),
);

export default defineExperiment({
  id: 'queue-sweep',
  description: 'Backlog-aware thresholds and single-exit schedulers vs ordinary EEN and plain network over arrival rate, buffer size and arrival process.',
  traces: ['fixtures/fashion-mnist-wide/manifest.json', 'fixtures/fashion-mnist-cnn/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3, 4, 5],
  parts: [
    {
      name: 'sweep',
      workload: { kind: 'queue', jobs: 20000, warmup: 2000 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'EEN', policy: 'budgeted-threshold', params: { score: 'maxprob' }, budgetFraction: 0.5 },
        { label: 'reactive', policy: 'reactive' },
        { label: 'model-based', policy: 'model-based' },
        { label: 'rate-based', policy: 'rate-based' },
        ...controls,
        // EENet's learned utility as the ladder's score, in one variant (issue 17): trained once per fixture and
        // seed for the middle budget (memoised across the cells that share it), then calibrated like the others.
        { label: 'bt-model-eenet', policy: 'backlog-threshold', params: { control: 'model', score: 'eenet' } },
      ],
      axes: { lambdaOverMu: [0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0], bufferSize: [5, 10, 50], arrivals: ['poisson', 'bursty', 'steps'] },
      baselines: ['EEN', 'model-based', 'rate-based'],
    },
  ],
  quick: { seeds: [1], axes: { sweep: { lambdaOverMu: [0.5, 1, 2], bufferSize: [10] } }, jobs: 3000 },
});
