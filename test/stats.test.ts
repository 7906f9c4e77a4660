import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Rng } from '../lib/random.ts';
import {
  PairedBootstrap,
  accuracyAtCost,
  batchMeans,
  bootstrapPValue,
  clopperPearsonInterval,
  commonCostRange,
  constantEstimate,
  costGrid,
  costToReach,
  decodeExits,
  derive,
  encodeExits,
  exitCodes,
  holm,
  mcnemarExact,
  mcnemarTest,
  normalQuantile,
  normalisedAuc,
  percentileInterval,
  studentTQuantile,
  tInterval,
  wilsonInterval,
  type CurvePoint,
} from '../lib/stats.ts';
import { InputError } from '../lib/errors.ts';

const s = suite('stats');
const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

/** One 0/1 correctness vector as a single-metric coded run (code = correct). */
const coded = (...seeds: Uint8Array[]) => ({ codes: seeds, values: { accuracy: [0, 1] } });

s('bootstrap percentile intervals of an accuracy cover the true proportion at about the nominal 95%', () => {
  // 400 synthetic test sets of N = 100 Bernoulli(0.7) samples, each with its own bootstrap seed (1,000
  // resamples keep the test quick; the percentile interval's coverage does not depend on R beyond a few hundred).
  const p = 0.7;
  const N = 100;
  const trials = 400;
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(1000 + t);
    const y = new Uint8Array(N).map(() => (rng.float() < p ? 1 : 0));
    const bs = new PairedBootstrap(N, { resamples: 1000, seed: t });
    const ci = percentileInterval(bs.means('a', coded(y)).accuracy);
    if (ci.lo <= p && p <= ci.hi) covered++;
  }
  // Binomial(400, 0.95) has sd 1.1 points: [93%, 98%] fails an interval that is too narrow (e.g. resampling
  // the same indices too rarely) or too wide (e.g. N/2 draws per resample gives ≈ 99.5%).
  const rate = covered / trials;
  assert.ok(rate >= 0.93 && rate <= 0.98, `coverage ${rate}`);
});

s('paired differences: shared resample indices give an interval that covers the true difference at ~95%, far narrower than unpaired', () => {
  // A is right when u < 0.8, B when u < 0.7 (same u): the true difference is 0.1, and the two are strongly
  // correlated, so an unpaired interval would cover ~100% and be about twice as wide.
  const N = 300;
  const trials = 250;
  let covered = 0;
  let pairedWidth = 0;
  let unpairedWidth = 0;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(5000 + t);
    const u = Float64Array.from({ length: N }, () => rng.float());
    const a = Uint8Array.from(u, (x) => (x < 0.8 ? 1 : 0));
    const b = Uint8Array.from(u, (x) => (x < 0.7 ? 1 : 0));
    const bs = new PairedBootstrap(N, { resamples: 1000, seed: t });
    const ea = bs.means('A', coded(a)).accuracy;
    const eb = bs.means('B', coded(b)).accuracy;
    const ci = percentileInterval(derive([ea, eb], (x, y) => x - y));
    if (ci.lo <= 0.1 && 0.1 <= ci.hi) covered++;
    if (t < 20) {
      // Unpaired: B's replicates from an independent generator (20 trials are enough to compare widths).
      const other = new PairedBootstrap(N, { resamples: 1000, seed: t + 100000 }).means('B', coded(b)).accuracy;
      const unpaired = percentileInterval(derive([ea, other], (x, y) => x - y));
      pairedWidth += ci.hi - ci.lo;
      unpairedWidth += unpaired.hi - unpaired.lo;
    }
  }
  const rate = covered / trials;
  assert.ok(rate >= 0.92 && rate <= 0.98, `coverage ${rate}`);
  assert.ok(pairedWidth < 0.6 * unpairedWidth, `paired width ${pairedWidth / 20} vs unpaired ${unpairedWidth / 20}`);
});

