import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { encodeNpy, parseNpy, type NpyDtype } from '../lib/npy.ts';
import { encodeNpz, parseNpz } from '../lib/npz.ts';
import { loadTrace, traceFromArrays, writeTraceManifest, MANIFEST_FORMAT } from '../lib/io.ts';
import { ExitTrace } from '../lib/trace.ts';
import { InputError } from '../lib/errors.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { deflateRawSync } from 'node:zlib';

const s = suite('io');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-io-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));

const dtypes: NpyDtype[] = ['float32', 'float64', 'int32', 'int64'];
const arrayFor = (dtype: NpyDtype, values: number[]) =>
  dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Float64Array.from(values);

s('npy round-trips every dtype and shape', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...dtypes),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (dtype, shape, seed) => {
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, (_, i) => {
          const v = ((seed + i * 2654435761) % 2000003) - 1000001;
          return dtype.startsWith('float') ? v / 7 : v;
        });
        const data = arrayFor(dtype, values);
        const decoded = parseNpy(encodeNpy(data, shape, dtype), 'x.npy');
        assert.is(decoded.dtype, dtype);
        assert.equal([...decoded.shape], shape);
        assert.equal(Array.from(decoded.data), Array.from(data));
      },
    ),
    { numRuns: 80 },
  );
});

s('npy header is 64-byte aligned like numpy writes it', () => {
  const bytes = encodeNpy(new Float32Array(6), [2, 3]);
  const headerLen = bytes[8] | (bytes[9] << 8);
  assert.is((10 + headerLen) % 64, 0);
  assert.ok(new TextDecoder().decode(bytes.subarray(10, 10 + headerLen)).includes("'shape': (2, 3)"));
});

s('big-endian float64 is byte-swapped on read', () => {
  const le = encodeNpy(Float64Array.from([1.5, -2.25]), [2]);
  const headerLen = le[8] | (le[9] << 8);
  const be = le.slice();
  const h = new TextDecoder('latin1').decode(be.subarray(10, 10 + headerLen)).replace('<f8', '>f8');
  be.set(new TextEncoder().encode(h), 10);
  const dv = new DataView(be.buffer);
  for (let i = 0; i < 2; i++) dv.setFloat64(10 + headerLen + i * 8, [1.5, -2.25][i], false);
  assert.equal(Array.from(parseNpy(be, 'be.npy').data), [1.5, -2.25]);
});

s('npz round-trips, stored and deflated members', () => {
  const probs = Float32Array.from([0.25, 0.75, 1, 0]);
  const labels = Float64Array.from([1, 0]);
  const npz = encodeNpz({ probs: { data: probs, shape: [2, 1, 2] }, labels: { data: labels, shape: [2], dtype: 'int64' } });
  const members = parseNpz(npz, 'a.npz');
  assert.equal(Array.from(members.get('probs')!.data), Array.from(probs));
  assert.is(members.get('labels')!.dtype, 'int64');
  assert.equal(Array.from(members.get('labels')!.data), [1, 0]);
  // Build a deflated archive by hand (what np.savez_compressed writes) and read it back.
  const payload = encodeNpy(Int32Array.from([3, 1, 2]), [3]);
  const comp = deflateRawSync(payload);
  const name = new TextEncoder().encode('y.npy');
  const local = new Uint8Array(30 + name.length);
  const l = new DataView(local.buffer);
  l.setUint32(0, 0x04034b50, true);
  l.setUint16(8, 8, true);
  l.setUint32(18, comp.length, true);
  l.setUint32(22, payload.length, true);
  l.setUint16(26, name.length, true);
  local.set(name, 30);
  const cen = new Uint8Array(46 + name.length);
  const c = new DataView(cen.buffer);
  c.setUint32(0, 0x02014b50, true);
  c.setUint16(10, 8, true);
  c.setUint32(20, comp.length, true);
  c.setUint32(24, payload.length, true);
  c.setUint16(28, name.length, true);
  cen.set(name, 46);
  const eocd = new Uint8Array(22);
  const e = new DataView(eocd.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, 1, true);
  e.setUint16(10, 1, true);
  e.setUint32(12, cen.length, true);
  e.setUint32(16, local.length + comp.length, true);
  const zip = Buffer.concat([local, comp, cen, eocd]);
  assert.equal(Array.from(parseNpz(new Uint8Array(zip), 'c.npz').get('y')!.data), [3, 1, 2]);
});

