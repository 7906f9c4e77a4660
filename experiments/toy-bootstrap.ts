/** SCRATCH: an experiment of the toy bootstrap kind. */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'toy-bootstrap',
  description: 'toy workload kind',
  traces: ['fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2],
  parts: [{ name: 'boot', workload: { kind: 'bootstrap' }, policies: [{ label: 'plain', policy: 'fixed-exit' }, { label: 'maxprob', policy: 'threshold', params: { thresholds: 0.9 } }], axes: { fraction: [0.5, 1] }, baselines: ['plain'] }],
});
