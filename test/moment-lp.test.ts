import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import highsModule from 'highs';
import { solveMomentLp } from '../policies/moment-lp.ts';
import { solveModelBased } from '../policies/model-based.ts';
import { mg1kLoss } from '../policies/mg1k.ts';
import { loadTrace } from '../lib/io.ts';
import { scoreTrace } from '../lib/scores.ts';

// HiGHS (npm `highs`) is the independent cross-check: the model-based scheduler's LP written as LP text.
type HighsLoader = (typeof import('highs'))['default'];
const loader: HighsLoader = (highsModule as unknown as { default?: HighsLoader }).default ?? (highsModule as unknown as HighsLoader);
const highs = await loader();

function highsLp(t: readonly number[], a: readonly number[], p: number, s: number): { obj: number; pi: number[] } | undefined {
  const K = t.length;
  const terms = (c: (i: number) => number) => Array.from({ length: K }, (_, i) => `${c(i)} x${i}`).join(' + ');
  const lp = ['Maximize', ` obj: ${terms((i) => a[i])}`, 'Subject To', ` sum: ${terms(() => 1)} = 1`, ` mean: ${terms((i) => t[i])} = ${p}`, ` second: ${terms((i) => t[i] * t[i])} <= ${s}`, 'Bounds', ...Array.from({ length: K }, (_, i) => ` 0 <= x${i} <= 1`), 'End'].join('\n');
  const r = highs.solve(lp, { output_flag: false });
  if (r.Status !== 'Optimal') return undefined;
  return { obj: r.ObjectiveValue, pi: Array.from({ length: K }, (_, i) => (r.Columns[`x${i}`] as { Primal: number }).Primal) };
}

const objective = (pi: ArrayLike<number>, a: readonly number[]) => a.reduce((acc, ai, i) => acc + ai * pi[i], 0);

const s = suite('moment-lp');

s('vertex enumeration: same optimum as HiGHS (1e-9) on random profiles, and its π meets every constraint', () => {
  const profile = fc
    .integer({ min: 2, max: 10 })
    .chain((K) =>
      fc.record({
        t: fc.array(fc.double({ min: 0.05, max: 5, noNaN: true }), { minLength: K, maxLength: K }).map((x) => [...x].sort((u, v) => u - v)),
        a: fc.array(fc.double({ min: 0.3, max: 1, noNaN: true }), { minLength: K, maxLength: K }).map((x) => [...x].sort((u, v) => u - v)),
        u: fc.double({ min: 0, max: 1, noNaN: true }),
        // c² = 0 leaves only the degenerate point mass at t = p, where HiGHS's 1e-7 feasibility tolerance and ours differ.
        c2: fc.double({ min: 1e-3, max: 3, noNaN: true }),
      }),
    );
  fc.assert(
    fc.property(profile, ({ t, a, u, c2 }) => {
      const p = t[0] + u * (t[t.length - 1] - t[0]);
      const sBound = (1 + c2) * p * p;
      const ours = solveMomentLp(t, a, p, sBound);
      const ref = highsLp(t, a, p, sBound);
      assert.is(ours === undefined, ref === undefined, `feasibility differs: ours ${ours ? 'feasible' : 'infeasible'}`);
      if (!ours || !ref) return;
      assert.ok(Math.abs(objective(ours, a) - ref.obj) <= 1e-9, `objective ${objective(ours, a)} vs HiGHS ${ref.obj}`);
      const sum = ours.reduce((x, y) => x + y, 0);
      const mean = ours.reduce((x, y, i) => x + y * t[i], 0);
      const second = ours.reduce((x, y, i) => x + y * t[i] * t[i], 0);
      assert.ok(Math.abs(sum - 1) < 1e-12 && Math.abs(mean - p) < 1e-9 * t[t.length - 1] && second <= sBound * (1 + 1e-9) && ours.every((x) => x >= 0));
    }),
    { numRuns: 400, seed: 7 },
  );
});

