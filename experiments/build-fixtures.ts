/**
 * Build exitlab's real-model fixtures: train multi-exit networks with TensorFlow.js, record their per-exit
 * outputs (logits, or softmax probabilities for the older fashion-mnist-cnn) on a validation and a test split,
 * measure per-exit latency in this runtime, count FLOPs, and write each fixture as a trace manifest + `.npy`
 * arrays + the trained TF.js model.
 *
 *   npm run fixtures -- --data ../shared/datasets [--only fashion-mnist-wide|fashion-mnist-cnn|nsl-kdd-mlp]
 *     [--out fixtures] [--seed 1] [--from-model] [--more-epochs E] [--init-from DIR] [--freeze] [--train-subset N] [--epochs E]
 *     [--augment flip,shift=P] [--note TEXT]
 *
 * `--data` holds `fashion-mnist/` (the four IDX .gz files) and `nsl-kdd/` (KDDTrain+_20Percent.txt,
 * KDDTest+.txt, Field-Names.csv, Attack-Types.csv). Everything random (initial weights, data splits, batch
 * order, dropout masks) is seeded from `--seed`, and the wasm backend is single-threaded, so a rebuild on the
 * same backend is expected to reproduce the outputs (not verified bit for bit across machines); latency numbers
 * are measurements and differ run to run.
 *
 * The trained model is saved (with its training log) as soon as training ends, before anything is measured;
 * `--from-model` reloads it from the output folder and redoes only prediction, measurement and writing (e.g. to
 * re-measure latency on a quieter machine); `--more-epochs E` reloads it and trains E more epochs first (half the
 * step size, the same decay), recording both runs. `--train-subset N` trains on the first N images of the seeded
 * training split and `--epochs E` overrides the epoch count: both for trying settings quickly; the values are
 * recorded in the manifest. fashion-mnist-wide starts from the trained fashion-mnist-cnn (`--init-from`, by
 * default `<out>/fashion-mnist-cnn`, which a full run builds first); `--freeze --epochs 0` keeps that model's
 * layers as they are and only fits the new input heads. `--augment flip,shift=2` trains fashion-mnist-wide on
 * randomly mirrored and shifted images (fresh per epoch, from the seeded batch generator).
 */
import { cpus, platform, arch } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../lib/tensor.ts';
import { Rng } from '../lib/random.ts';
import { ExitTrace } from '../lib/trace.ts';
import { computeScores, tiesAtTop } from '../lib/scores.ts';
import { writeTraceManifest } from '../lib/io.ts';
import { InputError } from '../lib/errors.ts';
import { registerWasmConvGrads, checkConvGrads } from './fixtures/wasm-conv-grad.ts';
import { loadFashionMnist, subset, FASHION_CLASSES } from './fixtures/fashion-mnist.ts';
import { NSL_CLASSES, nslKddPaths, readSchema, readAttackMap, readRecords, fitEncoder, encode } from './fixtures/nsl-kdd.ts';
import { buildFashionCnn, buildWideFashionCnn, buildMlp, WIDE_INPUT_HEADS, type WideCnnOptions } from './fixtures/models.ts';
import {
  trainMultiExit, predictProbs, exitAccuracies, classRecall, cumulativeFlops, saveLayersModel, loadLayersModelFromDir,
  type TrainSettings, type EpochLog,
} from './fixtures/multi-exit.ts';
import { measureLatency, measureIncreasingLatency } from './fixtures/latency.ts';

/** The fixtures this script builds. */
export const FIXTURES = ['fashion-mnist-wide', 'fashion-mnist-cnn', 'nsl-kdd-mlp'] as const;

const t0 = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

/** Everything one fixture needs besides its model-specific training. */
interface FixtureJob {
  readonly name: string;
  readonly dataset: string;
  readonly outDir: string;
  readonly model: tf.LayersModel;
  readonly classNames: readonly string[];
  readonly validation: { x: tf.Tensor; labels: Int32Array };
  readonly test: { x: tf.Tensor; labels: Int32Array };
  readonly settings: TrainSettings & { seed: number };
  readonly epochs: EpochLog[];
  readonly trainSeconds: number;
  readonly splitSizes: Record<string, number>;
  readonly backend: BackendInfo;
  /** Batch-1 timing starts with this many repetitions per exit (doubled until medians strictly increase). */
  readonly latencyReps: number;
  readonly batchedReps: number;
  readonly extraMetadata: Record<string, unknown>;
  /** What the model's heads emit and the trace stores. */
  readonly outputs: 'probs' | 'logits';
}

const BATCHED = 256;
/** `--note`: free text about the latency measurement, recorded in each manifest. */
let measurementNote: string | undefined;

