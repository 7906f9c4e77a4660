/**
 * The inputs the testbed serves: a fixture's *test* inputs, each tied to the row of the fixture's recorded test
 * trace it is, so a served prediction can be checked against the recorded probabilities and the simulator can
 * be fed the same rows.
 *
 * Two sources:
 * - the raw dataset (`dataDir`, laid out as ../shared/datasets: `fashion-mnist/` with the IDX files, as in
 *   Debian's `dataset-fashion-mnist` under /usr/share/datasets; `nsl-kdd/` with KDDTrain+_20Percent.txt,
 *   KDDTest+.txt and the two CSVs), decoded exactly as experiments/build-fixtures.ts does;
 * - the committed sample `fixtures/<name>/testbed-sample/` (at most 1,000 test inputs, with the dataset's
 *   licence), so the testbed runs from a clone. Only Fashion-MNIST has one (under fashion-mnist-cnn, shared by
 *   fashion-mnist-wide): its files are under the Expat (MIT)
 *   licence (COPYRIGHT shipped alongside); NSL-KDD comes with no licence file in ../shared/datasets and the
 *   Canadian Institute for Cybersecurity states none we could cite, so no NSL-KDD record is redistributed here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../lib/errors.ts';
import { readManifest } from '../../lib/io.ts';
import { parseNpy } from '../../lib/npy.ts';
import { Rng } from '../../lib/random.ts';
import { readIdxGz, loadFashionMnist } from '../fixtures/fashion-mnist.ts';
import { nslKddPaths, readSchema, readAttackMap, readRecords, fitEncoder, encode } from '../fixtures/nsl-kdd.ts';

/** The repository root (two folders above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Fixtures the testbed knows how to feed. */
export const TESTBED_FIXTURES = ['fashion-mnist-wide', 'fashion-mnist-cnn', 'nsl-kdd-mlp'] as const;

/** A fixture name the testbed can serve. */
export type TestbedFixture = (typeof TESTBED_FIXTURES)[number];

/** Inputs to serve, with where they came from. */
export interface TestInputs {
  readonly fixture: TestbedFixture;
  /** Number of inputs n. */
  readonly n: number;
  /** Floats per input (28·28·1 = 784 for Fashion-MNIST; the encoded width, 118, for NSL-KDD). */
  readonly inputSize: number;
  /** The inputs, [input][feature] row-major, length n·inputSize, exactly what the model was evaluated on. */
  readonly x: Float32Array;
  /** True class per input, length n. */
  readonly labels: Int32Array;
  /** Row of the fixture's test split (its recorded trace) each input is, length n. */
  readonly testRows: Int32Array;
  /** "dataset <dir>" or "sample <dir>". */
  readonly source: string;
}

/** Folder of a fixture (manifest, model) in this checkout. */
export function fixtureDir(fixture: TestbedFixture): string {
  return join(REPO_ROOT, 'fixtures', fixture);
}

/** Whether a fixture's inputs are Fashion-MNIST test images (both image fixtures are; they share the test split). */
function isFashion(fixture: TestbedFixture): boolean {
  return fixture === 'fashion-mnist-wide' || fixture === 'fashion-mnist-cnn';
}

/**
 * Folder of a fixture's committed test-input sample. The two Fashion-MNIST fixtures record the same 10,000 test
 * images in the same order, so they share the one sample under fashion-mnist-cnn.
 */
export function sampleDir(fixture: TestbedFixture): string {
  return join(fixtureDir(isFashion(fixture) ? 'fashion-mnist-cnn' : fixture), 'testbed-sample');
}

/** Validate a fixture name. */
export function checkFixture(name: unknown, source: string): TestbedFixture {
  if (typeof name !== 'string' || !(TESTBED_FIXTURES as readonly string[]).includes(name)) {
    throw new InputError(source, 'fixture', `one of ${TESTBED_FIXTURES.join(', ')}`, JSON.stringify(name));
  }
  return name as TestbedFixture;
}

/** The seed the fixture was built with (`metadata.training.seed` of its manifest): it fixes the NSL-KDD split. */
function buildSeed(fixture: TestbedFixture): number {
  const path = join(fixtureDir(fixture), 'manifest.json');
  const seed = (readManifest(path).metadata as { training?: { seed?: unknown } } | undefined)?.training?.seed;
  if (!Number.isSafeInteger(seed)) throw new InputError(path, 'metadata.training.seed', 'the integer seed the fixture was built with', String(seed));
  return seed as number;
}

/** Every Fashion-MNIST test image, in test-split order (the fixture's test rows are the 10,000 t10k images). */
function fashionFromDataset(dir: string): Omit<TestInputs, 'fixture' | 'source'> {
  const { test } = loadFashionMnist(join(dir, 'fashion-mnist'));
  return { n: test.n, inputSize: 784, x: test.images, labels: test.labels, testRows: Int32Array.from({ length: test.n }, (_, i) => i) };
}