s('on the fixtures\' profiles over the model-based grid: objective equal to HiGHS to 1e-12', () => {
  for (const m of ['fixtures/fashion-mnist-cnn/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json']) {
    const v = scoreTrace(loadTrace(m, 'validation'));
    const t = [...v.trace.costMs];
    const a = Array.from(v.scores.exitAccuracy());
    let checked = 0;
    for (let g = 0; g < 100; g++) {
      const p = t[0] + ((t[t.length - 1] - t[0]) * g) / 99;
      for (const c2 of [0, 0.1, 0.5, 1, 3, 100]) {
        const ours = solveMomentLp(t, a, p, (1 + c2) * p * p);
        const ref = highsLp(t, a, p, (1 + c2) * p * p);
        assert.is(ours === undefined, ref === undefined, `${m} p=${p} c²=${c2}`);
        if (ours && ref) {
          assert.ok(Math.abs(objective(ours, a) - ref.obj) <= 1e-12, `${m} p=${p} c²=${c2}: ${objective(ours, a)} vs ${ref.obj}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 300, `${m}: only ${checked} feasible points`);
  }
});

s('infeasible programmes are reported as such: p outside [t_min, t_max], second moment below p²', () => {
  assert.is(solveMomentLp([1, 2, 3], [0.5, 0.6, 0.7], 0.5, 10), undefined);
  assert.is(solveMomentLp([1, 2, 3], [0.5, 0.6, 0.7], 3.5, 100), undefined);
  // Jensen: Σπt² ≥ p², so s < p² has no solution; s = p² only with all mass at t = p.
  assert.is(solveMomentLp([1, 2, 3], [0.5, 0.6, 0.7], 1.5, 2.2), undefined);
  assert.equal(Array.from(solveMomentLp([1, 2, 3], [0.5, 0.6, 0.7], 2, 4)!), [0, 1, 0]);
});

/** The model-based re-solve as it was before vertex enumeration: 50-step bisection on c², HiGHS on LP text. */
function referenceModelBased(t: readonly number[], a: readonly number[], rate: number, capacity: number, eps: number, grid: number): number {
  let best = -Infinity;
  for (let g = 0; g < grid; g++) {
    const p = t[0] + ((t[t.length - 1] - t[0]) * g) / (grid - 1);
    const rho = rate * p;
    if (mg1kLoss(rho, 0, capacity) > eps) continue;
    let c2 = 100;
    if (mg1kLoss(rho, 100, capacity) > eps) {
      let lo = 0;
      let hi = 100;
      for (let i = 0; i < 50; i++) {
        const mid = (lo + hi) / 2;
        if (mg1kLoss(rho, mid, capacity) <= eps) lo = mid;
        else hi = mid;
      }
      c2 = lo;
    }
    const r = highsLp(t, a, p, (1 + c2) * p * p);
    if (r && r.obj > best + 1e-12) best = r.obj;
  }
  return best === -Infinity ? a[0] : best;
}

s('solveModelBased (Illinois root + vertex enumeration) reaches the bisection + HiGHS objective to 1e-12 on the fixtures', () => {
  for (const m of ['fixtures/fashion-mnist-cnn/manifest.json', 'fixtures/nsl-kdd-mlp/manifest.json']) {
    const v = scoreTrace(loadTrace(m, 'validation'));
    const t = [...v.trace.costMs];
    const a = Array.from(v.scores.exitAccuracy());
    const mu = 1 / t[t.length - 1];
    for (const capacity of [6, 11, 51]) {
      for (const load of [0.3, 0.8, 1, 1.3, 2, 3, 5]) {
        const pi = solveModelBased({ timeMs: t, accuracy: a }, load * mu, capacity, 0.01, 100);
        const ref = referenceModelBased(t, a, load * mu, capacity, 0.01, 100);
        assert.ok(Math.abs(objective(pi, a) - ref) <= 1e-12, `${m} K=${capacity} λ/μ=${load}: ${objective(pi, a)} vs ${ref}`);
      }
    }
  }
});

s.run();
