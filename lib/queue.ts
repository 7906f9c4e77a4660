/**
 * Discrete-event simulation of an early-exit inference service: arrivals → a FIFO buffer of B places → one
 * server running the multi-exit network. An arrival that finds B jobs waiting is lost (the job in service does
 * not occupy a buffer place, so the system holds at most B + 1 jobs: M/G/1/K with K = B + 1).
 *
 * Each job carries one sample of a trace, so whether it is classified correctly comes from that sample's real
 * per-exit predictions. Its service time is the trace's cumulative cost of the exit where it leaves, times a
 * per-job jitter factor (mean 1) when configured.
 *
 * Both kinds of policy run unchanged:
 * - single-exit schedulers `commit` to an exit at job start (seeing time, queue length, B and the arrival-rate
 *   estimate); the server then runs straight to that exit;
 * - sequential policies (an "ordinary EEN") are asked `decide` at the simulated moment each exit finishes, so
 *   the service time is known only as the job runs, and system events that happen meanwhile (losses) reach the
 *   policy first.
 *
 * With one FIFO server the next event is always either the next arrival or the job in service reaching its
 * next exit, so no event heap is needed. Ties go to the server (a departure frees its place before a
 * simultaneous arrival looks for one).
 *
 * Memory is constant in the number of jobs unless per-job records or a time series are asked for: response
 * time percentiles come from a histogram with buckets 1/128 of an octave wide (≤ 0.8% relative).
 */
import { makeArrivals, type ArrivalConfig } from './arrivals.ts';
import { InputError, describe } from './errors.ts';
import { JobDriver, systemState } from './drive.ts';
import { TraceCursor, type Policy } from './policy.ts';
import { workloadRng } from './random.ts';
import type { ScoredTrace } from './scores.ts';

/** Per-job multiplicative noise on service time (mean 1), drawn once per job at its start. */
export type JitterConfig =
  /** Deterministic service: exactly the trace's cost. */
  | { readonly kind: 'none' }
  /** Factor ~ Exp(1): exponential service for a fixed exit (used to validate against M/M/1/K). */
  | { readonly kind: 'exponential' }
  /** Factor ~ lognormal with mean 1 and the given coefficient of variation. */
  | { readonly kind: 'lognormal'; readonly cv: number };

/** Configuration of one simulation run. Plain data, validated by `simulate`. */
export interface QueueConfig {
  /** Buffer places B (waiting jobs, not counting the one in service), an integer ≥ 0. */
  readonly bufferCapacity: number;
  readonly arrivals: ArrivalConfig;
  /** Stop generating arrivals after this many. At least one of `maxArrivals`, `horizonMs` is required. */
  readonly maxArrivals?: number;
  /** Simulated time at which the run stops, ms. Arrivals after it are not generated. */
  readonly horizonMs?: number;
  /** Serve the jobs still in the system after arrivals stop. Default: true without a horizon, false with one. */
  readonly drain?: boolean;
  /** Service-time noise. Default none. */
  readonly jitter?: JitterConfig;
  /** How jobs draw samples: uniformly with replacement (default) or cycling through seeded permutations. */
  readonly sampling?: 'uniform' | 'permutation';
  /** Inter-arrival times averaged for the arrival-rate estimate given to policies. Default max(B, 1). */
  readonly rateWindow?: number;
  /** Keep flat per-job records (memory grows with jobs). Default false. */
  readonly records?: boolean;
  /**
   * Warm-up: statistics (every metric) count only jobs that arrive after it, and time averages start at its end,
   * so steady-state figures carry no start-up bias from the empty initial system. `timeMs`: the warm-up ends at
   * that simulated time; `arrivals`: it ends at the arrival of job number `arrivals` + 1 (the first `arrivals` jobs
   * are not counted). The stopping rules (`maxArrivals`, `horizonMs`) still count from time 0 and job 1.
   * Default: no warm-up. The time series, if any, covers the whole run.
   */
  readonly warmup?: { readonly timeMs: number } | { readonly arrivals: number };
  /** Sample queue length and recent exit shares every this many ms. Default: no time series. */
  readonly timeSeriesEveryMs?: number;
  /** Seed of the arrival, sampling and jitter streams (the policy has its own). */
  readonly seed: number;
}