s('bootstrap replicates: point is the plain mean, spread is the binomial sd, same seed same replicates', () => {
  const N = 4000;
  const rng = new Rng(3);
  const y = new Uint8Array(N).map(() => (rng.float() < 0.9 ? 1 : 0));
  const mean = y.reduce((a, b) => a + b, 0) / N;
  const e = new PairedBootstrap(N, { seed: 9 }).means('a', coded(y)).accuracy;
  assert.is(e.point, mean);
  assert.is(e.replicates.length, 2000);
  const m = e.replicates.reduce((a, b) => a + b, 0) / 2000;
  const sd = Math.sqrt(e.replicates.reduce((a, b) => a + (b - m) ** 2, 0) / 1999);
  close(m, mean, 0.002, 'replicate mean');
  close(sd, Math.sqrt((mean * (1 - mean)) / N), 0.1 * Math.sqrt((mean * (1 - mean)) / N), 'replicate sd');
  assert.equal(new PairedBootstrap(N, { seed: 9 }).means('a', coded(y)).accuracy.replicates, e.replicates);
  assert.not.equal(new PairedBootstrap(N, { seed: 10 }).means('a', coded(y)).accuracy.replicates, e.replicates);
});

s('histograms derived from a kept vector equal those computed from scratch (any order of policies)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 1000 }), (N, seed) => {
      const rng = new Rng(seed);
      const K = 3;
      const correct = new Uint8Array(N * K).map(() => (rng.float() < 0.7 ? 1 : 0));
      const exits = [0, 1, 2].map(() => Int32Array.from({ length: N }, () => rng.int(K)));
      // a near copy of exits[0]
      const near = Int32Array.from(exits[0]);
      near[0] = (near[0] + 1) % K;
      const all = [...exits, near];
      const forward = new PairedBootstrap(N, { resamples: 100, seed });
      const f = all.map((e, i) => forward.means(`p${i}`, exitCodes([e], correct, [1, 2, 4])));
      for (let i = 0; i < all.length; i++) {
        const alone = new PairedBootstrap(N, { resamples: 100, seed }).means(`p${i}`, exitCodes([all[i]], correct, [1, 2, 4]));
        assert.equal(alone.accuracy.replicates, f[i].accuracy.replicates);
        assert.equal(alone.meanCostMs.replicates, f[i].meanCostMs.replicates);
      }
    }),
    { numRuns: 50 },
  );
});

s('several seeds: identical seeds reduce to one; differing seeds widen the interval by their spread', () => {
  const N = 2000;
  const rng = new Rng(4);
  const draw = (p: number) => new Uint8Array(N).map(() => (rng.float() < p ? 1 : 0));
  const y = draw(0.8);
  const bs = new PairedBootstrap(N, { seed: 1 });
  const one = bs.means('det', coded(y)).accuracy;
  const three = bs.means('det', coded(y, y, y)).accuracy;
  assert.equal(three.replicates, one.replicates);
  // Seeds at 0.6, 0.7, 0.8: the S-seed mean (0.7) is uncertain mostly because of the seeds.
  const seeds = [draw(0.6), draw(0.7), draw(0.8)];
  const mixed = bs.means('stoch', coded(...seeds)).accuracy;
  close(mixed.point, 0.7, 0.02, 'point');
  const ci = percentileInterval(mixed);
  const sampleOnly = percentileInterval(derive(seeds.map((s, i) => bs.means(`seed${i}`, coded(s)).accuracy), (a, b, c) => (a + b + c) / 3));
  assert.ok(ci.hi - ci.lo > 3 * (sampleOnly.hi - sampleOnly.lo), `two-level ${ci.lo}..${ci.hi} vs samples only ${sampleOnly.lo}..${sampleOnly.hi}`);
  assert.ok(ci.lo < 0.7 && ci.hi > 0.7);
});

s('bootstrap p-value: counted when the far tail has replicates, normal tail beyond the count\'s floor', () => {
  const R = 2000;
  const rng = new Rng(6);
  // Replicates ~ N(0.5, 1): 30.9% at or below 0 → p ≈ 0.617 by counting.
  const wide = { point: 0.5, replicates: Float64Array.from({ length: R }, () => 0.5 + rng.normal()) };
  close(bootstrapPValue(wide), 0.617, 0.05);
  // Replicates ~ N(5, 1): none below 0; the normal tail gives 2Φ(−5) = 5.7e-7, far below the count's floor 0.001.
  const far = { point: 5, replicates: Float64Array.from({ length: R }, () => 5 + rng.normal()) };
  const p = bootstrapPValue(far);
  assert.ok(p > 1e-7 && p < 2e-6, String(p));
  // Φ itself at known points: 2Φ(−1.959964) = 0.05.
  close(bootstrapPValue({ point: 1.959963984540054, replicates: Float64Array.from({ length: R }, (_, i) => 1.959963984540054 + normalQuantile((i + 0.5) / R)) }), 0.05, 0.002);
});

