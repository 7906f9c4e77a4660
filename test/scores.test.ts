import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { computeScores, scoreTrace, tiesAtTop } from '../lib/scores.ts';
import { ExitTrace } from '../lib/trace.ts';
import { Rng } from '../lib/random.ts';
import { InputError } from '../lib/errors.ts';
import { traceArbitrary } from '../lib/testing.ts';
import { tinyTrace } from './helpers.ts';

const s = suite('scores');
const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

s('hand-computed maxprob, margin, entropy, patience and correctness', () => {
  const t = scoreTrace(tinyTrace()).scores;
  const K = 3;
  const mp = t.get('maxprob');
  const mg = t.get('margin');
  const en = t.get('entropy');
  const pa = t.get('patience');
  close(mp[0 * K + 0], 0.5);
  close(mg[0 * K + 0], 0.2);
  close(mg[0 * K + 2], 0.85);
  // Uniform row: entropy confidence 0; one-hot row: 1.
  close(en[2 * K + 0], 0);
  close(en[1 * K + 1], 1);
  const h = -(0.6 * Math.log(0.6) + 0.3 * Math.log(0.3) + 0.1 * Math.log(0.1));
  close(en[0 * K + 1], 1 - h / Math.log(3));
  // Sample 0 predicts 1, 0, 0: patience 0, 0, 1. Sample 1 predicts 1, 1, 1: 0, 1, 2.
  assert.equal(Array.from(pa.subarray(0, 3)), [0, 0, 1]);
  assert.equal(Array.from(pa.subarray(3, 6)), [0, 1, 2]);
  // Uniform row ties go to class 0 (lowest index), so sample 2 predicts 0, 0, 0.
  assert.equal(Array.from(t.predicted.subarray(6, 9)), [0, 0, 0]);
  assert.equal(Array.from(pa.subarray(6, 9)), [0, 1, 2]);
  assert.equal(Array.from(t.correct), [0, 1, 1, 1, 1, 1, 0, 0, 0]);
  assert.equal(t.exitAccuracy(), [1 / 3, 2 / 3, 2 / 3]);
});

s('scoreTrace is memoised per trace object', () => {
  const tr = tinyTrace();
  assert.is(scoreTrace(tr), scoreTrace(tr));
});

s('score ranges hold on random traces', () => {
  fc.assert(
    fc.property(traceArbitrary(), (trace) => {
      const t = computeScores(trace);
      const K = trace.nExits;
      for (let i = 0; i < trace.nSamples * K; i++) {
        const k = i % K;
        const mp = t.get('maxprob')[i];
        assert.ok(mp >= 1 / trace.nClasses - 1e-6 && mp <= 1 + 1e-6);
        assert.ok(t.get('margin')[i] >= 0 && t.get('margin')[i] <= mp + 1e-6);
        assert.ok(t.get('entropy')[i] >= 0 && t.get('entropy')[i] <= 1);
        assert.ok(t.get('patience')[i] >= 0 && t.get('patience')[i] <= k);
        assert.is(t.correct[i], t.predicted[i] === trace.labels[Math.floor(i / K)] ? 1 : 0);
      }
    }),
    { numRuns: 60 },
  );
});

s('withScore adds a named score, rejects duplicates, wrong length and NaN', () => {
  const t = scoreTrace(tinyTrace()).scores;
  const learned = new Float32Array(9).fill(0.5);
  const t2 = t.withScore('learned', learned);
  assert.ok(t2.get('learned') instanceof Float64Array, 'float32 scores are widened');
  assert.equal(Array.from(t2.get('learned')), Array.from(learned));
  const exact = new Float64Array(9).fill(0.25);
  assert.is(t.withScore('f64', exact).get('f64'), exact, 'a Float64Array is kept, not copied');
  assert.not.ok(t.has('learned'));
  assert.throws(() => t.withScore('maxprob', learned), (e: unknown) => e instanceof InputError && /not already/.test((e as Error).message));
  assert.throws(() => t.withScore('x', new Float32Array(8)), (e: unknown) => e instanceof InputError && /length N·K = 9/.test((e as Error).message));
  assert.throws(() => t.withScore('x', new Float32Array(9).fill(NaN)), (e: unknown) => e instanceof InputError && /x\[0\]\[0\]/.test((e as Error).message));
  assert.throws(() => t.get('nope'), (e: unknown) => e instanceof InputError && /maxprob, margin, entropy, patience/.test((e as Error).message));
});

