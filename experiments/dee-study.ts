/**
 * DEE against the bandit baselines, online (issue 6), through the online workload. Both fixtures
 * (fashion-mnist-wide, nsl-kdd-mlp), β ∈ {0.02, 0.1, 0.5}, seeds 1–3, 10^6 inputs per run, and three streams:
 * - `stationary`: the test split, repeated random permutations;
 * - `switch-split`: the validation split for the first half, then the test split (for NSL-KDD a real shift:
 *   KDDTest+ has attack types the training data lacks; for Fashion-MNIST nearly none) — note the tuned
 *   threshold was fitted on that same validation split, which favours it in the first half;
 * - `switch-mix`: the test split, first half only the first ⌈C/2⌉ classes, second half only the others.
 * Reward r = maxprob − β·L; regret against the per-input oracle and the best per-context rule in hindsight
 * (10 √-scale bins of max-prob per exit: the contexts of DEE and ε-greedy), over the whole stream and in the last
 * of 10 windows (after learning).
 *
 * Policies: plain network (fixed exit −1), tuned threshold (fitted on validation for the cell's β), LEE-style
 * UCB1 over exits, AdaEE-style UCB1 over threshold vectors, ε-greedy on DEE's contexts, DEE (defaults), and two
 * DEE variants (propagated optimism; forgetting γ = 0.999). Every learner gets the cell's β and the part's score
 * from the workload (`experiments/workloads/online.ts`).
 *
 * "Overall performance" (the paper's "up to 98.1% better"; its definition is not public) is the quantity every
 * policy maximises, the mean reward per input: per (fixture, stream, β) cell, averaged over seeds, the report's
 * tables against the best baseline give (R − R_best)/|R_best| and the share of the best baseline's oracle gap
 * closed, (G_best − G)/G_best, over the whole stream and the last window, against every baseline and against
 * the online ones only (no offline fitting), each closed by its maximum ("up to"), median and minimum over cells.
 *
 * Run: npx exitlab run dee-study [--quick] [--seeds 1,2,3] [--out DIR]. The recorded result is docs/results/dee.md.
 */
import { defineExperiment } from './harness/experiment.ts';

export default defineExperiment({
  id: 'dee-study',
  description: 'DEE and two variants vs the plain network, a tuned threshold, LEE-/AdaEE-style UCB1 and ε-greedy, online, on three streams and three β.',
  traces: ['fixtures/fashion-mnist-wide/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json'],
  seeds: [1, 2, 3],
  parts: [
    {
      name: 'dee',
      workload: { kind: 'online', inputs: 1_000_000, score: 'maxprob', windows: 10, context: { bins: 10, scale: 'sqrt' } },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'tuned-threshold', policy: 'tuned-threshold' },
        { label: 'lee-ucb', policy: 'lee-ucb' },
        { label: 'adaee-ucb', policy: 'adaee-ucb' },
        { label: 'egreedy', policy: 'egreedy-context' },
        { label: 'DEE', policy: 'dee' },
        { label: 'DEE-propagate', policy: 'dee', params: { propagate: true } },
        { label: 'DEE-forget', policy: 'dee', params: { forgetting: 0.999 } },
      ],
      axes: { beta: [0.02, 0.1, 0.5], stream: ['stationary', 'switch-split', 'switch-mix'] },
      baselines: ['plain', 'tuned-threshold', 'lee-ucb', 'adaee-ucb', 'egreedy'],
      baselineGroups: { 'the online baselines only': ['lee-ucb', 'adaee-ucb', 'egreedy'] },
    },
  ],
  quick: { seeds: [1], axes: { dee: { beta: [0.1] } }, inputs: 20000 },
});
