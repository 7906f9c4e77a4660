/**
 * The default comparison (`npm start`): on every shipped fixture (or the manifests given with --trace), fit
 * the fixed, random, static-threshold and budgeted policies on the validation split, evaluate on the test
 * split, print the comparison table with the oracle, then an accuracy-vs-budget sweep.
 *
 * Every record is appended to `<out>/results.jsonl` as soon as it exists (one JSON object per line, flushed
 * synchronously), next to `<out>/run.json` (config, seed, git revision, backend, Node version): an interrupted
 * run keeps every finished record.
 *
 * Usage: tsx experiments/compare.ts [--trace fixtures/x/manifest.json ...] [--seed 1] [--budgets 8]
 *        [--out results/compare-<time>]
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { loadTrace } from '../lib/io.ts';
import { budgetGrid, budgetSweep, compare, type PolicyEntry, type PolicyResult } from '../lib/offline.ts';
import { resultsTable, sweepTable } from '../lib/report.ts';
import { scoreTrace } from '../lib/scores.ts';
import { initBackend } from '../lib/tensor.ts';
import { atomicWrite } from '../lib/io.ts';
import { budgetedThreshold, fixedExit, modelBased, randomExit, rateBased, reactive, threshold } from '../policies/index.ts';
import { simulate } from '../lib/queue.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { textTable } from '../lib/report.ts';
import type { AnyPolicySpec, RawParams } from '../lib/registry.ts';

const { values } = parseArgs({
  options: {
    trace: { type: 'string', multiple: true },
    seed: { type: 'string', default: '1' },
    budgets: { type: 'string', default: '8' },
    out: { type: 'string' },
  },
});

const seed = Number(values.seed);
const nBudgets = Number(values.budgets);
if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got ${values.seed}`);
if (!Number.isInteger(nBudgets) || nBudgets < 2) throw new Error(`--budgets: expected an integer ≥ 2, got ${values.budgets}`);

const manifests =
  values.trace ??
  (existsSync('fixtures')
    ? readdirSync('fixtures')
        .map((d) => join('fixtures', d, 'manifest.json'))
        .filter((p) => existsSync(p))
        .sort()
    : []);
if (manifests.length === 0) {
  throw new Error('no traces: pass --trace path/to/manifest.json, or build the fixtures with `npm run fixtures -- --data ../shared/datasets`');
}

const backend = await initBackend();
const out = values.out ?? join('results', `compare-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(out, { recursive: true });
const recordsPath = join(out, 'results.jsonl');
let revision = 'unknown';
try {
  revision = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // Not a git checkout (e.g. an installed package): record "unknown" rather than fail.
}
atomicWrite(
  join(out, 'run.json'),
  JSON.stringify({ experiment: 'compare', manifests, seed, nBudgets, revision, backend, node: process.version, started: new Date().toISOString() }, null, 2) + '\n',
);
const save = (kind: string, r: PolicyResult) => appendFileSync(recordsPath, JSON.stringify({ kind, ...r }) + '\n');

for (const manifest of manifests) {
  const validation = scoreTrace(loadTrace(manifest, 'validation'));
  const test = scoreTrace(loadTrace(manifest, 'test'));
  const cost = test.trace.costMs;
  const K = test.trace.nExits;
  // Budgets for the comparison: a quarter, half and three quarters of the way from the first exit's cost to
  // the last's.
  const mid = (f: number) => cost[0] + f * (cost[K - 1] - cost[0]);
  const entries: PolicyEntry[] = [
    { spec: fixedExit, params: { exit: 0 } },
    { spec: fixedExit, params: { exit: -1 } },
    { spec: randomExit },
    { spec: threshold, params: { score: 'maxprob', thresholds: 0.9 } },
    { spec: threshold, params: { score: 'entropy', thresholds: 0.8 } },
    { spec: threshold, params: { score: 'patience', thresholds: 2 } },
    ...[0.25, 0.5].flatMap((f) => ['maxprob', 'entropy', 'margin'].map((score) => ({ spec: budgetedThreshold, params: { score }, budgetMs: mid(f) }))),
  ];
  const results = compare(entries, validation, test, seed);
  for (const r of results) save('compare', r);
  const acc = test.scores.exitAccuracy();
  console.log(`\n## ${test.trace.provenance.model}: fitted on ${validation.trace}, evaluated on ${test.trace}`);
  console.log(`per-exit accuracy ${acc.map((a) => a.toFixed(4)).join(' ')}; cumulative cost ms ${cost.map((c) => +c.toFixed(4)).join(' ')}`);
  console.log(resultsTable(results));
  const sweep = budgetSweep(
    ['maxprob', 'entropy', 'margin'].map((score) => ({ spec: budgetedThreshold, params: { score } })),
    budgetGrid(cost, nBudgets),
    validation,
    test,
    seed,
    (r) => save('sweep', r),
  );
  console.log(`\naccuracy vs budget (test split; cost = measured mean ms)`);
  console.log(sweepTable(sweep));

  // Under load: the same model behind a finite buffer (B = 10, Poisson arrivals), below and above the full
  // network's service rate μ. Full sweep: experiments/queue-sweep.ts.
  const queued: [string, AnyPolicySpec, RawParams, number | undefined][] = [
    ['plain network', fixedExit, { exit: -1 }, undefined],
    ['ordinary EEN (budgeted maxprob)', budgetedThreshold, { score: 'maxprob' }, mid(0.5)],
    ['reactive', reactive, {}, undefined],
    ['model-based', modelBased, {}, undefined],
    ['rate-based', rateBased, {}, undefined],
  ];
  const rows: (string | number)[][] = [];
  for (const mult of [0.8, 1.5]) {
    for (const [label, spec, params, budgetMs] of queued) {
      const policy = spec.create(spec.parse(params), { rng: new Rng(seed).fork(label), model: modelInfo(validation) });
      policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
      const { metrics } = simulate(policy, test, { bufferCapacity: 10, arrivals: { kind: 'poisson', ratePerMs: mult / cost[K - 1] }, maxArrivals: 20000, seed });
      appendFileSync(recordsPath, JSON.stringify({ kind: 'queue', lambdaOverMu: mult, label, ...metrics }) + '\n');
      rows.push([mult.toFixed(1), label, metrics.lossRatio, metrics.accuracyServed, metrics.accuracyOverall, metrics.p95ResponseMs]);
    }
  }
  console.log(`\nunder load: B = 10, Poisson arrivals at λ/μ (μ = 1 / full-network cost), 20,000 jobs`);
  console.log(textTable(['λ/μ', 'policy', 'loss', 'acc served', 'acc incl. lost', 'p95 ms'], rows));
}
console.log(`\nbackend ${backend.name}; records in ${recordsPath}`);
