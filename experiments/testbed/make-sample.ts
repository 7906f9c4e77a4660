/**
 * Write the committed Fashion-MNIST test-input sample, fixtures/fashion-mnist-cnn/testbed-sample/: 1,000 test
 * images chosen by a seeded shuffle (sorted by test row), in the dataset's own gzip IDX format, their test rows
 * (.npy int32) and the dataset's COPYRIGHT (Expat licence, Zalando SE), which must travel with the images.
 *
 *   npx tsx experiments/testbed/make-sample.ts --data ../shared/datasets
 *
 * NSL-KDD gets no sample: see experiments/testbed/inputs.ts.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync, gunzipSync } from 'node:zlib';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { encodeNpy } from '../../lib/npy.ts';
import { Rng } from '../../lib/random.ts';
import { sampleDir } from './inputs.ts';

/** Inputs in the sample (the bound is 1,000 per fixture). */
export const SAMPLE_SIZE = 1000;

/** An IDX file of unsigned bytes: header 00 00 08 <rank>, big-endian dimensions, payload. */
function idx(dims: readonly number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  // mtime 0 in the gzip header (zlib's default) keeps the file identical across rebuilds.
  return gzipSync(Buffer.concat([head, data]), { level: 9 });
}

const { values } = parseArgs({ options: { data: { type: 'string' }, seed: { type: 'string', default: '1' } } });
if (!values.data) throw new InputError('command line', '--data', 'the datasets folder, e.g. --data ../shared/datasets');
const src = join(resolve(values.data), 'fashion-mnist');
const images = gunzipSync(readFileSync(join(src, 't10k-images-idx3-ubyte.gz'))).subarray(16);
const labels = gunzipSync(readFileSync(join(src, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
const n = labels.length;
const rows = new Rng(Number(values.seed)).fork('testbed/sample').shuffle(Int32Array.from({ length: n }, (_, i) => i)).slice(0, SAMPLE_SIZE).sort();
const img = new Uint8Array(SAMPLE_SIZE * 784);
const lbl = new Uint8Array(SAMPLE_SIZE);
rows.forEach((r, i) => {
  img.set(images.subarray(r * 784, (r + 1) * 784), i * 784);
  lbl[i] = labels[r];
});
const out = sampleDir('fashion-mnist-cnn');
mkdirSync(out, { recursive: true });
atomicWrite(join(out, 'images-idx3-ubyte.gz'), idx([SAMPLE_SIZE, 28, 28], img));
atomicWrite(join(out, 'labels-idx1-ubyte.gz'), idx([SAMPLE_SIZE], lbl));
atomicWrite(join(out, 'test-rows.npy'), encodeNpy(rows, [SAMPLE_SIZE]));
copyFileSync(join(src, 'COPYRIGHT'), join(out, 'COPYRIGHT'));
console.log(`wrote ${SAMPLE_SIZE} test images (rows ${rows[0]}..${rows[SAMPLE_SIZE - 1]}) to ${out}`);
