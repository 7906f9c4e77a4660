/**
 * Queue simulator throughput: simulates `--jobs` arrivals (default 10,000,000) per policy at λ = μ of the full
 * network (Poisson, B = 10, per-job records off) and prints jobs/s and memory, for a fixed exit, an ordinary
 * EEN (sequential thresholds: one `decide` per exit run), and each scheduler. Memory is sampled before and after
 * each run: with records off it must not grow with the number of jobs.
 *
 * Usage: tsx experiments/bench-queue.ts [--jobs 10000000] [--trace fixtures/nsl-kdd-mlp/manifest.json]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate } from '../lib/queue.ts';
import { Rng } from '../lib/random.ts';
import type { AnyPolicySpec, RawParams } from '../lib/registry.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { budgetedThreshold, fixedExit, modelBased, rateBased, reactive } from '../policies/index.ts';
import { loadPolicy } from '../lib/registry.ts';

await loadPolicy(modelBased); // the HiGHS wasm loads on first use only

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '10000000' }, trace: { type: 'string' } } });
const nJobs = Number(values.jobs);
const manifest = values.trace ?? 'fixtures/nsl-kdd-mlp/manifest.json';
let validation: ScoredTrace;
let test: ScoredTrace;
if (existsSync(manifest)) {
  validation = scoreTrace(loadTrace(manifest, 'validation'));
  test = scoreTrace(loadTrace(manifest, 'test'));
} else {
  validation = scoreTrace(syntheticTrace({ nSamples: 10000, nExits: 4, seed: 1 }));
  test = scoreTrace(syntheticTrace({ nSamples: 10000, nExits: 4, seed: 2 }));
}
const cost = test.trace.costMs;
const K = cost.length;
console.log(`bench-queue: ${nJobs} arrivals per policy on ${test.trace}, Poisson λ = μ(full network), B = 10, node ${process.version}`);
const cases: [string, AnyPolicySpec, RawParams, number | undefined][] = [
  ['fixed exit (last)', fixedExit, { exit: -1 }, undefined],
  ['ordinary EEN (budgeted maxprob)', budgetedThreshold, { score: 'maxprob' }, (cost[0] + cost[K - 1]) / 2],
  ['reactive', reactive, {}, undefined],
  ['model-based', modelBased, {}, undefined],
  ['rate-based', rateBased, {}, undefined],
];
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
for (const [label, spec, params, budgetMs] of cases) {
  const policy = spec.create(spec.parse(params), { rng: new Rng(1), model: modelInfo(validation) });
  policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
  // Warm-up (JIT, LP cache) on a short run, then the timed one.
  simulate(policy, test, { bufferCapacity: 10, arrivals: { kind: 'poisson', ratePerMs: 1 / cost[K - 1] }, maxArrivals: 200000, seed: 7 });
  globalThis.gc?.();
  const before = process.memoryUsage();
  const t0 = process.hrtime.bigint();
  const { metrics } = simulate(policy, test, { bufferCapacity: 10, arrivals: { kind: 'poisson', ratePerMs: 1 / cost[K - 1] }, maxArrivals: nJobs, seed: 1 });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = process.memoryUsage();
  console.log(
    `${label.padEnd(32)} ${(nJobs / sec / 1e6).toFixed(2).padStart(6)} M jobs/s (${sec.toFixed(2)} s)  loss ${metrics.lossRatio.toFixed(4)}  ` +
      `acc(all) ${metrics.accuracyOverall.toFixed(4)}  heap ${mb(before.heapUsed)}→${mb(after.heapUsed)} MiB  rss ${mb(before.rss)}→${mb(after.rss)} MiB`,
  );
}