/** The score table as it was computed before the fused pass (per-row loops, patience by a backward scan). */
function referenceScores(trace: ExitTrace): Record<string, number[]> {
  const { nSamples: N, nExits: K, nClasses: C, probs, labels } = trace;
  const r: Record<string, number[]> = { predicted: [], correct: [], maxprob: [], margin: [], entropy: [], patience: [] };
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const row = Array.from(probs.subarray((n * K + k) * C, (n * K + k + 1) * C));
      const top1 = Math.max(...row);
      const best = row.indexOf(top1);
      const rest = row.filter((_, c) => c !== best);
      const h = row.reduce((a, p) => (p > 0 ? a - p * Math.log(p) : a), 0);
      r.predicted.push(best);
      r.correct.push(best === labels[n] ? 1 : 0);
      r.maxprob.push(top1);
      r.margin.push(top1 - Math.max(...rest));
      r.entropy.push(Math.min(1, Math.max(0, 1 - h * (1 / Math.log(C)))));
      let agree = 0;
      for (let j = k - 1; j >= 0 && r.predicted[n * K + j] === best; j--) agree++;
      r.patience.push(agree);
    }
  }
  return r;
}

s('the fused pass over probabilities gives the same values as the per-row computation', () => {
  fc.assert(
    fc.property(traceArbitrary(), (trace) => {
      const t = computeScores(trace);
      const ref = referenceScores(trace);
      assert.equal(Array.from(t.predicted), ref.predicted);
      assert.equal(Array.from(t.correct), ref.correct);
      for (const name of ['maxprob', 'margin', 'patience'] as const) assert.equal(Array.from(t.get(name)), ref[name], name);
      // The table log (lib/fastmath.ts) is within a few ulps of Math.log, not bit for bit: entropy to 1e-14.
      const en = t.get('entropy');
      for (let i = 0; i < en.length; i++) close(en[i], ref.entropy[i], 1e-14);
    }),
    { numRuns: 80 },
  );
});

/** A probability trace from explicit rows (each of length C), labels n mod C. */
function probsTrace(rows: number[][], K: number, C: number): ExitTrace {
  const N = rows.length / K;
  const probs = Float32Array.from(rows.flat());
  const labels = Int32Array.from({ length: N }, (_, n) => n % C);
  return new ExitTrace({ nSamples: N, nExits: K, nClasses: C, probs, labels, costMs: Array.from({ length: K }, (_, k) => k + 1), provenance: { model: 'm', dataset: 'd', split: 's' } });
}

/** Float32-exact rows of C probabilities summing to 1 within float32 rounding, peaked by `sharpness`. */
function randomRows(rng: Rng, count: number, C: number, sharpness: number): number[][] {
  return Array.from({ length: count }, () => {
    const w = Array.from({ length: C }, () => Math.exp(sharpness * rng.normal()));
    const sum = w.reduce((a, b) => a + b, 0);
    return w.map((v) => Math.fround(v / sum));
  });
}

s('probabilities: the fused pass against the Math.log formulas on edge cases, C = 2 to 1000', () => {
  const rng = new Rng(5);
  const tiny = 2 ** -149; // the smallest float32 subnormal
  const edge: number[][] = [
    [1, 0, 0, 0], [0, 0, 0, 1], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0], [0, 0.5, 0, 0.5],
    // Subnormals and the smallest normal next to a near-certain class.
    [1 - 2 ** -24, tiny, 2 ** -130, 2 ** -126], [tiny, tiny, tiny, 1],
    // Rows off 1 by up to the trace's tolerance (float32 rounding of a softmax, or a model that stores less).
    [0.4995, 0.3, 0.2, 0], [0.2505, 0.25, 0.25, 0.25], [0.9, 0.1, 0.0005, 0.0004],
    // −0 ties with +0 as a float; the runner-up is then 0.
    [1, -0, -0, 0], [-0, 1, 0, -0], [1, -0, -0, -0],
    // Ties at the top go to the lowest class.
    [0.3, 0.3, 0.3, 0.1], [0.1, 0.45, 0.45, 0],
  ].map((r) => r.map(Math.fround));
  const cases: [number[][], number, number][] = [
    [edge, 2, 4],
    [[...randomRows(rng, 200, 4, 3), ...edge], 2, 4],
    [[[1, 0], [0, 1], [1, -0], [-0, 1], [0.5, 0.5], [1 - 2 ** -24, 2 ** -24], [tiny, 1], ...randomRows(rng, 95, 2, 4)], 4, 2],
    [randomRows(rng, 60, 1000, 2), 3, 1000],
    [randomRows(rng, 60, 1000, 0.01), 3, 1000],
  ];
  for (const [rows, K, C] of cases) {
    const trace = probsTrace(rows.slice(0, Math.floor(rows.length / K) * K), K, C);
    const t = computeScores(trace);
    const ref = referenceScores(trace);
    assert.equal(Array.from(t.predicted), ref.predicted, `predicted, C = ${C}`);
    assert.equal(Array.from(t.correct), ref.correct, `correct, C = ${C}`);
    for (const name of ['maxprob', 'margin', 'patience'] as const) assert.equal(Array.from(t.get(name)), ref[name], `${name}, C = ${C}`);
    const en = t.get('entropy');
    for (let i = 0; i < en.length; i++) close(en[i], ref.entropy[i], 1e-14);
  }
});

