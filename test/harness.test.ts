/**
 * The experiment harness: config validation names the bad field; records do not depend on the number of
 * workers; sharded runs merged equal an unsharded run; a run killed mid-sweep and resumed equals an
 * uninterrupted one; the report has one plot per declared axis.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../lib/errors.ts';
import { writeTraceManifest } from '../lib/io.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { defineExperiment, expandCells, parseShard, resolveExperiment, type ExperimentDecl, type PartDecl } from '../experiments/harness/experiment.ts';
import { readRecords, runExperiment } from '../experiments/harness/run.ts';
import { mergeRuns, summarize, writeReport } from '../experiments/harness/report.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const s = suite('harness');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-harness-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));

const traceA = writeTraceManifest(join(dir, 'a'), {
  validation: syntheticTrace({ nSamples: 400, nExits: 4, seed: 1, split: 'validation' }),
  test: syntheticTrace({ nSamples: 400, nExits: 4, seed: 2, split: 'test' }),
});
const traceB = writeTraceManifest(join(dir, 'b'), {
  validation: syntheticTrace({ nSamples: 300, nExits: 3, nClasses: 5, seed: 3, split: 'validation' }),
  test: syntheticTrace({ nSamples: 300, nExits: 3, nClasses: 5, seed: 4, split: 'test' }),
});

const decl: ExperimentDecl = {
  id: 'harness-test',
  description: 'small experiment for the harness tests',
  traces: [traceA, traceB],
  seeds: [1, 2],
  parts: [
    {
      name: 'offline',
      workload: { kind: 'offline' },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'random', policy: 'random-exit' },
        { label: 'budgeted', policy: 'budgeted-threshold', params: { score: 'entropy' } },
      ],
      axes: { budgetFraction: [0.2, 0.6] },
      baselines: ['plain'],
    },
    {
      name: 'queue',
      workload: { kind: 'queue', jobs: 3000 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'EEN', policy: 'budgeted-threshold', budgetFraction: 0.5 },
        { label: 'rate-based', policy: 'rate-based' },
      ],
      axes: { lambdaOverMu: [0.5, 1.5], bufferSize: [5], arrivals: ['poisson', 'bursty'] },
      baselines: ['plain'],
    },
    {
      name: 'online',
      workload: { kind: 'online', inputs: 4000, windows: 5 },
      policies: [
        { label: 'plain', policy: 'fixed-exit', params: { exit: -1 } },
        { label: 'lee', policy: 'lee-ucb' },
        { label: 'dee', policy: 'dee' },
      ],
      axes: { beta: [0, 0.5], stream: ['stationary', 'switch-mix'] },
      baselines: ['plain', 'lee'],
    },
  ],
};

/** Records without anything run-specific, sorted by key: what must be identical across ways of running. */
const canonical = (out: string) => readRecords(out).map((r) => JSON.stringify(r)).sort();

s('cell expansion: non-budgeted policies run once per trace and seed, budgeted ones once per budget', () => {
  const cells = expandCells(defineExperiment(decl));
  // offline: 2 traces × (2 non-budgeted + 1 budgeted × 2 budgets) × 2 seeds = 16, plus one oracle per trace;
  // queue: 2 × 4 axis sets × 3 × 2 = 48; online: 2 × 4 × 3 × 2 = 48.
  assert.is(cells.length, 114);
  assert.is(new Set(cells.map((c) => c.key)).size, 114);
  assert.is(cells.filter((c) => c.policy === 'oracle').length, 2);
  // A budgeted policy with its own budgetFraction runs once per trace and seed, not once per budget on the axis.
  const own = expandCells(defineExperiment({ ...decl, parts: [{ ...decl.parts[0], policies: [...decl.parts[0].policies, { label: 'own', policy: 'budgeted-threshold', budgetFraction: 0.3 }] }] }));
  const ownCells = own.filter((c) => c.label === 'own');
  assert.is(ownCells.length, 2 * 2);
  assert.ok(ownCells.every((c) => c.budgetFraction === 0.3 && Object.keys(c.axes).length === 0));
  assert.equal(parseShard('1/4'), { index: 1, count: 4 });
  assert.throws(() => parseShard('4/4'), (e: unknown) => e instanceof InputError && /--shard/.test((e as Error).message));
});

