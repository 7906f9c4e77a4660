/**
 * The conformance suite: a loop over the registry calling `checkPolicy` (lib/testing.ts), the single list of
 * checks picked from each policy's capabilities (`policyChecks`): spec checks (defaults parse, unknown key
 * rejected), different seeds differ (stochastic policies), offline run, last exit always exits, oracle bound, no
 * peeking, determinism, budget kept (budgeted), queue run, online run (learners with `observe`). A new policy in
 * the registry is tested here without writing a test. Then: checkPolicy really fails a policy breaking each of
 * the checks this file relies on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { oracleExits } from '../lib/offline.ts';
import type { Policy, PolicyContext } from '../lib/policy.ts';
import { loadPolicy, type AnyPolicySpec } from '../lib/registry.ts';
import { scoreTrace } from '../lib/scores.ts';
import { REGISTRY, getPolicySpec } from '../policies/index.ts';
import { tinyTrace } from './helpers.ts';
import { checkPolicy, policyChecks, PolicyCheckError, type PolicyUnderTest } from '../lib/testing.ts';

const s = suite('conformance');
// Heavy dependencies (EENet's TensorFlow.js, model-based's HiGHS) load on first use: load them once here.
for (const spec of REGISTRY) await loadPolicy(spec);

/** Cases per policy: EENet trains (a tiny config) in every case, so it gets fewer. */
const RUNS: Readonly<Record<string, number>> = { eenet: 12 };

for (const spec of REGISTRY) {
  s(`${spec.name}: checkPolicy — ${policyChecks(spec).join(', ')}`, () => {
    const n = RUNS[spec.name] ?? 40;
    assert.is(checkPolicy(spec, { numRuns: n }), n);
  });
}

s('the checks follow the capabilities: budget only for budgeted, seeds only for stochastic, spec checks only for specs', () => {
  assert.ok(policyChecks(getPolicySpec('budgeted-threshold')).includes('budget kept'));
  assert.not.ok(policyChecks(getPolicySpec('threshold')).includes('budget kept'));
  assert.ok(policyChecks(getPolicySpec('random-exit')).includes('different seeds differ'));
  assert.not.ok(policyChecks(getPolicySpec('fixed-exit')).includes('different seeds differ'));
  assert.not.ok(policyChecks({ name: 'f', create: () => ({ name: 'f', decide: () => 'exit' }) }).includes('defaults parse'));
});

/** checkPolicy on `subject` must fail with `check` and a message matching `re`. */
function mustFail(subject: PolicyUnderTest, check: string, re: RegExp): void {
  try {
    checkPolicy(subject, { numRuns: 60 });
  } catch (err) {
    assert.instance(err, PolicyCheckError);
    assert.is((err as PolicyCheckError).counterexample.check, check, (err as Error).message);
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`${subject.name}: checkPolicy passed`);
}

const base = getPolicySpec('threshold');
s('checkPolicy fails a spec whose parse ignores unknown keys, and a stochastic one whose seed is unused', () => {
  const sloppy: AnyPolicySpec = { ...base, name: 'sloppy', parse: (raw) => base.parse({ score: raw.score ?? 'maxprob', thresholds: raw.thresholds ?? 0.9 }) };
  mustFail(sloppy, 'unknown key rejected', /unknown key rejected: parse\(\) with the unknown key "notAParameterOfThisPolicy" succeeded/);
  const fake: AnyPolicySpec = { ...base, name: 'fake-random', stochastic: true };
  mustFail(fake, 'different seeds differ', /declared stochastic, but seeds 1–5 give the same decisions/);
  // Declared defaults the parser does not use (it fills its own): parse({}) and parse(defaults) disagree.
  const badDefaults: AnyPolicySpec = { ...base, name: 'bad-defaults', defaults: { ...base.defaults, thresholds: 0.5 }, parse: (raw) => base.parse.call(base, raw) };
  mustFail(badDefaults, 'defaults parse', /parse\(spec\.defaults\) gives/);
});

s('checkPolicy fails a learner whose online run breaks the contract', () => {
  // Breaks only after more jobs than the offline run (N) and the queue run (≤ 2N + 4) have: online (3N + 2).
  const learner = (_ctx: PolicyContext): Policy => {
    let seen = 0;
    let N = Infinity;
    return {
      name: 'greedy-online',
      fit: (v) => ((N = v.trace.nSamples), (seen = 0), {}),
      decide: () => (seen > 2 * N + 4 ? ('stop' as never) : 'exit'),
      observe: () => void seen++,
    };
  };
  mustFail({ name: 'greedy-online', create: learner }, 'online run', /invalid decision: greedy-online: decide\(\) returned "stop"/);
});

s('the oracle takes the cheapest correct exit, else the last', () => {
  assert.equal(Array.from(oracleExits(scoreTrace(tinyTrace()))), [1, 0, 2]);
});

s.run();
