/**
 * Loading on hostile or careless input (issue 15, loader items): zip bombs, files that are not regular files,
 * symlinks, object arrays, unknown manifest fields, messages that name the right file; and logits in the trace
 * format. Each case failed (wrong error, wrong file named, or a crash) before the loader was hardened.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync, symlinkSync, openSync, ftruncateSync, closeSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { deflateRawSync } from 'node:zlib';
import { encodeNpy } from '../lib/npy.ts';
import { encodeNpz, parseNpz } from '../lib/npz.ts';
import { loadTrace, readRegularFile, writeTraceManifest, MANIFEST_FORMAT, MANIFEST_FIELDS } from '../lib/io.ts';
import { ExitTrace } from '../lib/trace.ts';
import { computeScores } from '../lib/scores.ts';
import { InputError } from '../lib/errors.ts';

const s = suite('loader');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-loader-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));

const probs = () => Float32Array.from([0.5, 0.5, 0.2, 0.8, 1, 0, 0.3, 0.7]); // N=2, K=2, C=2
const labels = () => Int32Array.from([0, 1]);
const write = (name: string, bytes: Uint8Array | string): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const manifest = (name: string, splitEntry: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  write(name, JSON.stringify({ format: MANIFEST_FORMAT, model: 'm', dataset: 'd', costMs: [1, 2], splits: { test: splitEntry }, ...extra }));

write('p.npy', encodeNpy(probs(), [2, 2, 2]));
write('l.npy', encodeNpy(labels(), [2]));

/**
 * A stored-member ZIP with one member whose directory entry declares `declared` bytes while its deflate data
 * inflates to `actual` (zeros): a zip bomb when actual ≫ declared, or ≫ the file.
 */