/** Flat per-job records, one entry per arrival in arrival order. Lost jobs have NaN start/end and exit −1. */
export interface JobRecords {
  readonly arrivalMs: Float64Array;
  readonly startMs: Float64Array;
  readonly endMs: Float64Array;
  /** Trace sample index the job carried. */
  readonly sample: Int32Array;
  /** Exit taken, −1 if lost (or still in the system at the end). */
  readonly exit: Int32Array;
  /** 1 if served and correct. */
  readonly correct: Uint8Array;
  /** Jobs waiting in the buffer when this one arrived (not counting the one in service). */
  readonly queueAtArrival: Int32Array;
  /** 1 if lost to a full buffer. */
  readonly lost: Uint8Array;
}

/** Samples of the system's state over time. */
export interface TimeSeries {
  /** Sample times, ms. */
  readonly timeMs: number[];
  /** Jobs in the system (waiting + in service) at each sample time. */
  readonly inSystem: number[];
  /** Exit shares of the jobs served since the previous sample (all zero if none), one array of length K each. */
  readonly exitShares: number[][];
  /** Arrivals since the previous sample (lost ones included). Loss ratio of an interval = lost / arrived. */
  readonly arrived: number[];
  /** Arrivals lost to a full buffer since the previous sample. */
  readonly lost: number[];
  /** Jobs served (departed) since the previous sample. */
  readonly served: number[];
  /** Of those, correctly classified. Accuracy of an interval counting losses ≈ correct / (served + lost). */
  readonly correct: number[];
  /**
   * The policy's own current exit distribution at each sample time (`Policy.exitDistribution`, length K), or
   * null where it has none; empty if the policy does not implement it.
   */
  readonly policyExitShares: (number[] | null)[];
}

/** Summary of one run. Times in ms, rates per second. */
export interface QueueMetrics {
  readonly policy: string;
  readonly trace: string;
  readonly bufferCapacity: number;
  readonly seed: number;
  readonly arrivals: number;
  readonly served: number;
  readonly lost: number;
  /** Jobs still waiting or in service when the run stopped (0 when drained). */
  readonly inSystemAtEnd: number;
  /** lost / arrivals. */
  readonly lossRatio: number;
  /** Correct / served. */
  readonly accuracyServed: number;
  /** Correct / (served + lost): lost jobs count as failures (jobs still in the system are excluded). */
  readonly accuracyOverall: number;
  readonly meanResponseMs: number;
  readonly p50ResponseMs: number;
  readonly p95ResponseMs: number;
  readonly p99ResponseMs: number;
  readonly maxResponseMs: number;
  /** Mean service time of served jobs. */
  readonly meanServiceMs: number;
  /** Fraction of the elapsed time the server was busy. */
  readonly utilisation: number;
  /** Served jobs per second of simulated time. */
  readonly throughputPerS: number;
  /** Time-average number of jobs in the system (waiting + in service). */
  readonly meanInSystem: number;
  /** Largest number of jobs ever waiting in the buffer (≤ B). */
  readonly maxQueue: number;
  /** Exit shares of served jobs, length K. */
  readonly exitShares: readonly number[];
  /** Measured span, ms: from the end of the warm-up (0 without one) to the last event. */
  readonly elapsedMs: number;
  /** When the warm-up ended, ms (0 without one; Infinity if the run ended first). */
  readonly warmupEndMs: number;
}

/** What `simulate` returns. */
export interface QueueResult {
  readonly metrics: QueueMetrics;
  readonly records: JobRecords | undefined;
  readonly timeSeries: TimeSeries | undefined;
}

/**
 * Response-time histogram with constant memory: HDR-style buckets read straight from the float's bits —
 * the binary exponent and the top 7 mantissa bits — so each bucket spans 1/128 of an octave (≤ 0.8% relative
 * width) and adding a value costs no logarithm.
 */
