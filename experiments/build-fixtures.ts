/**
 * Build exitlab's real-model fixtures: train multi-exit networks with TensorFlow.js, record their per-exit
 * softmax outputs on a validation and a test split, measure per-exit latency in this runtime, count FLOPs, and
 * write each fixture as a trace manifest + `.npy` arrays + the trained TF.js model.
 *
 *   npm run fixtures -- --data ../shared/datasets [--only fashion-mnist-cnn|nsl-kdd-mlp] [--out fixtures] [--seed 1]
 *
 * `--data` holds `fashion-mnist/` (the four IDX .gz files) and `nsl-kdd/` (KDDTrain+_20Percent.txt,
 * KDDTest+.txt, Field-Names.csv, Attack-Types.csv). Everything random (initial weights, data splits, batch
 * order) is seeded from `--seed`, and the wasm backend is single-threaded, so a rebuild on the same backend is
 * expected to reproduce the probabilities (not verified bit for bit across machines); latency numbers are
 * measurements and differ run to run.
 */
import { cpus, platform, arch } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../lib/tensor.ts';
import { Rng } from '../lib/random.ts';
import { ExitTrace } from '../lib/trace.ts';
import { writeTraceManifest } from '../lib/io.ts';
import { InputError } from '../lib/errors.ts';
import { registerWasmConvGrads, checkConvGrads } from './fixtures/wasm-conv-grad.ts';
import { loadFashionMnist, subset, FASHION_CLASSES } from './fixtures/fashion-mnist.ts';
import { NSL_CLASSES, nslKddPaths, readSchema, readAttackMap, readRecords, fitEncoder, encode } from './fixtures/nsl-kdd.ts';
import { buildFashionCnn, buildMlp } from './fixtures/models.ts';
import {
  trainMultiExit, predictProbs, exitAccuracies, classRecall, cumulativeFlops, saveLayersModel, loadLayersModelFromDir,
  type TrainSettings, type EpochLog,
} from './fixtures/multi-exit.ts';
import { measureLatency, measureIncreasingLatency } from './fixtures/latency.ts';

/** The fixtures this script builds. */
export const FIXTURES = ['fashion-mnist-cnn', 'nsl-kdd-mlp'] as const;

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
  const traces = {
    validation: new ExitTrace({ nSamples: job.validation.labels.length, nExits: K, nClasses: C, probs: val.probs, labels: job.validation.labels, costMs, flops, classNames: job.classNames, provenance: provenance('validation') }),
    test: new ExitTrace({ nSamples: job.test.labels.length, nExits: K, nClasses: C, probs: test.probs, labels: job.test.labels, costMs, flops, classNames: job.classNames, provenance: provenance('test') }),
  };
  const round = (xs: number[], d = 4): number[] => xs.map((v) => Number(v.toFixed(d)));
  const metadata = {
    description: `Per-exit softmax outputs of a ${K}-exit TensorFlow.js model trained by experiments/build-fixtures.ts`,
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
    testRecallPerExit: Object.fromEntries(recall.map((r, k) => [`exit${k + 1}`, Object.fromEntries(job.classNames.map((c, i) => [c, Number.isNaN(r[i]) ? null : Number(r[i].toFixed(4))]))])),
    training: {
      ...job.settings,
      loss: 'sum over exits of lossWeights[k] × categorical cross-entropy of exit k',
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
  const modelBytes = await saveLayersModel(model, job.outDir, { exitlab: { fixture: job.name, classNames: job.classNames, exits: K } });

  // The saved model must reproduce the recorded probabilities.
  const reloaded = await loadLayersModelFromDir(job.outDir);
  const probe = job.test.x.slice(0, 64);
  const a = predictProbs(model, probe).probs;
  const b = predictProbs(reloaded, probe).probs;
  probe.dispose();
  reloaded.dispose();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  if (diff > 1e-5) throw new Error(`${job.name}: reloaded model differs from the trained one by ${diff}`);

  log(`${job.name}: wrote ${job.outDir} (model ${(modelBytes / 1024).toFixed(0)} KiB; reload max |Δp| = ${diff})`);
  console.log(`\n${job.name}  (backend ${job.backend.name}, train ${job.trainSeconds.toFixed(0)} s)`);
  console.log('exit | test acc | val acc | costMs b1 | ms/sample b256 | FLOPs');
  for (let k = 0; k < K; k++) {
    console.log(`${k + 1}    | ${accTest[k].toFixed(4)}   | ${accVal[k].toFixed(4)}  | ${batch1.medianMs[k].toFixed(4)}    | ${batched.perSampleMs[k].toFixed(5)}        | ${flops[k]}`);
  }
  console.log(`test recall at last exit: ${job.classNames.map((c, i) => `${c}=${recall[K - 1][i].toFixed(3)}`).join(' ')}\n`);
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
    latencyReps: 200, batchedReps: 20,
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
  const x = toX(xtr.x, trainPart.rows.length);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(trainPart.labels, 'int32'), NSL_CLASSES.length).toFloat()) as tf.Tensor2D;
  const widths = [32, 64, 64, 64];
  const settings = { epochs: 30, batchSize: 128, learningRate: 1e-3, lossWeights: [0.25, 0.5, 0.75, 1], widths, seed };
  const model = buildMlp(enc.width, NSL_CLASSES.length, widths, seed);
  log(`${name}: training ${model.countParams()} parameters, ${settings.epochs} epochs`);
  const ts = performance.now();
  const epochs = await trainMultiExit(model, x, y, settings, new Rng(seed).fork('nsl-kdd/batches'), (m) => log(`${name}: ${m}`));
  const trainSeconds = (performance.now() - ts) / 1000;
  tf.dispose([x, y]);
  const classCounts = (labels: Int32Array) => Object.fromEntries(NSL_CLASSES.map((c, i) => [c, labels.filter((l) => l === i).length]));
  await finishFixture({
    name, dataset: 'nsl-kdd', outDir: join(outDir, name), model, classNames: [...NSL_CLASSES],
    validation: { x: toX(xva.x, valPart.rows.length), labels: valPart.labels }, test: { x: toX(xte.x, testRec.rows.length), labels: testRec.labels },
    settings, epochs, trainSeconds,
    splitSizes: { train: trainPart.rows.length, validation: valPart.rows.length, test: testRec.rows.length }, backend,
    latencyReps: 400, batchedReps: 200,
    extraMetadata: {
      architecture: `dense ${widths.join(' → ')} (ReLU), a softmax head after each block`,
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
    options: { data: { type: 'string' }, only: { type: 'string' }, out: { type: 'string', default: 'fixtures' }, seed: { type: 'string', default: '1' }, note: { type: 'string' } },
  });
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
  log('done');
}

await main();
