/**
 * The fixture builder's image augmentation (`augmentImages` in experiments/fixtures/multi-exit.ts): mirrors and
 * shifts land pixels where they should, zeros come in at the edges, the result depends only on the seed, and bad
 * options are refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { augmentImages } from '../experiments/fixtures/multi-exit.ts';
import { Rng } from '../lib/random.ts';

const test = suite('augment');

/** n images of h×w×c whose every value is distinct: value = 1 + index. */
const ramp = (n: number, h: number, w: number, c: number): Float32Array => Float32Array.from({ length: n * h * w * c }, (_, i) => i + 1);

test('no flip, no shift is a gather in permutation order', () => {
  const x = ramp(3, 4, 5, 2);
  const out = augmentImages(x, Int32Array.of(2, 0, 1), 4, 5, 2, { flip: false, shiftPx: 0 }, new Rng(3));
  assert.equal(Array.from(out.subarray(0, 40)), Array.from(x.subarray(80, 120)));
  assert.equal(Array.from(out.subarray(40, 80)), Array.from(x.subarray(0, 40)));
});

test('every output image is the source mirrored or not and shifted by at most P, zeros outside', () => {
  const [n, h, w, c, P] = [200, 6, 7, 1, 2];
  const x = ramp(n, h, w, c);
  const perm = Int32Array.from({ length: n }, (_, i) => n - 1 - i);
  const out = augmentImages(x, perm, h, w, c, { flip: true, shiftPx: P }, new Rng(11));
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const src = perm[i] * h * w;
    let match: string | undefined;
    for (const flip of [false, true]) for (let dy = -P; dy <= P; dy++) for (let dx = -P; dx <= P; dx++) {
      let ok = true;
      for (let y = 0; y < h && ok; y++) for (let xx = 0; xx < w && ok; xx++) {
        const yi = y - dy;
        const xs = xx - dx;
        const want = yi < 0 || yi >= h || xs < 0 || xs >= w ? 0 : x[src + yi * w + (flip ? w - 1 - xs : xs)];
        ok = out[i * h * w + y * w + xx] === want;
      }
      if (ok && match === undefined) match = `${flip}:${dy}:${dx}`;
    }
    assert.ok(match !== undefined, `image ${i} is no mirror/shift of its source`);
    seen.add(match!);
  }
  // 2 × 5 × 5 = 50 transforms, 200 draws: a generator that ignored flip or shift would cover at most 25.
  assert.ok(seen.size > 30, `only ${seen.size} distinct transforms in 200 draws`);
});

test('the same seed gives the same epoch, another seed another', () => {
  const x = ramp(50, 5, 5, 1);
  const perm = Int32Array.from({ length: 50 }, (_, i) => i);
  const a = augmentImages(x, perm, 5, 5, 1, { flip: true, shiftPx: 1 }, new Rng(5));
  const b = augmentImages(x, perm, 5, 5, 1, { flip: true, shiftPx: 1 }, new Rng(5));
  const d = augmentImages(x, perm, 5, 5, 1, { flip: true, shiftPx: 1 }, new Rng(6));
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(d));
});

test('bad options and shapes are refused', () => {
  const x = ramp(2, 4, 4, 1);
  assert.throws(() => augmentImages(x, Int32Array.of(0), 4, 4, 1, { flip: false, shiftPx: 4 }, new Rng(1)), /shiftPx/);
  assert.throws(() => augmentImages(x, Int32Array.of(0), 4, 4, 1, { flip: false, shiftPx: 1.5 }, new Rng(1)), /shiftPx/);
  assert.throws(() => augmentImages(x, Int32Array.of(0), 3, 3, 1, { flip: false, shiftPx: 0 }, new Rng(1)), /whole number/);
});

test.run();
