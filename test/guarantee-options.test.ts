/**
 * The `guarantee` option of EENet and of the backlog-threshold ladder (issue 18): on exchangeable synthetic data,
 * over many seeded calibration/test splits of one pool, the certified budgets are violated on test in at most
 * δ (+ a binomial allowance) of the splits — a property over seeds, not one run — while plain calibration is
 * violated far more often; without the option both policies fit exactly as before.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exitsByThresholds } from '../lib/calibrate.ts';
import { subsetScored } from '../lib/guarantee.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { initBackend } from '../lib/tensor.ts';
import { DEFAULT_EENET_CONFIG } from '../policies/eenet/model.ts';
import { fitEENet } from '../policies/eenet/training.ts';
import { fitLadder } from '../policies/backlog-threshold.ts';
import { getPolicySpec } from '../policies/index.ts';
import type { RawParams } from '../lib/registry.ts';

await initBackend();

const s = suite('guarantee-options');

// Small, fast EENet (as test/eenet.test.ts configures it), one trial.
const FAST = { trials: 1, epochs: 6, patience: 3, period: 2, lr: 1e-2, batchSize: 128 };
const pool = scoreTrace(syntheticTrace({ nSamples: 6000, seed: 77 }));
const cost = pool.trace.costMs;
const K = pool.trace.nExits;
const B = cost[0] + 0.35 * (cost[K - 1] - cost[0]);
const delta = 0.1;
const R = 50;

/** Split r of the pool: 1,500 calibration samples, the other 4,500 test, seeded by r. */
function split(r: number): { cal: ScoredTrace; test: ScoredTrace } {
  const idx = new Int32Array(pool.trace.nSamples).map((_, i) => i);
  new Rng(1000 + r).shuffle(idx);
  return { cal: subsetScored(pool, idx.subarray(0, 1500)), test: subsetScored(pool, idx.subarray(1500)) };
}
const splits = Array.from({ length: R }, (_, r) => split(r));

/** Mean cost (ms) of the policy's exits on a trace. */
function meanCost(exits: Int32Array): number {
  let c = 0;
  for (const e of exits) c += cost[e];
  return c / exits.length;
}

/** Largest violation count a method with violation probability ≤ δ reaches in n splits except with prob ≈ 0.001. */
function allowance(n: number): number {
  return Math.ceil(n * delta + 3.1 * Math.sqrt(n * delta * (1 - delta)));
}

function policy(name: string, raw: RawParams, seed: number) {
  const sp = getPolicySpec(name);
  return sp.create(sp.parse(raw), { rng: new Rng(seed), model: modelInfo(pool) });
}

s('guarantee parameters of eenet and backlog-threshold: parsed, bad fields named', () => {
  for (const name of ['eenet', 'backlog-threshold']) {
    const sp = getPolicySpec(name);
    assert.throws(() => sp.parse({ guarantee: { kind: 'cost', delta: 1.5 } }), /params\.guarantee: params\.delta/, name);
    assert.throws(() => sp.parse({ guarantee: { kind: 'cost', delta: 0 } }), /params\.guarantee: params\.delta/, name);
    assert.throws(() => sp.parse({ guarantee: { kind: 'cost' } }), /params\.guarantee: params\.delta/, name);
    assert.throws(() => sp.parse({ guarantee: { kind: 'gap', delta: 0.1 } }), /params\.guarantee: params\.kind/, name);
    assert.throws(() => sp.parse({ guarantee: { kind: 'cost', delta: 0.1, pathFraction: 1 } }), /params\.guarantee: params\.pathFraction/, name);
    assert.throws(() => sp.parse({ guarantee: 0.1 }), /params\.guarantee: expected an object/, name);
    const p = sp.parse({ guarantee: { kind: 'cost', delta: 0.05 } }) as { guarantee?: { delta: number; pathFraction: number; points: number; bound: string } };
    assert.equal(p.guarantee, { kind: 'cost', delta: 0.05, bound: 'wsr', pathFraction: 0.5, points: 100 });
    assert.not.ok('guarantee' in (sp.parse({}) as object), `${name}: no guarantee unless asked`);
  }
});