/** Predict, measure, and write one fixture; returns a printable summary. */
async function finishFixture(job: FixtureJob): Promise<void> {
  const { model } = job;
  const K = model.outputs.length;
  const C = job.classNames.length;
  log(`${job.name}: predicting validation (${job.validation.labels.length}) and test (${job.test.labels.length})`);
  // `probs` holds whatever the heads emit: logits for logit models (accuracy is argmax either way).
  const val = predictProbs(model, job.validation.x);
  const test = predictProbs(model, job.test.x);
  const accVal = exitAccuracies(val.probs, job.validation.labels, K, C);
  const accTest = exitAccuracies(test.probs, job.test.labels, K, C);
  const recall = Array.from({ length: K }, (_, k) => classRecall(test.probs, job.test.labels, K, C, k));
  const flops = cumulativeFlops(model);

  log(`${job.name}: measuring latency (batch 1, then batch ${BATCHED})`);
  const one = job.test.x.slice(0, 1);
  const many = job.test.x.slice(0, BATCHED);
  const batch1 = measureIncreasingLatency(model, one, job.latencyReps, job.latencyReps * 16);
  const batched = measureLatency(model, many, job.batchedReps, 3);
  tf.dispose([one, many]);
  const costMs = batch1.medianMs.map((m) => Number(m.toPrecision(6)));

  const provenance = (split: string) => ({ model: job.name, dataset: job.dataset, split });
  const outputsOf = (o: Float32Array) => (job.outputs === 'logits' ? { logits: o } : { probs: o });
  const traces = {
    validation: new ExitTrace({ nSamples: job.validation.labels.length, nExits: K, nClasses: C, ...outputsOf(val.probs), labels: job.validation.labels, costMs, flops, classNames: job.classNames, provenance: provenance('validation') }),
    test: new ExitTrace({ nSamples: job.test.labels.length, nExits: K, nClasses: C, ...outputsOf(test.probs), labels: job.test.labels, costMs, flops, classNames: job.classNames, provenance: provenance('test') }),
  };
  const round = (xs: number[], d = 4): number[] => xs.map((v) => Number(v.toFixed(d)));
  const ties = topTies(traces.validation, job.validation.x);
  log(`${job.name}: validation samples tied at the top max-prob per exit ${JSON.stringify(ties.tied)}, distinct inputs among them ${JSON.stringify(ties.distinctInputs)}`);
  const metadata = {
    description: `Per-exit ${job.outputs === 'logits' ? 'logits' : 'softmax outputs'} of a ${K}-exit TensorFlow.js model trained by experiments/build-fixtures.ts`,
    costMsMeaning: 'median wall time of one batch-1 forward pass from input through exit k, evaluating every earlier head on the way (the truncated network with outputs exits 1..k), including the read-back of the outputs; milliseconds',
    flopsMeaning: 'cumulative FLOPs per sample (2 × multiply-adds of conv2d and dense layers) of every layer needed to evaluate exits 1..k',
    latency: {
      backend: job.backend.name,
      backendForced: job.backend.forced,
      backendsSkipped: job.backend.skipped,
      tfjsVersion: job.backend.tfjsVersion,
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      logicalCpus: cpus().length,
      platform: `${platform()} ${arch()}`,
      date: new Date().toISOString(),
      batch1: { ...batch1, medianMs: round(batch1.medianMs), perSampleMs: round(batch1.perSampleMs), p10Ms: round(batch1.p10Ms), p90Ms: round(batch1.p90Ms) },
      batched: { ...batched, medianMs: round(batched.medianMs), perSampleMs: round(batched.perSampleMs, 6), p10Ms: round(batched.p10Ms), p90Ms: round(batched.p90Ms) },
      // Conditions of the measurement that the numbers cannot show (e.g. other load on the machine), from --note.
      ...(measurementNote ? { note: measurementNote } : {}),
    },
    accuracy: { validation: round(accVal), test: round(accTest) },
    tiesAtTopMaxprob: {
      meaning: 'validation samples whose max-prob (float64, from the stored outputs) equals the largest at that exit, per exit; and how many distinct inputs they are (identical inputs must tie)',
      ...ties,
    },
    testRecallPerExit: Object.fromEntries(recall.map((r, k) => [`exit${k + 1}`, Object.fromEntries(job.classNames.map((c, i) => [c, Number.isNaN(r[i]) ? null : Number(r[i].toFixed(4))]))])),
    training: {
      ...job.settings,
      loss: job.outputs === 'logits'
        ? 'sum over exits of lossWeights[k] × softmax cross-entropy of exit k (from its logits)'
        : 'sum over exits of lossWeights[k] × categorical cross-entropy of exit k',
      optimizer: 'adam',
      trainSeconds: Number(job.trainSeconds.toFixed(1)),
      epochLog: job.epochs.map((e) => ({ ...e, loss: Number(e.loss.toFixed(5)), seconds: Number(e.seconds.toFixed(1)) })),
      parameters: model.countParams(),
    },
    splits: job.splitSizes,
    ...job.extraMetadata,
  };
  mkdirSync(job.outDir, { recursive: true });
  writeTraceManifest(job.outDir, traces, metadata);
  const modelBytes = await saveLayersModel(model, job.outDir, modelMetadata(job.name, job.classNames, K, job.outputs, { settings: job.settings, epochs: job.epochs, trainSeconds: job.trainSeconds }));

  // The saved model must reproduce the recorded probabilities.
  const reloaded = await loadLayersModelFromDir(job.outDir);
  const probe = job.test.x.slice(0, 64);
  const a = predictProbs(model, probe).probs;
  const b = predictProbs(reloaded, probe).probs;
  probe.dispose();
  reloaded.dispose();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  if (diff > (job.outputs === 'logits' ? 1e-4 : 1e-5)) throw new Error(`${job.name}: reloaded model differs from the trained one by ${diff}`);

  log(`${job.name}: wrote ${job.outDir} (model ${(modelBytes / 1024).toFixed(0)} KiB; reload max |Δp| = ${diff})`);
  console.log(`\n${job.name}  (backend ${job.backend.name}, train ${job.trainSeconds.toFixed(0)} s)`);
  console.log(`exit | test acc | val acc | costMs b1 | ms/sample b${BATCHED} | FLOPs`);
  for (let k = 0; k < K; k++) {
    console.log(`${k + 1}    | ${accTest[k].toFixed(4)}   | ${accVal[k].toFixed(4)}  | ${batch1.medianMs[k].toFixed(4)}    | ${batched.perSampleMs[k].toFixed(5)}        | ${flops[k]}`);
  }
  console.log(`test recall at last exit: ${job.classNames.map((c, i) => `${c}=${recall[K - 1][i].toFixed(3)}`).join(' ')}\n`);
}

