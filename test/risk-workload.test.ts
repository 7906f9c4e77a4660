/**
 * The `risk` workload: validation of its parts (each bad field named), cell expansion, and one cell run on
 * synthetic traces — metrics present, the policy's δ recorded, ε injected into gap policies, same seed same
 * record, and a violation rate that separates plain calibration from Learn-then-Test.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.ts';
import { modelInfo } from '../lib/policy.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { getPolicySpec } from '../policies/index.ts';
import { defineExperiment, expandCells, type ExperimentDecl } from '../experiments/harness/experiment.ts';
import { risk } from '../experiments/workloads/risk.ts';
import type { Cell, CellContext } from '../experiments/workloads/types.ts';
import riskControl from '../experiments/risk-control.ts';

const s = suite('risk-workload');

const TRACES = ['fixtures/fashion-mnist-cnn/manifest.json'];

const decl = (parts: unknown[]): ExperimentDecl => ({ id: 'risk-test', description: 'test', traces: TRACES, seeds: [1], parts } as unknown as ExperimentDecl);

s('parts are validated, each bad field named', () => {
  const ok = { name: 'c', workload: { kind: 'risk', risk: 'cost', design: 'pool', splits: 5 }, policies: [{ label: 'plain', policy: 'budgeted-threshold' }], axes: { budgetFraction: [0.3] } };
  defineExperiment(decl([ok]));
  const cases: [unknown, RegExp][] = [
    [{ ...ok, workload: { ...ok.workload, risk: 'latency' } }, /parts\[0\]\.workload\.risk: expected "cost" or "gap"/],
    [{ ...ok, workload: { ...ok.workload, design: 'halves' } }, /parts\[0\]\.workload\.design: expected "pool" or "shift"/],
    [{ ...ok, workload: { ...ok.workload, splits: 0 } }, /parts\[0\]\.workload\.splits: expected an integer ≥ 1/],
    [{ ...ok, workload: { ...ok.workload, calibrationShare: 1 } }, /parts\[0\]\.workload\.calibrationShare: expected a number in \(0, 1\)/],
    [{ ...ok, axes: { epsilon: [0.02] } }, /parts\[0\]\.axes\.epsilon: expected one of budgetFraction/],
    [{ ...ok, policies: [{ label: 'fixed', policy: 'fixed-exit' }] }, /parts\[0\]\.policies\[0\]: expected a budgeted policy/],
    [{ ...ok, workload: { ...ok.workload, risk: 'gap' }, axes: { epsilon: [0.02] } }, /parts\[0\]\.policies\[0\]: expected a policy with an `epsilon` parameter/],
  ];
  for (const [part, re] of cases) assert.throws(() => expandCells(defineExperiment(decl([part]))), (e: unknown) => e instanceof InputError && re.test((e as Error).message), String(re));
});

s('risk-control expands to one cell per trace × target × policy, with ≥ 200 draws each', () => {
  const cells = expandCells(riskControl);
  assert.ok(cells.length > 0);
  assert.ok(cells.every((c) => c.kind === 'risk' && (c.options as { splits: number }).splits >= 200));
  const parts = new Set(cells.map((c) => c.part));
  assert.equal([...parts], ['cost', 'gap', 'cost-shift', 'gap-shift']);
});

const pool = scoreTrace(syntheticTrace({ nSamples: 3000, seed: 31 }));
const validation = scoreTrace(syntheticTrace({ nSamples: 1500, seed: 32 }));
const ctxFor = (policy: string, budgetMs: number | undefined): CellContext => ({ validation, test: pool, model: modelInfo(pool), spec: getPolicySpec(policy), budgetMs });
const cellFor = (label: string, policy: string, params: Record<string, unknown>, options: Record<string, unknown>, axes: Record<string, number>): Cell => ({
  key: `k/${label}`,
  part: 'p',
  kind: 'risk',
  trace: 'synthetic',
  label,
  policy,
  params,
  budgetFraction: axes.budgetFraction,
  axes,
  seed: 4,
  options,
});

s('a cost cell: violation rate of plain calibration well above LTT’s, δ recorded, deterministic', async () => {
  const options = { risk: 'cost', design: 'pool', splits: 40, calibrationShare: 0.5 };
  const B = pool.trace.costMs[0] + 0.35 * (pool.trace.costMs[3] - pool.trace.costMs[0]);
  const plain = await risk.run(cellFor('plain', 'budgeted-threshold', {}, options, { budgetFraction: 0.35 }), ctxFor('budgeted-threshold', B));
  const ltt = await risk.run(cellFor('ltt', 'risk-cost', { delta: 0.05, bound: 'hb' }, options, { budgetFraction: 0.35 }), ctxFor('risk-cost', B));
  assert.ok(plain.metrics.violationRate >= 0.2, `plain ${plain.metrics.violationRate}`);
  assert.ok(ltt.metrics.violationRate <= 0.15, `ltt ${ltt.metrics.violationRate}`);
  assert.is(ltt.metrics.delta, 0.05);
  assert.is(plain.metrics.delta, undefined);
  assert.is(ltt.metrics.splits, 40);
  assert.ok(Math.abs(ltt.exitShares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  const again = await risk.run(cellFor('ltt', 'risk-cost', { delta: 0.05, bound: 'hb' }, options, { budgetFraction: 0.35 }), ctxFor('risk-cost', B));
  assert.equal(again, ltt);
});

s('a gap cell gets ε from the axis; the shift design calibrates on validation and tests on the whole test split', async () => {
  const options = { risk: 'gap', design: 'shift', splits: 10, calibrationShare: 0.5 };
  const a = await risk.run(cellFor('ltt', 'risk-gap', { delta: 0.1, path: 'shared' }, options, { epsilon: 0.01 }), ctxFor('risk-gap', undefined));
  const b = await risk.run(cellFor('ltt', 'risk-gap', { delta: 0.1, path: 'shared' }, options, { epsilon: 0.1 }), ctxFor('risk-gap', undefined));
  assert.is(a.metrics.target, 0.01);
  assert.ok(a.metrics.gap < b.metrics.gap && a.metrics.meanCostMs > b.metrics.meanCostMs, 'a looser ε should exit earlier');
  // Two pools: the test draw is the whole test pool, so the pool violation rate is the test one.
  assert.is(a.metrics.poolViolationRate, a.metrics.violationRate);
});

s.run();
