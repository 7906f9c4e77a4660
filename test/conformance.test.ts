/**
 * The conformance suite: every registered policy, with each of its declared test parameters, on several
 * traces, must make decisions only at valid exits, never be asked at the last exit, give identical decisions
 * for the same seed, stay within the oracle's accuracy, and — when budgeted — meet its budget on the data it was
 * fitted on. A new policy in the registry is tested here without writing a test.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { budgetGrid, oracleExits, runPolicy, summarizeExits } from '../lib/offline.ts';
import { modelInfo, type ExitDecision, type Policy } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { loadPolicy, type AnyPolicySpec, type RawParams } from '../lib/registry.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { REGISTRY } from '../policies/index.ts';
import { tinyTrace } from './helpers.ts';
import { checkPolicy } from '../lib/testing.ts';
import { initBackend } from '../lib/tensor.ts';

const s = suite('conformance');
// EENet trains with TensorFlow.js: this file must pass on its own, not only after another suite initialised it.
await initBackend();
for (const spec of REGISTRY) await loadPolicy(spec); // heavy dependencies load on first use only

/** Budget tolerance: mean cost is a sum of N float64 terms; allow float summation error only. */
const BUDGET_TOL = 1e-9;

const traces: ScoredTrace[] = [
  scoreTrace(syntheticTrace({ nSamples: 600, nExits: 4, nClasses: 10, seed: 11 })),
  scoreTrace(syntheticTrace({ nSamples: 300, nExits: 2, nClasses: 3, seed: 12 })),
  scoreTrace(syntheticTrace({ nSamples: 200, nExits: 7, nClasses: 5, seed: 13, costMs: [1, 1, 2, 2, 5, 8, 8] })),
  scoreTrace(tinyTrace()),
];

interface Checked {
  exits: Int32Array;
  decisions: ExitDecision[];
}

/** Create, fit (with a budget if budgeted) and run one policy, checking the per-decision invariants on the way. */
function runChecked(spec: AnyPolicySpec, raw: RawParams, scored: ScoredTrace, seed: number, budgetMs?: number): Checked {
  const K = scored.trace.nExits;
  const policy = spec.create(spec.parse(raw), { rng: new Rng(seed), model: modelInfo(scored) });
  policy.fit?.(scored, budgetMs === undefined ? {} : { budgetMs });
  const decisions: ExitDecision[] = [];
  const wrapped: Policy = {
    name: policy.name,
    commit: policy.commit?.bind(policy),
    decide: policy.decide
      ? (view) => {
          assert.ok(view.exit >= 0 && view.exit < K - 1, `${policy.name}: asked at exit ${view.exit} of ${K}`);
          const d = policy.decide!(view);
          decisions.push(d);
          return d;
        }
      : undefined,
    observe: policy.observe?.bind(policy),
  };
  const exits = runPolicy(wrapped, scored);
  for (const e of exits) assert.ok(Number.isInteger(e) && e >= 0 && e < K, `${policy.name}: exit ${e}`);
  return { exits, decisions };
}

function budgetsFor(scored: ScoredTrace): number[] {
  return budgetGrid(scored.trace.costMs, 6);
}

for (const spec of REGISTRY) {
  s(`${spec.name}: valid decisions, same seed same decisions, within the oracle, budget kept`, () => {
    for (const scored of traces) {
      const oracleAcc = summarizeExits(oracleExits(scored), scored).accuracy;
      for (const raw of spec.testParams(modelInfo(scored))) {
        const budgets = spec.budgeted ? budgetsFor(scored) : [undefined];
        for (const budgetMs of budgets) {
          const a = runChecked(spec, raw, scored, 5, budgetMs);
          const b = runChecked(spec, raw, scored, 5, budgetMs);
          const label = `${spec.name} ${JSON.stringify(raw)} B=${budgetMs} on ${scored.trace}`;
          assert.equal(Array.from(a.exits), Array.from(b.exits), `${label}: not deterministic`);
          assert.equal(a.decisions, b.decisions, `${label}: decisions not deterministic`);
          const sum = summarizeExits(a.exits, scored);
          assert.ok(sum.accuracy <= oracleAcc + 1e-12, `${label}: accuracy ${sum.accuracy} above the oracle's ${oracleAcc}`);
          if (budgetMs !== undefined) {
            assert.ok(sum.meanCostMs <= budgetMs * (1 + BUDGET_TOL), `${label}: mean cost ${sum.meanCostMs} over budget`);
          }
        }
      }
    }
  });

  s(`${spec.name}: checkPolicy (exitlab/testing) passes on generated realistic and adversarial traces`, () => {
    assert.ok(checkPolicy(spec, { numRuns: 40 }) === 40);
  });
}

s('the oracle takes the cheapest correct exit, else the last', () => {
  assert.equal(Array.from(oracleExits(scoreTrace(tinyTrace()))), [1, 0, 2]);
});

s('different seeds change a randomised policy (the seed is really used)', () => {
  const spec = REGISTRY.find((x) => x.name === 'random-exit')!;
  const scored = traces[0];
  const a = runChecked(spec, {}, scored, 1).exits;
  const b = runChecked(spec, {}, scored, 2).exits;
  assert.not.equal(Array.from(a), Array.from(b));
});

s.run();
