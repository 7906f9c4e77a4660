/**
 * Run directories you cannot lose (issue 15), on the harness: one table-driven test per group of the issue
 * (merge over a run, the lock and duplicate keys, foreign records, --out into a user's folder, failed cells,
 * traces and policies checked before anything is written, bad records and configs, seeds, unknown fields), and a
 * property: for any interleaving of SIGKILLed CLI runs, `--resume` and two concurrent runs on one `--out`, the
 * final records equal an uninterrupted run's, with no repeated key. Experiments here are tiny (a few cells) and
 * run inline, so the suite stays fast.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../lib/errors.ts';
import { writeTraceManifest } from '../lib/io.ts';
import type { AnyPolicySpec } from '../lib/registry.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { defineExperiment, expandCells, resolveExperiment, type ExperimentDecl } from '../experiments/harness/experiment.ts';
import { readRecords, runExperiment } from '../experiments/harness/run.ts';
import { readRun } from '../experiments/harness/rundir.ts';
import { mergeRuns, summarize, writeReport } from '../experiments/harness/report.ts';
import { parseSeeds } from '../experiments/cli.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const s = suite('safety');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-safety-'));
s.after(() => {
  chmodSync(join(dir, 'readonly'), 0o755);
  rmSync(dir, { recursive: true, force: true });
});
mkdirSync(join(dir, 'readonly'));

const trace = writeTraceManifest(join(dir, 'trace'), {
  validation: syntheticTrace({ nSamples: 200, nExits: 4, seed: 1, split: 'validation' }),
  test: syntheticTrace({ nSamples: 200, nExits: 4, seed: 2, split: 'test' }),
});

const decl: ExperimentDecl = {
  id: 'safety-test',
  description: 'tiny experiment for the run-directory tests',
  traces: [trace],
  seeds: [1, 2],
  parts: [
    {
      name: 'offline',
      workload: { kind: 'offline' },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'entropy', policy: 'threshold', params: { score: 'entropy', thresholds: 0.6 } },
      ],
    },
  ],
};
// 1 oracle + 2 policies × 2 seeds.
const CELLS = 5;
const sorted = (out: string) => readRecords(out).map((r) => JSON.stringify(r)).sort();
const reference = join(dir, 'reference');
const isInputError = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test((e as Error).message);
const rejects = async (p: Promise<unknown>, re: RegExp) => {
  try {
    await p;
  } catch (err) {
    assert.ok(isInputError(re)(err), `${String(err)} does not match ${re}`);
    return;
  }
  assert.unreachable(`no error matching ${re}`);
};
/** Lines of cells.jsonl by key, to check that no key was written twice. */
const keysInFile = (out: string) => readFileSync(join(out, 'cells.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { key: string }).key);

s('reference run: records, no lock left behind', async () => {
  const r = await runExperiment(decl, { out: reference, workers: 0 });
  assert.is(r.ran, CELLS);
  assert.equal(r.failed, []);
  assert.is(readRecords(reference).length, CELLS);
  assert.not.ok(existsSync(join(reference, 'run.lock')));
});

s('1: merge refuses an existing run directory unless --force, and names the cells a missing shard leaves out', async () => {
  // Before: mergeRuns replaced config.json, run.json and cells.jsonl of any --out without a check.
  const shards = [0, 1].map((i) => join(dir, `shard${i}`));
  for (const [i, out] of shards.entries()) await runExperiment(decl, { out, workers: 0, shard: { index: i, count: 2 } });
  const before = readFileSync(join(reference, 'cells.jsonl'), 'utf8');
  assert.throws(() => mergeRuns(shards, reference), isInputError(/reference: --out: expected a new or empty folder for the merged run \(or --force to replace the run in it\), got an existing run directory \(5 recorded cells\)/));
  assert.is(readFileSync(join(reference, 'cells.jsonl'), 'utf8'), before);
  // Before: a missing shard merged silently into a run with fewer cells.
  assert.throws(() => mergeRuns([shards[0]], join(dir, 'merged-missing')), isInputError(/merge: runs: expected every cell of the experiment \(5\) in one of the runs \(or --partial\), got 2 cell\(s\) in none of them \(a missing shard or an unfinished run\? shards merged: 0\/2\), e\.g\. "offline\|/));
  assert.not.ok(existsSync(join(dir, 'merged-missing')));
  assert.is(mergeRuns([shards[0]], join(dir, 'merged-partial'), { partial: true }), 3);
  const forced = join(dir, 'forced');
  await runExperiment(decl, { out: forced, workers: 0, stopAfter: 1 });
  assert.is(mergeRuns(shards, forced, { force: true }), CELLS);
  assert.equal(sorted(forced), sorted(reference));
});

s('2: a run directory is locked while a run writes it; stale locks are reported and cleared with breakLock; the summary rejects repeated keys', async () => {
  const out = join(dir, 'locked');
  mkdirSync(out);
  // A lock held by a live process (this one): refused, whatever breakLock says.
  writeFileSync(join(out, 'run.lock'), JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), started: 'now' }));
  for (const breakLock of [false, true]) await rejects(runExperiment(decl, { out, workers: 0, breakLock }), /locked: run\.lock: expected a run directory no other exitlab run or merge is writing to, got locked by process \d+ .* which is still running/);
  assert.not.ok(existsSync(join(out, 'cells.jsonl')));
  // A lock whose process is gone (a killed run): reported; breakLock clears it.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  writeFileSync(join(out, 'run.lock'), JSON.stringify({ pid: Number(dead), host: (await import('node:os')).hostname(), started: 'then' }));
  await rejects(runExperiment(decl, { out, workers: 0 }), /run\.lock: expected a run directory no other run is writing to; a stale lock is cleared with --break-lock, got a lock left by process \d+ .*no longer running/);
  const r = await runExperiment(decl, { out, workers: 0, breakLock: true });
  assert.is(r.ran, CELLS);
  assert.not.ok(existsSync(join(out, 'run.lock')));
  // Two runs started together in one process: the second finds the first's lock.
  const twin = join(dir, 'twin');
  const results = await Promise.allSettled([runExperiment(decl, { out: twin, workers: 0 }), runExperiment(decl, { out: twin, workers: 0 })]);
  assert.is(results.filter((x) => x.status === 'fulfilled').length, 1);
  assert.ok(results.some((x) => x.status === 'rejected' && isInputError(/run\.lock.*still running/)(x.reason)));
  assert.equal(keysInFile(twin).sort(), [...new Set(keysInFile(twin))].sort());
  // Before: a key recorded twice counted as two seeds (n = 2, ci95 = 0).
  const rec = readRecords(reference)[0];
  assert.throws(() => summarize([rec, rec]), isInputError(/summary: records: expected one record per cell key, got key .* twice/));
  const dup = join(dir, 'dup');
  await runExperiment(decl, { out: dup, workers: 0 });
  appendFileSync(join(dup, 'cells.jsonl'), JSON.stringify(rec) + '\n');
  await rejects(writeReport(dup), /dup\/cells\.jsonl: line 6: expected one record per cell key \(two runs wrote into one directory\?\), got key .* already recorded at line \d/);
  // A resume keeps an identical repeated record once.
  await runExperiment(decl, { out: dup, workers: 0, resume: true });
  assert.is(keysInFile(dup).length, CELLS);
});

s('3: --resume into a folder whose records are not cells of the experiment is an error, or with ignoreForeign set aside and named', async () => {
  // Before: another experiment's records were kept and reported as this one's.
  const out = join(dir, 'foreign');
  mkdirSync(out);
  const other = { ...readRecords(reference)[0], key: 'other|x|y||seed=1', part: 'other' };
  writeFileSync(join(out, 'cells.jsonl'), JSON.stringify(other) + '\n');
  await rejects(runExperiment(decl, { out, workers: 0, resume: true }), /foreign\/cells\.jsonl: line 1: expected records of cells of experiment "safety-test" as resolved \(5 cells\), or --ignore-foreign to set the others aside in cells\.foreign\.jsonl, got 1 record\(s\) of other cells, e\.g\. "other\|x\|y\|\|seed=1"/);
  assert.not.ok(existsSync(join(out, 'config.json')));
  const r = await runExperiment(decl, { out, workers: 0, resume: true, ignoreForeign: true });
  assert.equal(r.foreign, ['other|x|y||seed=1']);
  assert.equal(sorted(out), sorted(reference));
  assert.match(readFileSync(join(out, 'cells.foreign.jsonl'), 'utf8'), /other\|x\|y/);
});

s('4 and --out errors: a folder that is not a run, an existing file, a folder without permission, each naming --out', async () => {
  // Before: a user's summary.md, summary.csv, report.html in --out were overwritten.
  const mine = join(dir, 'my-notes');
  mkdirSync(mine);
  writeFileSync(join(mine, 'summary.md'), 'my own notes\n');
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const cases: [string, RegExp][] = [
    [mine, /my-notes: --out: expected a new or empty folder, or an exitlab run directory \(holding config\.json, run\.json, cells\.jsonl\), got a folder of other files \(summary\.md\)/],
    [file, /a-file: --out: expected a run directory \(a new or empty folder, or an exitlab run\), got an existing file/],
    [join(file, 'sub'), /a-file\/sub: --out: expected a folder this user can create and write in, got a path through an existing file \(ENOTDIR\)/],
  ];
  chmodSync(join(dir, 'readonly'), 0o555);
  // Permission bits do not bind root.
  if (process.getuid?.() !== 0) cases.push([join(dir, 'readonly', 'run'), /readonly\/run: --out: expected a folder this user can create and write in, got permission denied \(EACCES\)/]);
  for (const [out, re] of cases) {
    await rejects(runExperiment(decl, { out, workers: 0 }), re);
    assert.throws(() => mergeRuns([reference], out), isInputError(re));
  }
  assert.is(readFileSync(join(mine, 'summary.md'), 'utf8'), 'my own notes\n');
});

/** A user's policy that throws while it runs, for seed 2's cells only while `broken` is set. */
let broken = true;
const flaky: AnyPolicySpec = {
  name: 'flaky',
  description: 'fails on demand',
  defaults: {},
  testParams: () => [{}],
  budgeted: false,
  parse: () => ({}),
  create: (_params, { model }) => ({
    name: 'flaky',
    commit: () => {
      if (broken) throw new Error('flaky: broken on purpose');
      return model.nExits - 1;
    },
  }),
};

s('5: a failing cell is a failure record, every other cell runs, the report shows it, --resume retries it', async () => {
  // Before: the first failure aborted the run (Promise.all), the good cells never ran.
  const withFlaky: ExperimentDecl = { ...decl, parts: [{ ...decl.parts[0], policies: [...decl.parts[0].policies, { label: 'flaky', policy: flaky }] }] };
  const out = join(dir, 'failing');
  broken = true;
  const r = await runExperiment(withFlaky, { out, workers: 0 });
  assert.equal(r.failed.map((f) => f.key).sort(), [`offline|${trace}|flaky||seed=1`, `offline|${trace}|flaky||seed=2`]);
  assert.ok(r.failed.every((f) => f.label === 'flaky' && /broken on purpose/.test(f.error)), JSON.stringify(r.failed));
  assert.equal(sorted(out), sorted(reference));
  assert.is(readRun(out).failures.length, 2);
  await writeReport(out);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /## Failed cells \(2\)[\s\S]*flaky[\s\S]*broken on purpose/);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /2 cell\(s\) failed/);
  broken = false;
  const again = await runExperiment(withFlaky, { out, workers: 0, resume: true });
  assert.is(again.ran, 2);
  assert.equal(again.failed, []);
  assert.is(readRun(out).failures.length, 0);
  assert.is(keysInFile(out).length, CELLS + 2);
  assert.is(new Set(keysInFile(out)).size, CELLS + 2);
});

s('5 and 6: a bad trace and parameters that fail only against the model are errors before anything is written', async () => {
  const torn = writeTraceManifest(join(dir, 'torn'), {
    validation: syntheticTrace({ nSamples: 50, nExits: 4, seed: 1, split: 'validation' }),
    test: syntheticTrace({ nSamples: 50, nExits: 4, seed: 2, split: 'test' }),
  });
  rmSync(join(dir, 'torn', 'test-probs.npy'));
  const withPolicy = (policy: ExperimentDecl['parts'][0]['policies'][0]): ExperimentDecl => ({ ...decl, parts: [{ ...decl.parts[0], policies: [decl.parts[0].policies[0], policy] }] });
  const cases: [ExperimentDecl, RegExp][] = [
    // Before: found in a worker after config.json was written, so the next plain run refused the folder.
    [{ ...decl, traces: [torn] }, /test-probs\.npy/],
    // Before: every cell of this policy failed at run time (and, before failure records, the whole run).
    [withPolicy({ label: 'seven', policy: 'fixed-exit', params: { exit: 7 } }), /experiment "safety-test": parts\[0\]\.policies\[1\]\.params: expected parameters valid for "fixed-exit" on the model of .*manifest\.json \(4 exits, 10 classes\): policy "fixed-exit": params\.exit: expected an exit index in \[-4, 3\] for a 4-exit model/],
    [withPolicy({ label: 'nope', policy: 'threshold', params: { score: 'nope' } }), /parts\[0\]\.policies\[1\]\.params: expected parameters valid for "threshold" .*params\.score/],
  ];
  for (const [d, re] of cases) {
    const out = join(dir, 'never-written');
    await rejects(runExperiment(d, { out, workers: 0 }), re);
    assert.not.ok(existsSync(out), String(re));
  }
});

s('11: report and resume name the file and line of a line that is not a record, of a corrupt config.json; a symlinked cells.jsonl is refused', async () => {
  const good = readFileSync(join(reference, 'cells.jsonl'), 'utf8');
  const config = readFileSync(join(reference, 'config.json'), 'utf8');
  const cases: [string, string, RegExp][] = [
    ['cells.jsonl', `${good}{"hello":1}\n`, /cells\.jsonl: line 6: expected a cell record .*, got an object whose key is undefined/],
    ['cells.jsonl', `null\n${good}`, /cells\.jsonl: line 1: expected a cell record .*, got null/],
    ['cells.jsonl', `${good}[1,2]\n`, /cells\.jsonl: line 6: expected a cell record .*, got an array of length 2/],
    ['cells.jsonl', `{"key":\n${good}`, /cells\.jsonl: line 1: expected one JSON record per line/],
    ['config.json', config.replace('"seeds"', '"seeds" "'), /config\.json: line \d+: expected the resolved experiment `exitlab run` wrote \(valid JSON\)/],
    ['config.json', 'null\n', /config\.json: \(root\): expected the resolved experiment `exitlab run` wrote \(id, description, traces, seeds, parts\), got null/],
    ['config.json', config.replace(/"seeds": \[[^\]]*\]/, '"seeds": "1,2"'), /config\.json: seeds: expected the resolved experiment .*, got "1,2"/],
  ];
  for (const [i, [file, text, re]] of cases.entries()) {
    const out = join(dir, `bad-record-${i}`);
    mkdirSync(out);
    writeFileSync(join(out, 'config.json'), config);
    writeFileSync(join(out, 'cells.jsonl'), good);
    writeFileSync(join(out, file), text);
    await rejects(writeReport(out), re);
    if (file === 'cells.jsonl') await rejects(runExperiment(decl, { out, workers: 0, resume: true }), re);
  }
  const linked = join(dir, 'linked');
  mkdirSync(linked);
  writeFileSync(join(linked, 'config.json'), config);
  symlinkSync(join(reference, 'cells.jsonl'), join(linked, 'cells.jsonl'));
  const re = /linked\/cells\.jsonl: cells\.jsonl: expected a regular file inside the run directory \(a symlink is not followed; copy the records instead\), got a symlink to /;
  await rejects(writeReport(linked), re);
  await rejects(runExperiment(decl, { out: linked, workers: 0, resume: true }), re);
  assert.is(readFileSync(join(reference, 'cells.jsonl'), 'utf8'), good);
});

