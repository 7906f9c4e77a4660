/**
 * The example policy in an experiment, run by the CLI like any built-in one:
 *   npx exitlab run ./experiment.ts --trace path/to/manifest.json [--quick] [--out DIR]
 * Offline (fit on validation, evaluate on test, the oracle added) and behind a buffer of B = 10 places with
 * Poisson arrivals at 0.8×, 1.5× and 2.5× the full network's service rate, against the plain network, the fixed
 * entropy threshold it relaxes, and the model- and rate-based schedulers; three seeds. The policy enters as its
 * `PolicySpec` object: no registry to edit.
 */
import { defineExperiment } from 'exitlab/experiments';
import { backlogEntropy } from './policy.js';

export default defineExperiment({
  id: 'backlog-entropy',
  description: 'Backlog-entropy against the plain network, its fixed entropy threshold and the backlog schedulers.',
  // Relative to the directory the CLI runs in; --trace replaces it (e.g. a fixture of the exitlab repository).
  traces: ['fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'offline',
      workload: { kind: 'offline' },
      policies: [
        { label: 'plain network', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'entropy ≥ 0.9', policy: 'threshold', params: { score: 'entropy', thresholds: 0.9 } },
        { label: 'budgeted entropy', policy: 'budgeted-threshold', params: { score: 'entropy' }, budgetFraction: 0.5 },
        { label: 'backlog-entropy', policy: backlogEntropy },
      ],
      baselines: ['plain network', 'entropy ≥ 0.9'],
    },
    {
      name: 'load',
      workload: { kind: 'queue', jobs: 50000 },
      policies: [
        { label: 'plain network', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'entropy ≥ 0.9', policy: 'threshold', params: { score: 'entropy', thresholds: 0.9 } },
        { label: 'model-based', policy: 'model-based' },
        { label: 'rate-based', policy: 'rate-based' },
        { label: 'backlog-entropy', policy: backlogEntropy },
      ],
      axes: { lambdaOverMu: [0.8, 1.5, 2.5], bufferSize: [10], arrivals: ['poisson'] },
      baselines: ['entropy ≥ 0.9', 'model-based'],
    },
  ],
  quick: { seeds: [1], jobs: 5000 },
});
