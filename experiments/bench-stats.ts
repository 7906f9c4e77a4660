/**
 * Paired-bootstrap cost on an `npm start`-sized offline comparison: every offline policy family of the default
 * comparison on one fixture's test split (10,000 samples), the budgeted ones at 8 budgets and static thresholds
 * swept over 8 values (12 swept labels × 8 points and 6 fixed policies: 102 cells), three seeds each, then 2,000 resamples of accuracy and mean
 * cost per policy, the paired differences to the plain network, and the budget-curve summaries. Prints the time
 * of each stage (wall clock) and the CPU time of the whole bootstrap (steadier than wall time on a shared machine). EENet is left out (its fit needs TF.js and takes seconds; in the bootstrap it is one more vector).
 *
 * Usage: tsx experiments/bench-stats.ts [--trace fixtures/fashion-mnist-cnn/manifest.json] [--resamples 2000]
 */
import { parseArgs } from 'node:util';
import { loadTrace } from '../lib/io.ts';
import { evaluateEntry } from '../lib/offline.ts';
import { scoreTrace } from '../lib/scores.ts';
import { PairedBootstrap, commonCostRange, costToReach, derive, exitCodes, normalisedAuc, percentileInterval, accuracyAtCost, costGrid, type CurvePoint, type Estimate } from '../lib/stats.ts';
import { getPolicySpec } from '../policies/index.ts';

const { values } = parseArgs({ options: { trace: { type: 'string', default: 'fixtures/fashion-mnist-cnn/manifest.json' }, resamples: { type: 'string', default: '2000' } } });
const validation = scoreTrace(loadTrace(values.trace!, 'validation'));
const test = scoreTrace(loadTrace(values.trace!, 'test'));
const cost = test.trace.costMs;
const K = cost.length;
const seeds = [1, 2, 3];
const fractions = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1];
const fixed: [string, string, object][] = [
  ['first exit', 'fixed-exit', { exit: 0 }],
  ['plain network', 'fixed-exit', { exit: -1 }],
  ['random exit', 'random-exit', {}],
  ['maxprob ≥ 0.9', 'threshold', { score: 'maxprob', thresholds: 0.9 }],
  ['entropy ≥ 0.8', 'threshold', { score: 'entropy', thresholds: 0.8 }],
  ['patience ≥ 2', 'threshold', { score: 'patience', thresholds: 2 }],
];
const budgeted: [string, object][] = [
  ['budgeted maxprob', { score: 'maxprob' }],
  ['budgeted entropy', { score: 'entropy' }],
  ['budgeted margin', { score: 'margin' }],
  ['budgeted patience', { score: 'patience' }],
];
// Static thresholds swept over 8 values stand in for more budgeted labels.
const swept: [string, string, (i: number) => object][] = [];
for (const score of ['maxprob', 'entropy', 'margin']) {
  swept.push([`${score} sweep`, 'threshold', (i) => ({ score, thresholds: 0.5 + 0.07 * i })]);
  swept.push([`${score} low sweep`, 'threshold', (i) => ({ score, thresholds: 0.1 + 0.05 * i })]);
}
swept.push(['patience sweep', 'threshold', (i) => ({ score: 'patience', thresholds: 1 + (i % 3) })]);
swept.push(['maxprob high sweep', 'threshold', (i) => ({ score: 'maxprob', thresholds: 0.9 + 0.012 * i })]);
let t0 = performance.now();
const runs = new Map<string, Int32Array[]>();
for (const [label, family, params] of fixed) runs.set(label, seeds.map((s) => evaluateEntry({ spec: getPolicySpec(family), params: params as never }, validation, test, s).exits));
for (const [label, params] of budgeted) {
  for (const f of fractions) {
    const budgetMs = cost[0] + f * (cost[K - 1] - cost[0]);
    runs.set(`${label}|${f}`, seeds.map((s) => evaluateEntry({ spec: getPolicySpec('budgeted-threshold'), params: params as never, budgetMs }, validation, test, s).exits));
  }
}
for (const [label, family, params] of swept) {
  fractions.forEach((f, i) => runs.set(`${label}|${f}`, seeds.map((s) => evaluateEntry({ spec: getPolicySpec(family), params: params(i) as never }, validation, test, s).exits)));
}
console.log(`bench-stats: ${test.trace}, ${runs.size} policy cells × ${seeds.length} seeds; policies ran in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

t0 = performance.now();
const cpu0 = process.cpuUsage();
const R = Number(values.resamples);
const bs = new PairedBootstrap(test.trace.nSamples, { resamples: R, seed: 1 });
const tDraw = performance.now() - t0;
const est = new Map<string, Record<string, Estimate>>();
for (const [key, exits] of runs) est.set(key, bs.means(key, exitCodes(exits, test.scores.correct, cost)));
const tMeans = performance.now() - t0 - tDraw;
const base = est.get('plain network')!;
let intervals = 0;
for (const e of est.values()) {
  percentileInterval(e.accuracy);
  percentileInterval(e.meanCostMs);
  percentileInterval(derive([e.accuracy, base.accuracy], (a, b) => a - b));
  intervals += 3;
}
const labels = [...budgeted.map((b) => b[0]), ...swept.map((s) => s[0])];
const curves: CurvePoint[][] = labels.map((l) => fractions.map((f) => ({ cost: est.get(`${l}|${f}`)!.meanCostMs, accuracy: est.get(`${l}|${f}`)!.accuracy })));
const range = commonCostRange(curves);
const target = derive([base.accuracy], (a) => 0.99 * a);
for (const c of curves) {
  accuracyAtCost(c, range.lo <= range.hi ? costGrid(range.lo, range.hi, 9) : [range.lo]).forEach((e) => percentileInterval(e));
  percentileInterval(normalisedAuc(c, range.lo, Math.max(range.lo, range.hi)));
  percentileInterval(costToReach(c, target));
}
const tDerived = performance.now() - t0 - tDraw - tMeans;
console.log(`${R} resamples of ${test.trace.nSamples} samples: index draw ${(tDraw / 1000).toFixed(2)} s, ${est.size} policies' accuracy and cost ${(tMeans / 1000).toFixed(2)} s, ${intervals} intervals and ${labels.length} curves' summaries ${(tDerived / 1000).toFixed(2)} s; total ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ${cpuSeconds(process.cpuUsage(cpu0)).toFixed(2)} s CPU`);

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}
