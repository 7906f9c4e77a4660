import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, canonicalJson, policyRng, workloadRng } from '../lib/random.ts';
import { compare, evaluateEntry } from '../lib/offline.ts';
import { modelInfo } from '../lib/policy.ts';
import { instantiate } from '../lib/registry.ts';
import { simulate } from '../lib/queue.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { REGISTRY, getPolicySpec } from '../policies/index.ts';

const s = suite('random');

s('same seed, same stream; different seeds differ', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xa = Array.from({ length: 100 }, () => a.nextUint32());
  const xb = Array.from({ length: 100 }, () => b.nextUint32());
  const xc = Array.from({ length: 100 }, () => c.nextUint32());
  assert.equal(xa, xb);
  assert.not.equal(xa, xc);
});

s('fork is stable: independent of draws made before it, and distinct per label', () => {
  const a = new Rng(7);
  const f1 = a.fork('policy').float();
  a.float();
  a.float();
  assert.is(a.fork('policy').float(), f1);
  assert.is.not(a.fork('other').float(), f1);
  assert.is.not(a.fork(1).float(), a.fork(2).float());
  assert.is.not(a.fork('policy').fork('x').float(), a.fork('x').float());
});

s('float in [0,1), int in range and roughly uniform, normal has mean 0 and variance 1', () => {
  const r = new Rng(1);
  const counts = new Array(6).fill(0);
  let sum = 0;
  let sq = 0;
  const n = 60000;
  for (let i = 0; i < n; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
    counts[r.int(6)]++;
    const z = r.normal();
    sum += z;
    sq += z * z;
  }
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < 5 * Math.sqrt(n / 6), `count ${c}`);
  assert.ok(Math.abs(sum / n) < 0.02);
  assert.ok(Math.abs(sq / n - 1) < 0.03);
});

s('bad arguments are rejected with the argument named', () => {
  assert.throws(() => new Rng(1.5), /seed must be an integer/);
  assert.throws(() => new Rng(1).int(0), /n must be an integer/);
  assert.throws(() => new Rng(1).exponential(-1), /rate must be/);
});

s('no Math.random in lib/ or policies/', () => {
  const root = join(import.meta.dirname, '..');
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && /Math\.random\s*\(/.test(readFileSync(p, 'utf8'))) offenders.push(p);
    }
  };
  walk(join(root, 'lib'));
  walk(join(root, 'policies'));
  assert.equal(offenders, []);
});

const draws = (r: Rng, n = 16) => Array.from({ length: n }, () => r.nextUint32());

s('canonicalJson: key order does not matter, values do (including Infinity and -0)', () => {
  assert.is(canonicalJson({ b: [1, Infinity], a: 'x' }), canonicalJson({ a: 'x', b: [1, Infinity] }));
  assert.is.not(canonicalJson({ a: Infinity }), canonicalJson({ a: null }));
  assert.is.not(canonicalJson({ a: 0 }), canonicalJson({ a: -0 }));
  assert.is(canonicalJson({ a: 1, b: undefined }), canonicalJson({ a: 1 }));
});

s('policyRng depends on seed, name and parsed params only', () => {
  assert.equal(draws(policyRng(7, 'random-exit', { a: 1, b: [2, 3] })), draws(policyRng(7, 'random-exit', { b: [2, 3], a: 1 })));
  const base = draws(policyRng(7, 'random-exit', { a: 1 }));
  assert.not.equal(draws(policyRng(8, 'random-exit', { a: 1 })), base);
  assert.not.equal(draws(policyRng(7, 'threshold', { a: 1 })), base);
  assert.not.equal(draws(policyRng(7, 'random-exit', { a: 2 })), base);
});

s('no policy stream equals a workload stream (separate roots)', () => {
  const model = modelInfo(scoreTrace(syntheticTrace({ nSamples: 10, nExits: 4, nClasses: 3, seed: 1 })));
  const policySeeds = new Set<number>();
  const workloadSeeds = new Set<number>();
  for (let seed = 0; seed < 20; seed++) {
    for (const spec of REGISTRY) {
      for (const raw of spec.testParams(model)) policySeeds.add(policyRng(seed, spec.name, spec.parse(raw)).seed);
    }
    // Also the names a careless derivation would collide on: a policy called like a workload stream.
    for (const name of ['arrivals', 'samples', 'jitter', 'online-stream']) {
      workloadSeeds.add(workloadRng(seed, name).seed);
      policySeeds.add(policyRng(seed, name, {}).seed);
    }
  }
  for (const w of workloadSeeds) assert.not.ok(policySeeds.has(w), `workload stream seed ${w} is also a policy stream seed`);
});

s('results depend only on (seed, name, params): defaults spelt out or not, other entries, same seed twice', () => {
  const val = scoreTrace(syntheticTrace({ nSamples: 200, nExits: 4, nClasses: 5, seed: 3 }));
  const test = scoreTrace(syntheticTrace({ nSamples: 200, nExits: 4, nClasses: 5, seed: 4 }));
  const spec = getPolicySpec('random-exit');
  const a = evaluateEntry({ spec, params: {} }, val, test, 11).exits;
  // The same parsed parameters written out in full and in another key order: same stream, same exits.
  const full = Object.fromEntries(Object.entries(spec.parse({})).reverse());
  assert.equal(Array.from(evaluateEntry({ spec, params: full }, val, test, 11).exits), Array.from(a));
  assert.not.equal(Array.from(evaluateEntry({ spec, params: {} }, val, test, 12).exits), Array.from(a));
  // Another policy before it in a comparison does not change its record.
  const alone = compare([{ spec }], val, test, 11)[0];
  const after = compare([{ spec: getPolicySpec('threshold') }, { spec }], val, test, 11)[1];
  assert.equal(after, alone);
  // instantiate is the same derivation as evaluateEntry.
  const p = instantiate(spec, {}, { seed: 11, model: modelInfo(val) });
  const q = instantiate(spec, full, { seed: 11, model: modelInfo(val) });
  const cfg = { bufferCapacity: 2, arrivals: { kind: 'poisson' as const, ratePerMs: 0.3 }, maxArrivals: 300, seed: 5, records: true };
  assert.equal(Array.from(simulate(p, test, cfg).records!.exit), Array.from(simulate(q, test, cfg).records!.exit));
});

s.run();