s('without guarantee, eenet and backlog-threshold fit exactly as before (bit for bit)', () => {
  const { cal } = splits[0];
  const e = policy('eenet', FAST, 5);
  const fe = e.fit!(cal, { budgetMs: B });
  const ref = fitEENet(cal, B, { ...DEFAULT_EENET_CONFIG, ...FAST }, new Rng(5).fork('eenet'));
  assert.equal(fe.details!.thresholds, Array.from(ref.model.thresholds));
  assert.is(fe.expectedCostMs, ref.meanCostMs);
  const b = policy('backlog-threshold', { rungs: 8 }, 5);
  const fb = b.fit!(cal, {});
  const ladder = fitLadder(cal, 'maxprob', 8);
  assert.equal(fb.details!.rungs, ladder.map((r) => ({ budgetMs: r.budgetMs, meanMs: r.meanMs, scv: r.scv, accuracy: r.accuracy, shares: r.shares, thresholds: Array.from(r.thresholds) })));
});

s('eenet with guarantee: test cost over B in ≤ δ + allowance of 50 splits, never over B on its own held-out part; seeded', () => {
  let violations = 0;
  let plainViolations = 0;
  for (let r = 0; r < R; r++) {
    const { cal, test } = splits[r];
    const pol = policy('eenet', { ...FAST, guarantee: { kind: 'cost', delta, points: 40 } }, r);
    const fit = pol.fit!(cal, { budgetMs: B });
    const d = fit.details as { heldOutCostMs: number; nPath: number; nTest: number; pathBudgetMs: number };
    assert.ok(d.heldOutCostMs <= B, `split ${r}: held-out cost ${d.heldOutCostMs} > B = ${B}`);
    assert.ok(d.pathBudgetMs <= B);
    assert.is(d.nPath + d.nTest, cal.trace.nSamples);
    if (meanCost(pol.decideAll!(test)!) > B) violations++;
    const plain = policy('eenet', FAST, r);
    plain.fit!(cal, { budgetMs: B });
    if (meanCost(plain.decideAll!(test)!) > B) plainViolations++;
  }
  assert.ok(violations <= allowance(R), `${violations}/${R} violations at δ = ${delta} (allowance ${allowance(R)})`);
  assert.ok(plainViolations > violations, `plain EENet ${plainViolations}/${R} vs guaranteed ${violations}/${R}`);
  // Same seed, same certified thresholds.
  const again = (seed: number) => policy('eenet', { ...FAST, guarantee: { kind: 'cost', delta } }, seed).fit!(splits[0].cal, { budgetMs: B }).details!.thresholds;
  assert.equal(again(3), again(3));
});

s('backlog-threshold with guarantee: every rung’s test cost ≤ its budget in ≥ 1 − δ − allowance of 50 splits', () => {
  type R = { budgetMs: number; meanMs: number; thresholds: number[] };
  const tally = (raw: RawParams) => {
    const byBudget = new Map<number, { n: number; v: number }>();
    for (let r = 0; r < R; r++) {
      const { cal, test } = splits[r];
      const pol = policy('backlog-threshold', { rungs: 8, ...raw }, r);
      const rungs = pol.fit!(cal, {}).details!.rungs as R[];
      for (const rung of rungs) {
        if (raw.guarantee) assert.ok(rung.meanMs <= rung.budgetMs + 1e-12, `split ${r}: held-out mean ${rung.meanMs} > ${rung.budgetMs}`);
        const c = meanCost(exitsByThresholds(test.scores.get('maxprob'), K, rung.thresholds));
        const t = byBudget.get(rung.budgetMs) ?? { n: 0, v: 0 };
        t.n++;
        if (c > rung.budgetMs + 1e-12) t.v++;
        byBudget.set(rung.budgetMs, t);
      }
    }
    return byBudget;
  };
  const g = tally({ guarantee: { kind: 'cost', delta, points: 40 } });
  let gTotal = 0;
  for (const [b, t] of g) {
    assert.ok(t.v <= allowance(t.n), `rung B = ${b}: ${t.v}/${t.n} violations (allowance ${allowance(t.n)})`);
    gTotal += t.v;
  }
  let pTotal = 0;
  for (const t of tally({}).values()) pTotal += t.v;
  assert.ok(pTotal > 2 * gTotal, `plain ladder ${pTotal} rung violations vs guaranteed ${gTotal}`);
});

s.run();
