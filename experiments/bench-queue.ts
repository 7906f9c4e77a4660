/**
 * Queue simulator throughput. For each policy, `--jobs` arrivals (default 2,000,000) through `simulate` at
 * ρ = 1 (Poisson arrivals at λ = μ, the full network's service rate), B = 10, per-job records off, on the NSL-KDD
 * fixture's test split (4 exits; fitted on its validation split). Prints jobs/s (arrivals simulated per second of
 * `simulate`, policy creation and fit outside the clock) and memory before and after each run: with records off
 * it must not grow with the number of jobs.
 *
 * Policies: fixed exit, ordinary EEN, the three schedulers, the three backlog-threshold controls on max-prob and
 * the model control on EENet's learned score.
 * Every policy is timed **cold**: a fresh instance, fitted, and its first run timed, with no warm-up run. For the
 * model-based scheduler that means its module-level table of solved π emptied first (`resetModelBasedCache`), so
 * every rate bucket the run meets is solved inside the timed run; it is then timed **warm** (a second fresh
 * instance, same profile, so every bucket it meets is already in the table). The JIT is warm for the simulator
 * itself after the first policy, as in any experiment running more than one cell.
 *
 * Yardstick, in the same run: experiments/bench-queue-ref.py, a plain Python heapq event loop of the same queue
 * with the fixed exit (deterministic service), and each policy's rate as a multiple of it (`--no-reference` skips
 * it; it needs a `python3`).
 *
 * Then the model-based re-solve alone: `solveModelBased` (100-point grid of mean service times, c² by regula
 * falsi, the LP by vertex enumeration) for `--solves` distinct arrival rates around μ, median µs per solve.
 *
 * Usage: tsx experiments/bench-queue.ts [--jobs 2000000] [--solves 200] [--no-reference] [--trace fixtures/nsl-kdd-mlp/manifest.json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate } from '../lib/queue.ts';
import { instantiate, type AnyPolicySpec, type RawParams } from '../lib/registry.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { resetModelBasedCache, solveModelBased } from '../policies/model-based.ts';
import { profileExits } from '../policies/scheduler-common.ts';
import { backlogThreshold, budgetedThreshold, fixedExit, modelBased, rateBased, reactive } from '../policies/index.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '2000000' }, solves: { type: 'string', default: '200' }, 'no-reference': { type: 'boolean', default: false }, trace: { type: 'string' } } });
const nJobs = Number(values.jobs);
const nSolves = Number(values.solves);
const manifest = values.trace ?? 'fixtures/nsl-kdd-mlp/manifest.json';
let validation: ScoredTrace;
let test: ScoredTrace;
if (existsSync(manifest)) {
  validation = scoreTrace(loadTrace(manifest, 'validation'));
  test = scoreTrace(loadTrace(manifest, 'test'));
} else {
  console.log(`(${manifest} not found: synthetic 4-exit traces instead)`);
  validation = scoreTrace(syntheticTrace({ nSamples: 10000, nExits: 4, seed: 1 }));
  test = scoreTrace(syntheticTrace({ nSamples: 10000, nExits: 4, seed: 2 }));
}
const cost = test.trace.costMs;
const K = cost.length;
const mu = 1 / cost[K - 1];
console.log(`bench-queue: ${nJobs} arrivals per run on ${test.trace} (K = ${K}), Poisson λ = μ = ${mu.toFixed(3)} jobs/ms (ρ = 1), B = 10, records off, node ${process.version}`);

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const run = (label: string, spec: AnyPolicySpec, params: RawParams, budgetMs: number | undefined) => {
  const policy = instantiate(spec, params, { seed: 1, model: modelInfo(validation) });
  policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
  globalThis.gc?.();
  const before = process.memoryUsage();
  const t0 = process.hrtime.bigint();
  const { metrics } = simulate(policy, test, { bufferCapacity: 10, arrivals: { kind: 'poisson', ratePerMs: mu }, maxArrivals: nJobs, seed: 1 });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = process.memoryUsage();
  console.log(
    `${label.padEnd(34)} ${(nJobs / sec / 1e6).toFixed(2).padStart(6)} M jobs/s (${sec.toFixed(2)} s)  loss ${metrics.lossRatio.toFixed(4)}  ` +
      `acc(all) ${metrics.accuracyOverall.toFixed(4)}  heap ${mb(before.heapUsed)}→${mb(after.heapUsed)} MiB  rss ${mb(before.rss)}→${mb(after.rss)} MiB`,
  );
  return nJobs / sec;
};

const mid = (cost[0] + cost[K - 1]) / 2;
const rates: [string, number][] = [];
rates.push(['fixed exit (last), cold', run('fixed exit (last), cold', fixedExit, { exit: -1 }, undefined)]);
rates.push(['ordinary EEN, cold', run('ordinary EEN (budgeted maxprob), cold', budgetedThreshold, { score: 'maxprob' }, mid)]);
rates.push(['reactive, cold', run('reactive, cold', reactive, {}, undefined)]);
resetModelBasedCache();
rates.push(['model-based, cold', run('model-based, cold (π table empty)', modelBased, {}, undefined)]);
rates.push(['model-based, warm', run('model-based, warm (π table filled)', modelBased, {}, undefined)]);
rates.push(['rate-based, cold', run('rate-based, cold', rateBased, {}, undefined)]);
// Backlog-aware thresholds (issue 17): a rung chosen in `commit`, then one `decide` per exit run.
for (const control of ['model', 'reactive', 'backlog']) rates.push([`backlog-threshold (${control}), cold`, run(`backlog-threshold (${control}), cold`, backlogThreshold, { control }, undefined)]);
// The same on EENet's learned score (EENet's training in `fit`, outside the clock): q_0..q_k recomputed per decision.
rates.push(['backlog-threshold (model, eenet), cold', run('backlog-threshold (model, eenet), cold', backlogThreshold, { control: 'model', score: 'eenet' }, undefined)]);

if (!values['no-reference']) {
  const script = resolve(dirname(fileURLToPath(import.meta.url)), 'bench-queue-ref.py');
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(python, [script, String(nJobs), String(mu), String(cost[K - 1]), '10'], { encoding: 'utf8' });
  const m = /= ([\d.e+]+) jobs\/s/.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) console.log(`yardstick skipped: ${python} ${script} failed (${r.error?.message ?? r.stderr})`);
  else {
    const ref = Number(m[1]);
    console.log(`yardstick (plain Python heapq loop, fixed exit, same queue): ${r.stdout.trim()}`);
    console.log(rates.map(([l, x]) => `${l} ${(x / ref).toFixed(2)}×`).join('; '));
  }
}

// The re-solve alone: distinct rates (each its own bucket) from 0.5 μ to 2 μ, on the fitted profile.
const profile = profileExits(validation);
const d = modelBased.defaults;
const times: number[] = [];
for (let i = 0; i < 20; i++) solveModelBased(profile, mu * (0.5 + i / 20), 11, d.lossTarget, d.gridPoints); // JIT warm-up
for (let i = 0; i < nSolves; i++) {
  const rate = mu * 0.5 * 4 ** (i / Math.max(1, nSolves - 1));
  const t0 = process.hrtime.bigint();
  solveModelBased(profile, rate, 11, d.lossTarget, d.gridPoints);
  times.push(Number(process.hrtime.bigint() - t0) / 1e3);
}
times.sort((a, b) => a - b);
console.log(
  `model-based re-solve (${d.gridPoints}-point grid + c² + LP, ${K} exits, B = 10): median ${times[times.length >> 1].toFixed(1)} µs, ` +
    `min ${times[0].toFixed(1)} µs, max ${times[times.length - 1].toFixed(1)} µs over ${nSolves} rates in [0.5 μ, 2 μ]`,
);
