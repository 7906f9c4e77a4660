/**
 * Shared test helpers: fast-check arbitraries for small traces with the corners policies must survive (ties,
 * all-wrong exits, a single sample, two classes), and a tiny trace built by hand.
 */
import fc from 'fast-check';
import { ExitTrace } from '../lib/trace.ts';

/** A small random trace. Probabilities come from integer weights, so ties in argmax and in scores are common. */
export function arbTrace(opts: { maxSamples?: number; maxExits?: number; maxClasses?: number } = {}): fc.Arbitrary<ExitTrace> {
  const { maxSamples = 40, maxExits = 5, maxClasses = 5 } = opts;
  return fc
    .record({
      N: fc.integer({ min: 1, max: maxSamples }),
      K: fc.integer({ min: 2, max: maxExits }),
      C: fc.integer({ min: 2, max: maxClasses }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      costSteps: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: maxExits, maxLength: maxExits }),
      allWrong: fc.boolean(),
    })
    .chain(({ N, K, C, costSteps, allWrong }) =>
      fc
        .record({
          weights: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: N * K * C, maxLength: N * K * C }),
          labels: fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: N, maxLength: N }),
        })
        .map(({ weights, labels }) => {
          const probs = new Float32Array(N * K * C);
          for (let row = 0; row < N * K; row++) {
            let s = 0;
            for (let c = 0; c < C; c++) s += weights[row * C + c];
            for (let c = 0; c < C; c++) probs[row * C + c] = s === 0 ? 1 / C : weights[row * C + c] / s;
          }
          const lab = Int32Array.from(labels);
          if (allWrong) {
            // Make every exit wrong: put all mass on a class other than the label.
            for (let n = 0; n < N; n++) {
              for (let k = 0; k < K; k++) {
                const base = (n * K + k) * C;
                for (let c = 0; c < C; c++) probs[base + c] = c === (lab[n] + 1) % C ? 1 : 0;
              }
            }
          }
          // Costs: cumulative, non-decreasing, with equal consecutive costs allowed (step 0).
          const costMs: number[] = [];
          let c = 0.5;
          for (let k = 0; k < K; k++) costMs.push((c += costSteps[k] * 0.25));
          return new ExitTrace({ nSamples: N, nExits: K, nClasses: C, probs, labels: lab, costMs, provenance: { model: 'arb', dataset: 'arb', split: 'arb' } });
        }),
    );
}

/** A 3-sample, 3-exit, 3-class trace whose scores are easy to compute by hand. */
export function tinyTrace(): ExitTrace {
  // prettier-ignore
  const probs = Float32Array.from([
    // sample 0 (label 0): wrong, right, right
    0.2, 0.5, 0.3,   0.6, 0.3, 0.1,   0.9, 0.05, 0.05,
    // sample 1 (label 1): right at every exit
    0.1, 0.8, 0.1,   0.0, 1.0, 0.0,   0.1, 0.7, 0.2,
    // sample 2 (label 2): wrong at every exit, uniform at exit 0
    1 / 3, 1 / 3, 1 / 3,   0.5, 0.4, 0.1,   0.4, 0.35, 0.25,
  ]);
  return new ExitTrace({
    nSamples: 3,
    nExits: 3,
    nClasses: 3,
    probs,
    labels: Int32Array.from([0, 1, 2]),
    costMs: [1, 2, 4],
    provenance: { model: 'tiny', dataset: 'tiny', split: 'test' },
  });
}