/** A logit trace and the same outputs as a float64 softmax, for comparison. */
function randomLogits(N: number, K: number, C: number, scale: number, seed: number): { trace: ExitTrace; p64: Float64Array } {
  const rng = new Rng(seed);
  const z = new Float32Array(N * K * C);
  for (let i = 0; i < z.length; i++) z[i] = Math.fround((rng.float() - 0.5) * scale);
  const p64 = new Float64Array(z.length);
  for (let row = 0; row < N * K; row++) {
    const zs = Array.from(z.subarray(row * C, (row + 1) * C));
    const m = Math.max(...zs);
    const e = zs.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => (p64[row * C + c] = v / sum));
  }
  const labels = Int32Array.from({ length: N }, (_, n) => n % C);
  const trace = new ExitTrace({ nSamples: N, nExits: K, nClasses: C, logits: z, labels, costMs: Array.from({ length: K }, (_, k) => k + 1), provenance: { model: 'm', dataset: 'd', split: 's' } });
  return { trace, p64 };
}

s('scores from logits equal the float64 softmax scores, and probs is the rounded softmax', () => {
  for (const [scale, seed] of [[4, 1], [40, 2], [200, 3]] as const) {
    const N = 50, K = 3, C = 7;
    const { trace, p64 } = randomLogits(N, K, C, scale, seed);
    const t = computeScores(trace);
    for (let row = 0; row < N * K; row++) {
      const p = Array.from(p64.subarray(row * C, (row + 1) * C));
      const top1 = Math.max(...p);
      const best = p.indexOf(top1);
      const top2 = Math.max(...p.filter((_, c) => c !== best));
      const h = p.reduce((a, v) => (v > 0 ? a - v * Math.log(v) : a), 0);
      assert.is(t.predicted[row], best);
      close(t.get('maxprob')[row], top1, 1e-14);
      close(t.get('margin')[row], top1 - top2, 1e-14);
      close(t.get('entropy')[row], Math.min(1, Math.max(0, 1 - h / Math.log(C))), 1e-12);
      for (let c = 0; c < C; c++) assert.is(trace.probs[row * C + c], Math.fround(p[c]));
    }
  }
});

/** The logit scores by the module doc's formulas with Math.exp and Math.log, row by row, in float64. */
function referenceLogitScores(trace: ExitTrace): Record<string, number[]> {
  const { nSamples: N, nExits: K, nClasses: C, labels } = trace;
  const z = trace.logits as Float32Array | Float64Array;
  const r: Record<string, number[]> = { predicted: [], correct: [], maxprob: [], margin: [], entropy: [], patience: [] };
  for (let row = 0; row < N * K; row++) {
    const zs = Array.from(z.subarray(row * C, (row + 1) * C));
    const m = Math.max(...zs);
    const best = zs.indexOf(m);
    const z2 = Math.max(...zs.filter((_, c) => c !== best));
    const s = zs.reduce((a, v) => a + Math.exp(v - m), 0);
    const u = zs.reduce((a, v) => a + (v - m) * Math.exp(v - m), 0);
    r.predicted.push(best);
    r.correct.push(best === labels[Math.floor(row / K)] ? 1 : 0);
    r.maxprob.push(1 / s);
    r.margin.push((1 - Math.exp(z2 - m)) / s);
    r.entropy.push(Math.min(1, Math.max(0, 1 - (Math.log(s) - u / s) / Math.log(C))));
    const k = row % K;
    let agree = 0;
    for (let j = k - 1; j >= 0 && r.predicted[row - k + j] === best; j--) agree++;
    r.patience.push(agree);
  }
  return r;
}

