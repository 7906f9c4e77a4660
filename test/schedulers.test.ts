import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ExitKnapsack } from '../policies/knapsack.ts';
import { mg1kLoss, mm1kLoss } from '../policies/mg1k.ts';
import { solveModelBased } from '../policies/model-based.ts';
import { modelBased, rateBased } from '../policies/index.ts';
import { modelInfo, type SystemState } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { simulate } from '../lib/queue.ts';
import { InputError } from '../lib/errors.ts';
import { loadPolicy, type AnyPolicySpec } from '../lib/registry.ts';

await loadPolicy(modelBased); // the HiGHS wasm loads on first use only

const s = suite('schedulers');

s('M/G/1/K approximation equals exact M/M/1/K at c² = 1, is continuous at ρ = 1, and grows with c²', () => {
  for (const K of [2, 6, 11, 51]) {
    for (const rho of [0.1, 0.5, 0.9, 0.999, 1, 1.001, 1.5, 3]) {
      assert.ok(Math.abs(mg1kLoss(rho, 1, K) - mm1kLoss(rho, K)) < 1e-9, `K=${K} ρ=${rho}`);
    }
    for (const c2 of [0, 0.5, 2, 10]) {
      const at1 = mg1kLoss(1, c2, K);
      assert.ok(Number.isFinite(at1) && at1 > 0);
      assert.ok(Math.abs(mg1kLoss(1 - 1e-4, c2, K) - at1) < 1e-3 && Math.abs(mg1kLoss(1 + 1e-4, c2, K) - at1) < 1e-3, `K=${K} c²=${c2}`);
    }
    for (const rho of [0.5, 0.9, 1.2]) {
      let prev = -1;
      for (const c2 of [0, 0.25, 0.5, 1, 2, 5, 20]) {
        const p = mg1kLoss(rho, c2, K);
        assert.ok(p >= prev - 1e-12, `not monotone in c² at ρ=${rho}, K=${K}`);
        prev = p;
      }
    }
  }
  assert.is(mm1kLoss(1, 5), 1 / 6);
  assert.ok(mg1kLoss(50, 0, 5) >= 0.75 && mg1kLoss(50, 0, 5) <= 1);
});

s('knapsack frontier gives the brute-force optimum for every k and T', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 100 })), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 150 }),
      (exits, k, T) => {
        const t = exits.map((e) => e[0]);
        const a = exits.map((e) => e[1] / 100);
        const ks = new ExitKnapsack(t, a, 6);
        // Brute force over all assignments of k jobs to exits.
        let best = -Infinity;
        const rec = (i: number, left: number, time: number, acc: number) => {
          if (i === t.length - 1) {
            const tt = time + left * t[i];
            if (tt <= T) best = Math.max(best, acc + left * a[i]);
            return;
          }
          for (let n = 0; n <= left; n++) rec(i + 1, left - n, time + n * t[i], acc + n * a[i]);
        };
        rec(0, k, 0, 0);
        const counts = ks.solve(k, T);
        if (best === -Infinity) {
          assert.is(counts, undefined);
          return;
        }
        assert.ok(counts !== undefined);
        assert.is(counts!.reduce((x, y) => x + y, 0), k);
        const time = counts!.reduce((x, n, i) => x + n * t[i], 0);
        const acc = counts!.reduce((x, n, i) => x + n * a[i], 0);
        assert.ok(time <= T + 1e-9);
        assert.ok(Math.abs(acc - best) < 1e-9, `got ${acc}, optimum ${best}`);
      },
    ),
    { numRuns: 300 },
  );
});

const profile = { timeMs: [1, 2, 3, 4], accuracy: [0.6, 0.8, 0.88, 0.9] };

s('model-based LP: a distribution meeting its constraints; light load → accurate exits, overload → first exit', () => {
  const light = solveModelBased(profile, 0.01, 11, 0.01, 50);
  assert.ok(Math.abs(light.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.ok(light[3] > 0.99, `light load π = ${Array.from(light)}`);
  const heavy = solveModelBased(profile, 5, 11, 0.01, 50);
  assert.equal(Array.from(heavy), [1, 0, 0, 0]);
  const mid = solveModelBased(profile, 0.4, 11, 0.01, 100);
  const mean = mid.reduce((a, p, i) => a + p * profile.timeMs[i], 0);
  const second = mid.reduce((a, p, i) => a + p * profile.timeMs[i] ** 2, 0);
  const c2 = second / mean ** 2 - 1;
  // The chosen π keeps the predicted loss within ε (up to the p-grid and bisection resolution).
  assert.ok(mg1kLoss(0.4 * mean, c2, 11) <= 0.01 + 1e-6, `predicted loss ${mg1kLoss(0.4 * mean, c2, 11)}`);
  assert.ok(mean < 4 && mean > 1, `mean service ${mean}`);
});

s('schedulers need fit() first, and profile a_i, t_i from the validation trace', () => {
  const v = scoreTrace(syntheticTrace({ nSamples: 400, nExits: 4, seed: 5 }));
  const st: SystemState = { timeMs: 0, queueLength: 2, bufferCapacity: 5, arrivalRatePerMs: 0.5 };
  for (const spec of [modelBased, rateBased] as AnyPolicySpec[]) {
    const p = spec.create(spec.parse({}), { rng: new Rng(1), model: modelInfo(v) });
    assert.throws(() => p.commit!(st), (e: unknown) => e instanceof InputError && /fit\(validation\) before the first job/.test((e as Error).message));
    const report = p.fit!(v, {});
    assert.equal((report.details as { accuracy: number[] }).accuracy, v.scores.exitAccuracy());
    const e = p.commit!(st);
    assert.ok(e !== undefined && Number.isInteger(e) && e >= 0 && e < 4);
  }
});

s('under overload both model-driven schedulers lose far fewer jobs than the plain network', () => {
  const v = scoreTrace(syntheticTrace({ nSamples: 2000, nExits: 4, seed: 6 }));
  const t = scoreTrace(syntheticTrace({ nSamples: 2000, nExits: 4, seed: 7 }));
  const cfg = { bufferCapacity: 10, arrivals: { kind: 'poisson' as const, ratePerMs: 1.5 / t.trace.costMs[3] }, maxArrivals: 20000, seed: 9 };
  const plain = simulate({ name: 'plain', commit: () => 3 }, t, cfg).metrics;
  for (const spec of [modelBased, rateBased] as AnyPolicySpec[]) {
    const p = spec.create(spec.parse({}), { rng: new Rng(2), model: modelInfo(v) });
    p.fit!(v, {});
    const m = simulate(p, t, cfg).metrics;
    assert.ok(m.lossRatio < plain.lossRatio / 5, `${p.name}: loss ${m.lossRatio} vs plain ${plain.lossRatio}`);
    assert.ok(m.accuracyOverall > plain.accuracyOverall, `${p.name}: overall accuracy ${m.accuracyOverall} vs plain ${plain.accuracyOverall}`);
  }
});

s.run();