export class LogHistogram {
  static readonly SUB_BITS = 7;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);
  // 2048 exponents × 128 sub-buckets covers every positive double.
  private readonly counts = new Float64Array(2048 << LogHistogram.SUB_BITS);
  private n = 0;

  /** Add a non-negative value (zero and subnormals go to the lowest bucket). */
  add(x: number): void {
    this.f64[0] = x;
    // The high word holds the sign, 11 exponent bits and the top 20 mantissa bits (little-endian hosts).
    this.counts[(this.u32[HI] >>> (20 - LogHistogram.SUB_BITS)) & 0x3ffff]++;
    this.n++;
  }

  get count(): number {
    return this.n;
  }

  /** The q-quantile (0 ≤ q ≤ 1): the midpoint of the bucket holding it, so within 0.4% of the true value. NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * this.n));
    let acc = 0;
    const sub = 1 << LogHistogram.SUB_BITS;
    for (let b = 0; b < this.counts.length; b++) {
      acc += this.counts[b];
      if (acc >= target) {
        const exp = b >>> LogHistogram.SUB_BITS;
        const mant = b & (sub - 1);
        return exp === 0 ? 0 : Math.pow(2, exp - 1023) * (1 + (mant + 0.5) / sub);
      }
    }
    return NaN;
  }
}

/** The totals a run accumulates, from which `queueMetrics` derives the summary (the shared fields mean the same). */
interface RunTotals
  extends Pick<QueueMetrics, 'policy' | 'trace' | 'bufferCapacity' | 'seed' | 'arrivals' | 'served' | 'lost' | 'inSystemAtEnd' | 'maxQueue' | 'elapsedMs' | 'warmupEndMs' | 'maxResponseMs'> {
  /** Served jobs whose exit was correct. */
  readonly correct: number;
  /** Served jobs per exit, length K. */
  readonly exitCounts: Float64Array;
  /** Response times of served jobs. */
  readonly hist: LogHistogram;
  /** Time the server was busy, ms. */
  readonly busyMs: number;
  /** ∫ jobs in system dt, job·ms. */
  readonly areaInSystem: number;
  readonly sumResponseMs: number;
  readonly sumServiceMs: number;
}

/** The summary of a run from its totals (ratios are NaN or 0 where their denominator is 0, as documented). */
function queueMetrics(t: RunTotals): QueueMetrics {
  const { served, lost, elapsedMs: elapsed } = t;
  return {
    policy: t.policy,
    trace: t.trace,
    bufferCapacity: t.bufferCapacity,
    seed: t.seed,
    arrivals: t.arrivals,
    served,
    lost,
    inSystemAtEnd: t.inSystemAtEnd,
    lossRatio: t.arrivals ? lost / t.arrivals : 0,
    accuracyServed: served ? t.correct / served : NaN,
    accuracyOverall: served + lost ? t.correct / (served + lost) : NaN,
    meanResponseMs: served ? t.sumResponseMs / served : NaN,
    p50ResponseMs: t.hist.quantile(0.5),
    p95ResponseMs: t.hist.quantile(0.95),
    p99ResponseMs: t.hist.quantile(0.99),
    maxResponseMs: served ? t.maxResponseMs : NaN,
    meanServiceMs: served ? t.sumServiceMs / served : NaN,
    utilisation: elapsed > 0 ? t.busyMs / elapsed : 0,
    throughputPerS: elapsed > 0 ? (served / elapsed) * 1000 : 0,
    meanInSystem: elapsed > 0 ? t.areaInSystem / elapsed : 0,
    maxQueue: t.maxQueue,
    exitShares: Array.from(t.exitCounts, (c) => (served ? c / served : 0)),
    elapsedMs: elapsed,
    warmupEndMs: t.warmupEndMs,
  };
}

/** What a policy without `commit` is "shown" (never read: `JobDriver.commit` does not call it). */
const NO_STATE = systemState(0, 0, 0, undefined);

const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Growable typed-array columns for per-job records. */
class RecordBuilder {
  n = 0;
  cap = 1024;
  arrivalMs = new Float64Array(this.cap);
  startMs = new Float64Array(this.cap);
  endMs = new Float64Array(this.cap);
  sample = new Int32Array(this.cap);
  exit = new Int32Array(this.cap);
  correct = new Uint8Array(this.cap);
  queueAtArrival = new Int32Array(this.cap);
  lost = new Uint8Array(this.cap);

