/**
 * EENet benchmark (issue 5): the wall time of one full fit (all trials, `DEFAULT_EENET_CONFIG`) on the
 * Fashion-MNIST validation split at the mid budget, per TensorFlow.js backend that loads (tensorflow, wasm, cpu;
 * each in its own child process, since a process initialises one backend), and the inference rate of the fitted
 * policy on the test split: samples per second through the offline harness (`runPolicy`: the contract's views,
 * up to K − 1 `decide` calls per sample), best of `--repeats`, and the batch scoring rate (`eenetScores` +
 * `exitsByThresholds`). Inference is plain JavaScript, so it does not depend on the backend.
 *
 * Run: npx tsx experiments/bench-eenet.ts [--backends wasm,cpu,tensorflow] [--repeats 5]
 * The machine is shared (2 cores, other jobs): the numbers are wall times under that load.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exitsByThresholds } from '../lib/calibrate.ts';
import { DEFAULT_EENET_CONFIG, eenetScores } from '../policies/eenet/index.ts';
import { loadTrace } from '../lib/io.ts';
import { runPolicy } from '../lib/offline.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { textTable } from '../lib/report.ts';
import { scoreTrace } from '../lib/scores.ts';
import { initBackend } from '../lib/tensor.ts';
import { createEENetPolicy } from '../policies/eenet/index.ts';

const { values: args } = parseArgs({ options: { child: { type: 'boolean', default: false }, backends: { type: 'string' }, repeats: { type: 'string' } } });
const manifest = 'fixtures/fashion-mnist-cnn/manifest.json';
const repeats = Number(args.repeats ?? 5);

interface ChildResult {
  backend: string;
  fitSeconds: number;
  budgetMs: number;
  validationAccuracy: number;
  testAccuracy: number;
  trialEpochs: number[];
  policySamplesPerSecond: number;
  batchSamplesPerSecond: number;
  testSamples: number;
}

if (args.child) {
  const info = await initBackend();
  const val = scoreTrace(loadTrace(manifest, 'validation'));
  const test = scoreTrace(loadTrace(manifest, 'test'));
  const c = val.trace.costMs;
  const budgetMs = (c[0] + c[c.length - 1]) / 2;
  const policy = createEENetPolicy(DEFAULT_EENET_CONFIG, { rng: new Rng(1), model: modelInfo(val) });
  const t0 = performance.now();
  const rep = policy.fit!(val, { budgetMs });
  const fitSeconds = (performance.now() - t0) / 1000;
  const N = test.trace.nSamples;
  let best = Infinity;
  let exits = runPolicy(policy, test); // warm-up
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    exits = runPolicy(policy, test);
    best = Math.min(best, performance.now() - t);
  }
  let bestBatch = Infinity;
  const m = policy.model!;
  for (let r = 0; r < repeats + 1; r++) {
    const t = performance.now();
    exitsByThresholds(eenetScores(m.weights, test), test.trace.nExits, m.thresholds);
    bestBatch = Math.min(bestBatch, performance.now() - t);
  }
  let correct = 0;
  for (let n = 0; n < N; n++) correct += test.scores.correct[n * test.trace.nExits + exits[n]];
  const trials = (rep.details?.trials ?? []) as { epochs: number }[];
  const result: ChildResult = {
    backend: info.name,
    fitSeconds,
    budgetMs,
    validationAccuracy: rep.details?.validationAccuracy as number,
    testAccuracy: correct / N,
    trialEpochs: trials.map((t) => t.epochs),
    policySamplesPerSecond: N / (best / 1000),
    batchSamplesPerSecond: N / (bestBatch / 1000),
    testSamples: N,
  };
  console.log(JSON.stringify(result));
} else {
  if (!existsSync(manifest)) throw new Error(`${manifest} not found: the benchmark needs the Fashion-MNIST fixture`);
  const backends = (args.backends ?? 'tensorflow,wasm,cpu').split(',');
  const self = fileURLToPath(import.meta.url);
  const rows: (string | number)[][] = [];
  console.log(`EENet full fit: ${DEFAULT_EENET_CONFIG.trials} trials × ≤ ${DEFAULT_EENET_CONFIG.epochs} epochs (patience ${DEFAULT_EENET_CONFIG.patience}), batch ${DEFAULT_EENET_CONFIG.batchSize}, on ${manifest} validation; inference on test; best of ${repeats}`);
  for (const b of backends) {
    try {
      const outText = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', '--repeats', String(repeats)], {
        env: { ...process.env, EXITLAB_BACKEND: b },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = JSON.parse(outText.trim().split('\n').pop()!) as ChildResult;
      rows.push([r.backend, r.fitSeconds.toFixed(1), r.trialEpochs.join('/'), r.budgetMs.toFixed(4), (100 * r.validationAccuracy).toFixed(2), (100 * r.testAccuracy).toFixed(2), Math.round(r.policySamplesPerSecond).toLocaleString('en-US'), Math.round(r.batchSamplesPerSecond).toLocaleString('en-US')]);
    } catch (err) {
      const msg = ((err as { stderr?: string }).stderr ?? (err as Error).message).split('\n').find((l) => /^\w*Error: /.test(l)) ?? 'failed';
      rows.push([b, `unavailable: ${msg.slice(0, 120)}`, '', '', '', '', '', '']);
    }
  }
  console.log(textTable(['backend', 'fit s', 'epochs per trial', 'budget ms', 'val acc %', 'test acc %', 'policy samples/s', 'batch samples/s'], rows));
}
