/**
 * The workload modules and the registry: every declaration a report or the statistics rely on is consistent
 * (rank metric, plots, summary columns name declared metrics; records carry only declared metrics and their
 * kind), a policy given as a `PolicySpec` object runs without being registered, labels do not seed policies, the
 * online workload hands its learners the cell's β (and refuses entries that would override it), errors name the
 * bad element, and the harness core has no per-kind code.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../lib/errors.ts';
import { writeTraceManifest } from '../lib/io.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { decodeExits } from '../lib/stats.ts';
import { defineExperiment, expandCells, resolveExperiment, type ExperimentDecl } from '../experiments/harness/experiment.ts';
import { runCell } from '../experiments/harness/cell.ts';
import { summarize, summaryMarkdown } from '../experiments/harness/report.ts';
import { WORKLOADS, getWorkload, type CellRecord } from '../experiments/workloads/index.ts';
import { learnsReward } from '../experiments/workloads/online.ts';
import { getPolicySpec } from '../policies/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const s = suite('workloads');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-workloads-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));

const trace = writeTraceManifest(join(dir, 't'), {
  validation: syntheticTrace({ nSamples: 300, nExits: 4, seed: 11, split: 'validation' }),
  test: syntheticTrace({ nSamples: 300, nExits: 4, seed: 12, split: 'test' }),
});

/** A policy of "the user's own", registered nowhere: leave at the first exit whose max-prob reaches `t`. */
interface Own {
  readonly t: number;
}
const ownSpec: PolicySpec<Own> = {
  name: 'my-confident-exit',
  description: 'test policy defined outside the registry',
  defaults: { t: 0.8 },
  budgeted: false,
  testParams: () => [{}],
  parse(raw) {
    const r = new ParamReader('policy "my-confident-exit"', raw);
    const t = r.number('t', this.defaults.t, { min: 0, max: 1 });
    r.done();
    return { t };
  },
  create: ({ t }) => ({ name: `my-confident-exit(${t})`, decide: (view) => (view.score('maxprob') >= t ? 'exit' : 'continue') }),
};

const runAll = async (decl: ExperimentDecl): Promise<CellRecord[]> => {
  const out: CellRecord[] = [];
  for (const cell of expandCells(resolveExperiment(decl))) out.push(await runCell(cell));
  return out;
};

s('registry: each key is its workload’s kind; rank metric, plots, summary columns and tables name declared metrics', () => {
  for (const [kind, w] of Object.entries(WORKLOADS)) {
    assert.is(w.kind, kind);
    assert.is(getWorkload(kind), w);
    const metrics = new Set(w.metrics.map((m) => m.name));
    assert.is(metrics.size, w.metrics.length, `${kind}: metric names unique`);
    assert.ok(metrics.has(w.rankBy), `${kind}: rankBy ${w.rankBy} declared`);
    assert.ok(w.metrics.some((m) => m.summary), `${kind}: some summary metric`);
    for (const m of w.metrics) assert.ok(['mean', 'share', 'count'].includes(m.kind), `${kind}.${m.name}: kind`);
    for (const b of w.bestBaseline ?? []) assert.ok(metrics.has(b.metric) && metrics.has(b.gap), `${kind}: bestBaseline names declared metrics`);
  }
  assert.throws(() => getWorkload('batch'), (e: unknown) => e instanceof InputError && /expected "offline", "queue",? (or )?"online".*, got "batch"/.test((e as Error).message));
});