/**
 * Per exit, the validation samples tied at the top max-prob value (what no threshold can split), and how many
 * distinct input rows they have: samples with identical inputs tie necessarily, any others are lost order.
 */
function topTies(trace: ExitTrace, x: tf.Tensor): { tied: number[]; distinctInputs: number[]; n: number } {
  const scores = computeScores(trace);
  const mp = scores.get('maxprob');
  const K = trace.nExits;
  const N = trace.nSamples;
  const counts = tiesAtTop(mp, K);
  const flat = x.dataSync() as Float32Array;
  const width = flat.length / N;
  const distinct: number[] = [];
  for (let k = 0; k < K; k++) {
    let top = -Infinity;
    for (let n = 0; n < N; n++) top = Math.max(top, mp[n * K + k]);
    const rows = new Set<string>();
    for (let n = 0; n < N; n++) {
      if (mp[n * K + k] === top) rows.add(Buffer.from(flat.buffer, flat.byteOffset + n * width * 4, width * 4).toString('base64'));
    }
    distinct.push(rows.size);
  }
  return { tied: counts, distinctInputs: distinct, n: N };
}

/** What a saved fixture model carries besides its weights: enough to redo the fixture with `--from-model`. */
interface SavedTraining {
  readonly settings: TrainSettings & { seed: number };
  readonly epochs: EpochLog[];
  readonly trainSeconds: number;
}

function modelMetadata(name: string, classNames: readonly string[], K: number, outputs: 'probs' | 'logits', training: SavedTraining): Record<string, unknown> {
  return { exitlab: { fixture: name, classNames, exits: K, outputs, training } };
}

/**
 * fashion-mnist-wide's second training stage in a full build: after the 10 plain fine-tuning epochs, this many
 * more on randomly mirrored and shifted images (at half the step size, the same step decay; see `trainOrLoad`).
 * Without it the last exit stayed at 91.7% on test (92.5% on validation); the stage was chosen by validation
 * accuracy between shifts of 1 and 2 pixels (docs/results/eenet-sweep.md, "The fixture").
 */
const WIDE_AUGMENTED_STAGE = { epochs: 12, augment: { flip: true, shiftPx: 1 } } as const;

/** Epochs of the separate fit of fashion-mnist-wide's input-only heads (see `fitInputHeads`). */
const INPUT_HEAD_EPOCHS = 20;

/** Command-line switches that change how a fixture is trained. */
interface TrainControl {
  /** Reload the model saved in the output folder instead of training. */
  readonly fromModel: boolean;
  /** Train on only this many training samples (trying settings quickly). */
  readonly trainSubset: number | undefined;
  /** Override the fixture's epoch count. */
  readonly epochs: number | undefined;
  /** Reload the saved model and train it this many more epochs (then redo prediction and measurement). */
  readonly moreEpochs: number | undefined;
  /** fashion-mnist-wide: the trained fashion-mnist-cnn it starts from (see `warmStart`); default `<out>/fashion-mnist-cnn`. */
  readonly initFrom: string | undefined;
  /** fashion-mnist-wide: train nothing but the new input heads (exits 1 and 2), keeping the cnn's layers as they are. */
  readonly freeze: boolean;
  /** fashion-mnist-wide: augment the training images (mirror and/or shift); undefined = none. */
  readonly augment: { readonly flip: boolean; readonly shiftPx: number } | undefined;
}
let control: TrainControl = { fromModel: false, trainSubset: undefined, epochs: undefined, moreEpochs: undefined, initFrom: undefined, freeze: false, augment: undefined };