s('exact McNemar matches hand-computed binomial tails', () => {
  // b = 1, c = 6: P[X ≤ 1] = (1 + 7)/2^7 = 0.0625, p = 0.125.
  close(mcnemarExact(1, 6), 0.125, 1e-12);
  // b = 2, c = 10: P[X ≤ 2] = (1 + 12 + 66)/2^12, p = 158/4096.
  close(mcnemarExact(10, 2), 158 / 4096, 1e-12);
  // b = 0, c = 5: p = 2/32.
  close(mcnemarExact(0, 5), 2 / 32, 1e-12);
  assert.is(mcnemarExact(3, 3), 1);
  assert.is(mcnemarExact(0, 0), 1);
  // A table: 50 both right, 2 only A right, 10 only B right, 8 both wrong.
  const a: number[] = [];
  const b: number[] = [];
  const add = (x: number, y: number, n: number) => {
    for (let i = 0; i < n; i++) (a.push(x), b.push(y));
  };
  add(1, 1, 50);
  add(1, 0, 2);
  add(0, 1, 10);
  add(0, 0, 8);
  const r = mcnemarTest(Uint8Array.from(a), Uint8Array.from(b));
  assert.equal([r.b, r.c], [2, 10]);
  close(r.pValue, 158 / 4096, 1e-12);
  // Large counts stay finite and exact-looking: b = 4000, c = 4200 → z ≈ 2.22, p ≈ 0.027.
  const big = mcnemarExact(4000, 4200);
  assert.ok(big > 0.02 && big < 0.035, String(big));
});

s('a policy identical to its baseline is always a tie (McNemar, paired bootstrap, Holm)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 1e6 }), (N, seed) => {
      const rng = new Rng(seed);
      const K = 4;
      const correct = new Uint8Array(N * K).map(() => (rng.float() < 0.6 ? 1 : 0));
      const exits = Int32Array.from({ length: N }, () => rng.int(K));
      const bs = new PairedBootstrap(N, { resamples: 200, seed });
      const p = bs.means('policy', exitCodes([exits], correct, [1, 2, 3, 5]));
      const q = bs.means('baseline', exitCodes([Int32Array.from(exits)], correct, [1, 2, 3, 5]));
      const y = Uint8Array.from(exits, (e, n) => correct[n * K + e]);
      assert.is(mcnemarTest(y, Uint8Array.from(y)).pValue, 1);
      for (const m of ['accuracy', 'meanCostMs'] as const) {
        const d = derive([p[m], q[m]], (x, z) => x - z);
        const ci = percentileInterval(d);
        assert.equal([ci.lo, ci.hi], [0, 0]);
        assert.is(bootstrapPValue(d), 1);
      }
      assert.equal(holm([1, 1, 0.001]).reject, [false, false, true]);
    }),
    { numRuns: 100 },
  );
});

s('Wilson and Clopper–Pearson intervals match published values', () => {
  // Newcombe (1998), Statistics in Medicine 17:857, Table II: 81/263, 1/10 and 0/10 (Wilson, method 3).
  const w = wilsonInterval(81, 263);
  close(w.lo, 0.2553, 5e-5);
  close(w.hi, 0.3662, 5e-5);
  close(wilsonInterval(1, 10).lo, 0.0179, 5e-5);
  close(wilsonInterval(1, 10).hi, 0.4042, 5e-5);
  assert.is(wilsonInterval(0, 10).lo, 0);
  close(wilsonInterval(0, 10).hi, 0.2775, 5e-5);
  assert.is(wilsonInterval(10, 10).hi, 1);
  close(wilsonInterval(5, 10).lo, 0.2366, 5e-5);
  // Clopper–Pearson, 5/10: [0.1871, 0.8129]; 0/10: [0, 0.3085] (Newcombe 1998, method 5).
  const cp = clopperPearsonInterval(5, 10);
  close(cp.lo, 0.1871, 5e-5);
  close(cp.hi, 0.8129, 5e-5);
  close(clopperPearsonInterval(0, 10).hi, 0.3085, 5e-5);
  assert.throws(() => wilsonInterval(11, 10), (e: unknown) => e instanceof InputError && /successes/.test((e as Error).message));
  assert.throws(() => wilsonInterval(1, 0), (e: unknown) => e instanceof InputError);
});