function zipWith(members: { name: string; payload: Uint8Array; deflate?: boolean; declared?: number }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const data = m.deflate ? new Uint8Array(deflateRawSync(m.payload)) : m.payload;
    const name = new TextEncoder().encode(m.name);
    const size = m.declared ?? m.payload.length;
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(8, m.deflate ? 8 : 0, true);
    l.setUint32(18, data.length, true);
    l.setUint32(22, size, true);
    l.setUint16(26, name.length, true);
    local.set(name, 30);
    const cen = new Uint8Array(46 + name.length);
    const c = new DataView(cen.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(10, m.deflate ? 8 : 0, true);
    c.setUint32(20, data.length, true);
    c.setUint32(24, size, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    cen.set(name, 46);
    parts.push(local, data);
    central.push(cen);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const eocd = new Uint8Array(22);
  const e = new DataView(eocd.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, members.length, true);
  e.setUint16(10, members.length, true);
  e.setUint32(12, cdSize, true);
  e.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let q = 0;
  for (const part of [...parts, ...central, eocd]) {
    out.set(part, q);
    q += part.length;
  }
  return out;
}

// 64 MiB of zeros deflates to ~64 KiB: the "bomb" member, declared as 100 bytes, never referenced.
const bomb = new Uint8Array(64 * 1024 * 1024);
const good = [
  { name: 'probs.npy', payload: encodeNpy(probs(), [2, 2, 2]), deflate: true },
  { name: 'labels.npy', payload: encodeNpy(labels(), [2]) },
];

const cases: [string, () => unknown, RegExp | null][] = [
  // Issue 15 item 7: only the named members are inflated, each within its declared size.
  ['an unreferenced bomb member is never inflated', () => {
    write('bomb-unused.npz', zipWith([...good, { name: 'bomb.npy', payload: bomb, deflate: true, declared: 100 }]));
    const t = loadTrace(manifest('bomb-unused.json', { probs: { file: 'bomb-unused.npz', key: 'probs' }, labels: { file: 'bomb-unused.npz', key: 'labels' }, layout: 'NKC' }), 'test');
    assert.is(t.nSamples, 2);
  }, null],
  ['a referenced member inflating past its declared size stops there', () => {
    write('bomb-used.npz', zipWith([{ name: 'probs.npy', payload: new Uint8Array([...encodeNpy(probs(), [2, 2, 2]), ...bomb.subarray(0, 1 << 20)]), deflate: true, declared: 160 }, good[1]]));
    return loadTrace(manifest('bomb-used.json', { probs: { file: 'bomb-used.npz', key: 'probs' }, labels: { file: 'bomb-used.npz', key: 'labels' }, layout: 'NKC' }), 'test');
  }, /bomb-used\.npz:probs\.npy: zip: expected deflate data inflating to the declared 160 bytes, got more \(a zip bomb\?\)/],
  ['a declared size that disagrees with the .npy header is refused before inflating', () => {
    // Header says 8 float32 (32 bytes of payload); the directory claims 1 GiB.
    const npz = zipWith([{ name: 'probs.npy', payload: encodeNpy(probs(), [2, 2, 2]), deflate: true, declared: 1 << 30 }]);
    return parseNpz(npz, 'big.npz', ['probs']);
  }, /big\.npz:probs\.npy: data: expected a declared member size of 160 bytes for float32 shape \(2, 2, 2\), got 1073741824 bytes declared/],
  ['parseNpz with keys decodes only those', () => {
    const m = parseNpz(zipWith([...good, { name: 'bomb.npy', payload: bomb, deflate: true, declared: 100 }]), 'k.npz', ['labels']);
    assert.equal([...m.keys()], ['labels']);
  }, null],
  // Item 8: only regular files, never more than the header says.
  ['/dev/null as the probabilities', () => loadTrace(manifest('devnull.json', { probs: '/dev/null', labels: 'l.npy', layout: 'NKC' }), 'test'), /\/dev\/null: splits\.test\.probs: expected a regular file, got a character device/],
  ['/dev/zero as the probabilities', () => loadTrace(manifest('devzero.json', { probs: '/dev/zero', labels: 'l.npy', layout: 'NKC' }), 'test'), /\/dev\/zero: splits\.test\.probs: expected a regular file, got a character device/],
  ['a FIFO as the probabilities', () => {
    execFileSync('mkfifo', [join(dir, 'fifo.npy')]);
    return loadTrace(manifest('fifo.json', { probs: 'fifo.npy', labels: 'l.npy', layout: 'NKC' }), 'test');
  }, /fifo\.npy: splits\.test\.probs: expected a regular file, got a FIFO/],
  ['a directory as an .npz', () => loadTrace(manifest('dir.json', { probs: { file: '.', key: 'p' }, labels: 'l.npy', layout: 'NKC' }), 'test'), /expected a regular file, got a directory/],
  ['an 8 GB sparse .npy whose header says 32 bytes is refused without reading it', () => {
    const p = join(dir, 'sparse.npy');
    const head = encodeNpy(probs(), [2, 2, 2]);
    const fd = openSync(p, 'w');
    writeSync(fd, head);
    ftruncateSync(fd, 8e9);
    closeSync(fd);
    return loadTrace(manifest('sparse.json', { probs: 'sparse.npy', labels: 'l.npy', layout: 'NKC' }), 'test');
  }, /sparse\.npy: data: expected 32 bytes of float32 for shape \(2, 2, 2\), got 7999999872 bytes/],
  ['a symbolic link is refused when following is off', () => {
    symlinkSync(join(dir, 'l.npy'), join(dir, 'link.npy'));
    assert.is(readRegularFile(join(dir, 'link.npy'), 'f').length > 0, true);
    return readRegularFile(join(dir, 'link.npy'), 'cells', { noFollow: true });
  }, /link\.npy: cells: expected a regular file \(symbolic links are not followed here\), got a symbolic link/],
  // Item 11 (the loader part) and the messages.
  ['new ExitTrace(undefined)', () => new ExitTrace(undefined as never), /ExitTrace: \(argument\): expected an object/],
  ['costMs error names manifest.json', () => loadTrace(manifest('badcost.json', { probs: 'p.npy', labels: 'l.npy', layout: 'NKC' }, { costMs: [2, 1] }), 'test'), /badcost\.json: costMs\[1\]: expected a cumulative cost/],
  ['flops error names manifest.json', () => loadTrace(manifest('badflops.json', { probs: 'p.npy', labels: 'l.npy', layout: 'NKC' }, { flops: [1] }), 'test'), /badflops\.json: flops: expected length nExits = 2/],
  ['classNames error names manifest.json', () => loadTrace(manifest('badnames.json', { probs: 'p.npy', labels: 'l.npy', layout: 'NKC' }, { classNames: ['a'] }), 'test'), /badnames\.json: classNames: expected an array of 2 strings/],
  ['an object (|O) array says it is pickled and how to save a numeric one', () => {
    const b = encodeNpy(probs(), [2, 2, 2]);
    const hl = b[8] | (b[9] << 8);
    const h = new TextDecoder('latin1').decode(b.subarray(10, 10 + hl)).replace("'<f4'", "'|O' ");
    b.set(new TextEncoder().encode(h), 10);
    write('obj.npy', b);
    return loadTrace(manifest('obj.json', { probs: 'obj.npy', labels: 'l.npy', layout: 'NKC' }), 'test');
  }, /obj\.npy: dtype: expected a numeric array .*np\.asarray\(x, dtype=np\.float32\).* got a pickled object array/],
  ['an unknown top-level field (a typo of flops) names it and the known ones', () => loadTrace(manifest('typo.json', { probs: 'p.npy', labels: 'l.npy', layout: 'NKC' }, { flop: [1, 2] }), 'test'), new RegExp(`typo\\.json: flop: expected one of the manifest fields ${MANIFEST_FIELDS.join(', ')}.* got an unknown field "flop"`)],
  ['an unknown split field', () => loadTrace(manifest('typo2.json', { prob: 'p.npy', probs: 'p.npy', labels: 'l.npy', layout: 'NKC' }), 'test'), /splits\.test\.prob: expected one of the split fields probs, logits, labels, layout/],
  // Logits in the trace format.
  ['both probs and logits', () => loadTrace(manifest('both.json', { probs: 'p.npy', logits: 'p.npy', labels: 'l.npy', layout: 'NKC' }), 'test'), /splits\.test: expected exactly one of "probs" \(softmax outputs\) or "logits", got both/],
  ['neither probs nor logits', () => loadTrace(manifest('neither.json', { labels: 'l.npy', layout: 'NKC' }), 'test'), /got neither/],
  ['a non-finite logit', () => new ExitTrace({ nSamples: 1, nExits: 2, nClasses: 2, logits: Float32Array.from([0, 1, Infinity, 0]), labels: Int32Array.from([0]), costMs: [1, 2], provenance: { model: 'm', dataset: 'd', split: 's' } }), /logits\[0\]\[1\]\[0\]: expected a finite logit, got Infinity/],
  ['a trace with both', () => new ExitTrace({ nSamples: 1, nExits: 2, nClasses: 2, probs: Float32Array.from([0.5, 0.5, 0.5, 0.5]), logits: new Float32Array(4), labels: Int32Array.from([0]), costMs: [1, 2], provenance: { model: 'm', dataset: 'd', split: 's' } }), /probs, logits: expected exactly one/],
];

for (const [name, fn, re] of cases) {
  s(`${name}${re ? ' → InputError' : ''}`, () => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    if (re === null) {
      assert.is(err, undefined, `${name}: ${String(err)}`);
      return;
    }
    assert.ok(err instanceof InputError, `${name}: an InputError, got ${String(err)}`);
    assert.match((err as Error).message, re, (err as Error).message);
  });
}

s('logit traces round-trip through writeTraceManifest as <split>-logits.npy, float64 kept', () => {
  const z = Float64Array.from([30, 0, 3, 1, 20, 0, 1, 2]);
  const t = new ExitTrace({ nSamples: 2, nExits: 2, nClasses: 2, logits: z, labels: labels(), costMs: [1, 2], provenance: { model: 'm', dataset: 'd', split: 'test' } });
  const path = writeTraceManifest(join(dir, 'rt'), { test: t });
  const back = loadTrace(path, 'test');
  assert.ok(back.logits instanceof Float64Array);
  assert.equal([...back.logits!], [...z]);
  // Gaps 30 and 20 at exit 0: both float32 softmaxes are 1.0, the float64 scores keep them apart.
  const mp = computeScores(back).get('maxprob');
  assert.is(back.probs[0], 1);
  assert.is(back.probs[4], 1);
  assert.ok(mp[0] > mp[2] && mp[0] < 1, `maxprob ${mp[0]} vs ${mp[2]}`);
});

s.run();

// encodeNpz is imported to keep the hand-built archives honest: a real one parses with keys too.
assert.equal([...parseNpz(encodeNpz({ a: { data: labels(), shape: [2] } }), 'x.npz', ['a']).keys()], ['a']);
