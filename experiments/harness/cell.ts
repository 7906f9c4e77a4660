/**
 * Running one cell: load (and cache) the trace, create and fit the policy, evaluate it offline or in the queue
 * simulator, and return a flat record. Used inline and by the pool's workers alike; the record depends only on
 * the cell (its seed included), never on which worker ran it or when.
 */
import { resolve } from 'node:path';
import { burstyArrivals } from '../../lib/arrivals.ts';
import { loadTrace } from '../../lib/io.ts';
import { evaluateEntry, evaluateOracle } from '../../lib/offline.ts';
import { runOnline, stationaryStream, type StreamSpec } from '../../lib/online.ts';
import { initBackend } from '../../lib/tensor.ts';
import { modelInfo } from '../../lib/policy.ts';
import { loadPolicy } from '../../lib/registry.ts';
import { simulate } from '../../lib/queue.ts';
import { Rng } from '../../lib/random.ts';
import { scoreTrace, type ScoredTrace } from '../../lib/scores.ts';
import { getPolicySpec } from '../../policies/index.ts';
import type { Cell } from './experiment.ts';

/** A finished cell: the cell's identity plus its metrics (numbers and per-exit shares). */
export interface CellRecord {
  readonly key: string;
  readonly part: string;
  readonly kind: 'offline' | 'queue' | 'online';
  readonly trace: string;
  readonly label: string;
  readonly policy: string;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly seed: number;
  /** Budget handed to fit, ms (budgeted policies). */
  readonly budgetMs: number | null;
  /** Scalar metrics: offline — accuracy, meanCostMs, relativeCost, fitExpectedCostMs, budgetMetOnTest;
   *  (budgeted) costOverBudget = test mean cost / B − 1;
   *  queue — lossRatio, accuracyServed, accuracyOverall, p50/p95/p99ResponseMs, utilisation, throughputPerS. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Exit shares, length K. */
  readonly exitShares: readonly number[];
  /**
   * Curves (online parts): `t` (inputs seen at the end of each window), `regretOracle` and `regretHindsight`
   * (mean per-input regret within each window).
   */
  readonly series?: Readonly<Record<string, readonly number[]>>;
}

const traces = new Map<string, { validation: ScoredTrace; test: ScoredTrace }>();

function splits(path: string): { validation: ScoredTrace; test: ScoredTrace } {
  const abs = resolve(path);
  let t = traces.get(abs);
  if (!t) {
    t = { validation: scoreTrace(loadTrace(abs, 'validation')), test: scoreTrace(loadTrace(abs, 'test')) };
    traces.set(abs, t);
  }
  return t;
}

/** The online streams a part can declare (see `OnlineAxes.stream`), with the cell's seed as the order's seed. */
function onlineStream(name: string, validation: ScoredTrace, test: ScoredTrace, length: number, seed: number): StreamSpec {
  const mid = Math.floor(length / 2);
  if (name === 'stationary') return stationaryStream(test, length, seed);
  if (name === 'switch-split') return { length, seed, phases: [{ start: 0, trace: validation }, { start: mid, trace: test }] };
  const C = test.trace.nClasses;
  const first = Array.from({ length: C }, (_, y) => (y < Math.ceil(C / 2) ? 1 : 0));
  return { length, seed, phases: [{ start: 0, trace: test, classWeights: first }, { start: mid, trace: test, classWeights: first.map((w) => 1 - w) }] };
}