s('one cell of each workload: records carry their kind and the model, only declared metrics, shares summing to 1', async () => {
  const decl = defineExperiment({
    id: 'each-kind',
    description: 'one cell per kind',
    traces: [trace],
    seeds: [1],
    parts: [
      { name: 'off', workload: { kind: 'offline' }, policies: [{ label: 'b', policy: 'budgeted-threshold', budgetFraction: 0.4 }] },
      { name: 'q', workload: { kind: 'queue', jobs: 500 }, policies: [{ label: 'p', policy: 'fixed-exit' }], axes: { lambdaOverMu: [1], bufferSize: [3], arrivals: ['poisson'] } },
      { name: 'on', workload: { kind: 'online', inputs: 600, windows: 3 }, policies: [{ label: 'd', policy: 'dee' }], axes: { beta: [0.2], stream: ['stationary'] } },
    ],
  });
  const records = await runAll(decl);
  assert.equal(records.map((r) => r.kind), ['offline', 'offline', 'queue', 'online']); // the oracle, then the policy
  for (const r of records) {
    const w = getWorkload(r.kind);
    const declared = new Set(w.metrics.map((m) => m.name));
    for (const m of Object.keys(r.metrics)) assert.ok(declared.has(m), `${r.kind}: undeclared metric ${m}`);
    const series = new Set((w.series ?? []).map((x) => x.name));
    for (const name of Object.keys(r.series ?? {})) assert.ok(series.has(name), `${r.kind}: undeclared series ${name}`);
    assert.ok(Math.abs(r.exitShares.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.is(r.model, 'synthetic-k4-c10');
  }
  const off = records[1];
  assert.ok(off.budgetMs !== null && 'testOvershootPct' in off.metrics);
  // Every test sample's exit, compactly: decodes to N exits that reproduce the recorded accuracy's exit shares.
  const shares = new Float64Array(4);
  const exits = decodeExits(off.exits!, 300, 4);
  for (const e of exits) shares[e] += 1 / exits.length;
  shares.forEach((s, k) => assert.ok(Math.abs(s - off.exitShares[k]) < 1e-9));
  const on = records[3];
  assert.is(on.series?.t.length, 3);
  assert.ok(on.metrics.lastWindowReward <= on.metrics.oracleReward + 1e-12);
});

s('a PolicySpec object enters an experiment without any registry; its cells and records name it', async () => {
  const decl = defineExperiment({
    id: 'own-policy',
    description: 'a user policy',
    traces: [trace],
    seeds: [1, 2],
    parts: [
      {
        name: 'off',
        workload: { kind: 'offline' },
        policies: [
          { label: 'mine', policy: ownSpec, params: { t: 0.6 } },
          { label: 'plain', policy: 'fixed-exit' },
        ],
        baselines: ['plain'],
      },
    ],
  });
  const cells = expandCells(decl).filter((c) => c.label === 'mine');
  assert.is(cells.length, 2);
  assert.ok(cells.every((c) => c.policy === 'my-confident-exit' && c.spec === ownSpec));
  const records = await runAll(decl);
  const mine = records.find((r) => r.label === 'mine')!;
  assert.is(mine.policy, 'my-confident-exit');
  assert.ok(mine.metrics.relativeCost < 1, 'a confidence rule leaves early on some samples');
  // Its parameters are checked by its own spec, and a non-spec object is refused, both naming the field.
  const bad = (policy: unknown, params?: object) => ({ ...decl, parts: [{ ...decl.parts[0], policies: [{ label: 'x', policy, params }] }] }) as unknown as ExperimentDecl;
  assert.throws(() => defineExperiment(bad(ownSpec, { t: 2 })), (e: unknown) => e instanceof InputError && /parts\[0\]\.policies\[0\]\.params: expected parameters valid for "my-confident-exit"/.test((e as Error).message));
  assert.throws(() => defineExperiment(bad({ name: 'half a spec' })), (e: unknown) => e instanceof InputError && /parts\[0\]\.policies\[0\]\.policy: expected a registered policy name or a PolicySpec object/.test((e as Error).message));
});

s('a policy’s random stream comes from seed, name and parameters: renaming its label changes no record', async () => {
  const make = (label: string): ExperimentDecl => ({
    id: 'labels',
    description: 'label invariance',
    traces: [trace],
    seeds: [3, 4],
    parts: [{ name: 'q', workload: { kind: 'queue', jobs: 800 }, policies: [{ label, policy: 'random-exit' }], axes: { lambdaOverMu: [1.2], bufferSize: [4], arrivals: ['bursty'] } }],
  });
  const strip = (rs: CellRecord[]) => rs.map((r) => JSON.stringify({ ...r, key: r.key.replace(/\|[^|]*\|arrivals/, '|·|arrivals'), label: '·' }));
  const a = await runAll(make('random'));
  const b = await runAll(make('coin flips'));
  assert.equal(strip(a), strip(b));
  assert.not.equal(a[0].exitShares, a[1].exitShares, 'different seeds draw different exits');
});

s('online: learners get the cell’s β explicitly; entries overriding β or score, and half-declared reward specs, are errors', async () => {
  assert.ok(learnsReward(getPolicySpec('dee')) && learnsReward(getPolicySpec('tuned-threshold')));
  assert.not.ok(learnsReward(getPolicySpec('fixed-exit')) || learnsReward(getPolicySpec('threshold')));
  const part = { name: 'on', workload: { kind: 'online' as const, inputs: 3000, windows: 2 }, policies: [{ label: 'dee', policy: 'dee' }], axes: { beta: [0, 5], stream: ['stationary' as const] } };
  const decl: ExperimentDecl = { id: 'beta', description: 'β reaches the learner', traces: [trace], seeds: [1], parts: [part] };
  const [free, dear] = await runAll(decl);
  assert.is(free.axes.beta, 0);
  // A learner told β = 5 leaves much earlier than one told β = 0; with the default β for both they would match.
  assert.ok(dear.metrics.relativeCost < free.metrics.relativeCost - 0.2, `relative cost ${free.metrics.relativeCost} at β=0 vs ${dear.metrics.relativeCost} at β=5`);
  const withParams = (params: Record<string, unknown>) => ({ ...decl, parts: [{ ...part, policies: [{ label: 'dee', policy: 'dee', params }] }] });
  assert.throws(() => defineExperiment(withParams({ beta: 0.3 })), (e: unknown) => e instanceof InputError && /parts\[0\]\.policies\[0\]\.params\.beta: expected no beta/.test((e as Error).message));
  assert.throws(() => defineExperiment(withParams({ score: 'entropy' })), (e: unknown) => e instanceof InputError && /parts\[0\]\.policies\[0\]\.params\.score: expected no score/.test((e as Error).message));
  const betaOnly: PolicySpec<{ beta: number }> = { ...ownSpec, name: 'beta-only', defaults: { beta: 0.1 }, parse: () => ({ beta: 0.1 }), create: () => ({ name: 'beta-only', commit: () => 0 }) } as unknown as PolicySpec<{ beta: number }>;
  assert.throws(
    () => defineExperiment({ ...decl, parts: [{ ...part, policies: [{ label: 'x', policy: betaOnly }] }] }),
    (e: unknown) => e instanceof InputError && /parts\[0\]\.policies\[0\]\.policy: expected a policy declaring both reward parameters/.test((e as Error).message),
  );
});

s('errors name the part, the axis and the bad element; quick keys are checked against the workloads', () => {
  const decl: ExperimentDecl = {
    id: 'errs',
    description: 'errors',
    traces: [trace],
    seeds: [1],
    parts: [
      { name: 'off', workload: { kind: 'offline' }, policies: [{ label: 'p', policy: 'fixed-exit' }] },
      { name: 'q', workload: { kind: 'queue', jobs: 10 }, policies: [{ label: 'p', policy: 'fixed-exit' }], axes: { lambdaOverMu: [0.5, 1, 0], bufferSize: [1], arrivals: ['poisson'] } },
    ],
  };
  assert.throws(() => defineExperiment(decl), (e: unknown) => e instanceof InputError && /experiment "errs": parts\[1\]\.axes\.lambdaOverMu\[2\]: expected positive multiples of μ, got 0/.test((e as Error).message));
  const ok = { ...decl, parts: [decl.parts[0]] };
  assert.throws(() => defineExperiment({ ...ok, quick: { jobs: 5 } }), (e: unknown) => e instanceof InputError && /quick\.jobs: expected seeds, axes \(what this experiment's workloads read\)/.test((e as Error).message));
  const q = { ...decl, parts: [decl.parts[1]] } as ExperimentDecl;
  const fixed = { ...q, parts: [{ ...q.parts[0], axes: { lambdaOverMu: [1], bufferSize: [1], arrivals: ['poisson'] } }] } as ExperimentDecl;
  assert.throws(() => defineExperiment({ ...fixed, quick: { jobs: 0 } }), (e: unknown) => e instanceof InputError && /quick\.jobs: expected an integer ≥ 1/.test((e as Error).message));
  assert.throws(() => defineExperiment({ ...fixed, parts: [{ ...fixed.parts[0], workload: { kind: 'queue', jobs: 10, job: 3 } }] } as unknown as ExperimentDecl), (e: unknown) => e instanceof InputError && /parts\[0\]\.workload\.job: expected one of kind, jobs/.test((e as Error).message));
});

s('the built-in experiment modules validate and expand; the DEE study covers every stream, β, seed and variant', async () => {
  const counts: Record<string, [number, number]> = {};
  for (const id of ['compare', 'queue-sweep', 'eenet-sweep', 'dee-study']) {
    const decl = ((await import(join(root, 'experiments', `${id}.ts`))) as { default: ExperimentDecl }).default;
    counts[id] = [expandCells(resolveExperiment(decl)).length, expandCells(resolveExperiment(decl, { quick: true })).length];
  }
  // 2 fixtures × 3 streams × 3 β × 8 policies × 3 seeds; quick: one β, one seed.
  assert.equal(counts['dee-study'], [432, 48]);
  // queue-sweep: 3 fixtures × 3 arrival processes × 3 B × 8 λ/μ × 12 policies (bt-model-eenet is the 12th) × 5 seeds;
  // quick: B = 10, 3 λ/μ, one seed.
  assert.equal(counts['queue-sweep'], [3 * 3 * 3 * 8 * 12 * 5, 3 * 3 * 1 * 3 * 12]);
});

s('the built-in experiments declare the wide image fixture and nsl-kdd-mlp (issue 14); dee-study and risk-control exactly those two', async () => {
  const wide = 'fixtures/fashion-mnist-wide/manifest.json';
  for (const id of ['compare', 'queue-sweep', 'eenet-sweep', 'dee-study', 'risk-control']) {
    const decl = ((await import(join(root, 'experiments', `${id}.ts`))) as { default: ExperimentDecl }).default;
    assert.ok(decl.traces.includes(wide), `${id} declares ${wide}`);
    assert.ok(decl.traces.includes('fixtures/nsl-kdd-mlp/manifest.json'), `${id} keeps nsl-kdd-mlp`);
  }
  for (const id of ['dee-study', 'risk-control']) {
    const decl = ((await import(join(root, 'experiments', `${id}.ts`))) as { default: ExperimentDecl }).default;
    assert.equal(decl.traces, [wide, 'fixtures/nsl-kdd-mlp/manifest.json'], id);
  }
});

s('with --trace the summary names the model and manifest run, not the declared fixtures', async () => {
  const compare = ((await import(join(root, 'experiments', 'compare.ts'))) as { default: ExperimentDecl }).default;
  const onMine = resolveExperiment(compare, { quick: true, traces: [trace] });
  const oracle = expandCells(onMine).find((c) => c.label === 'oracle')!;
  const md = summaryMarkdown(onMine, summarize([await runCell(oracle)]));
  assert.match(md, `Traces: synthetic-k4-c10 (${trace}).`);
  assert.not.match(md, /fixtures|shipped/);
});

s('the harness core has no per-kind code: no workload kind named outside comments', () => {
  for (const file of ['experiment.ts', 'cell.ts', 'report.ts']) {
    const code = readFileSync(join(root, 'experiments', 'harness', file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const kind of Object.keys(WORKLOADS)) assert.not.match(code, new RegExp(`\\b${kind}\\b`), `${file} names "${kind}"`);
  }
});

s.run();
