/**
 * The `testbed` experiment's quick run end to end through the harness (workload `testbed`,
 * experiments/workloads/testbed.ts): every cell serves for real and records the real figures beside the
 * simulated ones. Slow on purpose (it starts a server, probes it and loads it per cell: about a minute on two
 * busy cores); no assertion depends on a measured time. Without the NSL-KDD dataset only the Fashion-MNIST cells
 * run (that fixture's inputs are committed).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import experiment from '../experiments/testbed.ts';
import { expandCells, resolveExperiment } from '../experiments/harness/experiment.ts';
import { readRecords, runExperiment } from '../experiments/harness/run.ts';
import { readManifest } from '../lib/io.ts';
import { defaultDataDir, REPO_ROOT } from '../experiments/testbed/inputs.ts';
import { testbed } from '../experiments/workloads/testbed.ts';

const run = suite('testbed experiment');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-testbed-'));
run.after(() => rmSync(dir, { recursive: true, force: true }));

run('--quick completes, and every record has both real and simulated figures', async () => {
  const traces = defaultDataDir() ? undefined : [join(REPO_ROOT, 'fixtures', 'fashion-mnist-wide', 'manifest.json')];
  if (traces) console.log('  (NSL-KDD dataset not found: Fashion-MNIST cells only)');
  const out = join(dir, 'quick');
  const result = await runExperiment(experiment, { out, quick: true, traces, workers: 0 });
  const expected = expandCells(resolveExperiment(experiment, { quick: true, traces }));
  assert.is(result.ran, expected.length);
  const records = readRecords(out);
  assert.is(records.length, expected.length);
  assert.equal(new Set(records.map((r) => r.key)), new Set(expected.map((c) => c.key)));
  const declared = new Set(testbed.metrics.map((m) => m.name));
  for (const r of records) {
    assert.is(r.kind, 'testbed');
    for (const m of ['requests', 'lossRatio', 'accuracyOverall', 'throughputPerS', 'muPerS', 'simLossRatio', 'simAccuracyOverall', 'simThroughputPerS', 'simInRunLossRatio', 'simP95ResponseMs', 'p95ResponseMs']) {
      assert.ok(Number.isFinite(r.metrics[m]), `${r.key}: ${m} = ${r.metrics[m]}`);
    }
    assert.ok(r.metrics.requests > 0 && r.metrics.lossRatio >= 0 && r.metrics.lossRatio <= 1 && r.metrics.simLossRatio >= 0 && r.metrics.simLossRatio <= 1);
    // Requests are accounted for: served + lost (+ errors) = sent.
    assert.is(r.metrics.served + r.metrics.lost + r.metrics.errors, r.metrics.requests, r.key);
    for (const name of Object.keys(r.metrics)) assert.ok(declared.has(name), `${r.key}: metric ${name} is not declared by the workload`);
    // One share per exit of the model served (6 for fashion-mnist-wide, 4 for nsl-kdd-mlp).
    assert.is(r.exitShares.length, readManifest(resolve(REPO_ROOT, r.trace)).costMs.length, r.key);
  }
});

run.run();
