import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backlogRung, fitLadder, modelRung, type Rung } from '../policies/backlog-threshold.ts';
import { backlogThreshold, budgetedThreshold, threshold } from '../policies/index.ts';
import { mg1kLoss } from '../policies/mg1k.ts';
import { modelInfo, TraceCursor, type Policy, type SystemState } from '../lib/policy.ts';
import { simulate } from '../lib/queue.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { InputError } from '../lib/errors.ts';
import { eenetScores, fitEENet, scoreAt } from '../policies/eenet/index.ts';

const s = suite('backlog-threshold');
const validation = scoreTrace(syntheticTrace({ nSamples: 3000, nExits: 4, seed: 31 }));
const test = scoreTrace(syntheticTrace({ nSamples: 3000, nExits: 4, seed: 32 }));
const cost = validation.trace.costMs;
const K = cost.length;

function make(raw: Record<string, unknown>): { policy: Policy; ladder: Rung[] } {
  const policy = backlogThreshold.create(backlogThreshold.parse(raw), { rng: new Rng(1), model: modelInfo(validation) });
  policy.fit!(validation, {});
  const score = (raw.score as string | undefined) ?? 'maxprob';
  return { policy, ladder: fitLadder(validation, score, (raw.rungs as number | undefined) ?? 30) };
}
const state = (queueLength: number, bufferCapacity: number, arrivalRatePerMs: number | undefined): SystemState => ({ timeMs: 0, queueLength, bufferCapacity, arrivalRatePerMs });
/** The rung the policy is on, read through its exit distribution (each rung's shares are distinct on this trace). */
const rungOf = (p: Policy, ladder: Rung[]): number => {
  const d = p.exitDistribution!()!;
  const i = ladder.findIndex((r) => r.shares.every((x, k) => x === d[k]));
  assert.ok(i >= 0, `exit distribution [${d}] is no rung's shares`);
  return i;
};

s('the ladder is a Pareto front: mean service and accuracy strictly rise; shares, SCV and accuracy are what the thresholds do on validation', () => {
  for (const score of ['maxprob', 'entropy', 'margin', 'patience']) {
    const ladder = fitLadder(validation, score, 30);
    // Patience takes few values (integers up to K − 1), so its thresholds can realise only a few distinct rungs.
    assert.ok(ladder.length >= (score === 'patience' ? 2 : 10), `${score}: only ${ladder.length} rungs`);
    // The cheapest rung is everything at the first exit.
    assert.equal(ladder[0].shares, [1, 0, 0, 0]);
    for (let r = 1; r < ladder.length; r++) {
      assert.ok(ladder[r].meanMs > ladder[r - 1].meanMs, `${score}: mean not rising at rung ${r}`);
      assert.ok(ladder[r].accuracy > ladder[r - 1].accuracy, `${score}: accuracy not rising at rung ${r}`);
    }
    const values = validation.scores.get(score);
    for (const rung of ladder) {
      assert.ok(rung.meanMs <= rung.budgetMs * (1 + 1e-12), `${score}: rung over its budget`);
      // Recompute every statistic of the rung from a static threshold policy with its thresholds.
      const counts = new Array<number>(K).fill(0);
      let ok = 0;
      for (let n = 0; n < validation.trace.nSamples; n++) {
        let e = K - 1;
        for (let k = 0; k < K - 1; k++) if (values[n * K + k] >= rung.thresholds[k]) { e = k; break; }
        counts[e]++;
        ok += validation.scores.correct[n * K + e];
      }
      const N = validation.trace.nSamples;
      counts.forEach((c, k) => assert.ok(Math.abs(c / N - rung.shares[k]) < 1e-12));
      const m1 = counts.reduce((a, c, k) => a + (c / N) * cost[k], 0);
      const m2 = counts.reduce((a, c, k) => a + (c / N) * cost[k] ** 2, 0);
      assert.ok(Math.abs(rung.meanMs - m1) < 1e-12);
      assert.ok(Math.abs(rung.scv - Math.max(0, m2 / m1 ** 2 - 1)) < 1e-9);
      assert.ok(Math.abs(rung.accuracy - ok / N) < 1e-12);
    }
  }
});

