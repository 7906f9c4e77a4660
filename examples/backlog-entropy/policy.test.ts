/**
 * Property tests of the example policy, using only the package's public exports:
 * 1. the contract's invariants (exitlab/testing's checkPolicy: valid decisions, no peeking, determinism);
 * 2. its own invariant: a longer queue never makes a job leave later.
 * Run: node dist/policy.test.js (exit code 1 on failure).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scoreTrace, modelInfo, Rng, TraceCursor, type RawParams } from 'exitlab';
import { checkPolicy, traceArbitrary } from 'exitlab/testing';
import { backlogEntropy } from './policy.js';

const cases = checkPolicy(backlogEntropy, { numRuns: 100 });
console.log(`checkPolicy: ${cases} cases passed`);

// The exit a job takes when it starts with `queueLength` jobs waiting.
function exitWithQueue(params: RawParams, trace: ReturnType<typeof scoreTrace>, sample: number, queueLength: number): number {
  const policy = backlogEntropy.create(backlogEntropy.parse(params), { rng: new Rng(0), model: modelInfo(trace) });
  policy.commit!({ timeMs: 0, queueLength, bufferCapacity: 50, arrivalRatePerMs: undefined });
  const cursor = new TraceCursor(trace);
  const K = trace.trace.nExits;
  for (let k = 0; k < K - 1; k++) {
    cursor.moveTo(sample, k);
    if (policy.decide!(cursor.view) === 'exit') return k;
  }
  return K - 1;
}

fc.assert(
  fc.property(
    traceArbitrary({ maxSamples: 10 }),
    fc.nat(),
    fc.integer({ min: 0, max: 50 }),
    fc.integer({ min: 0, max: 50 }),
    fc.record({ base: fc.double({ min: 0.5, max: 1, noNaN: true }), perJob: fc.double({ min: 0, max: 0.2, noNaN: true }), floor: fc.double({ min: 0, max: 0.5, noNaN: true }) }),
    (trace, pick, q1, q2, params) => {
      const scored = scoreTrace(trace);
      const n = pick % trace.nSamples;
      const [short, long] = q1 <= q2 ? [q1, q2] : [q2, q1];
      assert.ok(exitWithQueue(params, scored, n, long) <= exitWithQueue(params, scored, n, short));
    },
  ),
  { numRuns: 300 },
);
console.log('monotone in the backlog: 300 cases passed');
