/**
 * Arrival-rate sweep of the backlog-aware schedulers against the baselines, on every shipped fixture:
 * λ from 0.2× to 3× the service rate of the full network (μ = 1 / cost of the last exit), buffers B ∈ {5, 10, 50},
 * Poisson and bursty (MMPP2: 5× peaks, 20% of the time) arrivals, several seeds. Policies are fitted on the
 * validation split and serve jobs drawn from the test split.
 *
 * Policies: plain network (last exit), ordinary EEN (budgeted max-prob thresholds, budget half-way between the
 * first and last exit's cost), random exit (uniform), fixed exit distribution (the EEN's geometric target shares,
 * score-blind), and the reactive, model-based and rate-based schedulers.
 *
 * Every run is appended to `<out>/runs.jsonl` as it finishes (an interrupted sweep keeps them); the summary
 * (mean over seeds) goes to `<out>/summary.md` and the terminal.
 *
 * Usage: tsx experiments/queue-sweep.ts [--seeds 3] [--jobs 20000] [--quick] [--trace manifest.json ...] [--out DIR]
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { burstyArrivals, type ArrivalConfig } from '../lib/arrivals.ts';
import { geometricShares } from '../lib/calibrate.ts';
import { atomicWrite, loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate, type QueueMetrics } from '../lib/queue.ts';
import { Rng } from '../lib/random.ts';
import type { AnyPolicySpec, RawParams } from '../lib/registry.ts';
import { textTable } from '../lib/report.ts';
import { scoreTrace } from '../lib/scores.ts';
import { budgetedThreshold, fixedExit, modelBased, randomExit, rateBased, reactive } from '../policies/index.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '20000' },
    quick: { type: 'boolean', default: false },
    trace: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
});
const nSeeds = values.quick ? 1 : Number(values.seeds);
const nJobs = values.quick ? 3000 : Number(values.jobs);
if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new Error(`--seeds: expected an integer ≥ 1, got ${values.seeds}`);
if (!Number.isInteger(nJobs) || nJobs < 1) throw new Error(`--jobs: expected an integer ≥ 1, got ${values.jobs}`);
const multipliers = values.quick ? [0.5, 1, 2] : [0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0];
const buffers = values.quick ? [10] : [5, 10, 50];
const manifests =
  values.trace ??
  readdirSync('fixtures')
    .map((d) => join('fixtures', d, 'manifest.json'))
    .filter((p) => existsSync(p))
    .sort();
if (manifests.length === 0) throw new Error('no fixtures: pass --trace or build them with `npm run fixtures`');

const out = values.out ?? join('results', `queue-sweep-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(out, { recursive: true });
let revision = 'unknown';
try {
  revision = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // Not a git checkout.
}
const seeds = Array.from({ length: nSeeds }, (_, i) => i + 1);
atomicWrite(join(out, 'run.json'), JSON.stringify({ experiment: 'queue-sweep', manifests, seeds, nJobs, multipliers, buffers, revision, node: process.version }, null, 2) + '\n');
const runsPath = join(out, 'runs.jsonl');

interface Row {
  fixture: string;
  arrivals: string;
  B: number;
  mult: number;
  policy: string;
  m: QueueMetrics[];
}
const rows: Row[] = [];
const t0 = Date.now();

for (const manifest of manifests) {
  const validation = scoreTrace(loadTrace(manifest, 'validation'));
  const test = scoreTrace(loadTrace(manifest, 'test'));
  const cost = test.trace.costMs;
  const K = cost.length;
  const budget = (cost[0] + cost[K - 1]) / 2;
  const policies: { label: string; spec: AnyPolicySpec; params: RawParams; budgetMs?: number }[] = [
    { label: 'plain', spec: fixedExit, params: { exit: -1 } },
    { label: 'EEN', spec: budgetedThreshold, params: { score: 'maxprob' }, budgetMs: budget },
    { label: 'random', spec: randomExit, params: {} },
    { label: 'fixed-dist', spec: randomExit, params: { shares: geometricShares(cost, budget) } },
    { label: 'reactive', spec: reactive, params: {} },
    { label: 'model-based', spec: modelBased, params: {} },
    { label: 'rate-based', spec: rateBased, params: {} },
  ];
  const fixture = test.trace.provenance.model;
  for (const B of buffers) {
    for (const kind of ['poisson', 'bursty'] as const) {
      for (const mult of multipliers) {
        const rate = mult / cost[K - 1];
        const arrivals: ArrivalConfig = kind === 'poisson' ? { kind: 'poisson', ratePerMs: rate } : burstyArrivals(rate);
        for (const p of policies) {
          const row: Row = { fixture, arrivals: kind, B, mult, policy: p.label, m: [] };
          for (const seed of seeds) {
            const policy = p.spec.create(p.spec.parse(p.params), { rng: new Rng(seed).fork(p.label), model: modelInfo(validation) });
            policy.fit?.(validation, p.budgetMs === undefined ? {} : { budgetMs: p.budgetMs });
            const { metrics } = simulate(policy, test, { bufferCapacity: B, arrivals, maxArrivals: nJobs, seed });
            row.m.push(metrics);
            appendFileSync(runsPath, JSON.stringify({ fixture, arrivalProcess: kind, B, lambdaOverMu: mult, label: p.label, ...metrics }) + '\n');
          }
          rows.push(row);
        }
      }
      process.stderr.write(`  ${fixture} B=${B} ${kind} done (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const policyOrder = ['plain', 'EEN', 'random', 'fixed-dist', 'reactive', 'model-based', 'rate-based'];
let md = `# Queue sweep\n\n${nSeeds} seeds × ${nJobs} arrivals per cell; mean over seeds. λ/μ: arrival rate over the full network's service rate.\n`;
md += 'Cells: loss ratio / accuracy counting lost jobs as failures / p95 response time (ms).\n';
const groups = [...new Set(rows.map((r) => `${r.fixture}|${r.arrivals}|${r.B}`))];
for (const g of groups) {
  const [fixture, arrivals, B] = g.split('|');
  const sel = rows.filter((r) => `${r.fixture}|${r.arrivals}|${r.B}` === g);
  const header = ['λ/μ', ...policyOrder];
  const body = multipliers.map((mult) => [
    mult.toFixed(1),
    ...policyOrder.map((pl) => {
      const r = sel.find((x) => x.mult === mult && x.policy === pl)!;
      return `${mean(r.m.map((m) => m.lossRatio)).toFixed(3)}/${mean(r.m.map((m) => m.accuracyOverall)).toFixed(3)}/${mean(r.m.map((m) => m.p95ResponseMs)).toFixed(1)}`;
    }),
  ]);
  const title = `\n## ${fixture}, ${arrivals} arrivals, B = ${B}\n`;
  const table = textTable(header, body);
  md += `${title}\n\`\`\`\n${table}\n\`\`\`\n`;
  console.log(title);
  console.log(table);
}

// Where do the schedulers beat the ordinary EEN and the plain network, and where do they lose? Compare
// accuracy counting lost jobs as failures (mean over seeds); a difference under 0.5 points counts as a tie.
md += '\n## Schedulers vs the ordinary EEN and the plain network\n\n';
md += 'Accuracy counting lost jobs as failures, mean over seeds. "+" lists the λ/μ where the scheduler is more than\n';
md += '0.5 points better, "−" where it is more than 0.5 points worse; other λ/μ are ties.\n\n';
const schedulers = ['reactive', 'model-based', 'rate-based'];
const winHeader = ['fixture', 'arrivals', 'B', ...schedulers.flatMap((s) => [`${s} vs EEN`, `${s} vs plain`])];
const winBody = groups.map((g) => {
  const [fixture, arrivals, B] = g.split('|');
  const sel = rows.filter((r) => `${r.fixture}|${r.arrivals}|${r.B}` === g);
  const acc = (pl: string, mult: number) => mean(sel.find((x) => x.mult === mult && x.policy === pl)!.m.map((m) => m.accuracyOverall));
  const versus = (s: string, base: string) => {
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(',');
    const plus = multipliers.filter((mult) => acc(s, mult) > acc(base, mult) + 0.005);
    const minus = multipliers.filter((mult) => acc(s, mult) < acc(base, mult) - 0.005);
    return [plus.length ? `+${fmt(plus)}` : '', minus.length ? `−${fmt(minus)}` : ''].filter(Boolean).join(' ') || 'tie';
  };
  return [fixture, arrivals, B, ...schedulers.flatMap((s) => [versus(s, 'EEN'), versus(s, 'plain')])];
});
const winTable = textTable(winHeader, winBody);
md += '```\n' + winTable + '\n```\n';
md += `\nCommand: \`npx tsx experiments/queue-sweep.ts --seeds ${nSeeds} --jobs ${nJobs}\`; revision ${revision}.\n`;
console.log('\nSchedulers vs EEN / plain (accuracy counting lost jobs; + better, − worse by > 0.5 points at these λ/μ):');
console.log(winTable);
writeFileSync(join(out, 'summary.md'), md);
console.log(`\n${rows.length * nSeeds} runs in ${((Date.now() - t0) / 1000).toFixed(0)} s; records in ${runsPath}, summary in ${join(out, 'summary.md')}`);
