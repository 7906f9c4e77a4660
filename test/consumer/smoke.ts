/**
 * A consumer's test of the packed package, written only against its public exports (run by
 * test/package.test.ts in a fresh project with strict TypeScript): every entry point resolves with types, and a
 * policy written outside the repository runs through the registry types, the harnesses and checkPolicy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitTrace, InputError, ParamReader, loadTrace, scoreTrace, syntheticTrace, writeTraceManifest, type Policy, type PolicySpec } from 'exitlab';
import { REGISTRY, getPolicySpec } from 'exitlab/policies';
import { compare, simulate } from 'exitlab/experiments';
import { checkPolicy, PolicyCheckError } from 'exitlab/testing';
import { initBackend } from 'exitlab/tensor';

const dir = mkdtempSync(join(tmpdir(), 'exitlab-consumer-'));
const path = writeTraceManifest(dir, {
  validation: syntheticTrace({ nSamples: 300, seed: 1, split: 'validation' }),
  test: syntheticTrace({ nSamples: 300, seed: 2, split: 'test' }),
});
const validation = scoreTrace(loadTrace(path, 'validation'));
const test = scoreTrace(loadTrace(path, 'test'));
assert.ok(test.trace instanceof ExitTrace);

const halfway: PolicySpec<{ exit: number }> = {
  name: 'halfway',
  description: 'always the middle exit',
  defaults: { exit: 1 },
  testParams: () => [{}],
  budgeted: false,
  // checkPolicy's spec checks require parse to fill defaults and reject unknown keys: ParamReader does both.
  parse: (raw) => {
    const r = new ParamReader('policy "halfway"', raw);
    const exit = r.number('exit', 1, { min: 0, integer: true });
    r.done();
    return { exit };
  },
  create: (p): Policy => ({ name: 'halfway', commit: () => p.exit }),
};
const results = compare([{ spec: halfway }, { spec: getPolicySpec('budgeted-threshold'), budgetMs: 2.5 }], validation, test, 1);
assert.equal(results.length, 3);
assert.ok(results[1].meanCostMs > 0 && results[2].policy === 'oracle');
const q = simulate(halfway.create({ exit: 1 }, { rng: undefined as never, model: { nExits: 4, nClasses: 10, costMs: test.trace.costMs, scoreNames: [] } }), test, {
  bufferCapacity: 5,
  arrivals: { kind: 'poisson', ratePerMs: 0.4 },
  maxArrivals: 2000,
  seed: 3,
});
assert.equal(q.metrics.served + q.metrics.lost, 2000);
assert.equal(checkPolicy(halfway, { numRuns: 20 }), 20);
assert.throws(() => checkPolicy({ name: 'bad', create: () => ({ name: 'bad', commit: () => 99 }) }, { numRuns: 20 }), PolicyCheckError);
assert.throws(() => getPolicySpec('nope'), InputError);
assert.ok(REGISTRY.length >= 7);
const backend = await initBackend();
assert.ok(['tensorflow', 'wasm', 'cpu'].includes(backend.name));
console.log(`consumer smoke test passed (${REGISTRY.length} policies, backend ${backend.name})`);