/**
 * Parse `--augment`: a comma-separated list of `flip` (random horizontal mirror) and `shift=P` (random
 * translation by up to P pixels each way), e.g. `flip,shift=2`.
 */
function parseAugment(v: string): { flip: boolean; shiftPx: number } {
  let flip = false;
  let shiftPx = 0;
  for (const part of v.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^shift=(\d+)$/.exec(part);
    if (part === 'flip') flip = true;
    else if (m && Number(m[1]) <= 13) shiftPx = Number(m[1]);
    else throw new InputError('command line', '--augment', 'a comma-separated list of flip and shift=P (P an integer 0..13), e.g. flip,shift=2', JSON.stringify(v));
  }
  return { flip, shiftPx };
}

/**
 * Train `build()`'s model (or reload it with `--from-model`) and save it with its training log at once, so a
 * failure in the later steps never costs the training.
 */
async function trainOrLoad(
  name: string,
  outDir: string,
  classNames: readonly string[],
  outputs: 'probs' | 'logits',
  build: () => tf.LayersModel | Promise<tf.LayersModel>,
  settings: TrainSettings & { seed: number },
  data: () => { x: tf.Tensor; y: tf.Tensor2D },
  rng: Rng,
  monitor?: (model: tf.LayersModel) => string,
): Promise<{ model: tf.LayersModel } & SavedTraining> {
  if (control.fromModel || control.moreEpochs !== undefined) {
    const model = await loadLayersModelFromDir(outDir);
    const meta = (JSON.parse(readFileSync(join(outDir, 'model.json'), 'utf8')) as { userDefinedMetadata?: { exitlab?: { fixture?: string; training?: SavedTraining } } }).userDefinedMetadata?.exitlab;
    if (meta?.fixture !== name || !meta.training) {
      throw new InputError(join(outDir, 'model.json'), 'userDefinedMetadata.exitlab', `the training record of fixture ${name} (saved by this script)`, JSON.stringify(meta?.fixture));
    }
    log(`${name}: reloaded the trained model from ${outDir} (trained ${meta.training.trainSeconds.toFixed(0)} s, ${meta.training.epochs.length} epochs)`);
    if (control.moreEpochs === undefined) return { model, ...meta.training };
    // Continue training: the same loss at half the last run's starting step size, with the same step decay.
    const E = control.moreEpochs;
    const more = { ...settings, epochs: E, learningRate: meta.training.settings.learningRate / 2, lrMultipliers: Array.from({ length: E }, (_, e) => [0.05, 0.12, 0.25, 0.5][E - 1 - e] ?? 1) };
    const augment = settings.augment;
    const { x, y } = data();
    const ts = performance.now();
    const epochs = await trainMultiExit(model, x, y, more, rng.fork(`continue-${meta.training.epochs.length}`), (m) => log(`${name}: ${m}`), monitor ? () => monitor(model) : undefined);
    tf.dispose([x, y]);
    const trainSeconds = meta.training.trainSeconds + (performance.now() - ts) / 1000;
    const first = meta.training.epochs.length;
    const all = [...meta.training.epochs, ...epochs.map((e) => ({ ...e, epoch: first + e.epoch }))];
    const merged = { ...meta.training.settings, continued: { epochs: E, learningRate: more.learningRate, lrMultipliers: more.lrMultipliers, ...(augment ? { augment } : {}) } };
    await saveLayersModel(model, outDir, modelMetadata(name, classNames, model.outputs.length, outputs, { settings: merged, epochs: all, trainSeconds }));
    log(`${name}: trained ${E} more epochs; model saved to ${outDir}`);
    return { model, settings: merged, epochs: all, trainSeconds };
  }
  const model = await build();
  const { x, y } = data();
  log(`${name}: training ${model.countParams()} parameters on ${x.shape[0]} samples, ${settings.epochs} epochs`);
  const ts = performance.now();
  const epochs = await trainMultiExit(model, x, y, settings, rng, (m) => log(`${name}: ${m}`), monitor ? () => monitor(model) : undefined);
  const trainSeconds = (performance.now() - ts) / 1000;
  tf.dispose([x, y]);
  mkdirSync(outDir, { recursive: true });
  await saveLayersModel(model, outDir, modelMetadata(name, classNames, model.outputs.length, outputs, { settings, epochs, trainSeconds }));
  log(`${name}: trained in ${trainSeconds.toFixed(0)} s; model saved to ${outDir}`);
  return { model, settings, epochs, trainSeconds };
}

/** Per-exit accuracy on a held-out set, as a short string for the epoch log. */
function accuracyProbe(x: tf.Tensor, labels: Int32Array): (model: tf.LayersModel) => string {
  return (model) => {
    const out = predictProbs(model, x);
    return `val acc ${exitAccuracies(out.probs, labels, out.nExits, out.nClasses).map((a) => a.toFixed(4)).join(' ')}`;
  };
}