s('config validation: each bad field is named', () => {
  const part0 = decl.parts[0];
  const part1 = decl.parts[1];
  const cases: [unknown, RegExp][] = [
    [{ ...decl, id: 'Bad Id' }, /experiment: id: expected a lower-case identifier/],
    [{ ...decl, traces: [] }, /traces: expected a non-empty array of manifest paths/],
    [{ ...decl, seeds: [1, 1] }, /seeds: expected distinct seeds/],
    [{ ...decl, seeds: [1, 1.5] }, /seeds\[1\]: expected integer seeds in \[0, 4294967295\], got 1\.5/],
    [{ ...decl, parts: [{ ...part0, policies: [{ label: 'x', policy: 'thresholds' }] }] }, /parts\[0\]\.policies\[0\]\.policy: expected one of fixed-exit/],
    [{ ...decl, parts: [{ ...part0, policies: [{ label: 'x', policy: 'threshold', params: { thresholds: 'high' } }] }] }, /parts\[0\]\.policies\[0\]\.params: expected parameters valid for "threshold"/],
    [{ ...decl, parts: [{ ...part0, policies: [part0.policies[0], part0.policies[0]] }] }, /parts\[0\]\.policies\[1\]\.label: expected a label unique within the part/],
    [{ ...decl, parts: [{ ...part0, axes: {} }] }, /parts\[0\]\.axes\.budgetFraction: expected budgets for the budgeted policies/],
    [{ ...decl, parts: [{ ...part0, axes: { budgetFraction: [0.2, 1.5] } }] }, /parts\[0\]\.axes\.budgetFraction\[1\]: expected fractions in \[0, 1\], got 1\.5/],
    [{ ...decl, parts: [{ ...part0, axes: { budgetFraction: [] } }] }, /parts\[0\]\.axes\.budgetFraction: expected a non-empty array of fractions/],
    [{ ...decl, parts: [{ ...part1, axes: { ...part1.axes, lambdaOverMu: [0.5, 1, -2] } }] }, /parts\[0\]\.axes\.lambdaOverMu\[2\]: expected positive multiples of μ, got -2/],
    [{ ...decl, parts: [part0, { ...part1, axes: { ...part1.axes, bufferSize: [5, 5] } }] }, /parts\[1\]\.axes\.bufferSize\[1\]: expected a value not already on the axis/],
    [{ ...decl, parts: [{ ...part0, axes: { budget: [0.5] } }] }, /parts\[0\]\.axes\.budget: expected one of budgetFraction, got an unknown key/],
    [{ ...decl, parts: [{ ...part1, axes: { ...part1.axes, arrivals: ['gamma'] } }] }, /parts\[0\]\.axes\.arrivals\[0\]: expected "poisson", "bursty" or "steps", got "gamma"/],
    [{ ...decl, parts: [{ ...part1, workload: { kind: 'queue', jobs: 0 } }] }, /parts\[0\]\.workload\.jobs: expected an integer ≥ 1/],
    [{ ...decl, parts: [{ ...part1, baselines: undefined, policies: [{ label: 'b', policy: 'budgeted-threshold' }] }] }, /parts\[0\]\.policies\[0\]\.budgetFraction: expected a budget fraction \(budgeted policy in a queue part/],
    [{ ...decl, parts: [{ ...part1, workload: { kind: 'batch' } }] }, /parts\[0\]\.workload\.kind: expected "offline", "queue",? (or )?"online"/],
    [{ ...decl, parts: [{ ...decl.parts[2], axes: { beta: [-1], stream: ['stationary'] } }] }, /parts\[0\]\.axes\.beta\[0\]: expected β values ≥ 0, got -1/],
    [{ ...decl, parts: [{ ...decl.parts[2], axes: { beta: [0], stream: ['drift'] } }] }, /parts\[0\]\.axes\.stream\[0\]: expected "stationary", "switch-split" or "switch-mix", got "drift"/],
    [{ ...decl, parts: [{ ...decl.parts[2], workload: { kind: 'online', inputs: 0 } }] }, /parts\[0\]\.workload\.inputs: expected an integer ≥ 1/],
    [{ ...decl, parts: [{ ...part0, policies: [...part0.policies, { label: 'oracle', policy: 'fixed-exit' }] }] }, /parts\[0\]\.policies\[3\]\.label: expected a label other than "oracle"/],
    [{ ...decl, parts: [{ ...part1, baselines: ['nobody'] }] }, /parts\[0\]\.baselines\[0\]: expected labels of this part's policies \(plain, EEN, rate-based\), got "nobody"/],
    [{ ...decl, parts: [part0, { ...part1, name: 'offline' }] }, /parts\[1\]\.name: expected a name unique among the parts/],
    [{ ...decl, quick: { axes: { nope: {} } } }, /quick\.axes\.nope: expected a part name/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(() => defineExperiment(bad as ExperimentDecl), (e: unknown) => e instanceof InputError && re.test((e as Error).message), String(re));
  }
});

s('--trace replaces the declared traces; a missing manifest fails before any cell runs', async () => {
  const onB = resolveExperiment(defineExperiment(decl), { traces: [traceB] });
  assert.equal(onB.traces, [traceB]);
  assert.ok(expandCells(onB).every((c) => c.trace === traceB));
  const out = join(dir, 'missing-trace');
  await runExperiment(decl, { out, traces: [join(dir, 'nowhere', 'manifest.json')], workers: 0 }).then(
    () => assert.unreachable('ran with a missing trace'),
    (e: unknown) => assert.ok(e instanceof InputError && /nowhere\/manifest\.json: traces: expected a readable trace manifest/.test((e as Error).message), String(e)),
  );
  assert.not.ok(existsSync(join(out, 'cells.jsonl')));
});

s('summary rows order axis values numerically, not as text', () => {
  const rec = (lambdaOverMu: number, seed: number) => ({
    key: `q|t|p|lambdaOverMu=${lambdaOverMu}|seed=${seed}`,
    part: 'q',
    kind: 'queue' as const,
    trace: 't',
    label: 'p',
    policy: 'fixed-exit',
    axes: { lambdaOverMu },
    seed,
    budgetMs: null,
    metrics: { lossRatio: lambdaOverMu / 100 + seed },
    exitShares: [1],
  });
  const rows = summarize([rec(10, 1), rec(1.5, 1), rec(1, 2), rec(1, 1), rec(2, 1)]);
  assert.equal(rows.map((r) => r.axes.lambdaOverMu), [1, 1.5, 2, 10]);
  assert.is(rows[0].metrics.lossRatio.n, 2);
  assert.ok(Math.abs(rows[0].metrics.lossRatio.mean - 1.51) < 1e-12);
});

s('records are identical whatever the number of workers', async () => {
  await runExperiment(decl, { out: join(dir, 'w0'), workers: 0 });
  await runExperiment(decl, { out: join(dir, 'w2'), workers: 2 });
  const a = canonical(join(dir, 'w0'));
  assert.is(a.length, 114);
  assert.equal(canonical(join(dir, 'w2')), a);
});

s('sharded runs merged equal the unsharded run', async () => {
  await runExperiment(decl, { out: join(dir, 's0'), workers: 0, shard: { index: 0, count: 3 } });
  await runExperiment(decl, { out: join(dir, 's1'), workers: 0, shard: { index: 1, count: 3 } });
  await runExperiment(decl, { out: join(dir, 's2'), workers: 0, shard: { index: 2, count: 3 } });
  assert.ok(readRecords(join(dir, 's0')).length < 114);
  assert.is(mergeRuns([join(dir, 's0'), join(dir, 's1'), join(dir, 's2')], join(dir, 'merged')), 114);
  assert.equal(canonical(join(dir, 'merged')), canonical(join(dir, 'w0')));
  // Shards of different experiments do not merge.
  await runExperiment(decl, { out: join(dir, 'other'), workers: 0, seeds: [7], shard: { index: 0, count: 3 } });
  assert.throws(() => mergeRuns([join(dir, 's0'), join(dir, 'other')], join(dir, 'bad')), (e: unknown) => e instanceof InputError && /the same resolved experiment/.test((e as Error).message));
});

s('an interrupted run (torn last line) resumes to the same records; a full directory needs --resume', async () => {
  const out = join(dir, 'interrupted');
  const first = await runExperiment(decl, { out, workers: 0, stopAfter: 20 });
  assert.is(first.ran, 20);
  appendFileSync(join(out, 'cells.jsonl'), '{"key":"offline|torn'); // a write cut by a kill
  await assert.not.throws(async () => undefined);
  let refused = false;
  try {
    await runExperiment(decl, { out, workers: 0 });
  } catch (err) {
    refused = err instanceof InputError && /--resume/.test((err as Error).message);
  }
  assert.ok(refused, 'a directory with records must need --resume');
  const second = await runExperiment(decl, { out, workers: 2, resume: true });
  assert.is(second.skipped, 20);
  assert.is(second.ran, 94);
  assert.equal(canonical(out), canonical(join(dir, 'w0')));
});

s('a CLI run killed with SIGKILL mid-sweep and resumed equals an uninterrupted run', async () => {
  const expFile = join(dir, 'kill-exp.ts');
  // An ES module scope for the experiment file, as in any project with "type": "module".
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const queuePart = decl.parts[1] as Extract<PartDecl, { workload: { kind: 'queue' } }>;
  const longer: ExperimentDecl = { ...decl, id: 'kill-test', parts: [{ ...queuePart, workload: { kind: 'queue', jobs: 60000 } }] };
  writeFileSync(
    expFile,
    `import { defineExperiment } from ${JSON.stringify(join(root, 'experiments', 'harness', 'experiment.ts'))};\nexport default defineExperiment(${JSON.stringify(longer)});\n`,
  );
  const out = join(dir, 'killed');
  const child = spawn(process.execPath, [...process.execArgv, join(root, 'experiments', 'cli.ts'), 'run', expFile, '--out', out, '--workers', '1'], { stdio: 'ignore' });
  const recorded = () => (existsSync(join(out, 'cells.jsonl')) ? readFileSync(join(out, 'cells.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0);
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (recorded() >= 3) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      } else if (Date.now() - started > 60000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error('no cell recorded within 60 s'));
      }
    }, 20);
  });
  await new Promise((r) => child.once('exit', r));
  const total = expandCells(resolveExperiment(defineExperiment(longer))).length;
  const afterKill = readRecords(out).length;
  assert.ok(afterKill > 0 && afterKill < total, `the run finished (${afterKill}/${total}) before it was killed: make the test experiment longer`);
  // SIGKILL leaves the run's lock behind: a stale lock is cleared only when asked (--break-lock).
  const resumed = await runExperiment(defineExperiment(longer), { out, workers: 2, resume: true, breakLock: true });
  assert.is(resumed.skipped, afterKill);
  await runExperiment(defineExperiment(longer), { out: join(dir, 'unkilled'), workers: 2 });
  assert.equal(canonical(out), canonical(join(dir, 'unkilled')));
});