/**
 * Every NSL-KDD test record (KDDTest+.txt order = the fixture's test rows), encoded with the encoder refitted on
 * the same training part the builder used (the seeded 80/20 split of KDDTrain+_20Percent with the manifest's
 * seed): statistics come from training only, so this reproduces the fixture's inputs exactly.
 */
function nslFromDataset(dir: string): Omit<TestInputs, 'fixture' | 'source'> {
  const paths = nslKddPaths(join(dir, 'nsl-kdd'));
  const schema = readSchema(paths.schema);
  const attacks = readAttackMap(paths.attacks);
  const trainAll = readRecords(paths.train, schema, attacks);
  const test = readRecords(paths.test, schema, attacks);
  const seed = buildSeed('nsl-kdd-mlp');
  const perm = new Rng(seed).fork('nsl-kdd/split').shuffle(Int32Array.from({ length: trainAll.rows.length }, (_, i) => i));
  const nVal = Math.round(0.2 * trainAll.rows.length);
  const trainRows = Array.from(perm.subarray(nVal), (i) => trainAll.rows[i]);
  const enc = fitEncoder(schema, trainRows);
  const { x } = encode(schema, enc, test.rows);
  const n = test.rows.length;
  return { n, inputSize: enc.width, x, labels: test.labels, testRows: Int32Array.from({ length: n }, (_, i) => i) };
}

/** The committed Fashion-MNIST sample: gzip IDX images and labels (the original format) and their test rows. */
function fashionFromSample(dir: string): Omit<TestInputs, 'fixture' | 'source'> {
  const img = readIdxGz(join(dir, 'images-idx3-ubyte.gz'), 3);
  const lbl = readIdxGz(join(dir, 'labels-idx1-ubyte.gz'), 1);
  const rowsPath = join(dir, 'test-rows.npy');
  const rows = parseNpy(new Uint8Array(readFileSync(rowsPath)), rowsPath);
  const n = img.dims[0];
  if (img.dims[1] !== 28 || img.dims[2] !== 28) throw new InputError(join(dir, 'images-idx3-ubyte.gz'), 'dimensions', 'n×28×28', img.dims.join('×'));
  if (lbl.dims[0] !== n || rows.data.length !== n || !(rows.data instanceof Int32Array)) {
    throw new InputError(dir, 'labels/test-rows', `${n} labels and ${n} int32 test rows (one per image)`, `${lbl.dims[0]} labels, ${rows.data.length} rows`);
  }
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return { n, inputSize: 784, x, labels: Int32Array.from(lbl.data), testRows: rows.data };
}

/**
 * Load a fixture's test inputs.
 * @param opts.dataDir the datasets folder (as ../shared/datasets); without it, the committed sample is used.
 * @throws InputError when neither source is available (NSL-KDD has no committed sample) or a file is malformed.
 */
export function loadTestInputs(fixture: TestbedFixture, opts: { dataDir?: string } = {}): TestInputs {
  if (opts.dataDir !== undefined) {
    const dir = resolve(opts.dataDir);
    const r = isFashion(fixture) ? fashionFromDataset(dir) : nslFromDataset(dir);
    return { fixture, ...r, source: `dataset ${dir}` };
  }
  const dir = sampleDir(fixture);
  if (!isFashion(fixture) || !existsSync(dir)) {
    throw new InputError('testbed inputs', 'dataDir', `the datasets folder (e.g. --data ../shared/datasets): ${fixture} has no committed sample`, 'none given');
  }
  return { fixture, ...fashionFromSample(dir), source: `sample ${dir}` };
}

/** Input i of a set, a view of length `inputSize` (not a copy). */
export function inputRow(inputs: TestInputs, i: number): Float32Array {
  return inputs.x.subarray(i * inputs.inputSize, (i + 1) * inputs.inputSize);
}

/**
 * Where to find the datasets when the caller gave no folder: `$EXITLAB_DATA`, else the project's sibling
 * `../shared/datasets` of the main checkout when it exists, else undefined (then the committed sample is used).
 * Returned so callers can record which one they used.
 */
export function defaultDataDir(): string | undefined {
  const env = process.env.EXITLAB_DATA?.trim();
  if (env) return env;
  for (const cand of [join(REPO_ROOT, '..', 'shared', 'datasets'), join(REPO_ROOT, '..', '..', 'shared', 'datasets')]) {
    if (existsSync(join(cand, 'fashion-mnist')) && existsSync(join(cand, 'nsl-kdd'))) return cand;
  }
  return undefined;
}