s('KNC layout is transposed to NKC; the same trace loads identically from either', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 1000 }), (N, K, C, seed) => {
      const t = syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed });
      const knc = new Float32Array(N * K * C);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let c = 0; c < C; c++) knc[(k * N + n) * C + c] = t.probs[(n * K + k) * C + c];
      const common = { labels: { dtype: 'int32' as const, shape: [N], data: t.labels }, costMs: t.costMs, provenance: t.provenance };
      const a = traceFromArrays({ ...common, probs: { dtype: 'float32', shape: [N, K, C], data: t.probs }, layout: 'NKC' });
      const b = traceFromArrays({ ...common, probs: { dtype: 'float32', shape: [K, N, C], data: knc }, layout: 'KNC' });
      assert.equal(Array.from(a.probs), Array.from(t.probs));
      assert.equal(Array.from(b.probs), Array.from(t.probs));
    }),
    { numRuns: 40 },
  );
});

s('manifest round-trip: write, load each split, same arrays, costs, classes', () => {
  const v = syntheticTrace({ nSamples: 30, nExits: 3, nClasses: 4, seed: 3, split: 'validation' });
  const t = syntheticTrace({ nSamples: 20, nExits: 3, nClasses: 4, seed: 4, split: 'test' });
  const path = writeTraceManifest(join(dir, 'rt'), { validation: v, test: t }, { note: 'x' });
  const lv = loadTrace(path, 'validation');
  const lt = loadTrace(path, 'test');
  assert.equal(Array.from(lv.probs), Array.from(v.probs));
  assert.equal(Array.from(lt.labels), Array.from(t.labels));
  assert.equal([...lt.costMs], [...t.costMs]);
  assert.is(lt.provenance.split, 'test');
  const m = JSON.parse(readFileSync(path, 'utf8'));
  assert.is(m.format, MANIFEST_FORMAT);
  assert.equal(m.metadata, { note: 'x' });
});

s('manifest pointing into an .npz with KNC layout and int64 labels loads', () => {
  const t = syntheticTrace({ nSamples: 5, nExits: 2, nClasses: 3, seed: 9 });
  const knc = new Float64Array(5 * 2 * 3);
  for (let n = 0; n < 5; n++) for (let k = 0; k < 2; k++) for (let c = 0; c < 3; c++) knc[(k * 5 + n) * 3 + c] = t.probs[(n * 2 + k) * 3 + c];
  writeFileSync(join(dir, 'out.npz'), encodeNpz({ p: { data: knc, shape: [2, 5, 3] }, y: { data: Float64Array.from(t.labels), shape: [5], dtype: 'int64' } }));
  writeFileSync(
    join(dir, 'npz.json'),
    JSON.stringify({ format: MANIFEST_FORMAT, model: 'm', dataset: 'd', costMs: [1, 2], splits: { test: { probs: { file: 'out.npz', key: 'p' }, labels: { file: 'out.npz', key: 'y' }, layout: 'KNC' } } }),
  );
  const lt = loadTrace(join(dir, 'npz.json'), 'test');
  assert.equal(Array.from(lt.probs), Array.from(t.probs));
  assert.equal(Array.from(lt.labels), Array.from(t.labels));
});

// ---- malformed inputs: each must raise an InputError naming the field, never a TypeError ----

const goodProbs = () => Float32Array.from([0.5, 0.5, 0.2, 0.8, 1, 0, 0.3, 0.7]); // N=2, K=2, C=2
const base = () => ({
  nSamples: 2,
  nExits: 2,
  nClasses: 2,
  probs: goodProbs(),
  labels: Int32Array.from([0, 1]),
  costMs: [1, 2] as number[],
  provenance: { model: 'm', dataset: 'd', split: 's' },
});
const withNaN = () => {
  const p = goodProbs();
  p[3] = NaN;
  return p;
};
const notSumming = () => {
  const p = goodProbs();
  p[0] = 0.9;
  return p;
};
const negative = () => {
  const p = goodProbs();
  p[0] = -0.5;
  p[1] = 1.5;
  return p;
};

