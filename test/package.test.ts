/**
 * The package as a user gets it: `npm pack` (which builds dist/ with declarations), install the tarball into a
 * fresh temporary project, typecheck that project's own code with strict TypeScript (NodeNext, ESM), and run it:
 * the smoke test in test/consumer/ and the guide's example (examples/backlog-entropy: its property tests and its
 * comparison on the shipped nsl-kdd fixture). This is what keeps docs/writing-a-policy.md from rotting.
 * Needs the npm registry (or a warm npm cache) for the install.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const s = suite('package');
const work = mkdtempSync(join(tmpdir(), 'exitlab-pkg-'));
s.after(() => rmSync(work, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string): string => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
};

s('packed tarball installs into a fresh strict-TypeScript project; its tests and the guide example run', () => {
  run('npm', ['pack', '--pack-destination', work], root);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote no tarball');
  const consumer = join(work, 'consumer');
  cpSync(join(root, 'test', 'consumer'), consumer, { recursive: true });
  cpSync(join(root, 'examples', 'backlog-entropy'), consumer, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', types: ['node'], skipLibCheck: true }, include: ['*.ts'] }, null, 2),
  );
  const pkg = JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json"))'], root)) as { devDependencies: Record<string, string> };
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball!), `typescript@${pkg.devDependencies.typescript}`, '@types/node@20'], consumer);
  run('npx', ['tsc', '-p', '.'], consumer);
  assert.match(run('node', ['dist/smoke.js'], consumer), /consumer smoke test passed/);
  const props = run('node', ['dist/policy.test.js'], consumer);
  assert.match(props, /checkPolicy: 100 cases passed/);
  assert.match(props, /monotone in the backlog: 300 cases passed/);
  const cmp = run('node', ['dist/compare.js', join(root, 'fixtures', 'nsl-kdd-mlp', 'manifest.json')], consumer);
  assert.match(cmp, /backlog-entropy/);
  assert.match(cmp, /under load: B = 10/);
});

s.run();