s('Holm step-down on a hand example', () => {
  // m = 4, sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → monotone 0.06.
  const r = holm([0.01, 0.04, 0.03, 0.005]);
  r.adjusted.forEach((p, i) => close(p, [0.03, 0.06, 0.06, 0.02][i], 1e-12));
  assert.equal(r.reject, [true, false, false, true]);
  // Bonferroni would reject only p ≤ 0.0125 at m = 4; Holm rejects the first two here.
  assert.equal(holm([0.012, 0.016, 0.5, 0.9]).reject, [true, true, false, false]);
  // NaN (no test) is not counted in m.
  const n = holm([0.02, NaN, 0.04]);
  assert.ok(Number.isNaN(n.adjusted[1]));
  close(n.adjusted[0], 0.04, 1e-12);
  assert.equal(n.reject, [true, false, true]);
  assert.throws(() => holm([1.5]), (e: unknown) => e instanceof InputError);
});

s('normal and t quantiles, t-interval and batch means', () => {
  close(normalQuantile(0.975), 1.959963984540054, 1e-8);
  close(normalQuantile(0.001), -3.090232306167813, 1e-8);
  for (const [df, q] of [[1, 12.7062], [2, 4.3027], [5, 2.5706], [10, 2.2281], [30, 2.0423], [200, 1.9719]]) close(studentTQuantile(0.975, df), q, 1e-4, `t df=${df}`);
  const t = tInterval([1, 2, 3]);
  close(t.lo, 2 - 4.302653 / Math.sqrt(3), 1e-5);
  assert.ok(Number.isNaN(tInterval([5]).lo));
  // 0..99 in 4 batches of 25: batch means 12, 37, 62, 87 (sd 32.27).
  const bm = batchMeans(Float64Array.from({ length: 100 }, (_, i) => i), { batches: 4 });
  close(bm.mean, 49.5, 1e-12);
  close(bm.hi - bm.mean, (3.182446 * Math.sqrt(((37.5 ** 2 + 12.5 ** 2) * 2) / 3)) / 2, 1e-4);
  assert.is(bm.batchLength, 25);
  // Warm-up dropped: 10 values then 0..99 constant 1 gives mean exactly 1.
  assert.is(batchMeans([...new Array(10).fill(100), ...new Array(100).fill(1)], { warmup: 10, batches: 5 }).mean, 1);
  assert.throws(() => batchMeans([1, 2, 3], { batches: 4 }), (e: unknown) => e instanceof InputError);
  // Autocorrelated AR(1) series: batch means give a wider interval than the naive t over single values.
  const rng = new Rng(2);
  const x = new Float64Array(20000);
  for (let i = 1; i < x.length; i++) x[i] = 0.95 * x[i - 1] + rng.normal();
  const naive = tInterval(x);
  const batched = batchMeans(x);
  assert.ok(batched.hi - batched.lo > 3 * (naive.hi - naive.lo));
});