const traceCases: [string, () => unknown, RegExp][] = [
  ['NaN probability', () => new ExitTrace({ ...base(), probs: withNaN() }), /probs\[0\]\[1\]\[1\]: expected a finite probability/],
  ['row not summing to 1', () => new ExitTrace({ ...base(), probs: notSumming() }), /probs\[0\]\[0\]: expected a row summing to 1/],
  ['logits instead of probabilities', () => new ExitTrace({ ...base(), probs: negative() }), /probs\[0\]\[0\]\[0\]: expected a probability in \[0, 1\]/],
  ['decreasing costs', () => new ExitTrace({ ...base(), costMs: [2, 1] }), /costMs\[1\]: expected a cumulative cost ≥ costMs\[0\]/],
  ['negative cost', () => new ExitTrace({ ...base(), costMs: [-1, 2] }), /costMs\[0\]: expected a positive finite/],
  ['NaN cost', () => new ExitTrace({ ...base(), costMs: [NaN, 2] }), /costMs\[0\]: expected a positive finite/],
  ['costs of wrong length', () => new ExitTrace({ ...base(), costMs: [1] }), /costMs: expected length nExits = 2/],
  ['label out of range', () => new ExitTrace({ ...base(), labels: Int32Array.from([0, 2]) }), /labels\[1\]: expected a class index in \[0, 2\)/],
  ['negative label', () => new ExitTrace({ ...base(), labels: Int32Array.from([-1, 0]) }), /labels\[0\]/],
  ['N = 0', () => new ExitTrace({ ...base(), nSamples: 0, probs: new Float32Array(0), labels: new Int32Array(0) }), /nSamples: expected an integer ≥ 1/],
  ['K = 1', () => new ExitTrace({ ...base(), nExits: 1, probs: Float32Array.from([0.5, 0.5, 1, 0]), costMs: [1] }), /nExits: expected an integer ≥ 2/],
  ['probs of wrong length', () => new ExitTrace({ ...base(), probs: new Float32Array(7) }), /probs: expected length N·K·C = 2·2·2 = 8/],
  ['probs as a plain array', () => new ExitTrace({ ...base(), probs: [0.5] as unknown as Float32Array }), /probs: expected a Float32Array/],
  ['labels of wrong length', () => new ExitTrace({ ...base(), labels: Int32Array.from([0]) }), /labels: expected length N = 2/],
  ['missing provenance', () => new ExitTrace({ ...base(), provenance: undefined as never }), /provenance.model: expected a non-empty string/],
  ['class names of wrong length', () => new ExitTrace({ ...base(), classNames: ['a'] }), /classNames: expected an array of 2 strings/],
];

const npyOf = (data: Float32Array | Float64Array | Int32Array, shape: number[], dtype?: NpyDtype) => encodeNpy(data, shape, dtype);
const truncated = npyOf(goodProbs(), [2, 2, 2]).slice(0, -3);
const badMagic = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
const fortran = (() => {
  const b = npyOf(goodProbs(), [2, 2, 2]);
  const hl = b[8] | (b[9] << 8);
  const h = new TextDecoder('latin1').decode(b.subarray(10, 10 + hl)).replace("'fortran_order': False", "'fortran_order': True ");
  b.set(new TextEncoder().encode(h), 10);
  return b;
})();
const wrongDtype = (() => {
  const b = npyOf(goodProbs(), [2, 2, 2]);
  const hl = b[8] | (b[9] << 8);
  const h = new TextDecoder('latin1').decode(b.subarray(10, 10 + hl)).replace('<f4', '<u4');
  b.set(new TextEncoder().encode(h), 10);
  return b;
})();

const fileCases: [string, () => unknown, RegExp][] = [
  ['truncated .npy', () => parseNpy(truncated, 'p.npy'), /p\.npy: data: expected 32 bytes of float32 for shape \(2, 2, 2\), got 29 bytes \(truncated file\)/],
  ['not an .npy', () => parseNpy(badMagic, 'p.npy'), /p\.npy: magic/],
  ['Fortran order', () => parseNpy(fortran, 'p.npy'), /fortran_order: expected C order/],
  ['unsupported dtype', () => parseNpy(wrongDtype, 'p.npy'), /dtype: expected float32, float64, int32 or int64/],
  ['integer probs', () => traceFromArrays({ probs: parseNpy(npyOf(Int32Array.from([1, 0, 0, 1]), [1, 2, 2]), 'p.npy'), labels: parseNpy(npyOf(Int32Array.from([0]), [1]), 'l.npy'), layout: 'NKC', costMs: [1, 2], provenance: base().provenance, probsSource: 'p.npy' }), /p\.npy: dtype: expected float32 or float64/],
  ['2-D probs', () => traceFromArrays({ probs: parseNpy(npyOf(goodProbs(), [4, 2]), 'p.npy'), labels: parseNpy(npyOf(Int32Array.from([0, 1]), [2]), 'l.npy'), layout: 'NKC', costMs: [1, 2], provenance: base().provenance, probsSource: 'p.npy' }), /p\.npy: shape: expected 3 axes/],
  ['labels not matching N', () => traceFromArrays({ probs: parseNpy(npyOf(goodProbs(), [2, 2, 2]), 'p.npy'), labels: parseNpy(npyOf(Int32Array.from([0, 1, 1]), [3]), 'l.npy'), layout: 'NKC', costMs: [1, 2], provenance: base().provenance, labelsSource: 'l.npy' }), /l\.npy: shape: expected \[N\] = \[2\]/],
  ['fractional labels', () => traceFromArrays({ probs: parseNpy(npyOf(goodProbs(), [2, 2, 2]), 'p.npy'), labels: parseNpy(npyOf(Float64Array.from([0, 0.5]), [2]), 'l.npy'), layout: 'NKC', costMs: [1, 2], provenance: base().provenance, labelsSource: 'l.npy' }), /l\.npy: labels\[1\]: expected an integer/],
  ['layout not given', () => traceFromArrays({ probs: parseNpy(npyOf(goodProbs(), [2, 2, 2]), 'p.npy'), labels: parseNpy(npyOf(Int32Array.from([0, 1]), [2]), 'l.npy'), layout: undefined as never, costMs: [1, 2], provenance: base().provenance, probsSource: 'p.npy' }), /layout: expected "NKC"/],
  ['int64 label that would wrap to a valid int32 class', () => traceFromArrays({ probs: parseNpy(npyOf(goodProbs(), [2, 2, 2]), 'p.npy'), labels: parseNpy(npyOf(Float64Array.from([0, 2 ** 32 + 1]), [2], 'int64'), 'l.npy'), layout: 'NKC', costMs: [1, 2], provenance: base().provenance, labelsSource: 'l.npy' }), /l\.npy: labels\[1\]: expected an integer class index in \[0, 1\], got 4294967297/],
  ['truncated .npz', () => parseNpz(encodeNpz({ a: { data: goodProbs(), shape: [8] } }).slice(0, 40), 'a.npz'), /a\.npz: zip/],
];