/**
 * fashion-mnist-wide's backbone is fashion-mnist-cnn's, layer for layer: the wide model's exits 3–6 are the
 * cnn's exits 1–4 (with logits in place of the softmax: the same dense kernels), and exits 1 and 2 are new. Copy the trained cnn's weights into those layers, so training can start from a converged backbone
 * (fine-tuning, or with `freeze` training only the new heads) instead of from scratch — which is what makes
 * the fixture buildable when a core is shared many ways.
 * @returns the names of the layers whose weights were copied.
 */
async function warmStart(model: tf.LayersModel, cnnDir: string, freeze: boolean): Promise<string[]> {
  const cnn = await loadLayersModelFromDir(cnnDir);
  const map: Record<string, string> = {
    block1_conv: 'block1_conv', block2_conv: 'block2_conv', block3_conv: 'block3_conv', block4_conv: 'block4_conv',
    exit1: 'exit3', exit2: 'exit4', exit3: 'exit5', exit4_hidden: 'exit6_hidden', exit4: 'exit6',
  };
  const copied: string[] = [];
  for (const [from, to] of Object.entries(map)) {
    const src = cnn.getLayer(from).getWeights();
    const dst = model.getLayer(to);
    const shapes = dst.getWeights().map((w) => w.shape.join('×'));
    if (src.map((w) => w.shape.join('×')).join(',') !== shapes.join(',')) {
      throw new InputError(join(cnnDir, 'model.json'), from, `weights of shapes ${shapes.join(', ')} for ${to}`, src.map((w) => w.shape.join('×')).join(', '));
    }
    dst.setWeights(src);
    if (freeze) dst.trainable = false;
    copied.push(`${from}→${to}`);
  }
  cnn.dispose();
  return copied;
}

/**
 * Fit the heads that see only the pooled image (exits 1 and 2 of fashion-mnist-wide) on their own, to
 * convergence, then fix them. They share no weights with anything else, so the joint loss would reach the same
 * optimum for them — only far more slowly, because a 16-input linear classifier needs many more steps at a
 * larger step size than the backbone can take.
 * @returns the final training loss of each head.
 */
async function fitInputHeads(model: tf.LayersModel, x: tf.Tensor, yOneHot: tf.Tensor2D, rng: Rng, epochs: number): Promise<Record<string, number>> {
  const losses: Record<string, number> = {};
  for (const [name, pool] of Object.entries(WIDE_INPUT_HEADS)) {
    const layer = model.getLayer(name);
    const feats = tf.tidy(() => tf.avgPool(x as tf.Tensor4D, pool, pool, 'valid').reshape([x.shape[0], -1])) as tf.Tensor2D;
    const probe = tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [feats.shape[1]], name: `${name}_probe` })] });
    probe.getLayer(`${name}_probe`).setWeights(layer.getWeights());
    probe.compile({ optimizer: tf.train.adam(0.02), loss: (yt: tf.Tensor, z: tf.Tensor) => tf.neg(tf.sum(tf.mul(yt, tf.logSoftmax(z)), -1)) });
    let last = NaN;
    for (let e = 0; e < epochs; e++) {
      const idx = tf.tensor1d(rng.shuffle(Int32Array.from({ length: x.shape[0] }, (_, i) => i)), 'int32');
      const xs = tf.gather(feats, idx);
      const ys = tf.gather(yOneHot, idx);
      const h = await probe.fit(xs, ys, { epochs: 1, batchSize: 512, shuffle: false, verbose: 0 });
      last = Number(h.history.loss[0]);
      tf.dispose([idx, xs, ys]);
    }
    layer.setWeights(probe.getLayer(`${name}_probe`).getWeights());
    layer.trainable = false;
    probe.dispose();
    feats.dispose();
    losses[name] = Number(last.toFixed(5));
    log(`fashion-mnist-wide: input head ${name} (pool ${pool}) fitted alone, ${epochs} epochs, loss ${last.toFixed(4)}`);
  }
  return losses;
}

