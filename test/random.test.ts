import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../lib/random.ts';

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

s.run();
