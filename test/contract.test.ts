import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runPolicy } from '../lib/offline.ts';
import { ContractError, PeekError, TraceCursor, type ExitView, type Policy } from '../lib/policy.ts';
import { scoreTrace } from '../lib/scores.ts';
import { InputError } from '../lib/errors.ts';
import { REGISTRY, getPolicySpec } from '../policies/index.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { tinyTrace } from './helpers.ts';
import { runOnline, stationaryStream } from '../lib/online.ts';
import { simulate } from '../lib/queue.ts';
import type { SystemState } from '../lib/policy.ts';

const s = suite('contract');
const scored = scoreTrace(tinyTrace());

s('a policy cannot read a later exit: score, predicted and probs all throw PeekError', () => {
  for (const peek of [(v: ExitView) => v.score('maxprob', v.exit + 1), (v: ExitView) => v.predicted(v.exit + 1), (v: ExitView) => v.probs(v.exit + 1)]) {
    const p: Policy = { name: 'peeker', decide: (v) => (peek(v), 'continue') };
    assert.throws(() => runPolicy(p, scored), (e: unknown) => e instanceof PeekError && /only exits 0\.\.0 have run/.test((e as Error).message));
  }
});

s('the view exposes no array behind it, and probs() is a copy', () => {
  const cursor = new TraceCursor(scored);
  cursor.moveTo(0, 0);
  const view = cursor.view;
  const reachable: unknown[] = [];
  for (let o: object | null = view; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key)!;
      reachable.push('value' in d ? d.value : d.get?.call(view));
    }
  }
  assert.ok(reachable.every((v) => !ArrayBuffer.isView(v) && !(v instanceof Map)), 'a typed array or map is reachable from the view');
  assert.not.match(JSON.stringify(view), /0\.5/);
  const p = view.probs();
  p[0] = 99;
  assert.is(view.probs()[0], scored.trace.probs[0]);
  assert.throws(() => view.score('maxprob', -1), (e: unknown) => e instanceof ContractError && !(e instanceof PeekError));
  assert.throws(() => view.score('maxprob', 0.5), (e: unknown) => e instanceof ContractError);
});

s('a policy cannot move its view: it has only the read methods, and it is frozen', () => {
  const seen: string[][] = [];
  const cheater: Policy = {
    name: 'mover',
    decide: (v) => {
      seen.push(Object.keys(v).sort());
      const any = v as unknown as Record<string, unknown>;
      assert.is(any.moveTo, undefined);
      // Widening the window by overwriting a member fails: ESM code is strict, and writes to a frozen object throw.
      assert.throws(() => {
        any.exit = v.nExits - 1;
      }, (e: unknown) => e instanceof TypeError);
      assert.throws(() => {
        any.score = () => 1;
      }, (e: unknown) => e instanceof TypeError);
      assert.throws(() => v.score('maxprob', v.exit + 1), (e: unknown) => e instanceof PeekError);
      return 'continue';
    },
  };
  runPolicy(cheater, scored);
  assert.ok(seen.length > 0);
  assert.equal(seen[0], ['exit', 'nClasses', 'nExits', 'predicted', 'probs', 'score']);
});

s('earlier exits stay readable: a patience-like rule may look back', () => {
  const seen: number[][] = [];
  const p: Policy = {
    name: 'lookback',
    decide: (v) => {
      seen.push(Array.from({ length: v.exit + 1 }, (_, j) => v.predicted(j)));
      return 'continue';
    },
  };
  runPolicy(p, scored);
  assert.equal(seen.slice(0, 2), [[1], [1, 0]]);
});

s('the harness forces the last exit: decide is never called there', () => {
  const calledAt: number[] = [];
  const exits = runPolicy({ name: 'never', decide: (v) => (calledAt.push(v.exit), 'continue') }, scored);
  assert.equal(Array.from(exits), [2, 2, 2]);
  assert.equal(calledAt, [0, 1, 0, 1, 0, 1]);
});

s('contract violations raise ContractError naming the policy', () => {
  const cases: [Policy, RegExp][] = [
    [{ name: 'bad-decision', decide: () => 'stop' as never }, /bad-decision: decide\(\) returned "stop"/],
    [{ name: 'bad-commit', commit: () => 3 }, /bad-commit: commit\(\) returned 3; expected an exit index in \[0, 2\]/],
    [{ name: 'frac-commit', commit: () => 0.5 }, /frac-commit: commit\(\) returned 0\.5/],
    [{ name: 'nothing' }, /nothing: commit\(\) returned undefined and the policy has no decide/],
  ];
  for (const [p, re] of cases) assert.throws(() => runPolicy(p, scored), (e: unknown) => e instanceof ContractError && re.test((e as Error).message));
});

