/**
 * One testbed measurement: start a server for a fixture and policy, measure its service times, drive it with the
 * open-loop generator at λ = (λ/μ)·μ, and compare with the simulator (lib/queue.ts) run on the same arrivals and
 * inputs with the measured service times.
 *
 * Two measurements on the server, every cell:
 * - *calibration*: full block-by-block passes on the server's thread, the per-exit distribution of the model's
 *   own time (cumulative to each exit);
 * - *capacity probe*: the plain network served over HTTP with every request waiting (a burst of requests into a
 *   large buffer): requests completed per second of the busy period. This is μ, "the full network's service rate
 *   measured on the server". It is lower than 1 / model time because the same thread also parses each request
 *   and writes its answer; the difference per request is `overheadMs`. (Measured first with 1 / model time:
 *   the HTTP work alone, 0.05–0.3 ms per request, is comparable to the models' 0.1–0.2 ms, so every λ/μ ≥ 0.5
 *   was an overload and the comparison said nothing.)
 *
 * The simulator is given (a) per-exit costs = calibrated model means + overheadMs, with a lognormal per-job
 * factor of the calibrated spread (`sim*` metrics); and (b) the per-exit mean service times the server reported
 * during the run itself, which include what calibration cannot see — other requests read and refused between a
 * request's exits, GC, the policy's own computation, other processes on the core (`simInRun*`). Where (a) misses
 * and (b) matches, the gap is the cost of serving, not the queueing model. Policies plan with the costs of (a).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { burstyArrivals, type ArrivalConfig } from '../../lib/arrivals.ts';
import { InputError } from '../../lib/errors.ts';
import { loadTrace } from '../../lib/io.ts';
import { simulate, type QueueMetrics } from '../../lib/queue.ts';
import { BUILTIN_SCORES, scoreTrace, type ScoredTrace } from '../../lib/scores.ts';
import { ExitTrace } from '../../lib/trace.ts';
import { sharedHost, type TestbedHost } from './host.ts';
import { fixtureDir, loadTestInputs, type TestInputs, type TestbedFixture } from './inputs.ts';
import { runLoad, type LoadResult } from './load.ts';
import { summarise, threadCpuMs, type ProcessStats, type ServiceTimeProfile } from './monitor.ts';
import { createServerPolicy, type ServerPolicySpec } from './policy.ts';
import type { ServerStats } from './server.ts';

/** What to measure. */
export interface TestbedRunOptions {
  readonly fixture: TestbedFixture;
  readonly policy: ServerPolicySpec;
  /** For budgeted policies: budget = c₀ + f·(c_{K−1} − c₀) with the measured costs c. */
  readonly budgetFraction?: number;
  /** Offered load relative to the full network's measured service rate. */
  readonly lambdaOverMu: number;
  /** Buffer places B. */
  readonly bufferCapacity: number;
  /** "poisson", "bursty" (lib/arrivals.ts `burstyArrivals` at the same mean rate) or an explicit config. */
  readonly arrivals: 'poisson' | 'bursty' | ArrivalConfig;
  readonly seed: number;
  /** Requests sent at most. */
  readonly requests: number;
  /** Time limit of the load, ms. */
  readonly timeLimitMs: number;
  /** Timed full passes of the calibration (after `calibrationWarmup` untimed ones). */
  readonly calibrationPasses: number;
  /** Requests of the capacity probe. Default 400. */
  readonly probeRequests?: number;
  readonly calibrationWarmup?: number;
  /** Datasets folder; without it the committed sample is used (Fashion-MNIST only). */
  readonly dataDir?: string;
  /** Server thread to use; default the calling thread's shared one. */
  readonly host?: TestbedHost;
}

/** Everything a run measured. */
export interface TestbedRunResult {
  /**
   * Flat numbers. Real: requests, lossRatio, accuracyServed, accuracyOverall, p50/p95/p99ResponseMs (from the
   * scheduled send time), throughputPerS, meanServiceMs, utilisation (server busy time / elapsed), lateP50Ms,
   * lateP99Ms (generator lateness), gcCount, gcTotalMs, gcMaxMs, loopDelayP99Ms, loopDelayMaxMs (server
   * thread), muPerS (the probe's capacity), modelMuPerS (1 / mean model time of a full pass), overheadMs
   * (per-request serving work besides the model), probeCpuShare and lambdaPerS. Simulated: the same names with the prefix `sim` (calibrated costs) and
   * `simInRun` (costs seen during the run). Also meanComputeMs (the server's own synchronous work per request), meanPolicyMs and
   * p99PolicyMs (time inside commit/decide per request),
   * calibratedCv and loadAvg1 (the machine's 1-minute load average at the start).
   */
  readonly metrics: Readonly<Record<string, number>>;
  /** Exit shares of served requests, real and simulated, length K. */
  readonly exitShares: readonly number[];
  readonly simExitShares: readonly number[];
  readonly profile: ServiceTimeProfile;
  readonly inRunCostMs: readonly number[];
  readonly serverStats: ServerStats;
  readonly serverProcess: ProcessStats;
  readonly policyName: string;
  readonly backend: string;
  readonly inputSource: string;
}

