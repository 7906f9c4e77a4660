/**
 * The CLI as a user meets it: every documented command (list, run, report, merge) and the help, version and error
 * paths, run through the real bin (`experiments/exitlab.mjs`) as a child process, with their exit codes
 * (0 ok, 1 run failed, 2 usage error, 3 bad input) and messages. Runs use a small experiment on synthetic traces.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTraceManifest } from '../lib/io.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { BUILTIN_EXPERIMENTS } from '../experiments/builtins.ts';
import { readRecords } from '../experiments/harness/run.ts';
import type { ExperimentDecl } from '../experiments/harness/experiment.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'experiments', 'exitlab.mjs');
const s = suite('cli');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-cli-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));

/** Run the bin; returns exit code and both streams. */
function cli(args: string[], cwd = dir): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const trace = writeTraceManifest(join(dir, 'trace'), {
  validation: syntheticTrace({ nSamples: 200, nExits: 3, seed: 1, split: 'validation' }),
  test: syntheticTrace({ nSamples: 200, nExits: 3, seed: 2, split: 'test' }),
});
const decl: ExperimentDecl = {
  id: 'cli-test',
  description: 'small experiment for the CLI tests',
  traces: [trace],
  seeds: [1, 2],
  parts: [
    {
      name: 'offline',
      workload: { kind: 'offline' },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'budgeted', policy: 'budgeted-threshold', params: { score: 'entropy' } },
      ],
      axes: { budgetFraction: [0.3, 0.6] },
      baselines: ['plain'],
    },
    {
      name: 'queue',
      workload: { kind: 'queue', jobs: 500 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'rate-based', policy: 'rate-based' },
      ],
      axes: { lambdaOverMu: [0.5, 1.5], bufferSize: [5], arrivals: ['poisson'] },
    },
  ],
};
// offline: 1 oracle + (1 plain + 1 budgeted × 2 budgets) × 2 seeds = 7; queue: 2 axis sets × 2 policies × 2 seeds = 8.
const CELLS = 15;
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
const expFile = join(dir, 'exp.ts');
writeFileSync(expFile, `import { defineExperiment } from ${JSON.stringify(join(root, 'experiments', 'harness', 'experiment.ts'))};\nexport default defineExperiment(${JSON.stringify(decl)});\n`);

