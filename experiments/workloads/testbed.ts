/**
 * The testbed workload: the fixture's TF.js model served for real (experiments/testbed/: an HTTP server on
 * loopback, one model worker, a buffer of B places, real early exit block by block) under the open-loop
 * generator, and the simulator's prediction for the same cell with the service times measured on that server.
 * Each cell measures the server's per-exit service-time distribution, runs the load, and records the real
 * figures beside the simulated ones (`sim*`: calibrated costs; `simInRun*`: the service times the server showed
 * during the run), so the report puts them side by side with intervals over seeds.
 *
 * Arrival rates are λ/μ times the full network's service rate μ measured on the server in that cell: its
 * capacity for the plain network over HTTP (see experiments/testbed/run.ts). Cells
 * measure wall-clock behaviour: run testbed experiments with `--workers 1` (two cells at once would share the
 * cores and each measure the other's load). Registry policies only: the policy is created inside the server's
 * thread from its name and parameters.
 */
import { InputError } from '../../lib/errors.ts';
import { getPolicySpec } from '../../policies/index.ts';
import { checkFixture, defaultDataDir } from '../testbed/inputs.ts';
import { runTestbed } from '../testbed/run.ts';
import { axis, intOption, isOneOf, isPositive, knownKeys, num, ownBudget, requireOwnBudgets } from './common.ts';
import type { MetricDecl, Workload } from './types.ts';

/** `part.workload` of a testbed part. */
export interface TestbedWorkloadDecl {
  readonly kind: 'testbed';
  /** Requests sent per cell at most. */
  readonly requests: number;
  /** Time limit of each cell's load, seconds. Default 30. */
  readonly timeLimitS?: number;
  /** Timed full passes of each cell's service-time calibration. Default 300. */
  readonly calibrationPasses?: number;
  /** Requests of each cell's capacity probe (μ). Default 400. */
  readonly probeRequests?: number;
  /** Datasets folder (as ../shared/datasets) for NSL-KDD inputs; default $EXITLAB_DATA or ../shared/datasets. */
  readonly data?: string;
}

/** Sweep axes of a testbed part (as the queue workload's). */
export interface TestbedAxes {
  readonly lambdaOverMu: readonly number[];
  readonly bufferSize: readonly number[];
  readonly arrivals: readonly ('poisson' | 'bursty')[];
}

/** Validated options, stored in every cell. */
export interface TestbedOptions extends Readonly<Record<string, unknown>> {
  readonly requests: number;
  readonly timeLimitMs: number;
  readonly calibrationPasses: number;
  readonly probeRequests: number;
  /** null: no folder found; Fashion-MNIST then uses the committed sample and NSL-KDD cells fail naming it. */
  readonly data: string | null;
}

const real = (name: string, description: string, unit: string, kind: MetricDecl['kind'], better?: 'higher' | 'lower', summary = false): MetricDecl => ({ name, description, unit, kind, ...(better ? { better } : {}), ...(summary ? { summary } : {}) });

/** The figures a run and the simulator both produce (the simulated ones carry a prefix). */
const SHARED: readonly MetricDecl[] = [
  real('lossRatio', 'fraction of requests answered 503 (buffer full)', '', 'share', 'lower', true),
  real('accuracyServed', 'accuracy of the requests served', '', 'share', 'higher'),
  real('accuracyOverall', 'accuracy counting lost requests as failures', '', 'share', 'higher', true),
  real('meanResponseMs', 'mean response time of served requests', 'ms', 'mean', 'lower'),
  real('p50ResponseMs', 'median response time of served requests', 'ms', 'mean', 'lower'),
  real('p95ResponseMs', '95th percentile response time of served requests', 'ms', 'mean', 'lower', true),
  real('p99ResponseMs', '99th percentile response time of served requests', 'ms', 'mean', 'lower'),
  real('throughputPerS', 'requests served per second', '1/s', 'mean', 'higher'),
  real('meanServiceMs', 'mean service time of served requests', 'ms', 'mean', 'lower'),
  real('utilisation', 'fraction of the time the server was busy', '', 'share'),
];
const prefixed = (prefix: string, what: string, summaryToo: boolean): MetricDecl[] =>
  SHARED.map((m) => ({ ...m, name: `${prefix}${m.name[0].toUpperCase()}${m.name.slice(1)}`, description: `${what}: ${m.description}`, summary: summaryToo && m.summary }));

