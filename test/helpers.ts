/**
 * Shared test helpers: a tiny trace built by hand. (Generated traces, with the corners policies must survive,
 * come from `traceArbitrary` in lib/testing.ts, the same arbitrary `checkPolicy` uses.)
 */
import { ExitTrace } from '../lib/trace.ts';

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
