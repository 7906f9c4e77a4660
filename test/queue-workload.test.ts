/** The queue workload's load-step arrivals and warm-up option (issue 17), through the harness's own cell runner. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../lib/errors.ts';
import { writeTraceManifest, loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate } from '../lib/queue.ts';
import { instantiate } from '../lib/registry.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { defineExperiment, expandCells, resolveExperiment, type ExperimentDecl } from '../experiments/harness/experiment.ts';
import { runCell } from '../experiments/harness/cell.ts';
import { queueArrivals, STEP_LOADS } from '../experiments/workloads/queue.ts';
import { getPolicySpec } from '../policies/index.ts';

const s = suite('queue-workload');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-qw-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));
const trace = writeTraceManifest(join(dir, 't'), {
  validation: syntheticTrace({ nSamples: 400, nExits: 4, seed: 1, split: 'validation' }),
  test: syntheticTrace({ nSamples: 400, nExits: 4, seed: 2, split: 'test' }),
});
const decl = (workload: Record<string, unknown>, arrivals: string[] = ['steps']): ExperimentDecl => ({
  id: 'queue-workload-test',
  description: 'steps and warm-up',
  traces: [trace],
  seeds: [3],
  parts: [
    {
      name: 'q',
      workload: { kind: 'queue', jobs: 2000, ...workload } as { kind: 'queue'; jobs: number },
      policies: [{ label: 'bt', policy: 'backlog-threshold', params: { control: 'backlog' } }],
      axes: { lambdaOverMu: [1.5], bufferSize: [5], arrivals: arrivals as ('poisson' | 'bursty')[] },
    },
  ],
});

s('steps arrivals: three phases at λ/μ × (0.5, 2, 0.8) whose expected arrivals add up to the cell total', () => {
  const a = queueArrivals('steps', 0.2, 3300);
  assert.ok(a.kind === 'steps');
  if (a.kind !== 'steps') return;
  assert.equal(a.ratesPerMs, STEP_LOADS.map((l) => l * 0.2));
  const phase = a.atMs[0];
  assert.ok(Math.abs(a.atMs[1] - 2 * phase) < 1e-9);
  // Expected arrivals over the three phases = Σ rate × phase.
  assert.ok(Math.abs(a.ratesPerMs.reduce((acc, r) => acc + r * phase, 0) - 3300) < 1e-6);
  assert.equal(queueArrivals('poisson', 0.2, 10), { kind: 'poisson', ratePerMs: 0.2 });
  assert.is(queueArrivals('bursty', 0.2, 10).kind, 'mmpp2');
});

s('a cell with a warm-up and load steps is the simulator run with those settings; the warm-up option is validated', async () => {
  const cells = expandCells(resolveExperiment(defineExperiment(decl({ warmup: 500 }))));
  assert.is(cells.length, 1);
  assert.equal(cells[0].options, { jobs: 2000, warmup: 500 });
  const rec = await runCell(cells[0]);
  // The same run by hand: same policy stream (instantiate with the cell's seed), same workload streams (seed).
  const validation = scoreTrace(loadTrace(trace, 'validation'));
  const test = scoreTrace(loadTrace(trace, 'test'));
  const spec = getPolicySpec('backlog-threshold');
  const policy = instantiate(spec, { control: 'backlog' }, { seed: 3, model: modelInfo(validation) });
  policy.fit!(validation, {});
  const lambda = 1.5 / test.trace.costMs[3];
  const m = simulate(policy, test, { bufferCapacity: 5, arrivals: queueArrivals('steps', lambda, 2500), maxArrivals: 2500, warmup: { arrivals: 500 }, seed: 3 }).metrics;
  assert.is(rec.metrics.accuracyOverall, m.accuracyOverall);
  assert.is(rec.metrics.lossRatio, m.lossRatio);
  assert.is(m.arrivals, 2000);
  // Without the warm-up the cell counts other jobs.
  const plain = await runCell(expandCells(resolveExperiment(defineExperiment(decl({}))))[0]);
  assert.not.equal(plain.metrics, rec.metrics);
  for (const [bad, re] of [
    [{ warmup: -1 }, /parts\[0\]\.workload\.warmup: expected an integer ≥ 0/],
    [{ warmup: 2.5 }, /workload\.warmup/],
    [{ warmup: 10, horizon: 5 }, /workload\.horizon/],
  ] as const) {
    assert.throws(() => defineExperiment(decl(bad)), (e: unknown) => e instanceof InputError && re.test((e as Error).message), String(re));
  }
});

s.run();
