/**
 * Heavy dependencies load lazily (issue 12): importing the policies (the `exitlab/policies` entry) loads neither
 * TensorFlow.js nor the HiGHS wasm; `loadPolicy` of a family that needs one loads it. Checked in a fresh process,
 * since this test process has long loaded both for other suites: TF.js is CommonJS, so the CJS module cache shows
 * whether it was loaded; HiGHS (its ES build) is seen reading its .wasm file.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const s = suite('lazy');
const root = fileURLToPath(new URL('..', import.meta.url));

/** In a fresh Node, run `code` after importing policies/index.ts; report which heavy packages were loaded. */
function loadedAfter(code: string): { tfjs: boolean; highs: boolean } {
  const script = `
    const m = await import('node:module');
    const fs = (await import('node:fs')).default;
    const read = [];
    for (const name of ['readFileSync', 'readFile']) {
      const orig = fs[name];
      fs[name] = (f, ...rest) => (read.push(String(f)), orig(f, ...rest));
    }
    const p = await import('./policies/index.ts');
    const r = await import('./lib/registry.ts');
    ${code}
    const keys = Object.keys(m.default._cache);
    console.log(JSON.stringify({ tfjs: keys.some((k) => k.includes('@tensorflow')), highs: read.some((f) => f.endsWith('highs.wasm')) }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

s('importing the policies loads neither TensorFlow.js nor HiGHS; loadPolicy loads what a family needs', () => {
  assert.equal(loadedAfter(''), { tfjs: false, highs: false });
  assert.equal(loadedAfter('await r.loadPolicy(p.modelBased);'), { tfjs: false, highs: true });
  assert.equal(loadedAfter("process.env.EXITLAB_BACKEND = 'cpu'; await r.loadPolicy(p.eenet);"), { tfjs: true, highs: false });
});

s.run();
