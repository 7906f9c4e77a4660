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
      assert.equal(Array.from(t.get('entropy')), ref.entropy, 'entropy');
    }),
    { numRuns: 80 },
  );
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
