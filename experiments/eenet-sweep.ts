/**
 * EENet budget sweep (issue 5). For every fixture (fixtures/*\/manifest.json), at `--budgets` budgets evenly
 * spaced from the first exit's cost to the last's (inclusive), for every seed: fit on the validation split, evaluate
 * on the test split —
 * - EENet (`eenet`, defaults: `DEFAULT_EENET_CONFIG`),
 * - MSDNet: budgeted thresholds on max-prob (`budgeted-threshold`, score maxprob),
 * - BranchyNet: budgeted thresholds on entropy (`budgeted-threshold`, score entropy),
 * and, outside the budget grid (PABEE has no budget), PABEE as the static `threshold` on `patience` at patience
 * 1..K−1 (cost/accuracy points), and the oracle (cheapest correct exit).
 * Each record says whether the method met its budget on the *test* split (mean test cost ≤ B), besides the cost
 * its fit promised on validation.
 *
 * Run: npx tsx experiments/eenet-sweep.ts [--quick] [--seeds 3] [--budgets 10] [--out results/eenet-sweep-…]
 * Writes records.jsonl (one record per fit, appended as it finishes) and run.json (config, seeds, git revision,
 * backend), then prints per-fixture tables from the records.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_EENET_CONFIG, type EENetConfig } from '../lib/eenet.ts';
import { loadTrace } from '../lib/io.ts';
import { budgetGrid, evaluateEntry, evaluateOracle } from '../lib/offline.ts';
import type { RawParams } from '../lib/registry.ts';
import { textTable } from '../lib/report.ts';
import { scoreTrace } from '../lib/scores.ts';
import { initBackend } from '../lib/tensor.ts';
import { getPolicySpec } from '../policies/index.ts';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, seeds: { type: 'string' }, budgets: { type: 'string' }, out: { type: 'string' } },
});
const quick = args.quick === true;
const nSeeds = Number(args.seeds ?? (quick ? 1 : 3));
const nBudgets = Number(args.budgets ?? (quick ? 4 : 10));
if (!(Number.isInteger(nSeeds) && nSeeds >= 1) || !(Number.isInteger(nBudgets) && nBudgets >= 2)) throw new Error('--seeds must be an integer ≥ 1 and --budgets ≥ 2');
const seeds = Array.from({ length: nSeeds }, (_, i) => i + 1);
const eenetParams: Partial<EENetConfig> = quick ? { trials: 1, epochs: 20 } : {};
/** Budget met on test: mean test cost ≤ B up to float summation error. */
const TOL = 1e-9;

const fixtures = readdirSync('fixtures')
  .filter((d) => existsSync(join('fixtures', d, 'manifest.json')))
  .sort();
if (fixtures.length === 0) throw new Error('no fixtures/*/manifest.json');