s('commit may defer to decide per job; observe sees exactly the exits run', () => {
  let job = 0;
  const observed: [number, number, boolean][] = [];
  const p: Policy = {
    name: 'mixed',
    commit: () => (job++ % 2 === 0 ? 1 : undefined),
    decide: () => 'exit',
    observe: (f) => {
      observed.push([f.exit, f.costMs, f.committed]);
      assert.is(f.view.exit, f.exit);
      f.view.score('maxprob', f.exit);
      assert.throws(() => f.view.score('maxprob', f.exit + 1), (e: unknown) => e instanceof PeekError);
    },
  };
  assert.equal(Array.from(runPolicy(p, scored)), [1, 0, 1]);
  assert.equal(observed, [[1, 2, true], [0, 1, false], [1, 2, true]]);
});

s('registry: unique names; unknown names and parameters are errors that list the valid ones', () => {
  const names = REGISTRY.map((x) => x.name);
  assert.is(new Set(names).size, names.length);
  assert.throws(() => getPolicySpec('thresholds'), (e: unknown) => e instanceof InputError && /one of fixed-exit, random-exit, threshold, budgeted-threshold/.test((e as Error).message));
  const ctx = { rng: new Rng(1), model: modelInfo(scored) };
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['threshold', { score: 'maxprob', threshold: 0.9 }, /params\.threshold: expected one of the known parameters score, thresholds/],
    ['threshold', { thresholds: 'high' }, /params\.thresholds: expected a number/],
    ['threshold', { thresholds: [0.9] }, /params\.thresholds: expected one number, or 2/],
    ['threshold', { score: 'confidence' }, /params\.score: expected one of maxprob, margin, entropy, patience/],
    ['fixed-exit', { exit: 3 }, /params\.exit: expected an exit index in \[-3, 2\]/],
    ['fixed-exit', { exit: 1.5 }, /params\.exit: expected an integer/],
    ['random-exit', { shares: [1, -1, 1] }, /params\.shares: expected a non-empty array of non-negative weights/],
    ['random-exit', { shares: [1, 1] }, /params\.shares: expected 3 weights/],
    ['budgeted-threshold', { score: 'nope' }, /params\.score: expected one of/],
  ];
  for (const [name, params, re] of bad) {
    const spec = getPolicySpec(name);
    assert.throws(() => spec.create(spec.parse(params), ctx), (e: unknown) => e instanceof InputError && re.test((e as Error).message), `${name} ${JSON.stringify(params)}`);
  }
  const b = getPolicySpec('budgeted-threshold');
  const unfitted = b.create(b.parse({}), ctx);
  assert.throws(() => runPolicy(unfitted, scored), (e: unknown) => e instanceof InputError && /fit\(validation, \{budgetMs\}\) before/.test((e as Error).message));
  assert.throws(() => unfitted.fit!(scored, {}), (e: unknown) => e instanceof InputError && /budgetMs/.test((e as Error).message));
  assert.throws(() => unfitted.fit!(scored, { budgetMs: 0.5 }), (e: unknown) => e instanceof InputError && /budget ≥ the first exit's cost 1 ms/.test((e as Error).message));
});

s('one job driver: every harness raises the same ContractError, and hands commit a fresh SystemState', () => {
  const bad: Policy = { name: 'bad', commit: () => 7 };
  const cfg = { bufferCapacity: 1, arrivals: { kind: 'poisson' as const, ratePerMs: 0.5 }, maxArrivals: 10, seed: 1 };
  const messages = [
    () => runPolicy(bad, scored),
    () => simulate(bad, scored, cfg),
    () => runOnline(bad, stationaryStream(scored, 5, 1), { reward: { score: 'maxprob', beta: 0.1 }, checkpoints: 1 }),
  ].map((run) => {
    try {
      run();
    } catch (err) {
      assert.instance(err, ContractError);
      return (err as Error).message;
    }
    return 'no error';
  });
  assert.equal(messages, Array(3).fill('bad: commit() returned 7; expected an exit index in [0, 2] or undefined'));
  // A policy that keeps the state it was shown must not see it change afterwards (online used to reuse one object).
  for (const run of [(p: Policy) => runPolicy(p, scored), (p: Policy) => runOnline(p, stationaryStream(scored, 6, 1), { reward: { score: 'maxprob', beta: 0.1 }, checkpoints: 2 })]) {
    const kept: SystemState[] = [];
    const times: number[] = [];
    run({ name: 'keeper', commit: (st) => (kept.push(st), times.push(st.timeMs), 0) });
    assert.equal(kept.map((st) => st.timeMs), times);
    assert.ok(times[times.length - 1] > 0, 'the clock advances');
  }
});

s.run();