s('9: --workers is capped at the available parallelism and the cells to run (already so in harness v2; kept)', async () => {
  let seen: { used: number; requested: number; available: number } | undefined;
  const r = await runExperiment(decl, { out: join(dir, 'workers'), workers: 1000, stopAfter: 2, onStart: (st) => (seen = { ...st.workers }) });
  assert.is(r.ran, 2);
  assert.equal(seen, { used: Math.min(availableParallelism(), 2), requested: 1000, available: availableParallelism() });
});

s('10 and unknown fields: seeds are bounded and validated; unknown fields of an experiment are named with the known ones', () => {
  const bad: [string, RegExp][] = [
    ['99999999999999999999', /count 1\.\.10000.*got a count of 99999999999999999999/],
    ['100000000', /got a count of 100000000/],
    ['0', /got a count of 0/],
    ['1,,2', /element 2 is empty/],
    ['1,-2', /element 2 is "-2"/],
    ['1,4294967296', /element 2 is "4294967296"/],
    ['1,1', /seed 1 is repeated/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseSeeds(text), (e: unknown) => re.test((e as Error).message), text);
  assert.equal(parseSeeds('3'), [1, 2, 3]);
  assert.equal(parseSeeds('0,4294967295'), [0, 4294967295]);
  const part = decl.parts[0];
  const cases: [unknown, RegExp][] = [
    // Before: seeds outside 32 bits were accepted and aliased others in the generator.
    [{ ...decl, seeds: [1, -1] }, /seeds\[1\]: expected integer seeds in \[0, 4294967295\], got -1/],
    [{ ...decl, seeds: [2 ** 32] }, /seeds\[0\]: expected integer seeds in \[0, 4294967295\], got 4294967296/],
    // Before: silently accepted (a typo dropped what it meant to set).
    [{ ...decl, seed: [3] }, /experiment "safety-test": seed: expected one of the known fields id, description, traces, seeds, parts, quick, got an unknown field/],
    [{ ...decl, parts: [{ ...part, baseline: ['plain'] }] }, /parts\[0\]\.baseline: expected one of the known fields name, workload, policies, axes, baselines, baselineGroups, got an unknown field/],
    [{ ...decl, parts: [{ ...part, policies: [{ label: 'x', policy: 'fixed-exit', param: { exit: 0 } }] }] }, /parts\[0\]\.policies\[0\]\.param: expected one of the known fields label, policy, params, budgetFraction, got an unknown field/],
  ];
  for (const [d, re] of cases) assert.throws(() => defineExperiment(d as ExperimentDecl), isInputError(re), String(re));
});

/**
 * The CLI as a child process; with `killAt`, SIGKILLed once `out/cells.jsonl` has that many lines (0: once the
 * run holds its lock), i.e. at a random point of the sweep rather than of the start-up.
 */
function cliRun(args: string[], out: string, killAt?: number): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'experiments', 'exitlab.mjs'), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const lines = () => (existsSync(join(out, 'cells.jsonl')) ? readFileSync(join(out, 'cells.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0);
    const poll =
      killAt === undefined
        ? undefined
        : setInterval(() => {
            if (existsSync(join(out, 'run.lock')) && lines() >= killAt) child.kill('SIGKILL');
          }, 5);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, err });
    });
  });
}

