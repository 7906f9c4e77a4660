import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { computeScores, scoreTrace } from '../lib/scores.ts';
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
  assert.is(t2.get('learned'), learned);
  assert.not.ok(t.has('learned'));
  assert.throws(() => t.withScore('maxprob', learned), (e: unknown) => e instanceof InputError && /not already/.test((e as Error).message));
  assert.throws(() => t.withScore('x', new Float32Array(8)), (e: unknown) => e instanceof InputError && /length N·K = 9/.test((e as Error).message));
  assert.throws(() => t.withScore('x', new Float32Array(9).fill(NaN)), (e: unknown) => e instanceof InputError && /x\[0\]\[0\]/.test((e as Error).message));
  assert.throws(() => t.get('nope'), (e: unknown) => e instanceof InputError && /maxprob, margin, entropy, patience/.test((e as Error).message));
});

s.run();