s('--help, <command> --help and --version exit 0 and describe the commands', () => {
  const help = cli(['--help']);
  assert.is(help.code, 0, help.err);
  for (const cmd of ['list', 'run', 'report', 'merge']) assert.match(help.out, new RegExp(`^  ${cmd}\\b`, 'm'));
  assert.match(help.out, /Exit codes: 0 ok, 1 run failed, 2 usage error, 3 bad input/);
  const runHelp = cli(['run', '--help']);
  assert.is(runHelp.code, 0, runHelp.err);
  for (const opt of ['--seeds', '--trace', '--out', '--quick', '--shard', '--resume', '--workers']) assert.ok(runHelp.out.includes(opt), opt);
  const version = cli(['--version']);
  assert.is(version.code, 0);
  assert.is(version.out.trim(), (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
});

s('usage errors exit 2 and name the option, with "did you mean" for unknown commands, options and experiment ids', () => {
  const cases: [string[], RegExp][] = [
    [[], /Usage: exitlab/],
    [['lst'], /unknown command 'lst'[\s\S]*Did you mean list\?/],
    [['run', 'compare', '--sedes', '3'], /unknown option '--sedes'[\s\S]*Did you mean --seeds\?/],
    [['run', 'queue-swep'], /unknown experiment "queue-swep" \(did you mean queue-sweep\?\)/],
    [['run', 'compare', '--seeds', '1,,2'], /'--seeds <count\|list>' argument '1,,2' is invalid.*element 2 is empty/],
    [['run', 'compare', '--seeds', '99999999999999999999'], /'--seeds <count\|list>' argument '99999999999999999999' is invalid/],
    [['run', 'compare', '--seeds', '10001'], /'--seeds <count\|list>' argument '10001' is invalid.*count 1\.\.10000/],
    [['run', 'compare', '--seeds', '1,2,1'], /--seeds.*seed 1 is repeated/],
    [['run', 'compare', '--seeds', '4294967296'], /'--seeds <count\|list>' argument '4294967296' is invalid/],
    [['run', 'compare', '--seeds', '1,4294967296'], /--seeds.*element 2 is "4294967296"/],
    [['run', 'compare', '--workers', '-1'], /'--workers <n>' argument '-1' is invalid/],
    [['run', 'compare', '--workers', '1.5'], /'--workers <n>' argument '1.5' is invalid/],
    [['run', 'compare', '--shard', '5/4'], /'--shard <i\/n>' argument '5\/4' is invalid/],
    [['run', 'compare', '--shard', '0/0'], /'--shard <i\/n>' argument '0\/0' is invalid/],
    [['run', 'compare', '--trace', 'model.npz'], /'--trace <manifest.json>' argument 'model.npz' is invalid/],
    [['run', 'compare', '--resume'], /--resume: needs --out DIR/],
    [['run'], /missing required argument 'experiment'/],
    [['merge', 'a', 'b'], /required option '--out <dir>' not specified/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, re, args.join(' '));
  }
});

s('list: the built-in experiments with their cell counts, and nothing else', () => {
  const r = cli(['list'], root);
  assert.is(r.code, 0, r.err);
  const ids = r.out.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  assert.equal(ids, BUILTIN_EXPERIMENTS.map((e) => e.id));
  assert.ok(ids.includes('compare') && !ids.includes('cli'), r.out);
  assert.match(r.out, /^compare\s+\d+ cells \(\d+ with --quick\)/m);
});

s('every experiment module in experiments/ is in the registry, and each registered one loads under its id', async () => {
  const modules = readdirSync(join(root, 'experiments'))
    .filter((f) => f.endsWith('.ts') && /^export default defineExperiment\(/m.test(readFileSync(join(root, 'experiments', f), 'utf8')))
    .map((f) => f.slice(0, -3))
    .sort();
  assert.equal(BUILTIN_EXPERIMENTS.map((e) => e.id), modules);
  for (const e of BUILTIN_EXPERIMENTS) assert.is((await e.load()).default.id, e.id);
});

s('run by path: header, run directory, summary and report; workers capped at the cells to run, saying so', () => {
  const out = join(dir, 'run');
  const r = cli(['run', './exp.ts', '--out', out, '--workers', '64', '--seeds', '1,2']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^exitlab run cli-test \(exp\.ts\)$/m);
  assert.match(r.out, /small experiment for the CLI tests/);
  assert.match(r.out, new RegExp(`synthetic-k3-c10\\s+${trace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.out, new RegExp(`seeds 1, 2; ${CELLS} cells; 0 already recorded, ${CELLS} to run`));
  assert.match(r.out, /worker threads? \(asked for 64; capped at /);
  // The short headline (not the whole summary.md, which stays in the run directory).
  assert.match(r.out, /^cli-test: 2 seed\(s\); 95% intervals; full tables in summary\.md$/m);
  assert.not.match(r.out, /# cli-test/);
  assert.match(r.out, new RegExp(`${CELLS} cells run, 0 already recorded`));
  for (const f of ['config.json', 'run.json', 'cells.jsonl', 'summary.md', 'summary.csv', 'headline.txt', 'report.html', 'figures']) assert.ok(existsSync(join(out, f)), f);
  assert.is(readRecords(out).length, CELLS);
  assert.ok(readRecords(out).some((rec) => rec.label === 'rate-based'));
  // A second run into the same directory must be asked for (--resume), and then runs nothing.
  const again = cli(['run', './exp.ts', '--out', out, '--seeds', '1,2']);
  assert.is(again.code, 3, again.err);
  assert.match(again.err, /--resume/);
  const resumed = cli(['run', './exp.ts', '--out', out, '--seeds', '1,2', '--resume', '--workers', '0']);
  assert.is(resumed.code, 0, resumed.err);
  assert.match(resumed.out, new RegExp(`${CELLS} already recorded, 0 to run`));
});

s('--trace: the header names the model and the manifest, not the declared traces or the description', () => {
  const other = writeTraceManifest(join(dir, 'other'), {
    validation: syntheticTrace({ nSamples: 150, nExits: 3, seed: 5, split: 'validation' }),
    test: syntheticTrace({ nSamples: 150, nExits: 3, seed: 6, split: 'test' }),
  });
  const manifest = JSON.parse(readFileSync(other, 'utf8')) as Record<string, unknown>;
  writeFileSync(other, JSON.stringify({ ...manifest, model: 'my-een' }));
  const out = join(dir, 'traced');
  const r = cli(['run', expFile, '--out', out, '--trace', other, '--seeds', '1', '--workers', '0']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /traces \(--trace, replacing the declared ones\):\n\s+my-een\s+\S*other\/manifest\.json/);
  const header = r.out.slice(0, r.out.indexOf('# cli-test'));
  assert.match(header, /^exitlab run cli-test/);
  assert.not.match(header, /small experiment for the CLI tests/);
  assert.ok(readRecords(out).every((rec) => rec.trace === other));
});

s('run --shard, merge and report: shards merge into the unsharded records', () => {
  const parts = [0, 1].map((i) => {
    const out = join(dir, `shard${i}`);
    const r = cli(['run', expFile, '--out', out, '--seeds', '1,2', '--shard', `${i}/2`, '--workers', '1']);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${CELLS} cells \\(\\d+ in this shard\\)`));
    return out;
  });
  const merged = join(dir, 'merged');
  const m = cli(['merge', ...parts, '--out', merged]);
  assert.is(m.code, 0, m.err);
  assert.match(m.out, new RegExp(`merged ${CELLS} cells from 2 runs`));
  const canonical = (d: string) => readRecords(d).map((r) => JSON.stringify(r)).sort();
  assert.equal(canonical(merged), canonical(join(dir, 'run')));
  rmSync(join(merged, 'report.html'));
  const rep = cli(['report', merged]);
  assert.is(rep.code, 0, rep.err);
  assert.match(rep.out, /report: .*report\.html/);
  assert.ok(existsSync(join(merged, 'report.html')));
  const missing = cli(['report', join(dir, 'nowhere')]);
  assert.not.equal(missing.code, 0);
});

s('bad input exits 3 (invalid declaration, missing manifest, missing arrays: nothing written); a failing cell exits 1 listing the failed cells', () => {
  const badFile = join(dir, 'bad.ts');
  writeFileSync(badFile, expFileText({ ...decl, seeds: [1, 1] }));
  const bad = cli(['run', badFile, '--out', join(dir, 'bad')]);
  assert.is(bad.code, 3, bad.err);
  assert.match(bad.err, /seeds: expected distinct seeds/);
  const missing = cli(['run', expFile, '--out', join(dir, 'missing'), '--trace', join(dir, 'nowhere.json')]);
  assert.is(missing.code, 3, missing.err);
  assert.match(missing.err, /nowhere\.json: traces: expected a readable trace manifest/);
  // A manifest that exists but whose arrays do not: found before anything is written (exit 3, no run directory).
  const torn = join(dir, 'torn', 'manifest.json');
  writeTraceManifest(join(dir, 'torn'), { validation: syntheticTrace({ nSamples: 50, nExits: 3, seed: 1, split: 'validation' }), test: syntheticTrace({ nSamples: 50, nExits: 3, seed: 2, split: 'test' }) });
  for (const f of readdirSync(join(dir, 'torn'))) if (f.endsWith('.npy')) rmSync(join(dir, 'torn', f));
  const tornRun = cli(['run', expFile, '--out', join(dir, 'torn-run'), '--trace', torn, '--workers', '1']);
  assert.is(tornRun.code, 3, tornRun.err);
  assert.match(tornRun.err, /probs\.npy/);
  assert.not.ok(existsSync(join(dir, 'torn-run')));
  // A policy that throws in its cells: those cells are failure records, the others run, the exit code is 1 and
  // the failed cells are listed.
  const failing = join(dir, 'failing.ts');
  writeFileSync(
    failing,
    `import { defineExperiment } from ${JSON.stringify(join(root, 'experiments', 'harness', 'experiment.ts'))};\n` +
      `const boom = { name: 'boom', description: 'throws', defaults: {}, testParams: () => [{}], budgeted: false, parse: () => ({}), create: () => ({ name: 'boom', commit: () => { throw new Error('boom on purpose'); } }) };\n` +
      `const d = ${JSON.stringify(decl)};\nd.parts[0].policies.push({ label: 'boom', policy: boom });\nexport default defineExperiment(d);\n`,
  );
  const failedOut = join(dir, 'failed');
  const failed = cli(['run', failing, '--out', failedOut, '--workers', '1']);
  assert.is(failed.code, 1, failed.err);
  assert.match(failed.err, /2 of 17 cells failed .*rerun with --resume[\s\S]*offline\|.*\|boom\|\|seed=1 \(boom\): .*boom on purpose[\s\S]*seed=2 \(boom\)/);
  assert.is(readRecords(failedOut).length, CELLS);
  assert.match(failed.out, /## Failed cells \(2\)/);
  const notAnExperiment = join(dir, 'not-exp.ts');
  writeFileSync(notAnExperiment, 'export default 42;\n');
  const ne = cli(['run', notAnExperiment]);
  assert.is(ne.code, 3, ne.err);
  assert.match(ne.err, /default export: expected defineExperiment/);
});

function expFileText(d: unknown): string {
  // A declaration the harness rejects must reach defineExperiment, so import it like a user's module would.
  return `import { defineExperiment } from ${JSON.stringify(join(root, 'experiments', 'harness', 'experiment.ts'))};\nexport default defineExperiment(${JSON.stringify(d)});\n`;
}

s.run();