s('each rung uses the same thresholds as budgeted-threshold fitted to that budget', () => {
  const ladder = fitLadder(validation, 'entropy', 12);
  for (const rung of ladder) {
    const b = budgetedThreshold.create({ score: 'entropy' }, { rng: new Rng(1), model: modelInfo(validation) });
    const rep = b.fit!(validation, { budgetMs: rung.budgetMs });
    assert.equal(rep.details!.thresholds, Array.from(rung.thresholds));
  }
});

s('model control: the most accurate rung whose M/G/1/K loss is within ε, cheapest when none, dearest without a rate', () => {
  const { policy, ladder } = make({ control: 'model', lossTarget: 0.02, rateBucket: 0.05 });
  const top = ladder.length - 1;
  assert.is(policy.commit!(state(0, 10, undefined)), undefined);
  assert.is(rungOf(policy, ladder), top);
  const logBase = Math.log(1.05);
  const seen = new Set<number>();
  for (let bucket = -80; bucket <= 30; bucket++) {
    // Rates at bucket centres, so the cached choice is exactly the model's at that rate.
    const rate = Math.exp(bucket * logBase);
    policy.commit!(state(3, 10, rate * (1 + 1e-9)));
    const r = rungOf(policy, ladder);
    seen.add(r);
    assert.is(r, modelRung(ladder, rate, 11, 0.02));
    if (mg1kLoss(rate * ladder[r].meanMs, ladder[r].scv, 11) > 0.02) assert.is(r, 0, 'a rung over ε that is not the fallback');
    for (let above = r + 1; above <= top; above++) assert.ok(mg1kLoss(rate * ladder[above].meanMs, ladder[above].scv, 11) > 0.02, `rung ${above} fits and is more accurate`);
  }
  // The sweep spans idle to hopeless: both ends and something in between.
  assert.ok(seen.has(top) && seen.has(0) && seen.size >= 3, `rungs seen ${[...seen]}`);
  // Overload beyond even the first exit's capacity (λ·t_0 = 1.5): nothing fits, the cheapest rung.
  policy.commit!(state(9, 10, 1.5 / cost[0]));
  assert.is(rungOf(policy, ladder), 0);
});

s('backlog control: the dearest rung whose (q+1)·p fits in the time until the buffer fills', () => {
  const { policy, ladder } = make({ control: 'backlog' });
  const top = ladder.length - 1;
  const B = 10;
  for (const rate of [0.05, 0.2, 0.25, 0.4, 1]) {
    for (let q = 0; q < B; q++) {
      policy.commit!(state(q, B, rate));
      const r = rungOf(policy, ladder);
      const T = (B + 1 - q) / rate;
      assert.is(r, backlogRung(ladder, q, rate, B + 1));
      if (r > 0) assert.ok((q + 1) * ladder[r].meanMs <= T, `rate ${rate} q ${q}: rung ${r} does not fit`);
      if (r < top) assert.ok((q + 1) * ladder[r + 1].meanMs > T, `rate ${rate} q ${q}: rung ${r + 1} also fits`);
    }
  }
  policy.commit!(state(0, B, 0.01));
  assert.is(rungOf(policy, ladder), top);
  policy.commit!(state(B - 1, B, 10));
  assert.is(rungOf(policy, ladder), 0);
  // A longer queue never asks for a dearer rung.
  let prev = Infinity;
  for (let q = 0; q < B; q++) {
    policy.commit!(state(q, B, 0.3));
    const r = rungOf(policy, ladder);
    assert.ok(r <= prev);
    prev = r;
  }
});

s('reactive control: starts dearest; a loss one cheaper, an idle server one dearer, clamped; the job in service keeps its rung', () => {
  const { policy, ladder } = make({ control: 'reactive' });
  const top = ladder.length - 1;
  const st = state(0, 5, 1);
  policy.commit!(st);
  assert.is(rungOf(policy, ladder), top);
  policy.onEvent!({ kind: 'idle', timeMs: 0 });
  assert.is(rungOf(policy, ladder), top);
  policy.onEvent!({ kind: 'loss', timeMs: 0, queueLength: 5 });
  policy.onEvent!({ kind: 'loss', timeMs: 0, queueLength: 5 });
  policy.commit!(st);
  assert.is(rungOf(policy, ladder), top - 2);
  for (let i = 0; i < 3 * ladder.length; i++) policy.onEvent!({ kind: 'loss', timeMs: 0, queueLength: 5 });
  policy.commit!(st);
  assert.is(rungOf(policy, ladder), 0);
  policy.onEvent!({ kind: 'idle', timeMs: 1 });
  assert.is(rungOf(policy, ladder), 1);

  // Losses during a job do not change the thresholds it is being judged by: decide on rung 1 throughout.
  policy.commit!(st);
  for (let i = 0; i < 5; i++) policy.onEvent!({ kind: 'loss', timeMs: 2, queueLength: 5 });
  const cursor = new TraceCursor(validation);
  const t = ladder[1].thresholds;
  const mp = validation.scores.get('maxprob');
  for (let n = 0; n < 200; n++) {
    for (let k = 0; k < K - 1; k++) {
      cursor.moveTo(n, k);
      assert.is(policy.decide!(cursor.view), mp[n * K + k] >= t[k] ? 'exit' : 'continue');
    }
  }
});

