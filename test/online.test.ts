/**
 * The online stream harness (lib/online.ts): seeded, reproducible streams (permutation passes, class mixes,
 * phase switches), references that bound every policy (the oracle) or every per-bin threshold rule (hindsight),
 * the hindsight search against brute force, contract enforcement (no peeking), and input validation.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.ts';
import { bestContextRule, contextBin, evaluateRule, runOnline, stationaryStream, type StreamSpec } from '../lib/online.ts';
import { PeekError, modelInfo, type Policy } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { getPolicySpec } from '../policies/index.ts';
import { ucb1Arm } from '../policies/bandit-common.ts';
import { makeReward } from '../lib/reward.ts';

const s = suite('online');
const scored = scoreTrace(syntheticTrace({ nSamples: 500, nExits: 4, nClasses: 5, seed: 3 }));
const reward = { score: 'maxprob', beta: 0.2 };

const dee = (seed = 1, raw: Record<string, unknown> = {}): Policy => {
  const spec = getPolicySpec('dee');
  return spec.create(spec.parse({ beta: 0.2, ...raw }), { rng: new Rng(seed), model: modelInfo(scored) });
};

s('same stream seed and policy seed: identical records; another stream seed: another order', () => {
  const a = runOnline(dee(), stationaryStream(scored, 3000, 9), { reward, records: true });
  const b = runOnline(dee(), stationaryStream(scored, 3000, 9), { reward, records: true });
  const c = runOnline(dee(), stationaryStream(scored, 3000, 10), { reward, records: true });
  assert.equal(Array.from(a.records!.sample), Array.from(b.records!.sample));
  assert.equal(Array.from(a.records!.exit), Array.from(b.records!.exit));
  assert.equal(a.checkpoints, b.checkpoints);
  assert.not.equal(Array.from(a.records!.sample), Array.from(c.records!.sample));
});

s('permutation order: every pass shows each sample exactly once; replacement order does not', () => {
  const N = scored.trace.nSamples;
  const last: Policy = { name: 'last', commit: () => 3 };
  const r = runOnline(last, stationaryStream(scored, 2 * N, 4), { reward, records: true, checkpoints: 2 });
  for (const pass of [0, 1]) {
    const seen = new Set(r.records!.sample.subarray(pass * N, (pass + 1) * N));
    assert.is(seen.size, N);
  }
  const rep = runOnline(last, stationaryStream(scored, N, 4, 'replacement'), { reward, records: true, checkpoints: 1 });
  assert.ok(new Set(rep.records!.sample).size < N);
});

s('class mix and phase switches are honoured at the given input index', () => {
  const other = scoreTrace(syntheticTrace({ nSamples: 300, nExits: 4, nClasses: 5, seed: 4, costMs: scored.trace.costMs }));
  const stream: StreamSpec = {
    length: 2000,
    seed: 1,
    phases: [
      { start: 0, trace: scored, classWeights: [1, 0, 0, 0, 0] },
      { start: 700, trace: other, classWeights: [0, 0, 1, 1, 0] },
    ],
  };
  const r = runOnline(dee(), stream, { reward, records: true, checkpoints: 4 });
  const rec = r.records!;
  for (let t = 0; t < 2000; t++) {
    const tr = t < 700 ? scored : other;
    assert.is(rec.phase[t], t < 700 ? 0 : 1);
    const y = tr.trace.labels[rec.sample[t]];
    assert.ok(t < 700 ? y === 0 : y === 2 || y === 3, `input ${t}: class ${y}`);
  }
});

s('the oracle bounds every policy per input; the hindsight rule bounds every per-bin threshold rule', () => {
  const K = 4;
  const bins = 10;
  for (const name of ['dee', 'tuned-threshold', 'lee-ucb', 'adaee-ucb', 'egreedy-context', 'random-exit']) {
    const spec = getPolicySpec(name);
    const p = spec.create(spec.parse(name === 'random-exit' ? {} : { beta: 0.2 }), { rng: new Rng(2), model: modelInfo(scored) });
    p.fit?.(scored, {});
    const r = runOnline(p, stationaryStream(scored, 2000, 1), { reward, records: true, checkpoints: 5 });
    for (let t = 0; t < 2000; t++) assert.ok(r.records!.oracleReward[t] >= r.records!.reward[t], `${name}: input ${t} above the oracle`);
    assert.ok(r.regretOracle >= 0 && r.checkpoints.every((c) => c.windowRegretOracle >= 0));
  }
  // A policy that is itself a per-bin threshold rule can never beat the hindsight rule (the search is exhaustive there).
  for (const theta of [[3, 5, 7], [9, 9, 9], [0, 10, 10], [6, 6, 2]]) {
    const rule: Policy = { name: 'bin-threshold', decide: (v) => (contextBin(v.score('maxprob'), bins, true) >= theta[v.exit] ? 'exit' : 'continue') };
    const r = runOnline(rule, stationaryStream(scored, 1500, 3), { reward, context: { bins, scale: 'sqrt' }, checkpoints: 3 });
    assert.ok(r.regretHindsight >= -1e-9 * K, `threshold rule ${theta} beats the hindsight reference by ${-r.regretHindsight}`);
  }
});

s('bestContextRule: never above the brute-force optimum, never below the best threshold rule or backward induction', () => {
  const rng = new Rng(7);
  const K = 3;
  const bins = 3;
  const D = K - 1;
  let exact = 0;
  const cases = 40;
  for (let c = 0; c < cases; c++) {
    const nCells = bins ** D;
    const reward = new Float64Array(nCells * K);
    const count = new Float64Array(nCells);
    for (let i = 0; i < nCells; i++) {
      if (rng.float() < 0.2) continue;
      count[i] = 1 + rng.int(5);
      for (let m = 0; m < K; m++) reward[i * K + m] = count[i] * (rng.float() - 0.3 * m * rng.float());
    }
    const found = evaluateRule(bestContextRule(reward, count, K, bins), reward, count, K, bins);
    let brute = -Infinity;
    let bestThreshold = -Infinity;
    for (let mask = 0; mask < 1 << (D * bins); mask++) {
      const rule = Uint8Array.from({ length: D * bins }, (_, j) => (mask >> j) & 1);
      const v = evaluateRule(rule, reward, count, K, bins);
      brute = Math.max(brute, v);
      let monotone = true;
      for (let m = 0; m < D; m++) for (let x = 1; x < bins; x++) if (rule[m * bins + x - 1] > rule[m * bins + x]) monotone = false;
      if (monotone) bestThreshold = Math.max(bestThreshold, v);
    }
    assert.ok(found <= brute + 1e-9, `case ${c}: ${found} above the optimum ${brute}`);
    assert.ok(found >= bestThreshold - 1e-9, `case ${c}: ${found} below the best threshold rule ${bestThreshold}`);
    if (Math.abs(found - brute) < 1e-9) exact++;
  }
  // Coordinate ascent from two starts finds the global optimum in (almost) every small case.
  assert.ok(exact >= cases * 0.9, `global optimum found in only ${exact}/${cases} cases`);
});

s('the harness enforces the view: reading an exit that has not run throws PeekError', () => {
  const peekDecide: Policy = { name: 'peek-decide', decide: (v) => (v.score('maxprob', v.exit + 1), 'continue') };
  assert.throws(() => runOnline(peekDecide, stationaryStream(scored, 10, 1), { reward, checkpoints: 1 }), (e: unknown) => e instanceof PeekError);
  const peekObserve: Policy = { name: 'peek-observe', commit: () => 1, observe: (fb) => void fb.view.probs(fb.exit + 1) };
  assert.throws(() => runOnline(peekObserve, stationaryStream(scored, 10, 1), { reward, checkpoints: 1 }), (e: unknown) => e instanceof PeekError);
});

s('records off: nothing per input is kept; curves have one point per window', () => {
  const r = runOnline(dee(), stationaryStream(scored, 5000, 1), { reward, checkpoints: 7 });
  assert.is(r.records, undefined);
  assert.is(r.checkpoints.length, 7);
  assert.is(r.checkpoints[6].t, 5000);
  assert.ok(Math.abs(r.checkpoints[6].cumRegretOracle - r.regretOracle) < 1e-9);
});

s('malformed streams and options throw InputError naming the field', () => {
  const other = scoreTrace(syntheticTrace({ nSamples: 50, nExits: 4, nClasses: 5, seed: 5, costMs: [1, 2, 3, 5] }));
  const bad: [string, () => unknown][] = [
    ['stream.length', () => runOnline(dee(), { length: 0, seed: 1, phases: [{ start: 0, trace: scored }] }, { reward })],
    ['stream.phases[0].start', () => runOnline(dee(), { length: 10, seed: 1, phases: [{ start: 3, trace: scored }] }, { reward })],
    ['stream.phases[1].start', () => runOnline(dee(), { length: 10, seed: 1, phases: [{ start: 0, trace: scored }, { start: 12, trace: scored }] }, { reward })],
    ['stream.phases[1].trace', () => runOnline(dee(), { length: 10, seed: 1, phases: [{ start: 0, trace: scored }, { start: 5, trace: other }] }, { reward })],
    ['stream.phases[0].classWeights', () => runOnline(dee(), { length: 10, seed: 1, phases: [{ start: 0, trace: scored, classWeights: [1, 1] }] }, { reward })],
    ['reward.beta', () => runOnline(dee(), stationaryStream(scored, 10, 1), { reward: { score: 'maxprob', beta: -1 } })],
    ['reward.score', () => runOnline(dee(), stationaryStream(scored, 10, 1), { reward: { score: 'nope', beta: 0 } })],
    ['context.bins', () => runOnline(dee(), stationaryStream(scored, 10, 1), { reward, context: { bins: 1, scale: 'sqrt' } })],
    ['checkpoints', () => runOnline(dee(), stationaryStream(scored, 10, 1), { reward, checkpoints: 11 })],
  ];
  for (const [field, f] of bad) assert.throws(f, (e: unknown) => e instanceof InputError && e.field === field, field);
});

s('one reward: r_m = c − β·L_m with L the normalised cost; the harness records exactly it', () => {
  const rw = makeReward('t', 'reward', { score: 'margin', beta: 0.5 }, { costMs: [1, 2, 4], scoreNames: ['maxprob', 'margin'] });
  assert.equal(Array.from(rw.L), [0.25, 0.5, 1]);
  assert.is(rw.value(0.8, 1), 0.8 - 0.5 * 0.5);
  assert.throws(() => makeReward('t', 'params', { score: 'nope', beta: 0 }, { costMs: [1, 2], scoreNames: ['maxprob'] }), (e: unknown) => e instanceof InputError && /params\.score/.test(String(e)));
  assert.throws(() => makeReward('t', 'reward', { score: 'maxprob', beta: -1 }, { costMs: [1, 2], scoreNames: ['maxprob'] }), (e: unknown) => e instanceof InputError && /reward\.beta/.test(String(e)));
  const scored = scoreTrace(syntheticTrace({ nSamples: 50, nExits: 3, nClasses: 4, seed: 9 }));
  const policy = getPolicySpec('fixed-exit').create({ exit: 1 }, { rng: new Rng(1), model: modelInfo(scored) });
  const out = runOnline(policy, stationaryStream(scored, 30, 2), { reward: { score: 'maxprob', beta: 0.3 }, records: true });
  const bound = makeReward('t', 'reward', { score: 'maxprob', beta: 0.3 }, modelInfo(scored));
  const c = scored.scores.get('maxprob');
  out.records!.sample.forEach((n, t) => assert.is(out.records!.reward[t], Math.fround(bound.value(c[n * 3 + 1], 1))));
});

s('ucb1Arm: untried arms first in order, then the largest upper bound', () => {
  assert.is(ucb1Arm(Float64Array.from([1, 0, 0]), Float64Array.from([5, 0, 0]), 2, 1), 1);
  // Arm 1 has the lower mean but far fewer pulls: with a large bonus it wins, with none arm 0 does.
  const n = Float64Array.from([100, 1]);
  const mean = Float64Array.from([0.5, 0.4]);
  assert.is(ucb1Arm(n, mean, 101, 2), 1);
  assert.is(ucb1Arm(n, mean, 101, 0), 0);
});

s.run();