const backend = await initBackend();
const out = args.out ?? join('results', `eenet-sweep-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(out, { recursive: true });
const recordsPath = join(out, 'records.jsonl');
writeFileSync(recordsPath, '');
let revision = 'unknown';
try {
  revision = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout
}
writeFileSync(
  join(out, 'run.json'),
  JSON.stringify({ experiment: 'eenet-sweep', quick, seeds, nBudgets, fixtures, eenet: { ...DEFAULT_EENET_CONFIG, ...eenetParams }, revision, backend, node: process.version, started: new Date().toISOString() }, null, 2),
);

/** One fitted-and-evaluated method at one budget (or a budget-free point). */
interface SweepRecord {
  fixture: string;
  method: string;
  params: RawParams;
  budgetMs: number | null;
  seed: number;
  accuracy: number;
  meanCostMs: number;
  /** Mean cost the fit promised on validation, ms. */
  validationCostMs: number | null;
  /** Mean test cost ≤ budget. */
  metOnTest: boolean | null;
  exitShares: number[];
  fitSeconds: number;
  details?: Record<string, unknown>;
}

const records: SweepRecord[] = [];
const emit = (r: SweepRecord): void => {
  records.push(r);
  appendFileSync(recordsPath, JSON.stringify(r) + '\n');
};

const METHODS: { method: string; spec: string; params: RawParams }[] = [
  { method: 'EENet', spec: 'eenet', params: eenetParams as RawParams },
  { method: 'MSDNet (maxprob)', spec: 'budgeted-threshold', params: { score: 'maxprob' } },
  { method: 'BranchyNet (entropy)', spec: 'budgeted-threshold', params: { score: 'entropy' } },
];

const t0 = performance.now();
for (const fixture of fixtures) {
  const manifest = join('fixtures', fixture, 'manifest.json');
  const val = scoreTrace(loadTrace(manifest, 'validation'));
  const test = scoreTrace(loadTrace(manifest, 'test'));
  const K = val.trace.nExits;
  const budgets = budgetGrid(val.trace.costMs, nBudgets);
  console.error(`${fixture}: ${val.trace.nSamples} validation / ${test.trace.nSamples} test samples, costs [${val.trace.costMs.join(', ')}] ms`);
  for (const seed of seeds) {
    for (const budgetMs of budgets) {
      for (const m of METHODS) {
        const t = performance.now();
        const ev = evaluateEntry({ spec: getPolicySpec(m.spec), params: m.params, budgetMs }, val, test, seed);
        const fitSeconds = (performance.now() - t) / 1000;
        const d = ev.fit?.details ?? {};
        emit({
          fixture,
          method: m.method,
          params: m.params,
          budgetMs,
          seed,
          accuracy: ev.result.accuracy,
          meanCostMs: ev.result.meanCostMs,
          validationCostMs: ev.fit?.expectedCostMs ?? null,
          metOnTest: ev.result.meanCostMs <= budgetMs * (1 + TOL),
          exitShares: [...ev.result.exitShares],
          fitSeconds,
          details: m.spec === 'eenet' ? { pbar: d.pbar, shares: d.shares, thresholds: d.thresholds, chosenTrial: d.chosenTrial, validationAccuracy: d.validationAccuracy } : undefined,
        });
      }
      console.error(`  seed ${seed} B=${budgetMs.toFixed(4)} ms done (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  for (let patience = 1; patience < K; patience++) {
    const ev = evaluateEntry({ spec: getPolicySpec('threshold'), params: { score: 'patience', thresholds: patience } }, val, test, 1);
    emit({ fixture, method: `PABEE (patience ${patience})`, params: { patience }, budgetMs: null, seed: 1, accuracy: ev.result.accuracy, meanCostMs: ev.result.meanCostMs, validationCostMs: null, metOnTest: null, exitShares: [...ev.result.exitShares], fitSeconds: 0 });
  }
  const oracle = evaluateOracle(test);
  emit({ fixture, method: 'oracle', params: {}, budgetMs: null, seed: 0, accuracy: oracle.result.accuracy, meanCostMs: oracle.result.meanCostMs, validationCostMs: null, metOnTest: null, exitShares: [...oracle.result.exitShares], fitSeconds: 0 });
}

// ---- Report (from the records only) ----
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number): string => (100 * x).toFixed(2);
for (const fixture of fixtures) {
  const rs = records.filter((r) => r.fixture === fixture);
  const budgets = [...new Set(rs.filter((r) => r.budgetMs !== null).map((r) => r.budgetMs as number))].sort((a, b) => a - b);
  const cell = (method: string, B: number) => rs.filter((r) => r.method === method && r.budgetMs === B);
  const rows = budgets.map((B) => {
    const row: (string | number)[] = [B.toFixed(4)];
    const accs: number[] = [];
    for (const m of METHODS) {
      const c = cell(m.method, B);
      const acc = mean(c.map((r) => r.accuracy));
      accs.push(acc);
      const met = c.filter((r) => r.metOnTest).length;
      row.push(pct(acc), mean(c.map((r) => r.meanCostMs)).toFixed(4), `${met}/${c.length}`);
    }
    row.push((100 * (accs[0] - accs[1])).toFixed(2), (100 * (accs[0] - accs[2])).toFixed(2));
    return row;
  });
  console.log(`\n## ${fixture} (test split; mean over ${seeds.length} seed(s); accuracy %, cost ms, budget met on test: seeds)`);
  console.log(
    textTable(
      ['budget ms', 'EENet acc', 'cost', 'met', 'MSDNet acc', 'cost', 'met', 'Branchy acc', 'cost', 'met', 'EENet−MSDNet pts', 'EENet−Branchy pts'],
      rows,
    ),
  );
  const points = rs.filter((r) => r.budgetMs === null);
  console.log(textTable(['budget-free', 'accuracy %', 'mean cost ms'], points.map((r) => [r.method, pct(r.accuracy), r.meanCostMs.toFixed(4)])));
  const ee = rs.filter((r) => r.method === 'EENet');
  console.log(`EENet mean fit time ${mean(ee.map((r) => r.fitSeconds)).toFixed(1)} s per budget (${backend.name})`);
}
console.log(`\nrecords: ${recordsPath}`);