async function buildFashionWide(dataDir: string, outDir: string, seed: number, backend: BackendInfo): Promise<void> {
  const name = 'fashion-mnist-wide';
  const data = loadFashionMnist(join(dataDir, 'fashion-mnist'));
  // The same seeded 55,000 / 5,000 split as fashion-mnist-cnn (same fork name), so the two share a validation set.
  const perm = new Rng(seed).fork('fashion-mnist/split').shuffle(Int32Array.from({ length: data.train.n }, (_, i) => i));
  const valSet = subset(data.train, perm.subarray(0, 5000));
  const trainIdx = perm.subarray(5000);
  const trainSet = subset(data.train, control.trainSubset !== undefined ? trainIdx.subarray(0, control.trainSubset) : trainIdx);
  log(`${name}: train ${trainSet.n}, validation ${valSet.n}, test ${data.test.n}`);
  const toX = (s: { images: Float32Array; n: number }) => tf.tensor4d(s.images, [s.n, 28, 28, 1]);
  const epochs = control.epochs ?? 10;
  // hidden = 128 is fashion-mnist-cnn's layer, which the warm start copies. l2 bounds the logits' scale: the
  // unpenalised fashion-mnist-cnn has top-logit gaps up to 48 at its last exit, which tie 2.3% of validation
  // samples at max-prob 1.0 even in float64.
  const arch: WideCnnOptions = { hidden: 128, dropout: 0.25, l2: 1e-4 };
  const initFrom = control.initFrom ?? join(outDir, 'fashion-mnist-cnn');
  const settings = {
    epochs,
    batchSize: 128,
    // fashion-mnist-cnn's schedule from half its step size: flat, then a step decay over the last four epochs.
    learningRate: 1e-3,
    lrMultipliers: Array.from({ length: epochs }, (_, e) => [0.05, 0.12, 0.25, 0.5][epochs - 1 - e] ?? 1),
    // Weight k/K for exit k, the scheme of the other fixtures ([0.25, 0.5, 0.75, 1] for four exits).
    lossWeights: [1, 2, 3, 4, 5, 6].map((k) => k / 6),
    outputs: 'logits' as const,
    architecture: arch,
    ...(control.trainSubset !== undefined ? { trainSubset: control.trainSubset } : {}),
    ...(control.augment ? { augment: control.augment } : {}),
    warmStart: { from: 'fashion-mnist-cnn (model.json + weights.bin), trained by this script', frozen: control.freeze },
    inputHeads: { exits: Object.keys(WIDE_INPUT_HEADS), fittedAlone: { optimizer: 'adam', learningRate: 0.02, batchSize: 512, epochs: INPUT_HEAD_EPOCHS }, thenFixed: true },
    seed,
  };
  const build = async (): Promise<tf.LayersModel> => {
    const m = buildWideFashionCnn(seed, arch);
    log(`${name}: warm start from ${initFrom}: ${(await warmStart(m, initFrom, control.freeze)).join(', ')}${control.freeze ? ' (frozen)' : ''}`);
    const x = toX(trainSet);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(trainSet.labels, 'int32'), 10).toFloat()) as tf.Tensor2D;
    await fitInputHeads(m, x, y, new Rng(seed).fork('fashion-mnist-wide/input-heads'), INPUT_HEAD_EPOCHS);
    tf.dispose([x, y]);
    return m;
  };
  const valX = toX(valSet);
  const trainData = () => ({ x: toX(trainSet), y: tf.tidy(() => tf.oneHot(tf.tensor1d(trainSet.labels, 'int32'), 10).toFloat()) as tf.Tensor2D });
  const batchRng = new Rng(seed).fork('fashion-mnist-wide/batches');
  let trained = await trainOrLoad(name, join(outDir, name), FASHION_CLASSES, 'logits', build, settings, trainData, batchRng, accuracyProbe(valX, valSet.labels));
  // A build from scratch with no override continues at once with the augmented stage: exactly what
  // `--more-epochs E --augment …` does to the saved model, so one command rebuilds the shipped fixture.
  const plainBuild = !control.fromModel && control.moreEpochs === undefined && control.epochs === undefined && control.trainSubset === undefined && !control.augment && !control.freeze;
  if (plainBuild) {
    const saved = control;
    control = { ...control, moreEpochs: WIDE_AUGMENTED_STAGE.epochs, augment: WIDE_AUGMENTED_STAGE.augment };
    try {
      log(`${name}: augmented stage, ${WIDE_AUGMENTED_STAGE.epochs} more epochs (${JSON.stringify(WIDE_AUGMENTED_STAGE.augment)})`);
      trained = await trainOrLoad(name, join(outDir, name), FASHION_CLASSES, 'logits', build, { ...settings, augment: WIDE_AUGMENTED_STAGE.augment }, trainData, batchRng, accuracyProbe(valX, valSet.labels));
    } finally {
      control = saved;
    }
  }
  await finishFixture({
    name, dataset: 'fashion-mnist', outDir: join(outDir, name), model: trained.model, classNames: [...FASHION_CLASSES],
    validation: { x: valX, labels: valSet.labels }, test: { x: toX(data.test), labels: data.test.labels },
    settings: trained.settings, epochs: trained.epochs, trainSeconds: trained.trainSeconds,
    splitSizes: { train: trainSet.n, validation: valSet.n, test: data.test.n }, backend,
    latencyReps: 200, batchedReps: 20, outputs: 'logits',
    extraMetadata: {
      architecture: `exit1: image average-pooled 7×7 → 4×4 → dense 10; exit2: image average-pooled 4×4 → 7×7 → dense 10; conv3x3/16 s2 → exit3 (flatten, dense 10); conv3x3/32 s2 → exit4; conv3x3/64 s1 → exit5; conv3x3/64 s2 → flatten → dropout ${arch.dropout} → dense ${arch.hidden} ReLU → exit6 (ReLU convolutions, same padding; L2 ${arch.l2} on every kernel; heads emit logits)`,
      data: 'Fashion-MNIST original IDX files; pixels / 255; validation = 5,000 images of the original training set chosen by the seeded split (the same as fashion-mnist-cnn)',
    },
  });
}