/** Run one cell. Async because policies trained with TensorFlow.js need the backend initialised first. */
export async function runCell(cell: Cell): Promise<CellRecord> {
  await initBackend();
  const { validation, test } = splits(cell.trace);
  const cost = test.trace.costMs;
  const K = cost.length;
  const budgetMs = cell.budgetFraction === undefined ? undefined : cost[0] + cell.budgetFraction * (cost[K - 1] - cost[0]);
  const base = { key: cell.key, part: cell.part, kind: cell.kind, trace: cell.trace, label: cell.label, policy: cell.policy, axes: cell.axes, seed: cell.seed, budgetMs: budgetMs ?? null };
  if (cell.policy === 'oracle') {
    const { result } = evaluateOracle(test);
    return { ...base, metrics: { accuracy: result.accuracy, meanCostMs: result.meanCostMs, relativeCost: result.relativeCost }, exitShares: result.exitShares };
  }
  const spec = getPolicySpec(cell.policy);
  await loadPolicy(spec); // heavy dependencies (HiGHS, TF.js) load on first use only
  if (cell.kind === 'online') {
    const { score, windows } = cell.online ?? { score: 'maxprob', windows: 20 };
    const beta = Number(cell.axes.beta);
    // Online learners take the reward's score and β as parameters; the others (fixed exits) do not.
    const params = 'beta' in (spec.defaults as object) ? { score, beta, ...cell.params } : cell.params;
    const policy = spec.create(spec.parse(params), { rng: new Rng(cell.seed).fork(cell.label), model: modelInfo(validation) });
    policy.fit?.(validation, {});
    const r = runOnline(policy, onlineStream(String(cell.axes.stream), validation, test, cell.jobs ?? 10000, cell.seed), { reward: { score, beta }, checkpoints: windows });
    const last = r.checkpoints[r.checkpoints.length - 1];
    return {
      ...base,
      metrics: {
        meanReward: r.meanReward,
        accuracy: r.accuracy,
        meanCostMs: r.meanCostMs,
        relativeCost: r.relativeCost,
        regretOraclePerInput: r.regretOracle / r.nInputs,
        regretHindsightPerInput: r.regretHindsight / r.nInputs,
        lastWindowRegretHindsight: last.windowRegretHindsight,
        oracleReward: r.oracle.meanReward,
      },
      exitShares: r.exitShares,
      series: { t: r.checkpoints.map((c) => c.t), regretOracle: r.checkpoints.map((c) => c.windowRegretOracle), regretHindsight: r.checkpoints.map((c) => c.windowRegretHindsight) },
    };
  }
  if (cell.kind === 'offline') {
    const { result } = evaluateEntry({ spec, params: cell.params, budgetMs }, validation, test, cell.seed);
    return {
      ...base,
      metrics: {
        accuracy: result.accuracy,
        meanCostMs: result.meanCostMs,
        relativeCost: result.relativeCost,
        ...(result.fitExpectedCostMs === undefined ? {} : { fitExpectedCostMs: result.fitExpectedCostMs }),
        // Judged on the test split, which the fit never saw: met (1/0), and by how much the mean cost exceeds B
        // (relative; negative = under budget), since a miss of 0.1% and one of 20% are not the same failure.
        ...(budgetMs === undefined ? {} : { budgetMetOnTest: result.meanCostMs <= budgetMs ? 1 : 0, costOverBudget: result.meanCostMs / budgetMs - 1 }),
      },
      exitShares: result.exitShares,
    };
  }
  const lambda = Number(cell.axes.lambdaOverMu) / cost[K - 1];
  const arrivals = cell.axes.arrivals === 'bursty' ? burstyArrivals(lambda) : { kind: 'poisson' as const, ratePerMs: lambda };
  const policy = spec.create(spec.parse(cell.params), { rng: new Rng(cell.seed).fork(cell.label), model: modelInfo(validation) });
  policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
  const { metrics: m } = simulate(policy, test, { bufferCapacity: Number(cell.axes.bufferSize), arrivals, maxArrivals: cell.jobs ?? 10000, seed: cell.seed });
  return {
    ...base,
    metrics: {
      lossRatio: m.lossRatio,
      accuracyServed: m.accuracyServed,
      accuracyOverall: m.accuracyOverall,
      meanResponseMs: m.meanResponseMs,
      p50ResponseMs: m.p50ResponseMs,
      p95ResponseMs: m.p95ResponseMs,
      p99ResponseMs: m.p99ResponseMs,
      utilisation: m.utilisation,
      throughputPerS: m.throughputPerS,
    },
    exitShares: m.exitShares,
  };
}
