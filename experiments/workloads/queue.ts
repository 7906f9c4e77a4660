/**
 * The queue workload: the model served behind a finite buffer (`lib/queue.ts`, an M/G/1/B-style event loop),
 * arrivals at a multiple of the full network's service rate, Poisson, bursty or in load steps, after an optional
 * warm-up. Records loss ratio, accuracy (served, and counting lost jobs as failures), response-time percentiles,
 * utilisation and throughput.
 */
import { burstyArrivals, loadSteps, type ArrivalConfig } from '../../lib/arrivals.ts';
import { simulate } from '../../lib/queue.ts';
import { axis, instantiate, intOption, isOneOf, isPositive, knownKeys, num, ownBudget, requireOwnBudgets } from './common.ts';
import type { Workload } from './types.ts';

/** `part.workload` of a queue part. */
export interface QueueWorkloadDecl {
  readonly kind: 'queue';
  /** Arrivals measured per cell (after the warm-up). */
  readonly jobs: number;
  /**
   * Arrivals simulated before statistics start (`QueueConfig.warmup`), so steady-state figures carry no bias from
   * the empty start. Default 0.
   */
  readonly warmup?: number;
}

/** Sweep axes of a queue part. */
export interface QueueAxes {
  /** Arrival rate as a multiple of the full network's service rate μ = 1 / cost of the last exit. */
  readonly lambdaOverMu: readonly number[];
  /** Buffer places B. */
  readonly bufferSize: readonly number[];
  /**
   * Arrival process: Poisson; bursty (two-state MMPP, 5× peaks 20% of the time, same mean); or steps: Poisson whose
   * load steps through λ/μ × (0.5, 2, 0.8) in three equal phases, sized so the three phases hold the cell's arrivals
   * in expectation (warm-up included) — how fast a controller adapts to a change of load (issue 17).
   */
  readonly arrivals: readonly ('poisson' | 'bursty' | 'steps')[];
}

/** Relative loads of the `steps` arrival process's three phases (light, overload, back to moderate). */
export const STEP_LOADS: readonly number[] = [0.5, 2, 0.8];

/** The arrival process of a cell: `kind` at mean-load rate `lambda` (jobs/ms); `arrivals` is the cell's total. */
export function queueArrivals(kind: string, lambda: number, arrivals: number): ArrivalConfig {
  if (kind === 'bursty') return burstyArrivals(lambda);
  if (kind === 'steps') return loadSteps(lambda, arrivals / (lambda * STEP_LOADS.reduce((a, b) => a + b, 0)), STEP_LOADS);
  return { kind: 'poisson', ratePerMs: lambda };
}

/** Validated options, stored in every cell. */
export interface QueueOptions extends Readonly<Record<string, unknown>> {
  readonly jobs: number;
  readonly warmup: number;
}

/** Batches of the batch-means interval inside one run. */
const BATCHES = 20;