s('logits: the fused pass against the Math.exp/Math.log formulas, float32 and float64, gaps to 40, large logits', () => {
  const rng = new Rng(9);
  const rel = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-14 * Math.abs(b), `${what}: ${a} vs ${b}`);
  const edge = (C: number): number[][] => [
    // One class ahead by a gap of 0..40; the rest equal, or spread below it.
    ...Array.from({ length: 41 }, (_, g) => Array.from({ length: C }, (_, c) => (c === g % C ? g : 0))),
    ...Array.from({ length: 41 }, (_, g) => Array.from({ length: C }, (_, c) => (c === 0 ? 3 + g : 3 - (g * c) / C))),
    // Large finite logits (no ±∞ in the differences), ties at the top, −0 against +0.
    Array.from({ length: C }, (_, c) => (c % 2 ? 1e30 : -1e30)),
    Array.from({ length: C }, (_, c) => 3e38 - c * 3e35),
    Array.from({ length: C }, () => 7),
    Array.from({ length: C }, (_, c) => (c === 0 ? -0 : c === 1 ? 0 : -5)),
    Array.from({ length: C }, (_, c) => (c < 2 ? -1e-30 : -1e-29)),
  ];
  const random = (count: number, C: number, scale: number): number[][] => Array.from({ length: count }, () => Array.from({ length: C }, () => scale * rng.normal()));
  const cases: [number[][], number][] = [
    [[...edge(2), ...random(100, 2, 8)], 2],
    [[...edge(10), ...random(200, 10, 3), ...random(100, 10, 20)], 10],
    [[...edge(1000), ...random(40, 1000, 4)], 1000],
  ];
  for (const [rows, C] of cases) {
    const K = 2;
    const used = rows.slice(0, Math.floor(rows.length / K) * K);
    const N = used.length / K;
    for (const z of [Float32Array.from(used.flat()), Float64Array.from(used.flat().map(Math.fround))]) {
      const trace = new ExitTrace({ nSamples: N, nExits: K, nClasses: C, logits: z, labels: Int32Array.from({ length: N }, (_, n) => n % C), costMs: [1, 2], provenance: { model: 'm', dataset: 'd', split: 's' } });
      const t = computeScores(trace);
      const ref = referenceLogitScores(trace);
      const what = `${z.constructor.name}, C = ${C}`;
      assert.equal(Array.from(t.predicted), ref.predicted, `predicted, ${what}`);
      assert.equal(Array.from(t.correct), ref.correct, `correct, ${what}`);
      assert.equal(Array.from(t.get('patience')), ref.patience, `patience, ${what}`);
      const mp = t.get('maxprob');
      const mg = t.get('margin');
      for (let i = 0; i < mp.length; i++) {
        rel(mp[i], ref.maxprob[i], `maxprob[${i}], ${what}`);
        // The margin p₁ − p₂ = (1 − e^{z₂ − m})/s is a difference of two probabilities: its error is relative to
        // p₁ (a small margin cancels, with Math.exp as with the table exp).
        assert.ok(Math.abs(mg[i] - ref.margin[i]) <= 1e-14 * ref.maxprob[i], `margin[${i}], ${what}: ${mg[i]} vs ${ref.margin[i]}`);
      }
      const en = t.get('entropy');
      for (let i = 0; i < en.length; i++) close(en[i], ref.entropy[i], 1e-14);
    }
  }
});

s('confidences near 1 stay ordered from logits (a float32 softmax ties them at 1.0)', () => {
  // Top-logit gaps 18..34 (one competitor): every float32 softmax of these is exactly 1.0.
  const gaps = [18, 20, 22, 24, 26, 28, 30, 32, 34];
  const N = gaps.length;
  const z = new Float32Array(N * 2 * 2);
  for (let n = 0; n < N; n++) z.set([gaps[n], 0, gaps[n], 0], n * 4);
  const trace = new ExitTrace({ nSamples: N, nExits: 2, nClasses: 2, logits: z, labels: new Int32Array(N), costMs: [1, 2], provenance: { model: 'm', dataset: 'd', split: 's' } });
  const mp = computeScores(trace).get('maxprob');
  for (let n = 1; n < N; n++) assert.ok(mp[n * 2] > mp[(n - 1) * 2], `gap ${gaps[n]} above gap ${gaps[n - 1]}`);
  assert.ok(Array.from(trace.probs).every((p, i) => p === (i % 2 === 0 ? 1 : Math.fround(Math.exp(-gaps[Math.floor(i / 4)])))), 'the float32 softmax saturates');
  assert.equal(tiesAtTop(mp, 2), [1, 1]);
});

s('tiesAtTop counts the samples sharing each exit\'s maximum', () => {
  assert.equal(tiesAtTop(Float64Array.from([1, 0.5, 1, 0.7, 0.9, 0.7]), 2), [2, 2]);
  assert.equal(tiesAtTop(Float64Array.from([0.1, 0.2]), 2), [1, 1]);
});

s.run();