  push(arrival: number, sample: number, queue: number): number {
    if (this.n === this.cap) {
      this.cap *= 2;
      const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(this.cap);
        b.set(a);
        return b;
      };
      this.arrivalMs = grow(this.arrivalMs);
      this.startMs = grow(this.startMs);
      this.endMs = grow(this.endMs);
      this.sample = grow(this.sample);
      this.exit = grow(this.exit);
      this.correct = grow(this.correct);
      this.queueAtArrival = grow(this.queueAtArrival);
      this.lost = grow(this.lost);
    }
    const i = this.n++;
    this.arrivalMs[i] = arrival;
    this.startMs[i] = NaN;
    this.endMs[i] = NaN;
    this.sample[i] = sample;
    this.exit[i] = -1;
    this.queueAtArrival[i] = queue;
    return i;
  }

  build(): JobRecords {
    const n = this.n;
    return {
      arrivalMs: this.arrivalMs.slice(0, n),
      startMs: this.startMs.slice(0, n),
      endMs: this.endMs.slice(0, n),
      sample: this.sample.slice(0, n),
      exit: this.exit.slice(0, n),
      correct: this.correct.slice(0, n),
      queueAtArrival: this.queueAtArrival.slice(0, n),
      lost: this.lost.slice(0, n),
    };
  }
}

function checkConfig(c: QueueConfig): void {
  const src = 'QueueConfig';
  if (typeof c !== 'object' || c === null) throw new InputError(src, '(root)', 'an object', describe(c));
  if (!Number.isSafeInteger(c.bufferCapacity) || c.bufferCapacity < 0) throw new InputError(src, 'bufferCapacity', 'an integer ≥ 0 (waiting places B)', describe(c.bufferCapacity));
  if (c.maxArrivals === undefined && c.horizonMs === undefined) throw new InputError(src, 'maxArrivals/horizonMs', 'at least one stopping rule', 'neither');
  if (c.maxArrivals !== undefined && (!Number.isSafeInteger(c.maxArrivals) || c.maxArrivals < 0)) throw new InputError(src, 'maxArrivals', 'an integer ≥ 0', describe(c.maxArrivals));
  if (c.horizonMs !== undefined && !(c.horizonMs >= 0 && Number.isFinite(c.horizonMs))) throw new InputError(src, 'horizonMs', 'a finite time ≥ 0 in ms', describe(c.horizonMs));
  if (!Number.isInteger(c.seed)) throw new InputError(src, 'seed', 'an integer', describe(c.seed));
  if (c.rateWindow !== undefined && (!Number.isSafeInteger(c.rateWindow) || c.rateWindow < 1)) throw new InputError(src, 'rateWindow', 'an integer ≥ 1', describe(c.rateWindow));
  if (c.sampling !== undefined && c.sampling !== 'uniform' && c.sampling !== 'permutation') throw new InputError(src, 'sampling', '"uniform" or "permutation"', describe(c.sampling));
  if (c.warmup !== undefined) {
    const w = c.warmup as { timeMs?: unknown; arrivals?: unknown };
    if (typeof w !== 'object' || w === null || ('timeMs' in w) === ('arrivals' in w)) throw new InputError(src, 'warmup', '{ timeMs } or { arrivals }', describe(c.warmup));
    if ('timeMs' in w && !(typeof w.timeMs === 'number' && w.timeMs >= 0 && Number.isFinite(w.timeMs))) throw new InputError(src, 'warmup.timeMs', 'a finite time ≥ 0 in ms', describe(w.timeMs));
    if ('arrivals' in w && !(Number.isSafeInteger(w.arrivals) && (w.arrivals as number) >= 0)) throw new InputError(src, 'warmup.arrivals', 'an integer ≥ 0 (jobs not counted)', describe(w.arrivals));
  }
  if (c.timeSeriesEveryMs !== undefined && !(c.timeSeriesEveryMs > 0)) throw new InputError(src, 'timeSeriesEveryMs', 'a positive interval in ms', describe(c.timeSeriesEveryMs));
  const j = c.jitter;
  if (j !== undefined) {
    if (j.kind === 'lognormal') {
      if (!(j.cv >= 0 && Number.isFinite(j.cv))) throw new InputError(src, 'jitter.cv', 'a finite coefficient of variation ≥ 0', describe(j.cv));
    } else if (j.kind !== 'none' && j.kind !== 'exponential') {
      throw new InputError(src, 'jitter.kind', '"none", "exponential" or "lognormal"', describe((j as { kind?: unknown }).kind));
    }
  }
}

/** The workload's random sources of one run: arrival times, the sample each job carries, its service jitter. */
interface WorkloadSources {
  /** Next arrival time, ms (non-decreasing). */
  readonly arrivals: { next(): number };
  /** Sample index of the next arriving job. */
  readonly drawSample: () => number;
  /** Service-time factor of the next starting job (mean 1). */
  readonly drawFactor: () => number;
}

