import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ThresholdCalibrator, calibratorFor, exitsByThresholds, thresholdsBySorting } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';

const s = suite('calibrator');

// Score arrays with heavy ties (integer-valued scores such as patience), signed zeros and plain floats.
const arbCase = fc.integer({ min: 1, max: 6 }).chain((K) =>
  fc.record({
    K: fc.constant(K),
    scores: fc.oneof(
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: K, maxLength: 60 * K }),
      fc.array(fc.constantFrom(0, -0, 0.5, 1), { minLength: K, maxLength: 60 * K }),
      fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: K, maxLength: 60 * K }),
      // Float64 scores near 1, as computed from logits: distinct in float64, equal once rounded to float32.
      fc.array(fc.integer({ min: 0, max: 20 }).map((i) => 1 - i * 1e-12), { minLength: K, maxLength: 60 * K }),
    ),
    float64: fc.boolean(),
    shareSets: fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: K, maxLength: K }), { minLength: 1, maxLength: 5 }),
  }),
);

s('same thresholds as thresholdsBySorting bit for bit (float32 and float64 scores), over several share vectors on one calibrator; counts = exits the thresholds give', () => {
  fc.assert(
    fc.property(arbCase, ({ K, scores, shareSets, float64 }) => {
      const N = Math.floor(scores.length / K);
      // ScoreTable scores are float64; learned scores (EENet's q) may be float32: both storage paths.
      const sc = float64 ? Float64Array.from(scores.slice(0, N * K)) : Float32Array.from(scores.slice(0, N * K));
      const cal = new ThresholdCalibrator(sc, K);
      for (const raw of shareSets) {
        const z = raw.reduce((a, b) => a + b, 0);
        const shares = z > 0 ? raw.map((x) => x / z) : raw.map((_, k) => (k === K - 1 ? 1 : 0));
        const fixed = shares.map((x) => x / shares.reduce((a, b) => a + b, 0));
        const ref = thresholdsBySorting(sc, K, fixed);
        const got = cal.fit(fixed);
        assert.equal(Array.from(got.thresholds).map((x) => Object.is(x, -0) ? 0 : x), Array.from(ref).map((x) => Object.is(x, -0) ? 0 : x));
        const exits = exitsByThresholds(sc, K, ref);
        const counts = new Array<number>(K).fill(0);
        for (const e of exits) counts[e]++;
        assert.equal(Array.from(got.counts), counts);
      }
    }),
    { numRuns: 500, seed: 11 },
  );
});

s('calibratorFor sorts once per score array; bad input names the field', () => {
  const sc = Float32Array.from([0.1, 0.9, 0.5, 0.2, 0.7, 0.3]);
  assert.ok(calibratorFor(sc, 2) === calibratorFor(sc, 2));
  assert.ok(calibratorFor(Float32Array.from(sc), 2) !== calibratorFor(sc, 2));
  assert.throws(() => new ThresholdCalibrator(Float32Array.from([1, 2, 3]), 2), (e: unknown) => e instanceof InputError && /scores: expected length N·K for K = 2/.test((e as Error).message));
  assert.throws(() => calibratorFor(sc, 2).fit([0.7, 0.7]), (e: unknown) => e instanceof InputError && /shares/.test((e as Error).message));
});

s.run();
