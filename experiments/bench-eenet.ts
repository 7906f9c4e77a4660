/**
 * EENet benchmark, on the Fashion-MNIST fixture (validation split: 5,000 samples × 4 exits × 10 classes) at the mid
 * budget (c_0 + c_3)/2:
 * 1. per-epoch training cost: one trial of `DEFAULT_EENET_CONFIG` (batch 512, so 10 steps an epoch; phases of 10
 *    epochs) run for exactly `--epochs` epochs (early stopping off), wall and CPU milliseconds per epoch; then, in
 *    the same run, the PyTorch yardstick `experiments/eenet_torch.py` (same model, loss, optimiser, batch and data,
 *    one thread, the three loss terms read back every batch as ours are), median wall and CPU ms per epoch, and the
 *    ratios. `--rounds R` alternates the two R times and quotes medians. Skipped with a note when `/usr/bin/python3`
 *    (or `python3`) cannot import torch (Debian: apt-get install python3-torch).
 * 2. one full fit (all trials, early stopping on), its epochs per trial and accuracy;
 * 3. inference on the 10,000-sample test split, best of `--repeats`: samples/s through the offline harness's
 *    columnar path (`decideAll`), job by job (`runPolicy(…, { columnar: false })`: views, up to K − 1 `decide`
 *    calls a sample), and batch scoring (`eenetScores` + `exitsByThresholds`).
 * Training and inference are plain JavaScript (policies/eenet/fused.ts), so no TensorFlow.js backend is involved.
 * CPU time is the process's user + system time, which the machine's other load does not inflate the way it
 * inflates wall time.
 *
 * Run: npx tsx experiments/bench-eenet.ts [--epochs 40] [--rounds 1] [--repeats 5]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exitsByThresholds } from '../lib/calibrate.ts';
import { loadTrace } from '../lib/io.ts';
import { runPolicy } from '../lib/offline.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { createEENetPolicy, DEFAULT_EENET_CONFIG, eenetScores, initEENetWeights, makeData, trainTrial } from '../policies/eenet/index.ts';

const { values: args } = parseArgs({ options: { epochs: { type: 'string', default: '40' }, rounds: { type: 'string', default: '1' }, repeats: { type: 'string', default: '5' } } });
const epochs = Number(args.epochs);
const rounds = Number(args.rounds);
const repeats = Number(args.repeats);
const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(here, '../fixtures/fashion-mnist-cnn');
const manifest = resolve(dir, 'manifest.json');
if (!existsSync(manifest)) throw new Error(`${manifest} not found: the benchmark needs the Fashion-MNIST fixture`);
const val = scoreTrace(loadTrace(manifest, 'validation'));
const test = scoreTrace(loadTrace(manifest, 'test'));
const c = val.trace.costMs;
const budgetMs = (c[0] + c[c.length - 1]) / 2;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const { nSamples: N, nExits: K, nClasses: C } = val.trace;
console.log(`bench-eenet: ${manifest} validation (N = ${N}, K = ${K}, C = ${C}), B = ${budgetMs.toFixed(4)} ms, batch ${DEFAULT_EENET_CONFIG.batchSize}, node ${process.version}`);

// 1. Per epoch, ours and PyTorch alternating.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const torchOk = spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
const data = makeData(val);
const cfg = { ...DEFAULT_EENET_CONFIG, epochs, patience: Number.MAX_SAFE_INTEGER };
const init = initEENetWeights(K, C, cfg.hiddenRatio, cfg.headOutput, new Rng(1));
trainTrial(data, init, budgetMs, { ...cfg, epochs: 2 }, new Rng(2)); // JIT warm-up
const ours: { wall: number; cpu: number }[] = [];
const theirs: { wall: number; cpu: number }[] = [];
let torchLine = '';
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { history } = trainTrial(data, init, budgetMs, cfg, new Rng(2));
  const cu = process.cpuUsage(c0);
  ours.push({ wall: (performance.now() - t0) / history.epochs, cpu: (cu.user + cu.system) / 1000 / history.epochs });
  if (!torchOk) continue;
  const out = spawnSync(python, [resolve(here, 'eenet_torch.py'), resolve(dir, 'validation-probs.npy'), resolve(dir, 'validation-labels.npy'), c.join(','), String(budgetMs), String(epochs), '1'], { encoding: 'utf8' });
  const m = /wall median ([\d.]+) ms per epoch, cpu median ([\d.]+) ms/.exec(out.stdout ?? '');
  if (out.status !== 0 || !m) throw new Error(`eenet_torch.py failed: ${out.stderr}`);
  torchLine = out.stdout.trim();
  theirs.push({ wall: Number(m[1]), cpu: Number(m[2]) });
}
const ow = median(ours.map((x) => x.wall));
const oc = median(ours.map((x) => x.cpu));
console.log(`ours (fused JS step), ${epochs} epochs × ${rounds} round(s): wall ${ow.toFixed(2)} ms per epoch, CPU ${oc.toFixed(2)} ms per epoch`);
if (theirs.length) {
  const tw = median(theirs.map((x) => x.wall));
  const tc = median(theirs.map((x) => x.cpu));
  console.log(`last ${torchLine}`);
  console.log(`PyTorch (1 thread), median over rounds: wall ${tw.toFixed(2)} ms per epoch, CPU ${tc.toFixed(2)} ms per epoch`);
  console.log(`ours ÷ PyTorch per epoch: wall ${median(ours.map((x, i) => x.wall / theirs[i].wall)).toFixed(2)}×, CPU ${median(ours.map((x, i) => x.cpu / theirs[i].cpu)).toFixed(2)}× (≤ 1: ours is at most as costly)`);
} else console.log(`PyTorch yardstick skipped: ${python} cannot import torch and numpy (Debian: apt-get install python3-torch)`);

// 2. One full fit.
const policy = createEENetPolicy(DEFAULT_EENET_CONFIG, { rng: new Rng(1), model: modelInfo(val) });
let t0 = performance.now();
const rep = policy.fit!(val, { budgetMs });
const fitSec = (performance.now() - t0) / 1000;
const trials = (rep.details?.trials ?? []) as { epochs: number }[];
console.log(`full fit (${DEFAULT_EENET_CONFIG.trials} trials × ≤ ${DEFAULT_EENET_CONFIG.epochs} epochs, patience ${DEFAULT_EENET_CONFIG.patience}): ${fitSec.toFixed(2)} s, epochs per trial ${trials.map((t) => t.epochs).join('/')}, validation accuracy ${(100 * (rep.details?.validationAccuracy as number)).toFixed(2)}%`);

// 3. Inference.
const NT = test.trace.nSamples;
const best = (f: () => unknown) => {
  f();
  let b = Infinity;
  for (let r = 0; r < repeats; r++) {
    t0 = performance.now();
    f();
    b = Math.min(b, performance.now() - t0);
  }
  return NT / (b / 1000);
};
const exits = runPolicy(policy, test);
let correct = 0;
for (let n = 0; n < NT; n++) correct += test.scores.correct[n * K + exits[n]];
const m = policy.model!;
const rates = [best(() => runPolicy(policy, test)), best(() => runPolicy(policy, test, { columnar: false })), best(() => exitsByThresholds(eenetScores(m.weights, test), K, m.thresholds))];
console.log(
  `inference on test (N = ${NT}, accuracy ${(100 * (correct / NT)).toFixed(2)}%), best of ${repeats}: columnar ${(rates[0] / 1e6).toFixed(2)} M samples/s, ` +
    `job by job ${(rates[1] / 1e6).toFixed(2)} M samples/s, batch scoring ${(rates[2] / 1e6).toFixed(2)} M samples/s`,
);
