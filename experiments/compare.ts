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
import { budgetedThreshold, fixedExit, randomExit, threshold } from '../policies/index.ts';

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
}
console.log(`\nbackend ${backend.name}; records in ${recordsPath}`);