async function buildFashion(dataDir: string, outDir: string, seed: number, backend: BackendInfo): Promise<void> {
  const name = 'fashion-mnist-cnn';
  const data = loadFashionMnist(join(dataDir, 'fashion-mnist'));
  // Seeded 55,000 / 5,000 split of the original 60,000 training images; the 10,000 test images stay the test set.
  const perm = new Rng(seed).fork('fashion-mnist/split').shuffle(Int32Array.from({ length: data.train.n }, (_, i) => i));
  const valSet = subset(data.train, perm.subarray(0, 5000));
  const trainSet = subset(data.train, perm.subarray(5000));
  log(`${name}: train ${trainSet.n}, validation ${valSet.n}, test ${data.test.n}`);
  const toX = (s: { images: Float32Array; n: number }) => tf.tensor4d(s.images, [s.n, 28, 28, 1]);
  const x = toX(trainSet);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(trainSet.labels, 'int32'), 10).toFloat()) as tf.Tensor2D;
  const settings = {
    epochs: 8,
    batchSize: 128,
    learningRate: 2e-3,
    // Step decay for the last three epochs: most of the accuracy left after a few epochs is reached by
    // lowering the step size, which costs far less than more epochs on one core.
    lrMultipliers: [1, 1, 1, 1, 1, 0.5, 0.25, 0.1],
    lossWeights: [0.25, 0.5, 0.75, 1],
    seed,
  };
  const model = buildFashionCnn(seed);
  log(`${name}: training ${model.countParams()} parameters, ${settings.epochs} epochs`);
  const ts = performance.now();
  const epochs = await trainMultiExit(model, x, y, settings, new Rng(seed).fork('fashion-mnist/batches'), (m) => log(`${name}: ${m}`));
  const trainSeconds = (performance.now() - ts) / 1000;
  tf.dispose([x, y]);
  await finishFixture({
    name, dataset: 'fashion-mnist', outDir: join(outDir, name), model, classNames: [...FASHION_CLASSES],
    validation: { x: toX(valSet), labels: valSet.labels }, test: { x: toX(data.test), labels: data.test.labels },
    settings, epochs, trainSeconds, splitSizes: { train: trainSet.n, validation: valSet.n, test: data.test.n }, backend,
    latencyReps: 200, batchedReps: 20, outputs: 'probs',
    extraMetadata: {
      architecture: 'conv3x3/16 s2 → exit1 (flatten, dense 10); conv3x3/32 s2 → exit2; conv3x3/64 s1 → exit3; conv3x3/64 s2 → flatten → dense 128 → exit4 (all ReLU, same padding)',
      data: 'Fashion-MNIST original IDX files; pixels / 255; validation = 5,000 images of the original training set chosen by the seeded split',
    },
  });
}

