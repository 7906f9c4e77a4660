import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../lib/random.ts';
import { encodeExits } from '../lib/stats.ts';
import { compareRows, curveSummary, decide, overSeeds, traceEstimates, type StatRecord } from '../experiments/harness/statistics.ts';

const s = suite('summary statistics');

/** A test split of N samples and 3 exits where exit k is right with probability 0.6 + 0.15k. */
function split(N: number, seed: number) {
  const rng = new Rng(seed);
  const correct = new Uint8Array(N * 3);
  for (let n = 0; n < N; n++) for (let k = 0; k < 3; k++) correct[n * 3 + k] = rng.float() < 0.6 + 0.15 * k ? 1 : 0;
  return { nSamples: N, costMs: [1, 2, 3], correct };
}
const rec = (label: string, exits: ArrayLike<number>, seed = 1, budgetMs: number | null = null, axes = {}): StatRecord => ({ part: 'offline', trace: 't', label, axes, seed, budgetMs, metrics: {}, exits: encodeExits(exits) });

s('a row identical to its baseline is a tie by McNemar; a clearly better one wins after Holm', () => {
  const N = 2000;
  const sp = split(N, 1);
  const last = new Uint8Array(N).fill(2);
  const first = new Uint8Array(N).fill(0);
  const groups = [{ records: [rec('base', last, 1), rec('base', last, 2)] }, { records: [rec('same', last)] }, { records: [rec('first', first)] }];
  const { rows } = traceEstimates('t', groups, sp);
  const same = compareRows('accuracy', { est: rows[1], values: [] }, { est: rows[0], values: [] });
  const worse = compareRows('accuracy', { est: rows[2], values: [] }, { est: rows[0], values: [] });
  assert.is(same.test, 'McNemar (exact)');
  assert.is(same.pValue, 1);
  const cost = compareRows('meanCostMs', { est: rows[2], values: [] }, { est: rows[0], values: [] });
  assert.is(cost.test, 'paired bootstrap');
  assert.equal([cost.diff.mean, cost.diff.lo, cost.diff.hi], [-2, -2, -2]);
  const decided = decide([{ ...same, adjusted: NaN, verdict: 'tie' }, { ...worse, adjusted: NaN, verdict: 'tie' }], 'higher');
  assert.equal(decided.map((c) => c.verdict), ['tie', 'worse']);
  assert.ok(worse.diff.hi < 0);
});

s('stochastic rows use the paired bootstrap; one-seed rows without samples get no test', () => {
  const N = 1000;
  const sp = split(N, 2);
  const rng = new Rng(5);
  const rand = (seed: number) => rec('random', Uint8Array.from({ length: N }, () => rng.int(3)), seed);
  const { rows } = traceEstimates('t', [{ records: [rand(1), rand(2), rand(3)] }, { records: [rec('base', new Uint8Array(N).fill(2))] }], sp);
  assert.is(rows[0]!.correct, undefined);
  const c = compareRows('accuracy', { est: rows[0], values: [] }, { est: rows[1], values: [] });
  assert.is(c.test, 'paired bootstrap');
  assert.ok(c.diff.hi < 0);
  const none = compareRows('lossRatio', { values: [0.1] }, { values: [0.2] });
  assert.is(none.test, 'none');
  const w = compareRows('lossRatio', { values: [0.1, 0.11, 0.12] }, { values: [0.2, 0.21, 0.19] });
  assert.is(w.test, 'Welch t over seeds');
  assert.ok(w.pValue < 0.01 && w.diff.hi < 0);
});

s('binary metrics over seeds get Wilson, others t, one seed none; budget overshoot in percent', () => {
  assert.is(overSeeds([1, 0, 1], true).method, 'wilson');
  assert.ok(overSeeds([1, 0, 1], true).hi <= 1);
  // A share that is 0 in every seed is not a 0/1 metric: no Wilson [0, 0.56] for a loss ratio of 0.
  assert.equal([overSeeds([0, 0, 0]).lo, overSeeds([0, 0, 0]).hi, overSeeds([0, 0, 0]).method], [0, 0, 't']);
  assert.is(overSeeds([0.2, 0.3, 0.25]).method, 't');
  assert.is(overSeeds([0.2]).method, 'one seed');
  const N = 500;
  const { rows } = traceEstimates('t', [{ records: [rec('b', new Uint8Array(N).fill(1), 1, 1.6)] }], split(N, 3));
  assert.is(rows[0]!.estimates.testOvershootPct.point, 25);
});

s('curve summary: a curve that dominates another has the larger AUC and reaches 99% sooner', () => {
  const N = 3000;
  const sp = split(N, 4);
  // "mix": the first share f of samples leave at exit 0, the rest at exit 2; "smart": the same share leaves at
  // exit 0, but only samples exit 0 gets right (an oracle-like curve, better at every cost).
  const mix = (f: number) => Uint8Array.from({ length: N }, (_, n) => (n < f * N ? 0 : 2));
  const smart = (f: number) => {
    let budget = Math.round(f * N);
    return Uint8Array.from({ length: N }, (_, n) => (budget > 0 && sp.correct[n * 3] === 1 ? (budget--, 0) : 2));
  };
  const fs = [0, 0.2, 0.4];
  const groups = [...fs.map((f) => ({ records: [rec('mix', mix(f))] })), ...fs.map((f) => ({ records: [rec('smart', smart(f))] }))];
  const { rows, fullAccuracy, fullCostMs } = traceEstimates('t', groups, sp);
  const pts = (from: number) => fs.map((_, i) => ({ cost: rows[from + i]!.estimates.meanCostMs, accuracy: rows[from + i]!.estimates.accuracy }));
  const summary = curveSummary(new Map([['mix', pts(0)], ['smart', pts(3)]]), fullAccuracy, fullCostMs, () => 1);
  const [m, sm] = summary.curves;
  assert.ok(sm.auc.mean > m.auc.mean && sm.auc.lo > m.auc.hi - 0.02);
  assert.ok(sm.costTo99.mean < m.costTo99.mean);
  assert.is(summary.grid.length, 5);
});

s.run();
