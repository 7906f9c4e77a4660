/**
 * Benchmark of the evaluation core at scale: score computation and a 100-budget sweep on a synthetic trace of
 * 1,000,000 samples × 8 exits × 10 classes (validation and test of that size each). Prints samples/s and peak
 * memory (resident set size, sampled after each phase, plus V8's heap). Numbers, not assertions: run it on the
 * machine you want to know about.
 *
 * Usage: tsx experiments/bench-core.ts [--samples 1000000] [--exits 8] [--classes 10] [--budgets 100]
 *        [--score maxprob]
 */
import { parseArgs } from 'node:util';
import { computeScores } from '../lib/scores.ts';
import { budgetGrid, budgetSweep } from '../lib/offline.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { budgetedThreshold } from '../policies/budgeted-threshold.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000000' },
    exits: { type: 'string', default: '8' },
    classes: { type: 'string', default: '10' },
    budgets: { type: 'string', default: '100' },
    score: { type: 'string', default: 'maxprob' },
  },
});
const N = Number(values.samples);
const K = Number(values.exits);
const C = Number(values.classes);
const nBudgets = Number(values.budgets);

let peakRss = 0;
const mark = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

console.log(`bench-core: N=${N} K=${K} C=${C}, ${nBudgets} budgets, node ${process.version}`);
let t0 = process.hrtime.bigint();
const validation = syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed: 1, split: 'validation' });
const test = syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed: 2, split: 'test' });
mark();
console.log(`generate 2 traces (incl. validation): ${seconds(t0).toFixed(2)} s`);

t0 = process.hrtime.bigint();
const vs = computeScores(validation);
const scoreSec = seconds(t0);
mark();
console.log(`score computation: ${scoreSec.toFixed(3)} s = ${(N / scoreSec / 1e6).toFixed(2)} M samples/s (${((N * K) / scoreSec / 1e6).toFixed(1)} M sample-exits/s)`);
const ts = computeScores(test);
mark();

t0 = process.hrtime.bigint();
const budgets = budgetGrid(validation.costMs, nBudgets);
let done = 0;
const results = budgetSweep([{ spec: budgetedThreshold, params: { score: values.score } }], budgets, { trace: validation, scores: vs }, { trace: test, scores: ts }, 1, () => {
  done++;
  if (done % 10 === 0) mark();
});
const sweepSec = seconds(t0);
mark();
const perBudget = sweepSec / nBudgets;
console.log(
  `budget sweep (${values.score}): ${sweepSec.toFixed(2)} s for ${nBudgets} budgets = ${(perBudget * 1000).toFixed(0)} ms per budget ` +
    `(fit on ${N} + evaluate ${N}) = ${((2 * N) / perBudget / 1e6).toFixed(2)} M samples/s`,
);
const worst = results.reduce((a, r) => Math.max(a, r.fitExpectedCostMs! - r.budgetMs!), -Infinity);
console.log(`max (validation cost − budget) over the sweep: ${worst.toExponential(2)} ms (≤ 0 means every budget met)`);
const mem = process.memoryUsage();
// maxRSS is the kernel's high-water mark (KiB), so a peak between two samples above is not missed.
peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
console.log(`peak RSS ${mb(peakRss)} MiB; heap used ${mb(mem.heapUsed)} MiB; array buffers ${mb(mem.arrayBuffers)} MiB`);
