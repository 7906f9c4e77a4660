/**
 * Risk-controlled thresholds: paths, the `guarantee` option of budgeted-threshold, the `risk-cost`/`risk-gap`
 * family, and the violation study on exchangeable synthetic data (a property over many seeded splits).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { budgetPath, fitRiskControlled, sharedPath, subsetScored } from '../lib/guarantee.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { getPolicySpec } from '../policies/index.ts';
import { violationStudy, type StudyEntry } from '../experiments/risk/study.ts';
import type { RawParams } from '../lib/registry.ts';

const s = suite('risk');

s('subsetScored keeps each picked sample’s labels, probabilities and every score, learned ones included', () => {
  const base = scoreTrace(syntheticTrace({ nSamples: 50, seed: 8 }));
  const learned = new Float32Array(50 * 4).map((_, i) => i);
  const scored = { trace: base.trace, scores: base.scores.withScore('learned', learned) };
  const idx = [7, 3, 49, 3];
  const sub = subsetScored(scored, idx);
  assert.is(sub.trace.nSamples, 4);
  for (let i = 0; i < idx.length; i++) {
    assert.is(sub.trace.labels[i], scored.trace.labels[idx[i]]);
    for (let k = 0; k < 4; k++) {
      for (const name of ['maxprob', 'patience', 'learned']) assert.is(sub.scores.get(name)[i * 4 + k], scored.scores.get(name)[idx[i] * 4 + k]);
      assert.is(sub.scores.correct[i * 4 + k], scored.scores.correct[idx[i] * 4 + k]);
      assert.is(sub.trace.probs[(i * 4 + k) * 10 + 2], scored.trace.probs[(idx[i] * 4 + k) * 10 + 2]);
    }
  }
});

s('paths: the budget path runs from "all at exit 0" to the budget; the shared path from −∞ to +∞', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 300, seed: 4 }));
  const K = 4;
  const cost = scored.trace.costMs;
  const p = budgetPath(scored.scores.get('maxprob'), K, cost, cost[0], cost[K - 1], 11);
  assert.equal(Array.from(p.at(0)), [-Infinity, -Infinity, -Infinity, -Infinity]);
  assert.equal(Array.from(p.at(10)).slice(0, K - 1), [Infinity, Infinity, Infinity]);
  assert.is(p.parameter(10), cost[K - 1]);
  const q = sharedPath('maxprob', K, 5);
  assert.is(q.length, 7);
  assert.is(q.at(0)[0], -Infinity);
  assert.is(q.at(3)[1], 0.5);
  assert.is(q.at(6)[2], Infinity);
  assert.throws(() => sharedPath('eenet', K, 5), /score: expected a score of known range/);
});

s('guarantee option of budgeted-threshold: parsed, errors name the field, same thresholds as risk-cost ltt', () => {
  const bt = getPolicySpec('budgeted-threshold');
  assert.throws(() => bt.parse({ guarantee: { kind: 'gap', delta: 0.1 } }), /params\.guarantee: params\.kind: expected one of "cost"/);
  assert.throws(() => bt.parse({ guarantee: { kind: 'cost' } }), /params\.guarantee: params\.delta/);
  assert.throws(() => bt.parse({ guarantee: { kind: 'cost', delta: 0.1, pathfraction: 0.3 } }), /params\.pathfraction: expected one of the known parameters/);
  assert.throws(() => bt.parse({ guarantee: 0.1 }), /params\.guarantee: expected an object/);
  const scored = scoreTrace(syntheticTrace({ nSamples: 2000, seed: 9 }));
  const B = 2.0;
  const fitWith = (spec: string, raw: RawParams) => {
    const sp = getPolicySpec(spec);
    const pol = sp.create(sp.parse(raw), { rng: new Rng(3), model: modelInfo(scored) });
    return pol.fit!(scored, { budgetMs: B });
  };
  const a = fitWith('budgeted-threshold', { guarantee: { kind: 'cost', delta: 0.1 } });
  const b = fitWith('risk-cost', { method: 'ltt', delta: 0.1 });
  assert.equal(a.details!.thresholds, b.details!.thresholds);
  const plain = fitWith('budgeted-threshold', {});
  assert.ok(a.expectedCostMs! <= B && a.expectedCostMs! < plain.expectedCostMs!, 'the guarantee costs budget on the fitting data');
});

s('δ → 1: LTT picks what naive calibration picks, and LTT’s point moves monotonically towards it as δ grows', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 3000, seed: 21 }));
  const B = 2.2;
  const settings = { path: 'budget' as const, pathFraction: 0.5, points: 100 };
  const idx = (method: 'ltt' | 'naive', delta: number, bound: 'wsr' | 'hb') =>
    fitRiskControlled(scored, 'maxprob', { kind: 'cost', budgetMs: B }, { ...settings, method, delta, bound }, new Rng(2)).pathIndex;
  // (With this split stream the naive point lies inside the path, not at its end B, so there is room to see a difference.)
  const naive = idx('naive', 0.5, 'hb');
  assert.ok(naive < 99);
  for (const bound of ['hb', 'wsr'] as const) {
    let prev = -1;
    for (const delta of [0.01, 0.1, 0.5, 0.9, 1 - 1e-9]) {
      const i = idx('ltt', delta, bound);
      assert.ok(i >= prev, `${bound}: index fell from ${prev} to ${i} at δ=${delta}`);
      assert.ok(i <= naive);
      prev = i;
    }
    assert.ok(naive - prev <= (bound === 'hb' ? 0 : 1), `${bound}: at δ → 1 LTT stops at ${prev}, naive at ${naive}`);
    assert.ok(naive - idx('ltt', 0.05, bound) >= 3, `${bound}: δ = 0.05 should cost a few path points`);
  }
  // Gap, shared path: identical at δ → 1 (binary losses, exact binomial test).
  const gap = (method: 'ltt' | 'naive', delta: number) =>
    fitRiskControlled(scored, 'maxprob', { kind: 'gap', epsilon: 0.03 }, { path: 'shared', pathFraction: 0.5, points: 100, method, delta }, new Rng(5)).pathIndex;
  assert.is(gap('ltt', 1 - 1e-9), gap('naive', 0.5));
  assert.ok(gap('ltt', 0.05) > gap('naive', 0.5), 'the gap guarantee should keep a dearer point');
  // And the naive point of the budget path is plain calibration up to the path/test split: its mean cost on a
  // fresh sample is within 2% of the cost range of plain thresholds'.
  const fresh = scoreTrace(syntheticTrace({ nSamples: 20000, seed: 22 }));
  const costOn = (raw: RawParams, spec: string) => {
    const sp = getPolicySpec(spec);
    const pol = sp.create(sp.parse(raw), { rng: new Rng(5), model: modelInfo(scored) });
    pol.fit!(scored, { budgetMs: B });
    const res = violationStudy({ calibrationPool: scored, testPool: fresh, calibrationSize: 3000, splits: 1, seed: 1, entries: [{ label: 'x', spec: sp, params: raw, target: { kind: 'cost', budgetMs: B } }] });
    return res.summary[0].meanCostMs;
  };
  const range = scored.trace.costMs[3] - scored.trace.costMs[0];
  assert.ok(Math.abs(costOn({ method: 'ltt', delta: 1 - 1e-9 }, 'risk-cost') - costOn({}, 'budgeted-threshold')) < 0.02 * range);
});

s('violation study on exchangeable synthetic data: guaranteed methods violate ≤ δ (+ binomial allowance), plain about half the time, CRC holds in mean', () => {
  // Population: 8,000 synthetic samples; each split calibrates on 1,500 and tests on the other 6,500, so the test
  // mean is close to the population mean the guarantees are about.
  const pool = scoreTrace(syntheticTrace({ nSamples: 8000, seed: 77 }));
  const cost = pool.trace.costMs;
  const B = cost[0] + 0.35 * (cost[3] - cost[0]);
  const eps = 0.03;
  const cT = { kind: 'cost', budgetMs: B } as const;
  const gT = { kind: 'gap', epsilon: eps } as const;
  const delta = 0.1;
  const entries: StudyEntry[] = [
    { label: 'plain', spec: getPolicySpec('budgeted-threshold'), params: { score: 'maxprob' }, target: cT },
    { label: 'guarantee wsr', spec: getPolicySpec('budgeted-threshold'), params: { score: 'maxprob', guarantee: { kind: 'cost', delta } }, target: cT },
    { label: 'ltt hb', spec: getPolicySpec('risk-cost'), params: { method: 'ltt', bound: 'hb', delta, points: 50 }, target: cT },
    { label: 'ltt shared', spec: getPolicySpec('risk-cost'), params: { method: 'ltt', delta, path: 'shared', points: 50 }, target: cT },
    { label: 'crc cost', spec: getPolicySpec('risk-cost'), params: { method: 'crc', path: 'shared', points: 50 }, target: cT },
    { label: 'gap naive', spec: getPolicySpec('risk-gap'), params: { method: 'naive', epsilon: eps, path: 'shared', points: 50 }, target: gT },
    { label: 'gap ltt', spec: getPolicySpec('risk-gap'), params: { method: 'ltt', delta, epsilon: eps, path: 'shared', points: 50 }, target: gT },
    { label: 'gap ltt budget path', spec: getPolicySpec('risk-gap'), params: { method: 'ltt', delta, epsilon: eps, points: 50 }, target: gT },
    { label: 'gap crc', spec: getPolicySpec('risk-gap'), params: { method: 'crc', epsilon: eps, path: 'shared', points: 50 }, target: gT },
  ];
  const R = 100;
  const res = violationStudy({ calibrationPool: pool, calibrationSize: 1500, splits: R, seed: 3, entries });
  const by = new Map(res.summary.map((x) => [x.label, x]));
  // P[Bin(100, 0.1) ≥ 21] ≈ 0.0008: a method whose true violation probability is ≤ δ fails this rarely.
  for (const label of ['guarantee wsr', 'ltt hb', 'ltt shared', 'gap ltt', 'gap ltt budget path']) {
    const x = by.get(label)!;
    assert.ok(x.violations <= 20, `${label}: ${x.violations}/${R} violations at δ = ${delta}`);
    assert.ok(x.poolViolationRate * R <= 20, `${label}: pool risk over target in ${x.poolViolationRate * R}/${R} splits`);
  }
  // Plain calibration (and naive on the gap) matches the target on its own data, so it is over on new data
  // about half the time: 3σ of Bin(100, 1/2) is 15.
  for (const label of ['plain', 'gap naive']) {
    const x = by.get(label)!;
    assert.ok(x.violations >= 30 && x.violations <= 75, `${label}: ${x.violations}/${R}`);
  }
  // CRC promises the target in expectation over the draw: mean test risk ≤ target + 3 standard errors.
  for (const [label, target] of [['crc cost', B], ['gap crc', eps]] as const) {
    const risks = res.records.filter((r) => r.label === label).map((r) => r.testRisk);
    const m = risks.reduce((a, b) => a + b, 0) / R;
    const sd = Math.sqrt(risks.reduce((a, b) => a + (b - m) ** 2, 0) / (R - 1));
    assert.ok(m <= target + (3 * sd) / Math.sqrt(R), `${label}: mean test risk ${m} vs ${target}`);
  }
  // The price of the guarantee is real but small: less accuracy than plain, not more.
  assert.ok(by.get('guarantee wsr')!.meanAccuracy <= by.get('plain')!.meanAccuracy + 1e-12);
  assert.ok(by.get('guarantee wsr')!.meanCostMs < B && by.get('plain')!.meanCostMs > by.get('guarantee wsr')!.meanCostMs);
  // Deterministic: the same seed gives the same records.
  const again = violationStudy({ calibrationPool: pool, calibrationSize: 1500, splits: 3, seed: 3, entries: entries.slice(0, 2) });
  assert.equal(again.records, res.records.filter((r) => r.split < 3 && (r.label === 'plain' || r.label === 'guarantee wsr')));
});

s.run();