/** The workload streams 'arrivals', 'samples' and 'jitter' of `config.seed` (lib/random.ts `workloadRng`), never a policy's. */
function workloadSources(config: QueueConfig, N: number): WorkloadSources {
  const arrivals = makeArrivals(config.arrivals, workloadRng(config.seed, 'arrivals'));
  const sampleRng = workloadRng(config.seed, 'samples');
  const jitterRng = workloadRng(config.seed, 'jitter');
  const jitter = config.jitter ?? { kind: 'none' };
  const jitterSigma = jitter.kind === 'lognormal' ? Math.sqrt(Math.log(1 + jitter.cv * jitter.cv)) : 0;
  const jitterCode = jitter.kind === 'exponential' ? 1 : jitter.kind === 'lognormal' ? 2 : 0;
  const drawFactor = (): number => {
    if (jitterCode === 0) return 1;
    if (jitterCode === 1) return -Math.log(1 - jitterRng.float());
    return Math.exp(jitterSigma * jitterRng.normal() - (jitterSigma * jitterSigma) / 2);
  };
  const permutation = config.sampling === 'permutation' ? Int32Array.from({ length: N }, (_, i) => i) : undefined;
  let permPos = N;
  const uniformSample = sampleRng.intSampler(N);
  const drawSample = (): number => {
    if (!permutation) return uniformSample();
    if (permPos === N) {
      sampleRng.shuffle(permutation);
      permPos = 0;
    }
    return permutation[permPos++];
  };
  return { arrivals, drawSample, drawFactor };
}

/**
 * Simulate `policy` serving jobs drawn from `scored` under `config`.
 * The policy is used as given (create it with its own seeded `Rng`, and fit it, beforehand).
 * @throws InputError for a bad config; ContractError if the policy breaks the contract.
 */
