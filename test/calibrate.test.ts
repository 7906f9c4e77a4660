import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { exitsByThresholds, geometricShares, kthLargest, thresholdsBySorting } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';
import { runPolicy, summarizeExits } from '../lib/offline.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { threshold } from '../policies/threshold.ts';
import { budgetedThreshold } from '../policies/budgeted-threshold.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { traceArbitrary } from '../lib/testing.ts';

const s = suite('calibrate');

s('geometric shares: sum to 1, cost within budget and within 1e-9 of it, geometric ratio', () => {
  const cost = [1.1, 2.1, 3.1, 4.1];
  for (const B of [1.2, 1.5, 2.0, 2.6, 3.3, 4.0]) {
    const sh = geometricShares(cost, B);
    const c = sh.reduce((a, p, k) => a + p * cost[k], 0);
    assert.ok(Math.abs(sh.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(c <= B && B - c < 1e-9, `B=${B} cost=${c}`);
    const q = sh[1] / sh[0];
    for (let k = 1; k < 4; k++) assert.ok(Math.abs(sh[k] / sh[k - 1] - q) < 1e-9 * Math.max(1, q));
  }
  assert.equal(geometricShares(cost, 4.1), [0, 0, 0, 1]);
  assert.equal(geometricShares(cost, 1.1), [1, 0, 0, 0]);
  assert.throws(() => geometricShares(cost, 1.0), (e: unknown) => e instanceof InputError && /budgetMs: expected a finite budget ≥ the first exit's cost 1.1 ms/.test((e as Error).message));
});

s('geometric shares move mass to later exits as the budget grows', () => {
  const cost = [1, 3, 4, 10];
  let prevMean = -1;
  for (let B = 1.01; B < 10; B += 0.5) {
    const sh = geometricShares(cost, B);
    const meanExit = sh.reduce((a, p, k) => a + p * k, 0);
    assert.ok(meanExit > prevMean);
    prevMean = meanExit;
  }
});

s('kthLargest equals the sorted answer, with heavy ties', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 200 }), fc.nat(), (xs, r) => {
      const rank = 1 + (r % xs.length);
      const sorted = [...xs].sort((a, b) => b - a);
      assert.is(kthLargest(Float32Array.from(xs), xs.length, rank), sorted[rank - 1]);
    }),
    { numRuns: 300 },
  );
});

s('sorting procedure hits the rounded-up cumulative counts exactly when scores are distinct', () => {
  const N = 1000;
  const K = 4;
  const rng = new Rng(3);
  const scores = new Float32Array(N * K);
  for (let i = 0; i < scores.length; i++) scores[i] = (rng.int(1 << 24) + i / scores.length) / (1 << 24);
  const shares = [0.3, 0.25, 0.2, 0.25];
  const t = thresholdsBySorting(scores, K, shares);
  const exits = exitsByThresholds(scores, K, t);
  const counts = [0, 0, 0, 0];
  for (const e of exits) counts[e]++;
  assert.equal(counts, [300, 250, 200, 250]);
  assert.is(t[K - 1], -Infinity);
});

s('an exit with zero share gets an infinite threshold and takes nobody', () => {
  const t = thresholdsBySorting(Float32Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]), 3, [0, 0.5, 0.5]);
  assert.is(t[0], Infinity);
  // Exit-1 scores are 0.8 (sample 0) and 0.5 (sample 1): the one sample it takes is the 0.8 one.
  assert.is(t[1], Math.fround(0.8));
});

s('thresholdsBySorting rejects bad shares', () => {
  assert.throws(() => thresholdsBySorting(new Float32Array(6), 3, [0.5, 0.5]), /shares: expected 3 non-negative shares/);
  assert.throws(() => thresholdsBySorting(new Float32Array(6), 3, [0.5, 0.6, -0.1]), /shares/);
});

s('property: raising a shared max-prob threshold never moves any sample earlier (so never lowers the mean exit)', () => {
  fc.assert(
    fc.property(traceArbitrary(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (trace, x, y) => {
      const scored = scoreTrace(trace);
      const [lo, hi] = x <= y ? [x, y] : [y, x];
      const run = (t: number) => runPolicy(threshold.create(threshold.parse({ score: 'maxprob', thresholds: t }), { rng: new Rng(0), model: modelInfo(scored) }), scored);
      const a = run(lo);
      const b = run(hi);
      for (let n = 0; n < a.length; n++) assert.ok(a[n] <= b[n]);
      const mean = (e: Int32Array) => e.reduce((s2, v) => s2 + v, 0) / e.length;
      assert.ok(mean(a) <= mean(b));
    }),
    { numRuns: 100 },
  );
});

s('budgeted fit reports the cost it really has on the fitting data', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 2000, nExits: 5, seed: 8 }));
  const spec = budgetedThreshold;
  for (const B of [1.5, 2.5, 3.5, 4.5]) {
    const p = spec.create(spec.parse({ score: 'entropy' }), { rng: new Rng(0), model: modelInfo(scored) });
    const report = p.fit!(scored, { budgetMs: B });
    const got = summarizeExits(runPolicy(p, scored), scored).meanCostMs;
    assert.ok(Math.abs(report.expectedCostMs! - got) < 1e-9);
    assert.ok(got <= B + 1e-9 && got > B - 0.05, `B=${B}: cost ${got} should be close below the budget`);
  }
});


s.run();
