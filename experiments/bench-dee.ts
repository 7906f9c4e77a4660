/**
 * Online decisions per second: DEE and each bandit baseline on a 1,000,000-input stationary stream through the
 * online harness (lib/online.ts: sampling, the contract's views, label-free feedback, and the full-information
 * bookkeeping for regret). The number is whole inputs per second (each input = up to K−1 decide calls plus one
 * observe), end to end, one thread. Trace: the Fashion-MNIST fixture's test split if present, else a synthetic
 * 10,000-sample, 4-exit trace (labelled). Each policy runs once unmeasured on a short stream first (JIT warm-up),
 * then `--repeats` times on the full stream; we print the best and the median.
 *
 * Run: npx tsx experiments/bench-dee.ts [--inputs 1000000] [--repeats 3] [--beta 0.1]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTrace } from '../lib/io.ts';
import { runOnline, stationaryStream } from '../lib/online.ts';
import { modelInfo } from '../lib/policy.ts';
import { instantiate, type RawParams } from '../lib/registry.ts';
import { textTable } from '../lib/report.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { getPolicySpec } from '../policies/index.ts';

const { values: args } = parseArgs({ options: { inputs: { type: 'string' }, repeats: { type: 'string' }, beta: { type: 'string' } } });
const T = Number(args.inputs ?? 1_000_000);
const repeats = Number(args.repeats ?? 3);
const beta = Number(args.beta ?? 0.1);
const manifest = 'fixtures/fashion-mnist-cnn/manifest.json';
const fixture = existsSync(manifest);
const scored = fixture ? scoreTrace(loadTrace(manifest, 'test')) : scoreTrace(syntheticTrace({ nSamples: 10000, nExits: 4, nClasses: 10, seed: 1 }));
// Policies that fit (the tuned threshold) fit on the validation split, as in the experiments, never on the stream.
const fitOn = fixture ? scoreTrace(loadTrace(manifest, 'validation')) : scoreTrace(syntheticTrace({ nSamples: 5000, nExits: 4, nClasses: 10, seed: 2, split: 'validation' }));
console.log(`trace: ${fixture ? `${manifest} (test split, ${scored.trace.nSamples} samples)` : 'SYNTHETIC 10,000 × 4 exits × 10 classes'}; ${T} inputs; β = ${beta}; hindsight reference on`);

const entries: [string, string, RawParams][] = [
  ['plain (last exit)', 'fixed-exit', { exit: -1 }],
  ['tuned-threshold', 'tuned-threshold', { beta }],
  ['lee-ucb', 'lee-ucb', { beta }],
  ['adaee-ucb', 'adaee-ucb', { beta }],
  ['egreedy-context', 'egreedy-context', { beta }],
  ['DEE', 'dee', { beta }],
  ['DEE-propagate', 'dee', { beta, propagate: true }],
];
const rows: (string | number)[][] = [];
for (const [label, name, params] of entries) {
  const spec = getPolicySpec(name);
  const make = () => {
    const p = instantiate(spec, params, { seed: 1, model: modelInfo(scored) });
    p.fit?.(fitOn, {});
    return p;
  };
  runOnline(make(), stationaryStream(scored, Math.min(T, 100_000), 99), { reward: { score: 'maxprob', beta }, checkpoints: 1 });
  const rates: number[] = [];
  let exitsPerInput = 0;
  for (let rep = 0; rep < repeats; rep++) {
    const p = make();
    const t0 = performance.now();
    const r = runOnline(p, stationaryStream(scored, T, rep + 1), { reward: { score: 'maxprob', beta }, checkpoints: 10 });
    rates.push(T / ((performance.now() - t0) / 1000));
    exitsPerInput = r.exitShares.reduce((a, s, k) => a + s * (k + 1), 0);
  }
  rates.sort((a, b) => a - b);
  rows.push([label, rates[rates.length - 1] / 1e6, rates[Math.floor(rates.length / 2)] / 1e6, exitsPerInput]);
}
console.log(textTable(['policy', 'best M inputs/s', 'median M inputs/s', 'exits run per input'], rows));
const mem = process.memoryUsage();
console.log(`heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB (machine shared with other jobs: rates are lower bounds)`);