export function simulate(policy: Policy, scored: ScoredTrace, config: QueueConfig): QueueResult {
  checkConfig(config);
  const { nSamples: N, nExits: K, costMs } = scored.trace;
  const correctTable = scored.scores.correct;
  const B = config.bufferCapacity;
  // Mutable floating-point state lives in one Float64Array: as `let` variables captured by the closures
  // below, every update would box a new heap number (measured: a large share of the per-job cost).
  const JOBARRIVAL = 0;
  const JOBSTART = 1;
  const JOBFACTOR = 2;
  const NEXTSERVEREVENT = 3;
  const NOW = 4;
  const BUSYTIME = 5;
  const AREA = 6;
  const SUMRESPONSE = 7;
  const MAXRESPONSE = 8;
  const SUMSERVICE = 9;
  const GAPSUM = 10;
  const LASTARRIVAL = 11;
  const TSNEXT = 12;
  const WARMEND = 13;
  const f = new Float64Array(14);
  f[JOBFACTOR] = 1;
  f[NEXTSERVEREVENT] = Infinity;
  const { arrivals, drawSample, drawFactor } = workloadSources(config, N);
  const maxArrivals = config.maxArrivals ?? Infinity;
  const horizon = config.horizonMs ?? Infinity;
  const drain = config.drain ?? config.horizonMs === undefined;

  // Arrival-rate estimate: mean of the last W inter-arrival times (all arrivals, lost ones included).
  const W = config.rateWindow ?? Math.max(B, 1);
  const gaps = new Float64Array(W);
  let gapCount = 0;

  // FIFO ring buffer of waiting jobs.
  const cap = B + 1;
  const qArrival = new Float64Array(cap);
  const qSample = new Int32Array(cap);
  const qRecord = new Int32Array(cap);
  // 1 if the waiting job arrived after the warm-up (its statistics count).
  const qCounts = new Uint8Array(cap);
  let qHead = 0;
  let qSize = 0;

  // The contract's checks, the same as offline and online (lib/drive.ts); this file keeps only the event loop.
  const driver = new JobDriver(policy, K);
  const hasEvent = driver.hasEvent;
  const cursor = new TraceCursor(scored);
  const view = cursor.view;
  const records = config.records ? new RecordBuilder() : undefined;
  const hist = new LogHistogram();
  const exitCounts = new Float64Array(K);

  // Server state.
  let busy = false;
  let jobSample = 0;
  let jobRecord = -1;
  let jobCommitted = -1;
  let jobExit = 0;
  let jobCounts = 1;

  // Warm-up: a time known up front, or the arrival of job `warmupArrivals` + 1 (until then WARMEND is Infinity).
  const warmup = config.warmup as { timeMs?: number; arrivals?: number } | undefined;
  const warmupArrivals = warmup?.arrivals ?? 0;
  f[WARMEND] = warmup?.timeMs ?? (warmupArrivals > 0 ? Infinity : 0);
  let measuring = f[WARMEND] === 0;

  let nArrivals = 0;
  let measuredArrivals = 0;
  let served = 0;
  let lost = 0;
  let correct = 0;
  let maxQueue = 0;

  const ts: TimeSeries | undefined = config.timeSeriesEveryMs
    ? { timeMs: [], inSystem: [], exitShares: [], policyExitShares: [], arrived: [], lost: [], served: [], correct: [] }
    : undefined;
  const hasDistribution = driver.hasDistribution;
  const tsEvery = config.timeSeriesEveryMs ?? Infinity;
  f[TSNEXT] = tsEvery;
  const tsCounts = new Float64Array(K);
  let tsServed = 0;
  let tsArrived = 0;
  let tsLost = 0;
  let tsCorrect = 0;

  /** Move the clock to t, accumulating time-weighted statistics over (f[NOW], t]. */
  const advance = (t: number): void => {
    const inSystem = qSize + (busy ? 1 : 0);
    if (ts) {
      while (f[TSNEXT] <= t) {
        ts.timeMs.push(f[TSNEXT]);
        ts.inSystem.push(inSystem);
        ts.exitShares.push(Array.from(tsCounts, (c) => (tsServed ? c / tsServed : 0)));
        if (hasDistribution) ts.policyExitShares.push(driver.exitDistribution());
        ts.arrived.push(tsArrived);
        ts.lost.push(tsLost);
        ts.served.push(tsServed);
        ts.correct.push(tsCorrect);
        tsCounts.fill(0);
        tsServed = 0;
        tsArrived = 0;
        tsLost = 0;
        tsCorrect = 0;
        f[TSNEXT] += tsEvery;
      }
    }
    // Time averages only over the part of (f[NOW], t] after the warm-up.
    const from = f[NOW] > f[WARMEND] ? f[NOW] : f[WARMEND];
    if (t > from) {
      const dt = t - from;
      f[AREA] += inSystem * dt;
      if (busy) f[BUSYTIME] += dt;
    }
    f[NOW] = t;
  };

  const startJob = (arrival: number, sample: number, record: number, counts: number): void => {
    busy = true;
    jobCounts = counts;
    f[JOBARRIVAL] = arrival;
    f[JOBSTART] = f[NOW];
    jobSample = sample;
    jobRecord = record;
    f[JOBFACTOR] = drawFactor();
    if (records) records.startMs[record] = f[NOW];
    jobCommitted = driver.commit(driver.hasCommit ? systemState(f[NOW], qSize, B, gapCount > 0 ? gapCount / f[GAPSUM] : undefined) : NO_STATE);
    jobExit = jobCommitted >= 0 ? jobCommitted : 0;
    f[NEXTSERVEREVENT] = f[JOBSTART] + costMs[jobExit] * f[JOBFACTOR];
  };

  const serverEvent = (): void => {
    // The job in service has just finished exit `jobExit`.
    if (jobCommitted < 0 && jobExit < K - 1) {
      cursor.moveTo(jobSample, jobExit);
      if (!driver.decideExit(view)) {
        jobExit++;
        f[NEXTSERVEREVENT] = f[JOBSTART] + costMs[jobExit] * f[JOBFACTOR];
        return;
      }
    }
    const exit = jobExit;
    const ok = correctTable[jobSample * K + exit];
    if (jobCounts) {
      served++;
      correct += ok;
      exitCounts[exit]++;
      const response = f[NOW] - f[JOBARRIVAL];
      hist.add(response);
      f[SUMRESPONSE] += response;
      if (response > f[MAXRESPONSE]) f[MAXRESPONSE] = response;
      f[SUMSERVICE] += f[NOW] - f[JOBSTART];
    }
    if (ts) {
      tsCounts[exit]++;
      tsServed++;
      tsCorrect += ok;
    }
    if (records) {
      records.endMs[jobRecord] = f[NOW];
      records.exit[jobRecord] = exit;
      records.correct[jobRecord] = ok;
    }
    busy = false;
    f[NEXTSERVEREVENT] = Infinity;
    driver.observe(cursor, jobSample, exit, costMs[exit] * f[JOBFACTOR], jobCommitted >= 0);
    if (qSize > 0) {
      const h = qHead;
      qHead = (qHead + 1) % cap;
      qSize--;
      startJob(qArrival[h], qSample[h], qRecord[h], qCounts[h]);
    } else if (hasEvent) {
      driver.event({ kind: 'idle', timeMs: f[NOW] });
    }
  };

  const nextArrivalTime = (): number => {
    if (nArrivals >= maxArrivals) return Infinity;
    const t = arrivals.next();
    if (!(t >= f[NOW])) throw new InputError('arrivals', 'time', `non-decreasing arrival times (≥ ${f[NOW]} ms)`, String(t));
    return t > horizon ? Infinity : t;
  };

  // Stop rule: arrivals end at maxArrivals or the horizon. Then, when draining, serve everyone left;
  // otherwise stop at the horizon (or, without one, at the last arrival).
  let nextArrival = nextArrivalTime();
  for (;;) {
    const tServer = busy ? f[NEXTSERVEREVENT] : Infinity;
    const t = tServer <= nextArrival ? tServer : nextArrival;
    if (t === Infinity || (!drain && t > horizon)) break;
    advance(t);
    if (tServer <= nextArrival) {
      serverEvent();
      continue;
    }
    nArrivals++;
    if (!measuring && (warmupArrivals > 0 ? nArrivals > warmupArrivals : f[NOW] >= f[WARMEND])) {
      measuring = true;
      if (f[WARMEND] === Infinity) f[WARMEND] = f[NOW];
    }
    const counts = measuring ? 1 : 0;
    measuredArrivals += counts;
    if (ts) tsArrived++;
    if (nArrivals > 1) {
      const slot = (nArrivals - 2) % W;
      if (gapCount === W) f[GAPSUM] -= gaps[slot];
      else gapCount++;
      gaps[slot] = f[NOW] - f[LASTARRIVAL];
      f[GAPSUM] += gaps[slot];
    }
    f[LASTARRIVAL] = f[NOW];
    const sample = drawSample();
    const rec = records ? records.push(f[NOW], sample, qSize) : -1;
    if (!busy) {
      startJob(f[NOW], sample, rec, counts);
    } else if (qSize < B) {
      const tail = (qHead + qSize) % cap;
      qArrival[tail] = f[NOW];
      qSample[tail] = sample;
      qRecord[tail] = rec;
      qCounts[tail] = counts;
      qSize++;
      if (counts && qSize > maxQueue) maxQueue = qSize;
    } else {
      lost += counts;
      if (ts) tsLost++;
      if (records) records.lost[rec] = 1;
      if (hasEvent) driver.event({ kind: 'loss', timeMs: f[NOW], queueLength: qSize });
    }
    nextArrival = nextArrivalTime();
    if (!drain && nextArrival === Infinity && horizon === Infinity) break;
  }
  if (!drain && horizon < Infinity && f[NOW] < horizon) advance(horizon);

  // Only jobs that arrived after the warm-up are in the statistics, so only they count as still in the system.
  let inSystemAtEnd = busy ? jobCounts : 0;
  for (let i = 0; i < qSize; i++) inSystemAtEnd += qCounts[(qHead + i) % cap];
  const metrics = queueMetrics({
    policy: policy.name,
    trace: `${scored.trace.provenance.model}/${scored.trace.provenance.split}`,
    bufferCapacity: B,
    seed: config.seed,
    arrivals: measuredArrivals,
    served,
    lost,
    correct,
    inSystemAtEnd,
    maxQueue,
    exitCounts,
    hist,
    elapsedMs: f[NOW] > f[WARMEND] ? f[NOW] - f[WARMEND] : 0,
    warmupEndMs: f[WARMEND],
    busyMs: f[BUSYTIME],
    areaInSystem: f[AREA],
    sumResponseMs: f[SUMRESPONSE],
    maxResponseMs: f[MAXRESPONSE],
    sumServiceMs: f[SUMSERVICE],
  });
  return { metrics, records: records?.build(), timeSeries: ts };
}