s('budget curves: matched accuracy, normalised AUC and cost to reach on a hand example', () => {
  const R = 100;
  const pt = (c: number, a: number): CurvePoint => ({ cost: constantEstimate(c, R), accuracy: constantEstimate(a, R) });
  const curve = [pt(3, 0.8), pt(1, 0.5), pt(2, 0.7)]; // unsorted on purpose
  assert.equal(accuracyAtCost(curve, [1, 1.5, 3]).map((e) => e.point), [0.5, 0.6, 0.8]);
  // ∫ over [1, 3] = (0.5 + 0.7)/2 + (0.7 + 0.8)/2 = 1.35, over width 2.
  close(normalisedAuc(curve, 1, 3).point, 0.675, 1e-12);
  // over [1.5, 2.5]: (0.6 + 0.7)/2·0.5 + (0.7 + 0.75)/2·0.5 = 0.6875
  close(normalisedAuc(curve, 1.5, 2.5).point, 0.6875, 1e-12);
  close(costToReach(curve, constantEstimate(0.75, R)).point, 2.5, 1e-12);
  assert.is(costToReach(curve, constantEstimate(0.4, R)).point, 1);
  assert.is(costToReach(curve, constantEstimate(0.9, R)).point, Infinity);
  const other = [pt(1.5, 0.6), pt(4, 0.9)];
  assert.equal(commonCostRange([curve, other]), { lo: 1.5, hi: 3 });
  assert.equal(costGrid(1.5, 3, 4), [1.5, 2, 2.5, 3]);
  // Replicates move with the data: a curve shifted up by 0.01 on every resample reaches 0.75 earlier on each.
  const shifted = curve.map((p) => ({ cost: p.cost, accuracy: derive([p.accuracy], (a) => a + 0.01) }));
  const reach = costToReach(shifted, constantEstimate(0.75, R));
  assert.ok(reach.replicates.every((x) => Math.abs(x - 2.4) < 1e-9));
  const ci = percentileInterval(costToReach(curve, constantEstimate(0.9, R)));
  assert.equal([ci.lo, ci.hi], [Infinity, Infinity]);
});

s('budget curves from a real bootstrap get intervals that contain their point', () => {
  const N = 3000;
  const K = 3;
  const rng = new Rng(8);
  // Per sample, the first correct exit (K = never): earlier exits are right less often.
  const first = Int32Array.from({ length: N }, () => Math.min(K, Math.floor(rng.float() * 4)));
  const correct = new Uint8Array(N * K);
  for (let n = 0; n < N; n++) for (let k = first[n]; k < K; k++) correct[n * K + k] = 1;
  const cost = [1, 2, 3];
  const bs = new PairedBootstrap(N, { seed: 3 });
  // A curve: exit at 0 a share f of samples, else at the last exit.
  const curve = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const exits = Int32Array.from({ length: N }, (_, n) => (n < f * N ? 0 : K - 1));
    const e = bs.means(`f=${f}`, exitCodes([exits], correct, cost));
    return { cost: e.meanCostMs, accuracy: e.accuracy };
  });
  const full = curve[0].accuracy;
  const auc = normalisedAuc(curve, 1, 3);
  const ci = percentileInterval(auc);
  assert.ok(ci.lo < auc.point && auc.point < ci.hi && ci.hi - ci.lo < 0.05);
  const reach = costToReach(curve, derive([full], (a) => 0.99 * a));
  const rci = percentileInterval(reach);
  assert.ok(rci.lo <= reach.point && reach.point <= rci.hi && reach.point > 2.5 && reach.point < 3);
});

s('per-sample exits: encode/decode round trip, compact, and checked', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 500 }), (xs) => {
      const enc = encodeExits(Int32Array.from(xs));
      assert.equal(Array.from(decodeExits(enc, xs.length, 7)), xs);
      assert.ok(enc.length <= Math.ceil(xs.length / 3) * 4);
    }),
  );
  assert.throws(() => encodeExits([256]), (e: unknown) => e instanceof InputError);
  assert.throws(() => decodeExits(encodeExits([1, 2, 3]), 4, 5), /3/);
  assert.throws(() => decodeExits(encodeExits([1, 2, 3]), 3, 3), /exits\[2\]/);
  assert.throws(() => decodeExits('not base64!', 3, 3), (e: unknown) => e instanceof InputError);
});

s('bad input names the field', () => {
  assert.throws(() => new PairedBootstrap(0), /nSamples/);
  assert.throws(() => new PairedBootstrap(10, { resamples: 10 }), /resamples/);
  const bs = new PairedBootstrap(3, { resamples: 100 });
  assert.throws(() => bs.means('x', coded(new Uint8Array(4))), /codes\[0\]/);
  assert.throws(() => bs.means('x', coded(Uint8Array.from([0, 1, 2]))), /codes\[0\]\[2\]/);
  assert.throws(() => exitCodes([Int32Array.from([0, 3])], new Uint8Array(6), [1, 2, 3]), /exits\[0\]\[1\]/);
  assert.throws(() => percentileInterval(constantEstimate(1, 100), 1.5), /level/);
});

s.run();
