/**
 * Compare the example policy with the built-in families, offline and under load, on a fixture manifest.
 * Run: node dist/compare.js path/to/manifest.json
 */
import { loadPolicy, loadTrace, modelInfo, Rng, scoreTrace, type AnyPolicySpec, type RawParams } from 'exitlab';
import { compare, simulate, resultsTable, textTable } from 'exitlab/experiments';
import { budgetedThreshold, fixedExit, modelBased, rateBased, threshold } from 'exitlab/policies';
import { backlogEntropy } from './policy.js';

const manifest = process.argv[2];
if (!manifest) throw new Error('usage: node dist/compare.js path/to/manifest.json');
const validation = scoreTrace(loadTrace(manifest, 'validation'));
const test = scoreTrace(loadTrace(manifest, 'test'));
const cost = test.trace.costMs;
const K = cost.length;

console.log(`offline, ${test.trace}`);
console.log(
  resultsTable(
    compare(
      [
        { spec: fixedExit, params: { exit: -1 } },
        { spec: threshold, params: { score: 'entropy', thresholds: 0.9 } },
        { spec: budgetedThreshold, params: { score: 'entropy' }, budgetMs: (cost[0] + cost[K - 1]) / 2 },
        { spec: backlogEntropy, params: {} },
      ],
      validation,
      test,
      1,
    ),
  ),
);

const contenders: [string, AnyPolicySpec, RawParams, number | undefined][] = [
  ['plain network', fixedExit, { exit: -1 }, undefined],
  ['entropy ≥ 0.9', threshold, { score: 'entropy', thresholds: 0.9 }, undefined],
  ['model-based', modelBased, {}, undefined],
  ['rate-based', rateBased, {}, undefined],
  ['backlog-entropy', backlogEntropy, {}, undefined],
];
// Heavy dependencies (model-based's LP solver) load on first use, not at import.
for (const [, spec] of contenders) await loadPolicy(spec);
const rows: (string | number)[][] = [];
for (const mult of [0.8, 1.5, 2.5]) {
  for (const [label, spec, params] of contenders) {
    const policy = spec.create(spec.parse(params), { rng: new Rng(1), model: modelInfo(validation) });
    policy.fit?.(validation, {});
    const { metrics } = simulate(policy, test, { bufferCapacity: 10, arrivals: { kind: 'poisson', ratePerMs: mult / cost[K - 1] }, maxArrivals: 50000, seed: 1 });
    rows.push([mult.toFixed(1), label, metrics.lossRatio, metrics.accuracyServed, metrics.accuracyOverall, metrics.p95ResponseMs]);
  }
}
console.log('\nunder load: B = 10, Poisson arrivals at λ/μ, 50,000 jobs');
console.log(textTable(['λ/μ', 'policy', 'loss', 'acc served', 'acc incl. lost', 'p95 ms'], rows));
