/**
 * Heavy dependencies load lazily (issues 12, 16): importing the policies (the `exitlab/policies` entry) or the core
 * (`exitlab`) loads no third-party package at all — not TensorFlow.js, the HiGHS wasm, mathjs, fast-check,
 * commander, piscina or vega —, and `loadPolicy` of a family loads only what it needs (today: nothing). Checked
 * in fresh processes, since this test process has long loaded them all for other suites: a module resolve hook
 * records every package URL the process resolves (ESM and the first `import` of a CommonJS package alike);
 * TF.js is also looked for in the CJS module cache, and HiGHS is seen reading its .wasm file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/**
 * In a fresh Node, import `entry` (a path relative to the repository root) and run `code`; the names of the
 * third-party packages the process resolved, sorted.
 */
function packagesAfter(entry: string, code = ''): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'exitlab-lazy-'));
  try {
    const log = join(dir, 'resolved.txt');
    writeFileSync(log, '');
    // Resolve hooks run off the main thread (Node ≥ 20): the hook appends each package URL to a file, written
    // synchronously before the module it names is loaded, so the file is complete when the import settles.
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
       let log;
       export function initialize(data) { log = data.log; }
       export async function resolve(specifier, context, next) {
         const r = await next(specifier, context);
         if (r.url.includes('/node_modules/')) appendFileSync(log, r.url + '\\n');
         return r;
       }`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { log: ${JSON.stringify(log)} } });\n`);
    const script = `const p = await import(${JSON.stringify(entry)}); const r = await import('./lib/registry.ts'); ${code}`;
    execFileSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const names = readFileSync(log, 'utf8')
      .split('\n')
      .filter((u) => u !== '')
      .map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)![1]);
    return [...new Set(names)].sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

s('importing the core or the policies loads no third-party package; neither does loading every registered family', () => {
  // The check itself sees a package when one is imported (so an empty list below means something).
  assert.equal(packagesAfter('./lib/index.ts', "await import('commander');"), ['commander']);
  assert.equal(packagesAfter('./lib/index.ts'), []);
  assert.equal(packagesAfter('./policies/index.ts'), []);
  assert.equal(packagesAfter('./policies/index.ts', 'for (const spec of p.REGISTRY) await r.loadPolicy(spec);'), []);
});

s('importing the policies loads neither TensorFlow.js nor HiGHS; loadPolicy loads what a family needs', () => {
  assert.equal(loadedAfter(''), { tfjs: false, highs: false });
  // model-based solves its LP by vertex enumeration: HiGHS is only the tests' cross-check, never loaded at run time.
  assert.equal(loadedAfter('await r.loadPolicy(p.modelBased);'), { tfjs: false, highs: false });
  // EENet trains in plain JavaScript (policies/eenet/fused.ts): fitting needs no TensorFlow.js either.
  assert.equal(loadedAfter('await r.loadPolicy(p.eenet);'), { tfjs: false, highs: false });
});

s.run();