s('property: any interleaving of SIGKILLed runs, --resume and two concurrent runs on one --out ends with the uninterrupted records, no key twice', async () => {
  // Long enough cells (a queue part) that kills land before, during and after the records are written.
  const longer: ExperimentDecl = {
    ...decl,
    id: 'safety-kill',
    parts: [
      decl.parts[0],
      {
        name: 'queue',
        workload: { kind: 'queue', jobs: 20000 },
        policies: [{ label: 'plain', policy: 'fixed-exit', params: { exit: -1 } }, { label: 'rate-based', policy: 'rate-based' }],
        axes: { lambdaOverMu: [0.5, 1.5], bufferSize: [5], arrivals: ['poisson'] },
      },
    ],
  };
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const expFile = join(dir, 'kill-exp.ts');
  writeFileSync(expFile, `import { defineExperiment } from ${JSON.stringify(join(root, 'experiments', 'harness', 'experiment.ts'))};\nexport default defineExperiment(${JSON.stringify(longer)});\n`);
  const uninterrupted = join(dir, 'uninterrupted');
  await runExperiment(longer, { out: uninterrupted, workers: 0 });
  const total = expandCells(resolveExperiment(longer)).length;
  assert.is(readRecords(uninterrupted).length, total);
  let n = 0;
  // Seed 6 draws [kill at 8], [two at once], [kill at 8, then two at once]: the last has both breaking one stale lock.
  const step = fc.oneof(fc.record({ kill: fc.integer({ min: 0, max: total - 1 }) }), fc.constant({ pair: true as const }));
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 2 }), async (steps) => {
      const out = join(dir, `prop-${n++}`);
      const args = ['run', expFile, '--out', out, '--resume', '--break-lock', '--workers', '0'];
      for (const st of steps) {
        if ('kill' in st) {
          await cliRun(args, out, st.kill);
        } else {
          const both = await Promise.all([cliRun(args, out), cliRun(args, out)]);
          // Each either ran (or found nothing left to run) or was refused by the other's lock.
          for (const r of both) assert.ok(r.code === 0 || (r.code === 3 && /run\.lock/.test(r.err)), `exit ${r.code}: ${r.err}`);
        }
      }
      await runExperiment(longer, { out, workers: 0, resume: true, breakLock: true });
      const keys = keysInFile(out);
      assert.is(new Set(keys).size, keys.length, 'a key written twice');
      assert.equal(sorted(out), sorted(uninterrupted));
    }),
    { numRuns: 3, seed: 6, endOnFailure: true },
  );
});

s.run();