const manifestCase = (name: string, json: unknown, re: RegExp): [string, () => unknown, RegExp] => [
  name,
  () => {
    const p = join(dir, `${name.replace(/\W+/g, '_')}.json`);
    writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
    return loadTrace(p, 'test');
  },
  re,
];
const goodManifest = { format: MANIFEST_FORMAT, model: 'm', dataset: 'd', costMs: [1, 2], splits: { test: { probs: 'missing.npy', labels: 'missing-l.npy', layout: 'NKC' } } };
const manifestCases: [string, () => unknown, RegExp][] = [
  manifestCase('invalid JSON', '{"format": ', /JSON: expected a valid JSON manifest/),
  manifestCase('wrong format tag', { ...goodManifest, format: 'other/2' }, /format: expected "exitlab-trace\/1"/),
  manifestCase('no layout', { ...goodManifest, splits: { test: { probs: 'a.npy', labels: 'b.npy' } } }, /splits\.test\.layout: expected "NKC".*never guessed/),
  manifestCase('missing costs', { ...goodManifest, costMs: undefined }, /costMs: expected an array/),
  manifestCase('missing file', goodManifest, /missing\.npy: splits\.test\.probs: expected a readable file, got ENOENT/),
  manifestCase('unknown split', { ...goodManifest, splits: { validation: goodManifest.splits.test } }, /splits: expected a split named "test"/),
];

s('corrupted .npy and .npz files (random byte changes and truncations) raise InputError or load, never another error', () => {
  const npy = npyOf(goodProbs(), [2, 2, 2]);
  const npz = encodeNpz({ probs: { data: goodProbs(), shape: [2, 2, 2] }, labels: { data: Int32Array.from([0, 1]), shape: [2] } });
  for (const [bytes, parse] of [
    [npy, (b: Uint8Array) => parseNpy(b, 'f.npy')],
    [npz, (b: Uint8Array) => parseNpz(b, 'f.npz')],
  ] as const) {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.oneof(fc.constant(bytes.length), fc.integer({ min: 1, max: bytes.length })), (edits, cut) => {
        const b = bytes.slice(0, cut);
        for (const [i, v] of edits) if (i < b.length) b[i] = v;
        try {
          parse(b);
        } catch (err) {
          if (!(err instanceof InputError)) throw new Error(`threw ${(err as Error).name}: ${(err as Error).message}`);
        }
      }),
      { numRuns: 5000, seed: 7 },
    );
  }
});

for (const [name, fn, re] of [...traceCases, ...fileCases, ...manifestCases]) {
  s(`malformed: ${name} → InputError ${re}`, () => {
    try {
      fn();
    } catch (err) {
      assert.instance(err, InputError, `${name}: threw ${(err as Error).name}: ${(err as Error).message}`);
      assert.match((err as Error).message, re);
      return;
    }
    assert.unreachable(`${name}: no error`);
  });
}

s.run();
