/**
 * The bounds and selection rules of lib/risk.ts against direct computations: SciPy's binomial CDF and the
 * Hoeffding–Bentkus p-value built on it (test/data/risk_bounds.py printed the reference values), the WSR capital
 * recomputed in Python, coverage over seeds, and the stopping rule of fixed-sequence testing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.ts';
import { binomialCdf, hoeffdingBentkusPValue, hoeffdingBentkusUcb, riskPValue, selectAlongPath, wsrPValue, wsrUcb } from '../lib/risk.ts';
import { Rng } from '../lib/random.ts';

const s = suite('risk-bounds');

const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${what}: ${a} vs ${b}`);

// Reference values from SciPy 1.17 (python3-scipy), printed by test/data/risk_bounds.py and pasted here.
const BINOM_CDF: [number, number, number, number][] = [
  [0, 10, 0.1, 0.34867844009999993],
  [3, 10, 0.3, 0.6496107184000002],
  [50, 200, 0.3, 0.06954527985344405],
  [120, 2500, 0.06, 0.005311458968819981],
  [2400, 5000, 0.5, 0.002441824868758747],
  [10, 5000, 0.001, 0.9863500474758173],
  [4990, 5000, 0.999, 0.03175551952810746],
];
const HB_P: [number, number, number, number][] = [
  [0.05, 100, 0.1, 0.15651020427695356],
  [0.0, 50, 0.05, 0.07694497527671351],
  [0.2, 2500, 0.22, 0.021552148648881123],
  [0.31, 5000, 0.3, 1.0],
  [0.1, 1000, 0.13, 0.005737547867190299],
  [0.4, 30, 0.6, 0.05773596926842732],
];
const HB_UCB: [number, number, number, number][] = [
  [0.05, 100, 0.1, 0.10703077275750353],
  [0.2, 2500, 0.05, 0.21729309737315478],
  [0.0, 500, 0.1, 0.004594582648472921],
];
const WSR_X = Array.from({ length: 5 }, () => [0.1, 0.0, 0.3, 0.05, 0.2, 0.0, 0.1, 0.4, 0.0, 0.15]).flat();
const WSR_P: [number, number][] = [
  [0.15, 0.6358173826331535],
  [0.25, 0.059753937772929894],
  [0.4, 0.0019339312865078431],
];
const WSR_UCB_01 = 0.22836405465151902;

s('binomial CDF equals SciPy’s to 1e-9 (relative), including far tails and p near 0 and 1', () => {
  for (const [k, n, p, want] of BINOM_CDF) close(binomialCdf(k, n, p), want, 1e-9, `F(${k}; ${n}, ${p})`);
  assert.is(binomialCdf(-1, 10, 0.5), 0);
  assert.is(binomialCdf(10, 10, 0.5), 1);
  assert.is(binomialCdf(3, 10, 0), 1);
  assert.is(binomialCdf(3, 10, 1), 0);
});

s('Hoeffding–Bentkus p-values and upper bounds equal the SciPy-based computation', () => {
  for (const [r, n, a, want] of HB_P) close(hoeffdingBentkusPValue(r, n, a), want, 1e-9, `p_HB(${r}, ${n}, ${a})`);
  for (const [r, n, d, want] of HB_UCB) assert.ok(Math.abs(hoeffdingBentkusUcb(r, n, d) - want) < 1e-8, `UCB_HB(${r}, ${n}, ${d})`);
  // The p-value falls as α rises, and the UCB is where it crosses δ.
  let prev = 1;
  for (let a = 0.06; a < 0.5; a += 0.02) {
    const p = hoeffdingBentkusPValue(0.05, 400, a);
    assert.ok(p <= prev + 1e-15);
    prev = p;
  }
});

s('WSR betting p-values and upper bound equal an independent Python computation of the same capital', () => {
  for (const [m, want] of WSR_P) close(wsrPValue(WSR_X, m, 0.1), want, 1e-9, `p_WSR(${m})`);
  assert.ok(Math.abs(wsrUcb(WSR_X, 0.1) - WSR_UCB_01) < 1e-8);
  const mean = WSR_X.reduce((a, b) => a + b, 0) / WSR_X.length;
  assert.ok(wsrUcb(WSR_X, 0.1) > mean);
});

s('upper bounds cover the true mean in ≥ 1 − δ of 1,000 seeded samples (plus a binomial allowance)', () => {
  const delta = 0.1;
  const n = 150;
  const R = 1000;
  // A skewed [0, 1] variable like a normalised cost: 0 w.p. 0.6, 1 w.p. 0.1, else uniform; mean 0.25.
  const mu = 0.1 + 0.3 * 0.5;
  let missWsr = 0;
  let missHb = 0;
  for (let r = 0; r < R; r++) {
    const rng = new Rng(1000 + r);
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng.float();
      x[i] = u < 0.6 ? 0 : u < 0.7 ? 1 : rng.float();
    }
    const m = x.reduce((a, b) => a + b, 0) / n;
    if (wsrUcb(x, delta) < mu) missWsr++;
    if (hoeffdingBentkusUcb(m, n, delta) < mu) missHb++;
  }
  // P[Bin(1000, 0.1) > 130] < 0.002.
  assert.ok(missWsr <= 130, `WSR missed ${missWsr}/${R}`);
  assert.ok(missHb <= 130, `HB missed ${missHb}/${R}`);
  // And neither is vacuous: a bound that never misses at δ = 0.1 with n = 150 would be uselessly wide here.
  assert.ok(missWsr + missHb > 0, 'bounds never missed: check they are not trivially wide');
});

s('binary losses use the exact binomial tail', () => {
  const x = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0];
  assert.is(riskPValue(x, 0.4, 0.1, 'wsr'), binomialCdf(2, 10, 0.4));
  assert.is(riskPValue(x, 0.4, 0.1, 'hb'), binomialCdf(2, 10, 0.4));
});

s('bad inputs name the field', () => {
  assert.throws(() => wsrPValue([0.5, 1.5], 0.2, 0.1), (e: unknown) => e instanceof InputError && /losses\[1\]: expected a loss in \[0, 1\]/.test((e as Error).message));
  assert.throws(() => wsrUcb([0.5], 1), (e: unknown) => e instanceof InputError && /delta: expected a number in \(0, 1\)/.test((e as Error).message));
  assert.throws(() => binomialCdf(1, 2.5, 0.5), /n: expected a non-negative integer/);
  assert.throws(() => selectAlongPath(0, () => [], { alpha: 0.1, delta: 0.1, method: 'ltt' }), /nPoints/);
});

s('fixed-sequence testing stops at the first non-rejection even when later points would pass', () => {
  // Point 2 has a high risk; points 3 and 4 are safe again. FST must stop at 1.
  const losses: number[][] = [[], Array(400).fill(0), Array(400).fill(1), Array(400).fill(0), Array(400).fill(0)];
  for (const method of ['ltt', 'crc', 'naive'] as const) {
    const sel = selectAlongPath(5, (j) => losses[j], { alpha: 0.1, delta: 0.1, method });
    assert.is(sel.index, 1, method);
    assert.is(sel.meanLoss.length, 2, `${method} looked beyond the first failure`);
  }
  // CRC accepts (n·R̂ + 1)/(n + 1) ≤ α, naive R̂ ≤ α, LTT needs p ≤ δ: on 20 losses with mean 0.05 and α = 0.1
  // CRC and naive accept, LTT (binomial p = F(1; 20, 0.1) ≈ 0.39) does not.
  const few = [1, ...Array(19).fill(0)];
  assert.is(selectAlongPath(2, () => few, { alpha: 0.1, delta: 0.1, method: 'naive' }).index, 1);
  assert.is(selectAlongPath(2, () => few, { alpha: 0.1, delta: 0.1, method: 'crc' }).index, 1);
  assert.is(selectAlongPath(2, () => few, { alpha: 0.1, delta: 0.1, method: 'ltt' }).index, 0);
  // CRC's correction: mean 0.09 on 100 passes naive at α = 0.095 but (9 + 1)/101 = 0.099 fails.
  const nine = [...Array(9).fill(1), ...Array(91).fill(0)];
  assert.is(selectAlongPath(2, () => nine, { alpha: 0.095, delta: 0.1, method: 'naive' }).index, 1);
  assert.is(selectAlongPath(2, () => nine, { alpha: 0.095, delta: 0.1, method: 'crc' }).index, 0);
});

s.run();