s('in the queue: under 3x overload every control loses far fewer jobs and is more accurate overall than its dearest rung held fixed', () => {
  for (const control of ['model', 'reactive', 'backlog']) {
    const { policy, ladder } = make({ control });
    const fixedTop = threshold.create({ score: 'maxprob', thresholds: Array.from(ladder[ladder.length - 1].thresholds.subarray(0, K - 1)) }, { rng: new Rng(1), model: modelInfo(validation) });
    const cfg = { bufferCapacity: 5, arrivals: { kind: 'poisson' as const, ratePerMs: 3 / cost[K - 1] }, maxArrivals: 20000, seed: 5 };
    const a = simulate(policy, test, cfg).metrics;
    const b = simulate(fixedTop, test, cfg).metrics;
    assert.ok(a.lossRatio < b.lossRatio - 0.2, `${control}: loss ${a.lossRatio} vs fixed ${b.lossRatio}`);
    assert.ok(a.accuracyOverall > b.accuracyOverall + 0.05, `${control}: accuracy ${a.accuracyOverall} vs fixed ${b.accuracyOverall}`);
    // Light load: nothing to control, the controls stay on (or near) the dearest rung, as accurate as it.
    const light = { ...cfg, arrivals: { kind: 'poisson' as const, ratePerMs: 0.1 / cost[K - 1] } };
    const la = simulate(make({ control }).policy, test, light).metrics;
    const lb = simulate(fixedTop, test, light).metrics;
    assert.is(la.lost, 0, `${control}: lost jobs at light load`);
    assert.ok(la.accuracyOverall >= lb.accuracyOverall - 0.005, `${control}: light-load accuracy ${la.accuracyOverall} vs fixed dearest ${lb.accuracyOverall}`);
  }
});

s('bad parameters are InputErrors naming the parameter; an unfitted policy says to fit', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ control: 'pid' }, /params\.control: expected one of "model", "reactive", "backlog"/],
    [{ rungs: 1 }, /params\.rungs: expected an integer in \[2, 1000\]/],
    [{ rungs: 2.5 }, /params\.rungs/],
    [{ lossTarget: 2 }, /params\.lossTarget/],
    [{ budget: 3 }, /params\.budget: expected one of the known parameters/],
  ];
  for (const [raw, re] of cases) assert.throws(() => backlogThreshold.parse(raw), (e: unknown) => e instanceof InputError && re.test((e as Error).message), JSON.stringify(raw));
  assert.throws(() => backlogThreshold.create(backlogThreshold.parse({ score: 'nope' }), { rng: new Rng(1), model: modelInfo(validation) }), (e: unknown) => e instanceof InputError && /params\.score/.test((e as Error).message));
  const p = backlogThreshold.create(backlogThreshold.parse({}), { rng: new Rng(1), model: modelInfo(validation) });
  assert.throws(() => p.commit!(state(0, 5, 1)), (e: unknown) => e instanceof InputError && /fit\(validation\)/.test((e as Error).message));
});