/** The testbed workload (kind `testbed`). */
export const testbed: Workload<TestbedWorkloadDecl, TestbedAxes, TestbedOptions> = {
  kind: 'testbed',
  description: 'the fixture model served over HTTP with real early exits under open-loop load, beside the simulator fed the measured service times',
  parse(workload, axes, where) {
    knownKeys(where, 'workload', workload, ['kind', 'requests', 'timeLimitS', 'calibrationPasses', 'probeRequests', 'data']);
    const requests = intOption(where, 'workload.requests', workload.requests, 1, 'requests per cell');
    const timeLimitS = workload.timeLimitS ?? 30;
    if (!isPositive(timeLimitS)) throw new InputError(where.source, `${where.at}.workload.timeLimitS`, 'a positive time in seconds', String(timeLimitS));
    const calibrationPasses = intOption(where, 'workload.calibrationPasses', workload.calibrationPasses, 10, 'timed passes per cell', 300);
    const probeRequests = intOption(where, 'workload.probeRequests', workload.probeRequests, 10, 'capacity-probe requests per cell', 400);
    if (workload.data !== undefined && typeof workload.data !== 'string') throw new InputError(where.source, `${where.at}.workload.data`, 'a folder path', JSON.stringify(workload.data));
    const a = knownKeys(where, 'axes', axes ?? {}, ['lambdaOverMu', 'bufferSize', 'arrivals']);
    return {
      options: { requests, timeLimitMs: timeLimitS * 1000, calibrationPasses, probeRequests, data: workload.data ?? defaultDataDir() ?? null },
      axes: [
        axis(where, 'arrivals', a.arrivals, isOneOf('poisson', 'bursty'), '"poisson" or "bursty"', { categorical: true }),
        axis(where, 'bufferSize', a.bufferSize, (x) => Number.isSafeInteger(x) && (x as number) >= 0, 'integer buffer sizes ≥ 0', { title: 'buffer size B' }),
        axis(where, 'lambdaOverMu', a.lambdaOverMu, isPositive, 'positive multiples of μ', { title: 'λ/μ' }),
      ],
    };
  },
  checkPolicies(_parsed, policies, where) {
    requireOwnBudgets(where, 'testbed', policies);
    policies.forEach((p, j) => {
      // The policy is rebuilt from its registry name inside the server thread; a spec object cannot cross.
      let registered = false;
      try {
        registered = getPolicySpec(p.name) === p.spec;
      } catch {
        registered = false;
      }
      if (!registered) throw new InputError(where.source, `${where.at}.policies[${j}].policy`, 'a registry policy name (the testbed creates the policy in its server thread)', JSON.stringify(p.name));
    });
  },
  dependsOn: () => true,
  budgetFraction: ownBudget,
  quickKeys: ['requests', 'calibrationPasses', 'probeRequests'],
  quick(workload, q, where) {
    const at = { source: where.source, at: 'quick' };
    return {
      ...workload,
      ...(q.requests === undefined ? {} : { requests: intOption(at, 'requests', q.requests, 1, 'requests per cell') }),
      ...(q.calibrationPasses === undefined ? {} : { calibrationPasses: intOption(at, 'calibrationPasses', q.calibrationPasses, 10, 'timed passes per cell') }),
      ...(q.probeRequests === undefined ? {} : { probeRequests: intOption(at, 'probeRequests', q.probeRequests, 10, 'capacity-probe requests per cell') }),
    };
  },
  async run(cell, ctx) {
    const o = cell.options as TestbedOptions;
    const fixture = checkFixture(ctx.test.trace.provenance.model, `${cell.trace} (testbed serves the shipped fixtures)`);
    const r = await runTestbed({
      fixture, policy: { name: cell.policy, params: cell.params }, budgetFraction: cell.budgetFraction, lambdaOverMu: num(cell.axes, 'lambdaOverMu'),
      bufferCapacity: num(cell.axes, 'bufferSize'), arrivals: cell.axes.arrivals === 'bursty' ? 'bursty' : 'poisson', seed: cell.seed,
      requests: o.requests, timeLimitMs: o.timeLimitMs, calibrationPasses: o.calibrationPasses, probeRequests: o.probeRequests,
      // Fashion-MNIST always serves the committed sample (the same inputs from any clone); NSL-KDD needs the data.
      dataDir: fixture === 'nsl-kdd-mlp' ? (o.data ?? undefined) : undefined,
    });
    return { metrics: r.metrics, exitShares: r.exitShares };
  },
  metrics: [
    real('requests', 'requests sent (bounded by the workload and the time limit)', '', 'count'),
    ...SHARED,
    real('meanComputeMs', "the server's own synchronous work per served request", 'ms', 'mean', 'lower'),
    real('meanPolicyMs', "time inside the policy's commit and decide per served request (the simulator charges none)", 'ms', 'mean', 'lower'),
    real('p99PolicyMs', "99th percentile of that time", 'ms', 'mean', 'lower'),
    real('lateP50Ms', 'median lateness of the generator behind its schedule', 'ms', 'mean', 'lower'),
    real('lateP99Ms', '99th percentile lateness of the generator behind its schedule', 'ms', 'mean', 'lower'),
    real('muPerS', "the plain network's capacity measured on the server over HTTP (capacity probe): λ = (λ/μ)·μ", '1/s', 'mean'),
    real('modelMuPerS', '1 / mean model time of a full pass (calibration)', '1/s', 'mean'),
    real('overheadMs', 'per-request serving work besides the model (1/μ − model time), added to the simulated costs', 'ms', 'mean'),
    real('probeCpuShare', 'CPU time the server thread got during the capacity probe / wall time', '', 'mean'),
    real('lambdaPerS', 'offered arrival rate', '1/s', 'mean'),
    real('calibratedCv', 'pooled CV of calibrated service times', '', 'mean'),
    real('gcCount', 'GC pauses on the server thread during the run', '', 'count'),
    real('gcTotalMs', 'total GC pause time on the server thread', 'ms', 'mean'),
    real('gcMaxMs', 'longest GC pause on the server thread', 'ms', 'mean'),
    real('loopDelayP99Ms', "99th percentile event-loop delay of the server thread", 'ms', 'mean'),
    real('loopDelayMaxMs', 'largest event-loop delay of the server thread', 'ms', 'mean'),
    real('serverCpuShare', 'CPU time the server thread got / wall time', '', 'mean'),
    real('generatorCpuShare', 'CPU time the generator thread got / wall time', '', 'mean'),
    real('calibrationCpuShare', 'CPU time during calibration / wall time', '', 'mean'),
    real('loadAvg1', "the machine's 1-minute load average at the cell's start", '', 'mean'),
    real('served', 'requests served', '', 'count'),
    real('lost', 'requests lost', '', 'count'),
    real('errors', 'requests with neither an answer nor a 503', '', 'count'),
    real('connections', 'connections the generator opened', '', 'count'),
    ...prefixed('sim', 'simulated with the calibrated service times', true),
    ...prefixed('simInRun', 'simulated with the service times seen in the run', false),
  ],
  rankBy: 'accuracyOverall',
  plots: () => [
    { kind: 'axis', along: 'lambdaOverMu', title: 'Loss ratio: real, simulated (calibrated), simulated (in-run service times)', panels: [{ metric: 'lossRatio', title: 'real' }, { metric: 'simLossRatio', title: 'simulated' }, { metric: 'simInRunLossRatio', title: 'simulated, in-run costs' }] },
    { kind: 'axis', along: 'lambdaOverMu', title: 'p95 response time (ms): real and simulated', panels: [{ metric: 'p95ResponseMs', title: 'real', zeroFree: true }, { metric: 'simP95ResponseMs', title: 'simulated', zeroFree: true }, { metric: 'simInRunP95ResponseMs', title: 'simulated, in-run costs', zeroFree: true }] },
  ],
};