s('report: one plot per declared axis with several values, exit shares, figures on their own, intervals, paired tests and a headline', async () => {
  const html = readFileSync(await writeReport(join(dir, 'w0')), 'utf8');
  const axesOf = (part: string) => [...html.matchAll(new RegExp(`<figure data-part="${part}" data-axis="([^"]+)">`, 'g'))].map((m) => m[1]);
  assert.equal(axesOf('offline').filter((a) => a !== 'budgetFraction-flops'), ['budgetFraction', 'exit-shares']);
  // bufferSize has a single value: no plot along it.
  assert.equal(axesOf('queue'), ['lambdaOverMu', 'arrivals', 'exit-shares']);
  assert.equal(axesOf('online'), ['beta', 'stream', 'regret-curves', 'exit-shares']);
  const nFigures = (html.match(/<figure /g) ?? []).length;
  assert.is((html.match(/<svg /g) ?? []).length, nFigures);
  assert.not.match(html, /<script/);
  // Every plot also on its own: one SVG, CSV and Vega-Lite spec each.
  const files = readdirSync(join(dir, 'w0', 'figures'));
  for (const ext of ['.svg', '.csv', '.vl.json']) assert.is(files.filter((f) => f.endsWith(ext)).length, nFigures, ext);
  assert.ok(files.includes('queue-lambda-over-mu.svg') && files.includes('offline-exit-shares.csv'));
  const spec = JSON.parse(readFileSync(join(dir, 'w0', 'figures', 'queue-lambda-over-mu.vl.json'), 'utf8'));
  assert.ok(Array.isArray(spec.data.values) && spec.data.values.length > 0);
  const md = readFileSync(join(dir, 'w0', 'summary.md'), 'utf8');
  // What was run: each trace's model name and manifest path, in the summary and the report.
  assert.ok(md.includes(`Traces: synthetic-k4-c10 (${traceA}), synthetic-k3-c5 (${traceB}).`), md.slice(0, 400));
  assert.ok(html.includes(`synthetic-k4-c10 (${traceA})`));
  assert.match(md, /\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]/);
  assert.match(md, /McNemar \(exact\)|paired bootstrap/);
  assert.match(md, /Holm-adjusted/);
  assert.match(md, /Welch t over seeds/);
  assert.match(md, /## Models: every exit/);
  assert.match(md, /budget curves/);
  assert.match(md, /oracle/);
  // Online: the improvement of each policy over the best baseline, per (trace, stream, β).
  assert.match(md, /online: against the best baseline in each cell/);
  assert.match(md, /dee gap closed/);
  assert.match(md, /-?\d+\.\d\d%/);
  const head = readFileSync(join(dir, 'w0', 'headline.txt'), 'utf8').trimEnd().split('\n');
  assert.ok(head.length <= 60 && head.some((l) => /vs plain: \d+ better, \d+ worse/.test(l)), head.join('\n'));
  const csv = readFileSync(join(dir, 'w0', 'summary.csv'), 'utf8').split('\n');
  assert.match(csv[0], /^part,trace,model,policy,.*accuracy_mean,accuracy_lo,accuracy_hi,accuracy_method/);
  // 2 traces × (2 + 2 + oracle) offline rows + 2 × 4 × 3 queue rows + 2 × 4 × 3 online rows = 58 (seeds folded).
  assert.is(csv.filter(Boolean).length, 1 + 58);
});

s.run();
