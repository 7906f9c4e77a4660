/**
 * The default comparison (`npm start`): every policy family, declared on the shipped fixtures (`--trace` runs it
 * on other manifests; the report names the models and manifests actually run).
 * - offline: fit on validation, evaluate on test; fixed, random, static thresholds (SDN/MSDNet max-prob,
 *   BranchyNet entropy, PABEE patience), budgeted thresholds swept over budgets, and EENet at one budget; the
 *   oracle is the bound.
 * - queue: the same models behind a buffer of B = 10 places, Poisson and bursty arrivals from 0.5× to 3× the full
 *   network's service rate: plain network, ordinary EEN, random exit and the three backlog schedulers.
 * - online: label-free learners on a stream of test inputs, reward c − β·L: DEE against the plain network, the
 *   offline-tuned threshold, LEE- and AdaEE-style UCB1 and ε-greedy, with regret against the per-input oracle and
 *   the best per-context rule in hindsight.
 */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'compare',
  description: 'Every policy family: offline over budgets, behind a finite buffer over arrival rates, and online on a label-free stream.',
  traces: ['fixtures/fashion-mnist-cnn/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'offline',
      workload: { kind: 'offline' },
      policies: [
        { label: 'first exit', policy: 'fixed-exit', params: { exit: 0 } },
        { label: 'plain network', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'random exit', policy: 'random-exit' },
        { label: 'maxprob ≥ 0.9', policy: 'threshold', params: { score: 'maxprob', thresholds: 0.9 } },
        { label: 'entropy ≥ 0.8', policy: 'threshold', params: { score: 'entropy', thresholds: 0.8 } },
        { label: 'patience ≥ 2', policy: 'threshold', params: { score: 'patience', thresholds: 2 } },
        { label: 'budgeted maxprob', policy: 'budgeted-threshold', params: { score: 'maxprob' } },
        { label: 'budgeted entropy', policy: 'budgeted-threshold', params: { score: 'entropy' } },
        { label: 'budgeted margin', policy: 'budgeted-threshold', params: { score: 'margin' } },
        // One budget only: an EENet fit takes seconds (TF.js), and the whole comparison must stay under a minute.
        // The budget sweep of EENet is its own experiment, eenet-sweep.
        { label: 'EENet (B at 0.2)', policy: 'eenet', budgetFraction: 0.2 },
      ],
      axes: { budgetFraction: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1] },
      baselines: ['plain network'],
    },
    {
      name: 'queue',
      workload: { kind: 'queue', jobs: 20000 },
      policies: [
        { label: 'plain network', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'ordinary EEN', policy: 'budgeted-threshold', params: { score: 'maxprob' }, budgetFraction: 0.5 },
        { label: 'random exit', policy: 'random-exit' },
        { label: 'reactive', policy: 'reactive' },
        { label: 'model-based', policy: 'model-based' },
        { label: 'rate-based', policy: 'rate-based' },
      ],
      axes: { lambdaOverMu: [0.5, 1, 1.5, 2, 3], bufferSize: [10], arrivals: ['poisson', 'bursty'] },
      baselines: ['ordinary EEN', 'plain network'],
    },
    {
      name: 'online',
      workload: { kind: 'online', inputs: 100000, windows: 10 },
      policies: [
        { label: 'plain network', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'tuned threshold', policy: 'tuned-threshold' },
        { label: 'LEE-UCB', policy: 'lee-ucb' },
        { label: 'AdaEE-UCB', policy: 'adaee-ucb' },
        { label: 'ε-greedy', policy: 'egreedy-context' },
        { label: 'DEE', policy: 'dee' },
      ],
      axes: { beta: [0.1, 0.5], stream: ['stationary'] },
      baselines: ['plain network', 'tuned threshold', 'LEE-UCB', 'AdaEE-UCB', 'ε-greedy'],
    },
  ],
  quick: {
    seeds: [1],
    axes: { offline: { budgetFraction: [0.25, 0.5] }, queue: { lambdaOverMu: [0.8, 1.5], arrivals: ['poisson'] }, online: { beta: [0.1] } },
    jobs: 3000,
    inputs: 10000,
  },
});