const inputsCache = new Map<string, TestInputs>();
const testCache = new Map<string, ExitTrace>();

function inputsOf(fixture: TestbedFixture, dataDir: string | undefined): TestInputs {
  const key = `${fixture}\0${dataDir ?? ''}`;
  let v = inputsCache.get(key);
  if (!v) inputsCache.set(key, (v = loadTestInputs(fixture, { dataDir })));
  return v;
}

/** The recorded test trace restricted to `rows` (in that order), with the given costs. */
function traceOfRows(fixture: TestbedFixture, rows: Int32Array, costMs: readonly number[], split = 'test'): ScoredTrace {
  const key = `${fixture}/${split}`;
  let t = testCache.get(key);
  if (!t) testCache.set(key, (t = loadTrace(join(fixtureDir(fixture), 'manifest.json'), split)));
  const K = t.nExits;
  const C = t.nClasses;
  const probs = new Float32Array(rows.length * K * C);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    probs.set(t.probs.subarray(r * K * C, (r + 1) * K * C), i * K * C);
    labels[i] = t.labels[r];
  });
  return scoreTrace(new ExitTrace({ nSamples: rows.length, nExits: K, nClasses: C, probs, labels, costMs, classNames: t.classNames, provenance: { ...t.provenance, split: `${split} (testbed inputs)` } }));
}

/** Costs for the simulator from a validation trace, with new cumulative costs. */
function withCosts(t: ExitTrace, costMs: readonly number[]): ScoredTrace {
  return scoreTrace(new ExitTrace({ nSamples: t.nSamples, nExits: t.nExits, nClasses: t.nClasses, probs: t.probs, labels: t.labels, costMs, classNames: t.classNames, provenance: t.provenance }));
}

