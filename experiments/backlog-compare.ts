/**
 * First comparison of the backlog-threshold controls (issue 17) with the ordinary EEN and the three single-exit
 * schedulers, outside the harness: one fixture, Poisson arrivals at λ/μ ∈ {0.5, 1, 2, 3} (μ = the full network's
 * service rate), B = 10, `--seeds` seeds × `--jobs` arrivals after a warm-up of `--warmup` arrivals. Prints
 * accuracyOverall (lost jobs count as failures), lossRatio and p95 response time, mean ± 95% t half-width over
 * seeds, and per load the best control against the best existing policy, with the paired difference over seeds.
 *
 * `--arrivals steps`: load steps λ/μ × (0.5 → 2 → 0.8) in three equal phases whose expected arrivals add up to
 * the run's (lib/arrivals.ts `loadSteps`). `--loads` and `--buffer` take comma lists; `--jsonl FILE` also writes
 * one record per run in the harness's cells.jsonl shape (for experiments/queue-sweep-headline.ts).
 *
 * Usage: tsx experiments/backlog-compare.ts [--trace fixtures/fashion-mnist-cnn/manifest.json] [--seeds 5]
 *        [--jobs 20000] [--warmup 2000] [--score maxprob] [--arrivals poisson|bursty|steps]
 *        [--loads 0.5,1,2,3] [--buffer 10] [--jsonl FILE] [--both-scores]
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { burstyArrivals, loadSteps, type ArrivalConfig } from '../lib/arrivals.ts';
import { loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate, type QueueMetrics } from '../lib/queue.ts';
import { instantiate, loadPolicy, type RawParams } from '../lib/registry.ts';
import { scoreTrace } from '../lib/scores.ts';
import { getPolicySpec } from '../policies/index.ts';

const { values } = parseArgs({
  options: {
    trace: { type: 'string', default: 'fixtures/fashion-mnist-cnn/manifest.json' },
    seeds: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    score: { type: 'string', default: 'maxprob' },
    arrivals: { type: 'string', default: 'poisson' },
    buffer: { type: 'string', default: '10' },
    loads: { type: 'string', default: '0.5,1,2,3' },
    jsonl: { type: 'string' },
    'both-scores': { type: 'boolean', default: false },
  },
});
const validation = scoreTrace(loadTrace(values.trace!, 'validation'));
const test = scoreTrace(loadTrace(values.trace!, 'test'));
const cost = test.trace.costMs;
const K = cost.length;
const nSeeds = Number(values.seeds);
const jobs = Number(values.jobs);
const warm = Number(values.warmup);
const buffers = values.buffer!.split(',').map(Number);
const loadList = values.loads!.split(',').map(Number);
const STEP_LOADS = [0.5, 2, 0.8];
const score = values.score!;

interface Entry {
  readonly label: string;
  readonly policy: string;
  readonly params: RawParams;
  readonly budgetFraction?: number;
  readonly ours: boolean;
}
const entries: Entry[] = [
  { label: 'plain', policy: 'fixed-exit', params: { exit: -1 }, ours: false },
  { label: 'EEN', policy: 'budgeted-threshold', params: { score }, budgetFraction: 0.5, ours: false },
  { label: 'reactive', policy: 'reactive', params: {}, ours: false },
  { label: 'model-based', policy: 'model-based', params: {}, ours: false },
  { label: 'rate-based', policy: 'rate-based', params: {}, ours: false },
  ...(values['both-scores'] ? ['maxprob', 'entropy'] : [score]).flatMap((sc) =>
    (['model', 'reactive', 'backlog'] as const).map((control) => ({
      label: `bt-${control}${values['both-scores'] ? `-${sc}` : ''}`,
      policy: 'backlog-threshold',
      params: { score: sc, control },
      ours: true,
    })),
  ),
];
function arrivalsFor(kind: string, lambda: number): ArrivalConfig {
  if (kind === 'bursty') return burstyArrivals(lambda);
  if (kind === 'steps') {
    const phaseMs = (warm + jobs) / (lambda * STEP_LOADS.reduce((a, b) => a + b, 0));
    return loadSteps(lambda, phaseMs, STEP_LOADS);
  }
  return { kind: 'poisson', ratePerMs: lambda };
}
// Two-sided 95% Student t quantiles by degrees of freedom.
const T95 = [NaN, 12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
const meanHalf = (xs: number[]): [number, number] => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return [m, NaN];
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return [m, ((T95[xs.length - 1] ?? 1.96) * sd) / Math.sqrt(xs.length)];
};
const fmt = ([m, h]: [number, number], d = 4) => `${m.toFixed(d)} ± ${Number.isNaN(h) ? '—' : h.toFixed(d)}`;

for (const B of buffers) {
  console.log(`backlog-compare: ${test.trace}, ${values.arrivals} arrivals, B = ${B}, ${nSeeds} seeds × ${jobs} arrivals after ${warm} warm-up, score ${score}`);
  console.log(`${'λ/μ'.padEnd(5)} ${'policy'.padEnd(12)} ${'accuracyOverall'.padEnd(18)} ${'lossRatio'.padEnd(18)} p95ResponseMs`);
  for (const load of loadList) {
    const lambda = load / cost[K - 1];
    const runs = new Map<string, QueueMetrics[]>();
    for (const e of entries) {
      const spec = getPolicySpec(e.policy);
      await loadPolicy(spec);
      const ms: QueueMetrics[] = [];
      for (let seed = 1; seed <= nSeeds; seed++) {
        const policy = instantiate(spec, e.params, { seed, model: modelInfo(validation) });
        const budgetMs = e.budgetFraction === undefined ? undefined : cost[0] + e.budgetFraction * (cost[K - 1] - cost[0]);
        policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
        const m = simulate(policy, test, { bufferCapacity: B, arrivals: arrivalsFor(values.arrivals!, lambda), maxArrivals: warm + jobs, warmup: { arrivals: warm }, seed }).metrics;
        ms.push(m);
        if (values.jsonl) {
          const metrics = { lossRatio: m.lossRatio, accuracyServed: m.accuracyServed, accuracyOverall: m.accuracyOverall, meanResponseMs: m.meanResponseMs, p95ResponseMs: m.p95ResponseMs, p99ResponseMs: m.p99ResponseMs };
          appendFileSync(values.jsonl, JSON.stringify({ part: 'sweep', trace: values.trace, label: e.label, policy: e.policy, axes: { arrivals: values.arrivals, bufferSize: B, lambdaOverMu: load }, seed, metrics, exitShares: m.exitShares }) + '\n');
        }
      }
      runs.set(e.label, ms);
      console.log(
        `${String(load).padEnd(5)} ${e.label.padEnd(12)} ${fmt(meanHalf(ms.map((m) => m.accuracyOverall))).padEnd(18)} ${fmt(meanHalf(ms.map((m) => m.lossRatio))).padEnd(18)} ${fmt(meanHalf(ms.map((m) => m.p95ResponseMs)), 3)}`,
      );
    }
    const best = (ours: boolean) =>
      entries
        .filter((e) => e.ours === ours && (ours || e.label !== 'plain'))
        .map((e) => ({ label: e.label, acc: meanHalf(runs.get(e.label)!.map((m) => m.accuracyOverall))[0] }))
        .sort((a, b) => b.acc - a.acc)[0];
    const o = best(true);
    const x = best(false);
    // Paired over seeds: the same seed gives both the same arrivals and samples (common random numbers).
    const diff = meanHalf(runs.get(o.label)!.map((m, i) => m.accuracyOverall - runs.get(x.label)![i].accuracyOverall));
    console.log(`      best control ${o.label} vs best existing ${x.label}: Δ accuracyOverall ${fmt(diff)} (paired)`);
  }
}