s("score 'eenet': the ladder is fitted on EENet's learned q, decisions threshold q recomputed from the view, training is memoised without changing a bit", () => {
  const eenetParams = { trials: 1, epochs: 6, patience: 3, period: 1, lr: 1e-2 };
  const raw = { control: 'backlog', score: 'eenet', rungs: 8, eenet: { ...eenetParams, budgetFraction: 0.25 } };
  const parsed = backlogThreshold.parse(raw);
  const create = (seed: number) => backlogThreshold.create(parsed, { rng: new Rng(seed), model: modelInfo(validation) });
  const p = create(1);
  const details = p.fit!(validation, {}).details as { eenetTrainingBudgetMs: number; rungs: { thresholds: number[]; shares: number[]; accuracy: number }[] };
  assert.ok(Math.abs(details.eenetTrainingBudgetMs - (cost[0] + 0.25 * (cost[K - 1] - cost[0]))) < 1e-12);
  // The same training by hand: the policy's stream forked as the policy forks it.
  const w = fitEENet(validation, details.eenetTrainingBudgetMs, (parsed.eenet as { config: Parameters<typeof fitEENet>[2] }).config, new Rng(1).fork('eenet score')).model.weights;
  const q = eenetScores(w, validation);
  const withQ = { trace: validation.trace, scores: validation.scores.withScore('eenet', q) };
  const ladder = fitLadder(withQ, 'eenet', 8);
  assert.equal(details.rungs.map((r) => r.thresholds), ladder.map((r) => Array.from(r.thresholds)));
  // Not the max-prob ladder: the shares are the budgets' (MSDNet's rule, whatever the score), but the learned
  // score picks other samples for them, so the rungs' accuracies differ.
  assert.not.equal(ladder.map((r) => r.accuracy), fitLadder(validation, 'maxprob', 8).map((r) => r.accuracy));
  // A state whose backlog puts the policy on a middle rung (the dearest sends nearly everyone to the last exit);
  // each decision is then q_k ≥ θ_k of that rung, with q from the view.
  const rate = 2 / cost[K - 1];
  let ql = 0;
  while (ql < 50 && !(backlogRung(ladder, ql, rate, 51) > 0 && backlogRung(ladder, ql, rate, 51) < ladder.length - 1)) ql++;
  const mid = backlogRung(ladder, ql, rate, 51);
  assert.ok(mid > 0 && mid < ladder.length - 1, `no middle rung reachable (ladder of ${ladder.length})`);
  const t = ladder[mid].thresholds;
  const cursor = new TraceCursor(test);
  const qt = eenetScores(w, test);
  let exits = 0;
  for (let n = 0; n < 300; n++) {
    for (let k = 0; k < K - 1; k++) {
      cursor.moveTo(n, k);
      p.commit!(state(ql, 50, rate));
      const d = p.decide!(cursor.view);
      assert.is(d, qt[n * K + k] >= t[k] ? 'exit' : 'continue', `sample ${n} exit ${k}`);
      if (d === 'exit') exits++;
    }
  }
  assert.ok(exits > 0);
  // scoreAt is the formula eenetScores uses (a change to one without the other would show here).
  assert.is(Math.fround(scoreAt(w.g[0], validation.trace.nClasses, validation.trace.probs, 0, validation.scores.get('maxprob')[0], validation.scores.get('entropy')[0], [], 0)), q[0]);
  // Memo: a second policy of the same seed gets the same ladder (and a simulation bit for bit); another seed trains afresh.
  const again = create(1).fit!(validation, {}).details as typeof details;
  assert.equal(again.rungs, details.rungs);
  const other = create(2).fit!(validation, {}).details as typeof details;
  assert.not.equal(other.rungs.map((r) => r.thresholds), details.rungs.map((r) => r.thresholds));
  const cfg = { bufferCapacity: 5, arrivals: { kind: 'poisson' as const, ratePerMs: 2 / cost[K - 1] }, maxArrivals: 3000, seed: 3 };
  const a = create(1);
  a.fit!(validation, {});
  const b = create(1);
  b.fit!(validation, {});
  assert.equal(simulate(a, test, cfg).metrics, simulate(b, test, cfg).metrics);
});

s("score 'eenet': bad combinations are InputErrors naming the parameter", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ score: 'maxprob', eenet: { trials: 1 } }, /params\.eenet: expected absent unless score is "eenet"/],
    [{ score: 'eenet', guarantee: { kind: 'cost', delta: 0.1 } }, /params\.guarantee: expected absent with score "eenet"/],
    [{ score: 'eenet', eenet: { budgetFraction: 2 } }, /budgetFraction/],
    [{ score: 'eenet', eenet: { trials: 0 } }, /trials/],
    [{ score: 'eenet', eenet: { nope: 1 } }, /nope/],
  ];
  for (const [raw, re] of cases) assert.throws(() => backlogThreshold.parse(raw), (e: unknown) => e instanceof InputError && re.test((e as Error).message), JSON.stringify(raw));
});

s.run();