/** Nearest-rank quantile of sorted values. */
function q(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Real metrics from the generator's records and the server's counters. */
function realMetrics(load: LoadResult, stats: ServerStats, K: number): { metrics: Record<string, number>; exitShares: number[]; serviceByExit: number[][] } {
  const ok = load.records.filter((r) => r.status === 200);
  const resp = Float64Array.from(ok, (r) => r.responseMs).sort();
  const late = Float64Array.from(load.records, (r) => r.lateMs).sort();
  const correct = ok.reduce((a, r) => a + r.correct, 0);
  const counts = new Array<number>(K).fill(0);
  const serviceByExit: number[][] = Array.from({ length: K }, () => []);
  for (const r of ok) {
    counts[r.exit]++;
    serviceByExit[r.exit].push(r.serviceMs);
  }
  const elapsedS = load.elapsedMs / 1000;
  const service = ok.reduce((a, r) => a + r.serviceMs, 0);
  const compute = ok.reduce((a, r) => a + r.computeMs, 0);
  const inPolicy = Float64Array.from(ok, (r) => r.policyMs).sort();
  return {
    metrics: {
      requests: load.sent,
      served: load.ok,
      lost: load.rejected,
      errors: load.errors + load.timedOut,
      lossRatio: load.sent ? load.rejected / load.sent : NaN,
      accuracyServed: ok.length ? correct / ok.length : NaN,
      accuracyOverall: ok.length + load.rejected ? correct / (ok.length + load.rejected) : NaN,
      meanResponseMs: ok.length ? resp.reduce((a, b) => a + b, 0) / ok.length : NaN,
      p50ResponseMs: q(resp, 0.5),
      p95ResponseMs: q(resp, 0.95),
      p99ResponseMs: q(resp, 0.99),
      throughputPerS: elapsedS > 0 ? load.ok / elapsedS : NaN,
      meanServiceMs: ok.length ? service / ok.length : NaN,
      meanComputeMs: ok.length ? compute / ok.length : NaN,
      meanPolicyMs: ok.length ? inPolicy.reduce((a, b) => a + b, 0) / ok.length : NaN,
      p99PolicyMs: q(inPolicy, 0.99),
      utilisation: load.elapsedMs > 0 ? stats.busyMs / load.elapsedMs : NaN,
      lateP50Ms: q(late, 0.5),
      lateP99Ms: q(late, 0.99),
      connections: load.connections,
    },
    exitShares: counts.map((c) => (ok.length ? c / ok.length : 0)),
    serviceByExit,
  };
}

function simMetrics(prefix: string, m: QueueMetrics): Record<string, number> {
  const pick = { lossRatio: m.lossRatio, accuracyServed: m.accuracyServed, accuracyOverall: m.accuracyOverall, meanResponseMs: m.meanResponseMs, p50ResponseMs: m.p50ResponseMs, p95ResponseMs: m.p95ResponseMs, p99ResponseMs: m.p99ResponseMs, throughputPerS: m.throughputPerS, meanServiceMs: m.meanServiceMs, utilisation: m.utilisation };
  return Object.fromEntries(Object.entries(pick).map(([k, v]) => [`${prefix}${k[0].toUpperCase()}${k.slice(1)}`, v]));
}

/**
 * Per-exit cumulative costs seen during the run: the mean service time of requests that left at each exit;
 * an exit nobody left at gets its calibrated cost scaled by the run's overall ratio to calibration; then made
 * non-decreasing (a trace's costs must be).
 */
function inRunCosts(serviceByExit: number[][], calibrated: readonly number[]): number[] {
  let sumRun = 0;
  let sumCal = 0;
  serviceByExit.forEach((xs, k) => {
    for (const x of xs) sumRun += x;
    sumCal += xs.length * calibrated[k];
  });
  const ratio = sumCal > 0 ? sumRun / sumCal : 1;
  const out = serviceByExit.map((xs, k) => (xs.length ? summarise(xs).meanMs : calibrated[k] * ratio));
  for (let k = 1; k < out.length; k++) out[k] = Math.max(out[k], out[k - 1]);
  return out;
}

/** Pooled CV of service times around their exit's mean. */
function pooledCv(serviceByExit: number[][], means: readonly number[]): number {
  let sq = 0;
  let n = 0;
  serviceByExit.forEach((xs, k) => {
    for (const x of xs) {
      sq += (x / means[k] - 1) ** 2;
      n++;
    }
  });
  return n ? Math.sqrt(sq / n) : 0;
}

/**
 * The capacity probe: the plain network behind a buffer holding every request, `probeRequests` requests sent in
 * one burst (as fast as the generator sends). Returns the busy period's time per completed request on the
 * server's clock (first start to last end, over requests served).
 */
async function capacityProbe(host: TestbedHost, o: TestbedRunOptions, modelCostMs: readonly number[], inputs: TestInputs): Promise<{ msPerRequest: number; cpuShare: number }> {
  const n = o.probeRequests ?? 400;
  const { url } = await host.request({ op: 'start', fixture: o.fixture, dataDir: o.dataDir, policy: { name: 'fixed-exit', params: { exit: -1 } }, seed: o.seed, bufferCapacity: n, costMs: modelCostMs });
  const load = await runLoad({ url, arrivals: { kind: 'deterministic', intervalMs: 1e-3 }, seed: o.seed, maxRequests: n, timeLimitMs: o.timeLimitMs, inputs }).catch(async (err: unknown) => {
    await host.request({ op: 'stop' });
    throw err;
  });
  const stopped = await host.request({ op: 'stop' });
  if (stopped.error !== undefined) throw new Error(`testbed: the probe server stopped: ${stopped.error}`);
  const served = stopped.records.filter((r) => !r.lost && Number.isFinite(r.endMs));
  if (served.length < 2 || load.ok < 2) throw new Error(`testbed: the capacity probe served ${served.length} of ${n} requests`);
  let first = Infinity;
  let last = -Infinity;
  for (const r of served) {
    first = Math.min(first, r.startMs);
    last = Math.max(last, r.endMs);
  }
  return { msPerRequest: (last - first) / served.length, cpuShare: stopped.process.cpuMs / stopped.process.windowMs };
}

/**
 * Run one measurement (see the file comment).
 * @throws InputError for bad options; Error when the server thread fails or a policy broke the contract.
 */
export async function runTestbed(o: TestbedRunOptions): Promise<TestbedRunResult> {
  if (!(o.lambdaOverMu > 0)) throw new InputError('testbed run', 'lambdaOverMu', 'a positive load', String(o.lambdaOverMu));
  const host = o.host ?? sharedHost();
  // The machine's 1-minute load average when the cell starts: on a shared machine it explains much of the spread.
  const loadAvg1 = loadavg()[0];
  const cal = await host.request({ op: 'calibrate', fixture: o.fixture, dataDir: o.dataDir, passes: o.calibrationPasses, warmup: o.calibrationWarmup ?? 50 });
  const K = cal.profile.meanMs.length;
  const inputs = inputsOf(o.fixture, o.dataDir);
  const probe = await capacityProbe(host, o, cal.profile.meanMs, inputs);
  const overheadMs = Math.max(0, probe.msPerRequest - cal.profile.meanMs[K - 1]);
  const costMs = cal.profile.meanMs.map((c) => c + overheadMs);
  // The calibrated spread around the new means: sd_k / (mean_k + overhead), pooled over exits.
  const cv = Math.sqrt(cal.profile.perExit.reduce((a, s, k) => a + (s.sdMs / costMs[k]) ** 2, 0) / K);
  const lambda = o.lambdaOverMu / probe.msPerRequest;
  const arrivals: ArrivalConfig = o.arrivals === 'poisson' ? { kind: 'poisson', ratePerMs: lambda } : o.arrivals === 'bursty' ? burstyArrivals(lambda) : o.arrivals;
  const budgetMs = o.budgetFraction === undefined ? undefined : costMs[0] + o.budgetFraction * (costMs[K - 1] - costMs[0]);
  const started = await host.request({ op: 'start', fixture: o.fixture, dataDir: o.dataDir, policy: o.policy, seed: o.seed, bufferCapacity: o.bufferCapacity, costMs, budgetMs });
  const genCpu0 = threadCpuMs();
  const genT0 = performance.now();
  // Stop the server whatever the generator did, so the thread is free for the next cell.
  const load = await runLoad({ url: started.url, arrivals, seed: o.seed, maxRequests: o.requests, timeLimitMs: o.timeLimitMs, inputs }).catch(async (err: unknown) => {
    await host.request({ op: 'stop' });
    throw err;
  });
  const generatorCpuShare = (threadCpuMs() - genCpu0) / (performance.now() - genT0);
  const stopped = await host.request({ op: 'stop' });
  if (stopped.error !== undefined) throw new Error(`testbed: the server stopped: ${stopped.error}`);
  const real = realMetrics(load, stopped.stats, K);

  // The simulator on the same arrivals (same seed → same stream) carrying the same inputs (the test rows of the
  // served inputs, in the same order), with a fresh policy instance of the same seed.
  const test = traceOfRows(o.fixture, inputs.testRows, costMs);
  const validationTrace = loadTrace(join(fixtureDir(o.fixture), 'manifest.json'), 'validation');
  const simulateWith = async (c: readonly number[], cv: number): Promise<QueueMetrics> => {
    const model = { nExits: K, nClasses: test.trace.nClasses, costMs: c, scoreNames: BUILTIN_SCORES };
    const b = o.budgetFraction === undefined ? undefined : c[0] + o.budgetFraction * (c[K - 1] - c[0]);
    const policy = await createServerPolicy(o.policy, { seed: o.seed, model, validation: withCosts(validationTrace, c), budgetMs: b });
    const tr = c === costMs ? test : traceOfRows(o.fixture, inputs.testRows, c);
    return simulate(policy, tr, { bufferCapacity: o.bufferCapacity, arrivals, maxArrivals: load.sent, seed: o.seed, jitter: cv > 0 ? { kind: 'lognormal', cv } : { kind: 'none' } }).metrics;
  };
  const sim = await simulateWith(costMs, cv);
  const runCosts = inRunCosts(real.serviceByExit, costMs);
  const simRun = await simulateWith(runCosts, pooledCv(real.serviceByExit, runCosts));
  const p = stopped.process;
  return {
    metrics: {
      ...real.metrics,
      muPerS: 1000 / probe.msPerRequest,
      modelMuPerS: 1000 / cal.profile.meanMs[K - 1],
      overheadMs,
      probeCpuShare: probe.cpuShare,
      lambdaPerS: lambda * 1000,
      gcCount: p.gcCount,
      gcTotalMs: p.gcTotalMs,
      gcMaxMs: p.gcMaxMs,
      loopDelayP99Ms: p.loopDelayP99Ms,
      loopDelayMaxMs: p.loopDelayMaxMs,
      // Share of one core the server thread got while it ran (CPU time / wall time of the server's life).
      serverCpuShare: p.cpuMs / p.windowMs,
      generatorCpuShare,
      calibrationCpuShare: cal.profile.process.cpuMs / cal.profile.process.windowMs,
      calibratedCv: cv,
      loadAvg1,
      ...simMetrics('sim', sim),
      ...simMetrics('simInRun', simRun),
    },
    exitShares: real.exitShares,
    simExitShares: sim.exitShares,
    profile: cal.profile,
    inRunCostMs: runCosts,
    serverStats: stopped.stats,
    serverProcess: p,
    policyName: started.policyName,
    backend: cal.backend.name,
    inputSource: cal.inputSource,
  };
}