/** The queue workload (kind `queue`). */
export const queue: Workload<QueueWorkloadDecl, QueueAxes, QueueOptions> = {
  kind: 'queue',
  description: 'the model behind a buffer of B places, arrivals at λ/μ of the full network’s rate (Poisson, bursty MMPP2 or load steps), optional warm-up',
  parse(workload, axes, where) {
    knownKeys(where, 'workload', workload, ['kind', 'jobs', 'warmup']);
    const jobs = intOption(where, 'workload.jobs', workload.jobs, 1, 'arrivals per cell');
    const warmup = intOption(where, 'workload.warmup', workload.warmup, 0, 'warm-up arrivals per cell', 0);
    const a = knownKeys(where, 'axes', axes ?? {}, ['lambdaOverMu', 'bufferSize', 'arrivals']);
    // Key order, outermost first (records are keyed arrivals=…,bufferSize=…,lambdaOverMu=…).
    return {
      options: { jobs, warmup },
      axes: [
        axis(where, 'arrivals', a.arrivals, isOneOf('poisson', 'bursty', 'steps'), '"poisson", "bursty" or "steps"', { categorical: true }),
        axis(where, 'bufferSize', a.bufferSize, (x) => Number.isSafeInteger(x) && (x as number) >= 0, 'integer buffer sizes ≥ 0', { title: 'buffer size B' }),
        axis(where, 'lambdaOverMu', a.lambdaOverMu, isPositive, 'positive multiples of μ', { title: 'λ/μ' }),
      ],
    };
  },
  checkPolicies: (_parsed, policies, where) => requireOwnBudgets(where, 'queue', policies),
  dependsOn: () => true,
  budgetFraction: ownBudget,
  quickKeys: ['jobs'],
  quick: (workload, q, where) => (q.jobs === undefined ? workload : { ...workload, jobs: intOption({ source: where.source, at: 'quick' }, 'jobs', q.jobs, 1, 'arrivals per cell') }),
  async run(cell, ctx) {
    const { jobs, warmup } = cell.options as QueueOptions;
    const cost = ctx.model.costMs;
    const lambda = num(cell.axes, 'lambdaOverMu') / cost[cost.length - 1];
    const arrivals = queueArrivals(String(cell.axes.arrivals), lambda, warmup + jobs);
    const policy = instantiate(ctx.spec!, cell.params, { seed: cell.seed, model: ctx.model });
    policy.fit?.(ctx.validation, ctx.budgetMs === undefined ? {} : { budgetMs: ctx.budgetMs });
    const { metrics: m, records } = simulate(policy, ctx.test, { bufferCapacity: num(cell.axes, 'bufferSize'), arrivals, maxArrivals: warmup + jobs, ...(warmup > 0 ? { warmup: { arrivals: warmup } } : {}), seed: cell.seed, records: true });
    // Batch means inside the run (one seed still gets an interval): the per-arrival outcomes after the warm-up
    // (the workload's, or the first 10% of arrivals when it has none), cut into BATCHES contiguous batches
    // (Law & Kelton §9.5.3).
    const warm = warmup > 0 ? warmup : Math.floor(jobs / 10);
    const len = Math.floor((warmup + jobs - warm) / BATCHES);
    const batchAccuracyOverall: number[] = [];
    const batchLossRatio: number[] = [];
    if (records && len >= 1) {
      for (let b = 0; b < BATCHES; b++) {
        let ok = 0;
        let lost = 0;
        for (let i = warm + b * len; i < warm + (b + 1) * len; i++) {
          ok += records.correct[i];
          lost += records.lost[i];
        }
        batchAccuracyOverall.push(ok / len);
        batchLossRatio.push(lost / len);
      }
    }
    return {
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
      ...(batchAccuracyOverall.length ? { series: { batchAccuracyOverall, batchLossRatio } } : {}),
    };
  },
  series: [
    { name: 'batchAccuracyOverall', description: `accuracy counting lost jobs as failures in each of ${BATCHES} batches of arrivals after a 10% warm-up (batch means)`, unit: '' },
    { name: 'batchLossRatio', description: `loss ratio in each of ${BATCHES} batches of arrivals after a 10% warm-up (batch means)`, unit: '' },
  ],
  metrics: [
    { name: 'lossRatio', description: 'fraction of arrivals dropped by a full buffer', unit: '', kind: 'share', better: 'lower', summary: true },
    { name: 'accuracyServed', description: 'accuracy of the jobs served', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'accuracyOverall', description: 'accuracy counting lost jobs as failures', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'meanResponseMs', description: 'mean time from arrival to exit of served jobs', unit: 'ms', kind: 'mean', better: 'lower' },
    { name: 'p50ResponseMs', description: 'median response time of served jobs', unit: 'ms', kind: 'mean', better: 'lower' },
    { name: 'p95ResponseMs', description: '95th percentile response time of served jobs', unit: 'ms', kind: 'mean', better: 'lower', summary: true },
    { name: 'p99ResponseMs', description: '99th percentile response time of served jobs', unit: 'ms', kind: 'mean', better: 'lower' },
    { name: 'utilisation', description: 'fraction of time the server is busy', unit: '', kind: 'share' },
    { name: 'throughputPerS', description: 'jobs served per second of simulated time', unit: '1/s', kind: 'mean', better: 'higher' },
  ],
  rankBy: 'accuracyOverall',
  // One plot per axis, innermost (the arrival rate) first.
  plots: (parsed) =>
    [...parsed.axes].reverse().map((a) => ({
      kind: 'axis' as const,
      along: a.name,
      title: `Loss ratio and accuracy (lost jobs count as failures) along ${a.name}`,
      panels: [
        { metric: 'lossRatio', title: 'loss ratio' },
        { metric: 'accuracyOverall', title: 'accuracy incl. lost', zeroFree: true },
      ],
    })),
};