async function buildNslKdd(dataDir: string, outDir: string, seed: number, backend: BackendInfo): Promise<void> {
  const name = 'nsl-kdd-mlp';
  const paths = nslKddPaths(join(dataDir, 'nsl-kdd'));
  const schema = readSchema(paths.schema);
  const attackMap = readAttackMap(paths.attacks);
  const trainAll = readRecords(paths.train, schema, attackMap);
  const testRec = readRecords(paths.test, schema, attackMap);
  // Seeded 80/20 split of KDDTrain+_20Percent into training and validation parts.
  const perm = new Rng(seed).fork('nsl-kdd/split').shuffle(Int32Array.from({ length: trainAll.rows.length }, (_, i) => i));
  const nVal = Math.round(0.2 * trainAll.rows.length);
  const pick = (idx: Int32Array) => ({ rows: Array.from(idx, (i) => trainAll.rows[i]), labels: Int32Array.from(idx, (i) => trainAll.labels[i]) });
  const valPart = pick(perm.subarray(0, nVal));
  const trainPart = pick(perm.subarray(nVal));
  const enc = fitEncoder(schema, trainPart.rows);
  const xtr = encode(schema, enc, trainPart.rows);
  const xva = encode(schema, enc, valPart.rows);
  const xte = encode(schema, enc, testRec.rows);
  log(`${name}: train ${trainPart.rows.length}, validation ${valPart.rows.length}, test ${testRec.rows.length}; ${enc.width} encoded features; unseen test categories ${JSON.stringify(xte.unseen)}`);
  const toX = (x: Float32Array, n: number) => tf.tensor2d(x, [n, enc.width]);
  const widths = [32, 64, 64, 64];
  // l2: see buildMlp; 1e-4 keeps the validation samples tied at max-prob 1.0 (float64) under 1% (72 of 5,038
  // at the last exit without it).
  const settings = { epochs: control.epochs ?? 30, batchSize: 128, learningRate: 1e-3, lossWeights: [0.25, 0.5, 0.75, 1], widths, l2: 1e-4, outputs: 'logits' as const, seed };
  const trained = await trainOrLoad(
    name, join(outDir, name), NSL_CLASSES, 'logits', () => buildMlp(enc.width, NSL_CLASSES.length, widths, seed, settings.l2), settings,
    () => ({ x: toX(xtr.x, trainPart.rows.length), y: tf.tidy(() => tf.oneHot(tf.tensor1d(trainPart.labels, 'int32'), NSL_CLASSES.length).toFloat()) as tf.Tensor2D }),
    new Rng(seed).fork('nsl-kdd/batches'),
  );
  const { model, epochs, trainSeconds } = trained;
  const classCounts = (labels: Int32Array) => Object.fromEntries(NSL_CLASSES.map((c, i) => [c, labels.filter((l) => l === i).length]));
  await finishFixture({
    name, dataset: 'nsl-kdd', outDir: join(outDir, name), model, classNames: [...NSL_CLASSES],
    validation: { x: toX(xva.x, valPart.rows.length), labels: valPart.labels }, test: { x: toX(xte.x, testRec.rows.length), labels: testRec.labels },
    settings: trained.settings, epochs, trainSeconds,
    splitSizes: { train: trainPart.rows.length, validation: valPart.rows.length, test: testRec.rows.length }, backend,
    latencyReps: 400, batchedReps: 200, outputs: 'logits',
    extraMetadata: {
      architecture: `dense ${widths.join(' → ')} (ReLU), a linear head (logits) after each block`,
      data: 'NSL-KDD: training and validation from KDDTrain+_20Percent.txt (seeded 80/20 split), test = KDDTest+.txt; 5 classes via Attack-Types.csv plus the documented categories of test-only attacks (experiments/fixtures/nsl-kdd.ts TEST_ONLY_ATTACKS)',
      encoding: {
        width: enc.width,
        symbolic: Object.fromEntries(Object.entries(enc.categories).map(([k, v]) => [k, v.length])),
        unseenCategories: 'one-hot all zeros; counts below',
        unseenInValidation: xva.unseen,
        unseenInTest: xte.unseen,
        log1pFeatures: enc.numeric.filter((n) => n.log1p).map((n) => n.name),
        scaling: 'standardised with the training part mean and std (after log1p where listed)',
      },
      classCounts: { train: classCounts(trainPart.labels), validation: classCounts(valPart.labels), test: classCounts(testRec.labels) },
    },
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, only: { type: 'string' }, out: { type: 'string', default: 'fixtures' }, seed: { type: 'string', default: '1' }, note: { type: 'string' },
      'from-model': { type: 'boolean', default: false }, 'train-subset': { type: 'string' }, epochs: { type: 'string' }, 'more-epochs': { type: 'string' },
      'init-from': { type: 'string' }, freeze: { type: 'boolean', default: false }, augment: { type: 'string' },
    },
  });
  const count = (flag: string, v: string | undefined, min = 1): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new InputError('command line', `--${flag}`, `an integer ≥ ${min}`, JSON.stringify(v));
    return n;
  };
  control = {
    fromModel: values['from-model'] ?? false, trainSubset: count('train-subset', values['train-subset']), epochs: count('epochs', values.epochs, 0), moreEpochs: count('more-epochs', values['more-epochs']),
    initFrom: values['init-from'] === undefined ? undefined : resolve(values['init-from']), freeze: values.freeze ?? false,
    augment: values.augment === undefined ? undefined : parseAugment(values.augment),
  };

  if (!values.data) throw new InputError('command line', '--data', 'the datasets folder, e.g. --data ../shared/datasets');
  if (values.only !== undefined && !(FIXTURES as readonly string[]).includes(values.only)) {
    throw new InputError('command line', '--only', `one of ${FIXTURES.join(', ')}`, JSON.stringify(values.only));
  }
  measurementNote = values.note;
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InputError('command line', '--seed', 'a non-negative integer', JSON.stringify(values.seed));
  const backend = await initBackend();
  log(`backend ${backend.name} (tfjs ${backend.tfjsVersion})${backend.skipped.length ? `; skipped: ${backend.skipped.join('; ')}` : ''}`);
  if (backend.name === 'wasm') {
    registerWasmConvGrads();
    const err = checkConvGrads();
    if (!(err < 1e-4)) throw new Error(`wasm conv gradient kernels disagree with the definition: max |Δ| = ${err}`);
    log(`wasm conv gradient kernels registered and checked (max |Δ| = ${err.toExponential(2)})`);
  }
  const data = resolve(values.data);
  const out = resolve(values.out);
  if (!values.only || values.only === 'nsl-kdd-mlp') await buildNslKdd(data, out, seed, backend);
  if (!values.only || values.only === 'fashion-mnist-cnn') await buildFashion(data, out, seed, backend);
  // After fashion-mnist-cnn: the wide model starts from its trained weights.
  if (!values.only || values.only === 'fashion-mnist-wide') await buildFashionWide(data, out, seed, backend);
  log('done');
}

await main();
