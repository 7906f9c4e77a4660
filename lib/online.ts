/**
 * The online stream harness: inputs drawn from one or more traces in a seeded order (lengths up to millions),
 * presented one at a time to a policy that learns as it goes (DEE and the bandit baselines, issue 6).
 *
 * What the policy sees is exactly the contract (`lib/policy.ts`): `commit` at job start, `decide` after each exit
 * it ran (through a `TraceCursor`, so exits it has not run cannot be read), then label-free `observe` feedback
 * (the exit taken, its cost, a view of exits 0..exit). The harness, never the policy, keeps the full-information
 * record: every exit's reward for the input, the labels, and therefore the regret against two references.
 *
 * Reward of leaving input n at exit m (the reconstruction in ../shared/research/dee.md):
 *   r_m = c_m − β · L_m,   c_m = a core score at exit m (default `maxprob`),   L_m = costMs[m] / costMs[K−1].
 * It is label-free: a policy can compute r_m itself for every exit it ran.
 *
 * References for regret (per input: reference reward − the policy's reward):
 * - **oracle**: max_m r_m for each input, knowing every exit's outcome (an upper bound no causal policy reaches:
 *   it "knows" whether continuing will pay before running the next block).
 * - **best fixed per-context rule in hindsight**: a context is (exit m, bin of c_m) with the binning of
 *   `contextBin` (`ContextSpec`: the same contexts DEE and ε-greedy use). A rule maps every (m, bin), m < K−1, to
 *   exit/continue; an input leaves at the first m whose (m, bin of its c_m) says exit, else at K−1. The harness
 *   aggregates the stream into a table indexed by each input's bin path (x_0, …, x_{K−2}) holding, per exit m,
 *   the sum of r_m — enough to evaluate any rule exactly, in memory independent of the stream length
 *   (bins^(K−1)·(2K+1) numbers). The rule is then searched on that table: exhaustively over all monotone
 *   threshold rules (exit at m iff bin ≥ θ_m, θ_m ∈ 0..bins; exact over that class) when that is at most 2·10^7
 *   (rule, occupied cell) evaluations — with 6 exits and 10 bins it is 1.6·10^5 rules over thousands of cells,
 *   seconds per cell, so many-exit models skip it — then by coordinate ascent
 *   over all 2^((K−1)·bins) rules, flipping one (m, bin) at a time while the total reward improves, started from
 *   the best threshold rule and from the backward-induction rule. The search over general rules is not
 *   guaranteed to find the global optimum, so the reported reference is a lower bound on the best per-context
 *   rule and regret against it is a lower bound on the true regret. It is computed once, over the whole stream
 *   (static regret against one rule, the usual bandit definition); the per-window curve uses that same rule.
 *   A policy that compares exact c_m (not just its bin) with a learned value can beat every per-bin rule, so
 *   regret against this reference can be negative.
 *
 * Memory: per distinct trace O(N·K) precomputed rewards; per checkpoint window one aggregate table; nothing per
 * input unless `records` is on. So a 10^7-input stream costs the same memory as a 10^3-input one.
 */
import { InputError } from './errors.ts';
import { JobDriver, systemState } from './drive.ts';
import { TraceCursor, type Policy } from './policy.ts';
import { workloadRng, type Rng } from './random.ts';
import { DEFAULT_CONTEXT, checkContextSpec, checkScoreName, contextBin, makeReward, type ContextSpec, type Reward, type RewardSpec } from './reward.ts';
import type { ScoredTrace } from './scores.ts';

// The reward and contexts live in lib/reward.ts (shared with the learners); re-exported for this harness's users.
export { contextBin, type BinScale, type ContextSpec, type RewardSpec } from './reward.ts';

/** One phase of a stream: from input `start` on, inputs are drawn from `trace` (optionally with a class mix). */
export interface StreamPhase {
  /** Index of the first input of this phase; the first phase starts at 0 and starts strictly increase. */
  readonly start: number;
  readonly trace: ScoredTrace;
  /**
   * Class mix: a non-negative weight per class (length C, positive sum). An input's class is drawn with these
   * weights, then a sample of that class. Absent: samples are drawn uniformly (the trace's own class mix).
   */
  readonly classWeights?: readonly number[];
}

/** A seeded stream of inputs. */
export interface StreamSpec {
  /** Number of inputs T (≥ 1). */
  readonly length: number;
  /** Seed of the stream's order (independent of the policy's seed). */
  readonly seed: number;
  /**
   * `permutation` (default): repeated independent permutations of the samples (of each class's samples under
   * a class mix), so every sample appears once per pass; `replacement`: independent uniform draws.
   */
  readonly order?: 'permutation' | 'replacement';
  /** At least one phase. All traces must have the same K and the same costMs (the same network). */
  readonly phases: readonly StreamPhase[];
}

/** A stationary stream over one trace. */
export function stationaryStream(trace: ScoredTrace, length: number, seed: number, order: 'permutation' | 'replacement' = 'permutation'): StreamSpec {
  return { length, seed, order, phases: [{ start: 0, trace }] };
}

/** Options of `runOnline`. */
export interface OnlineOptions {
  readonly reward: RewardSpec;
  /** Contexts of the hindsight reference. Default { bins: 10, scale: 'sqrt' }. */
  readonly context?: ContextSpec;
  /** Number of equal windows the stream is cut into for the curves (≥ 1, ≤ T). Default 20. */
  readonly checkpoints?: number;
  /** Keep per-input records (memory O(T)). Default false. */
  readonly records?: boolean;
  /** Compute the hindsight reference (needs bins^(K−1) ≤ 2^20). Default true. */
  readonly hindsight?: boolean;
}

/** Curves at the end of each window (cumulative values are over inputs 0..t−1). */
export interface OnlineCheckpoint {
  /** Inputs seen so far. */
  readonly t: number;
  /** Σ (oracle reward − policy reward) so far. */
  readonly cumRegretOracle: number;
  /** Σ (hindsight rule's reward − policy reward) so far (the rule best over the whole stream); NaN if off. */
  readonly cumRegretHindsight: number;
  /** Mean per-input regret against the oracle within this window. */
  readonly windowRegretOracle: number;
  /** Mean per-input regret against the hindsight rule within this window; NaN if off. */
  readonly windowRegretHindsight: number;
  /** Mean reward per input within this window. */
  readonly windowMeanReward: number;
  /** Mean oracle reward per input within this window. */
  readonly windowOracleReward: number;
  /** Accuracy (from labels) within this window. */
  readonly windowAccuracy: number;
  /** Mean cost within this window, ms. */
  readonly windowMeanCostMs: number;
}

/** Summary of one reference (oracle or hindsight rule) on the stream. */
export interface ReferenceSummary {
  readonly meanReward: number;
  readonly accuracy: number;
  readonly meanCostMs: number;
}

/** Per-input records (only with `records: true`), each of length T. */
export interface OnlineRecords {
  /** Index into `phases` of each input. */
  readonly phase: Uint8Array;
  /** Sample index in that phase's trace. */
  readonly sample: Int32Array;
  /** Exit taken. */
  readonly exit: Int8Array;
  /** Reward obtained, r_exit. */
  readonly reward: Float32Array;
  /** Oracle reward, max_m r_m. */
  readonly oracleReward: Float32Array;
}

/** What `runOnline` returns. */
export interface OnlineResult {
  readonly policy: string;
  readonly nInputs: number;
  readonly meanReward: number;
  /** Fraction of inputs whose exit predicted the label (the harness reads labels; the policy never does). */
  readonly accuracy: number;
  /** Mean cumulative cost per input, ms (the model's costMs at the exit taken). */
  readonly meanCostMs: number;
  /** meanCostMs / costMs[K−1]. */
  readonly relativeCost: number;
  /** Fraction of inputs per exit, length K. */
  readonly exitShares: readonly number[];
  readonly oracle: ReferenceSummary;
  /** The best per-context rule found in hindsight (undefined when `hindsight` is off). */
  readonly hindsight: (ReferenceSummary & { readonly rule: readonly (readonly boolean[])[] }) | undefined;
  /** Σ_n (oracle − policy reward) over the stream. */
  readonly regretOracle: number;
  /** Σ_n (hindsight rule − policy reward); NaN when off. */
  readonly regretHindsight: number;
  readonly checkpoints: readonly OnlineCheckpoint[];
  readonly records: OnlineRecords | undefined;
}

/** Per-trace arrays the harness precomputes once (O(N·K)), so the per-input cost is a few array reads. */
interface Prepared {
  readonly scored: ScoredTrace;
  readonly cursor: TraceCursor;
  /** r_m per [sample][exit]. */
  readonly reward: Float64Array;
  /** max_m r_m per sample. */
  readonly oracleReward: Float64Array;
  /** argmax_m r_m per sample (earliest on ties). */
  readonly oracleExit: Int32Array;
  /** Index of the sample's bin path Σ_m x_m·bins^m over m < K−1. */
  readonly cell: Int32Array;
}

/**
 * A sampler over a set of sample indices: repeated Fisher–Yates permutations, or uniform draws with replacement.
 * A closure rather than a class with #private fields: this is the per-input hot path.
 */
function indexSampler(indices: Int32Array, rng: Rng, perm: boolean): () => number {
  if (!perm) {
    const draw = rng.intSampler(indices.length);
    return () => indices[draw()];
  }
  let pos = indices.length; // shuffle on first use
  return () => {
    if (pos >= indices.length) {
      rng.shuffle(indices);
      pos = 0;
    }
    return indices[pos++];
  };
}

const MAX_CELLS = 1 << 20;

/** `runOnline`'s inputs once validated, with the defaults filled. */
interface OnlinePlan {
  readonly T: number;
  readonly K: number;
  readonly costMs: readonly number[];
  readonly phases: readonly StreamPhase[];
  readonly perm: boolean;
  readonly reward: Reward;
  readonly ctx: ContextSpec;
  readonly nWindows: number;
  /** bins^(K−1): cells of the hindsight table. */
  readonly nCells: number;
  readonly hindsight: boolean;
  readonly records: boolean;
}

/** Validation of the stream and the options, every error naming its field. */
function planOnline(stream: StreamSpec, options: OnlineOptions): OnlinePlan {
  const src = 'runOnline';
  const T = stream.length;
  if (!Number.isSafeInteger(T) || T < 1) throw new InputError(src, 'stream.length', 'an integer ≥ 1', String(T));
  if (!Number.isInteger(stream.seed)) throw new InputError(src, 'stream.seed', 'an integer', String(stream.seed));
  const order = stream.order ?? 'permutation';
  if (order !== 'permutation' && order !== 'replacement') throw new InputError(src, 'stream.order', '"permutation" or "replacement"', String(order));
  const phases = stream.phases;
  if (phases === undefined || phases.length === 0 || phases.length > 255) throw new InputError(src, 'stream.phases', '1 to 255 phases');
  const first = phases[0].trace.trace;
  const K = first.nExits;
  const costMs = first.costMs;
  for (let p = 0; p < phases.length; p++) {
    const ph = phases[p];
    if (p === 0 ? ph.start !== 0 : !(Number.isInteger(ph.start) && ph.start > phases[p - 1].start && ph.start < T)) {
      throw new InputError(src, `stream.phases[${p}].start`, p === 0 ? '0' : `an integer in (${phases[p - 1].start}, ${T})`, String(ph.start));
    }
    const tr = ph.trace.trace;
    if (tr.nExits !== K || tr.costMs.some((c, k) => c !== costMs[k])) {
      throw new InputError(src, `stream.phases[${p}].trace`, `the same network as phase 0 (K = ${K}, costMs [${costMs.join(', ')}])`, `K = ${tr.nExits}, costMs [${tr.costMs.join(', ')}]`);
    }
    if (ph.classWeights !== undefined) {
      const w = ph.classWeights;
      if (!Array.isArray(w) || w.length !== tr.nClasses || !w.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
        throw new InputError(src, `stream.phases[${p}].classWeights`, `${tr.nClasses} non-negative finite weights`);
      }
      let present = 0;
      for (let n = 0; n < tr.nSamples; n++) if (w[tr.labels[n]] > 0) present++;
      if (present === 0) throw new InputError(src, `stream.phases[${p}].classWeights`, 'a positive weight on at least one class present in the trace');
    }
  }
  const reward = makeReward(src, 'reward', options.reward, { costMs, scoreNames: phases[0].trace.scores.names });
  for (let p = 1; p < phases.length; p++) checkScoreName(src, 'reward.score', reward.score, phases[p].trace.scores.names);
  const ctx = options.context ?? DEFAULT_CONTEXT;
  checkContextSpec(src, 'context', ctx);
  const nWindows = options.checkpoints ?? 20;
  if (!Number.isInteger(nWindows) || nWindows < 1 || nWindows > T) throw new InputError(src, 'checkpoints', `an integer in [1, ${T}]`, String(nWindows));
  const nCells = ctx.bins ** (K - 1);
  const hindsight = options.hindsight ?? true;
  if (hindsight && nCells > MAX_CELLS) {
    throw new InputError(src, 'context.bins', `bins^(K−1) ≤ 2^20 for the hindsight table (or hindsight: false)`, `${ctx.bins}^${K - 1}`);
  }
  return { T, K, costMs, phases, perm: order === 'permutation', reward, ctx, nWindows, nCells, hindsight, records: options.records === true };
}

/** The per-trace tables (rewards, oracle, bin path) of `Prepared`, computed once per distinct trace. */
function prepareTrace(scored: ScoredTrace, plan: OnlinePlan): Prepared {
  const { K, reward: rw } = plan;
  const { bins } = plan.ctx;
  const sq = plan.ctx.scale === 'sqrt';
  const N = scored.trace.nSamples;
  const c = scored.scores.get(rw.score);
  const reward = new Float64Array(N * K);
  const oracleReward = new Float64Array(N);
  const oracleExit = new Int32Array(N);
  const cell = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = -Infinity;
    let arg = 0;
    let id = 0;
    let mult = 1;
    for (let m = 0; m < K; m++) {
      const r = rw.value(c[n * K + m], m);
      reward[n * K + m] = r;
      if (r > best) {
        best = r;
        arg = m;
      }
      if (m < K - 1) {
        id += contextBin(c[n * K + m], bins, sq) * mult;
        mult *= bins;
      }
    }
    oracleReward[n] = best;
    oracleExit[n] = arg;
    cell[n] = id;
  }
  return { scored, cursor: new TraceCursor(scored), reward, oracleReward, oracleExit, cell };
}

/**
 * The sample drawer of each phase, from the workload stream 'online-stream' of the stream's seed, one fork per
 * phase (and per class under a class mix) so phases do not perturb one another.
 */
function phaseSamplers(phases: readonly StreamPhase[], seed: number, perm: boolean): (() => number)[] {
  const streamRng = workloadRng(seed, 'online-stream');
  return phases.map((ph, p) => {
    const tr = ph.trace.trace;
    const rng = streamRng.fork(p);
    if (ph.classWeights === undefined) {
      return indexSampler(Int32Array.from({ length: tr.nSamples }, (_, i) => i), rng, perm);
    }
    const byClass: number[][] = Array.from({ length: tr.nClasses }, () => []);
    for (let n = 0; n < tr.nSamples; n++) byClass[tr.labels[n]].push(n);
    const classes: number[] = [];
    const cum: number[] = [];
    let total = 0;
    for (let y = 0; y < tr.nClasses; y++) {
      if (ph.classWeights[y] > 0 && byClass[y].length > 0) {
        total += ph.classWeights[y];
        classes.push(y);
        cum.push(total);
      }
    }
    const pools = classes.map((y) => indexSampler(Int32Array.from(byClass[y]), rng.fork(`class-${y}`), perm));
    return () => {
      const u = rng.float() * total;
      let j = 0;
      while (j < cum.length - 1 && u >= cum[j]) j++;
      return pools[j]();
    };
  });
}

/** What the policy did, per window: its sums, and how often each sample of each distinct trace was drawn. */
interface StreamRun {
  readonly windows: readonly { reward: number; correct: number; cost: number; n: number }[];
  /** counts[w][d][n]: draws of sample n of distinct trace d in window w (memory windows·N, independent of T). */
  readonly counts: readonly (readonly Uint32Array[])[];
  readonly exitCounts: Float64Array;
  readonly records: OnlineRecords | undefined;
}

/**
 * The loop: T inputs through the job driver (`lib/drive.ts`), window by window. The references' rewards
 * (oracle, hindsight rule) follow from the per-window draw counts after the run, so the hot loop only
 * increments one counter per input besides the policy's own sums.
 */
function streamLoop(policy: Policy, plan: OnlinePlan, prepPhases: readonly Prepared[], distinct: readonly Prepared[], samplers: readonly (() => number)[], bounds: readonly number[]): StreamRun {
  const { T, K, costMs, phases } = plan;
  const records: OnlineRecords | undefined = plan.records
    ? { phase: new Uint8Array(T), sample: new Int32Array(T), exit: new Int8Array(T), reward: new Float32Array(T), oracleReward: new Float32Array(T) }
    : undefined;
  const driver = new JobDriver(policy, K);
  const counts: Uint32Array[][] = [];
  const exitCounts = new Float64Array(K);
  const windows: { reward: number; correct: number; cost: number; n: number }[] = [];
  let clock = 0;
  let phase = 0;
  let nextPhaseStart = phases.length > 1 ? phases[1].start : Infinity;
  let pp = prepPhases[0];
  let sampler = samplers[0];
  let t = 0;
  for (let w = 0; w < bounds.length; w++) {
    const end = bounds[w];
    const wCounts = distinct.map((d) => new Uint32Array(d.scored.trace.nSamples));
    counts.push(wCounts);
    let cnt = wCounts[distinct.indexOf(pp)];
    let wReward = 0;
    let wCorrect = 0;
    let wCost = 0;
    const n0 = t;
    for (; t < end; t++) {
      if (t === nextPhaseStart) {
        phase++;
        nextPhaseStart = phase + 1 < phases.length ? phases[phase + 1].start : Infinity;
        pp = prepPhases[phase];
        sampler = samplers[phase];
        cnt = wCounts[distinct.indexOf(pp)];
      }
      const n = sampler();
      const exit = driver.runJob(pp.cursor, n, driver.hasCommit ? systemState(clock, 0, Infinity, undefined) : undefined, costMs);
      const r = pp.reward[n * K + exit];
      const cost = costMs[exit];
      wReward += r;
      wCorrect += pp.scored.scores.correct[n * K + exit];
      wCost += cost;
      exitCounts[exit]++;
      cnt[n]++;
      clock += cost;
      if (records) {
        records.phase[t] = phase;
        records.sample[t] = n;
        records.exit[t] = exit;
        records.reward[t] = r;
        records.oracleReward[t] = pp.oracleReward[n];
      }
    }
    windows.push({ reward: wReward, correct: wCorrect, cost: wCost, n: t - n0 });
  }
  return { windows, counts, exitCounts, records };
}

/** The oracle's reward per window, and its correct count and cost over the stream, from the draw counts. */
function oracleReference(run: StreamRun, distinct: readonly Prepared[], plan: OnlinePlan): { perWindow: number[]; correct: number; cost: number } {
  const { K, costMs } = plan;
  let correct = 0;
  let cost = 0;
  const perWindow = run.counts.map((wc) => {
    let s = 0;
    wc.forEach((cnt, d) => {
      const pr = distinct[d];
      const corr = pr.scored.scores.correct;
      for (let n = 0; n < cnt.length; n++) {
        const c = cnt[n];
        if (c === 0) continue;
        s += c * pr.oracleReward[n];
        correct += c * corr[n * K + pr.oracleExit[n]];
        cost += c * costMs[pr.oracleExit[n]];
      }
    });
    return s;
  });
  return { perWindow, correct, cost };
}

/** The hindsight rule over the whole stream (aggregated by bin path), its summary, and its reward per window. */
function hindsightReference(run: StreamRun, distinct: readonly Prepared[], plan: OnlinePlan): { summary: NonNullable<OnlineResult['hindsight']>; perWindow: number[] } {
  const { K, costMs, nCells, T } = plan;
  const bins = plan.ctx.bins;
  const aggregate = (wcs: readonly (readonly Uint32Array[])[]) => {
    const tb = { reward: new Float64Array(nCells * K), correct: new Float64Array(nCells * K), count: new Float64Array(nCells) };
    for (const wc of wcs) {
      wc.forEach((cnt, d) => {
        const pr = distinct[d];
        const correct = pr.scored.scores.correct;
        for (let n = 0; n < cnt.length; n++) {
          const c = cnt[n];
          if (c === 0) continue;
          const cell = pr.cell[n];
          tb.count[cell] += c;
          for (let m = 0; m < K; m++) {
            tb.reward[cell * K + m] += c * pr.reward[n * K + m];
            tb.correct[cell * K + m] += c * correct[n * K + m];
          }
        }
      });
    }
    return tb;
  };
  const total = aggregate(run.counts);
  const rule = bestContextRule(total.reward, total.count, K, bins);
  const perWindow = run.counts.map((wc) => {
    const tb = aggregate([wc]);
    return evaluateRule(rule, tb.reward, tb.count, K, bins);
  });
  const rr = perWindow.reduce((a, b) => a + b, 0);
  const rc = evaluateRule(rule, total.correct, total.count, K, bins);
  const exitMass = ruleExitCounts(rule, total.count, K, bins);
  let rcost = 0;
  for (let m = 0; m < K; m++) rcost += exitMass[m] * costMs[m];
  return {
    perWindow,
    summary: {
      meanReward: rr / T,
      accuracy: rc / T,
      meanCostMs: rcost / T,
      rule: Array.from({ length: K - 1 }, (_, m) => Array.from({ length: bins }, (_, x) => rule[m * bins + x] === 1)),
    },
  };
}

/**
 * Run a policy over a stream, driving the contract as every harness does (`JobDriver.runJob`: commit, else
 * decide after each exit < K−1 with the last exit forced, then observe), and measure reward, accuracy, cost and
 * regret against the oracle and the hindsight rule.
 * @throws InputError for a malformed stream or options (naming the field); ContractError for a bad decision or a
 *   peek at an exit that has not run.
 */
export function runOnline(policy: Policy, stream: StreamSpec, options: OnlineOptions): OnlineResult {
  const plan = planOnline(stream, options);
  const { T, K, costMs, nWindows } = plan;
  const prepared = new Map<ScoredTrace, Prepared>();
  const prepPhases = plan.phases.map((ph) => {
    let p = prepared.get(ph.trace);
    if (!p) prepared.set(ph.trace, (p = prepareTrace(ph.trace, plan)));
    return p;
  });
  const distinct = [...new Set(prepPhases)];
  // Window boundaries: equal windows, the last ending at T.
  const bounds = Array.from({ length: nWindows }, (_, w) => Math.round(((w + 1) * T) / nWindows));
  const run = streamLoop(policy, plan, prepPhases, distinct, phaseSamplers(plan.phases, stream.seed, plan.perm), bounds);
  const { windows, exitCounts } = run;
  const sumReward = windows.reduce((a, x) => a + x.reward, 0);
  const sumCorrect = windows.reduce((a, x) => a + x.correct, 0);
  const oracle = oracleReference(run, distinct, plan);
  const sumOracle = oracle.perWindow.reduce((a, b) => a + b, 0);
  const hs = plan.hindsight ? hindsightReference(run, distinct, plan) : undefined;

  const checkpoints: OnlineCheckpoint[] = [];
  let cumO = 0;
  let cumH = 0;
  for (let w = 0; w < nWindows; w++) {
    const win = windows[w];
    const hReg = hs ? hs.perWindow[w] - win.reward : NaN;
    const oReg = oracle.perWindow[w] - win.reward;
    cumO += oReg;
    cumH += hReg;
    checkpoints.push({
      t: bounds[w],
      cumRegretOracle: cumO,
      cumRegretHindsight: cumH,
      windowRegretOracle: oReg / win.n,
      windowRegretHindsight: hReg / win.n,
      windowMeanReward: win.reward / win.n,
      windowOracleReward: oracle.perWindow[w] / win.n,
      windowAccuracy: win.correct / win.n,
      windowMeanCostMs: win.cost / win.n,
    });
  }
  let cost = 0;
  for (let m = 0; m < K; m++) cost += exitCounts[m] * costMs[m];
  return {
    policy: policy.name,
    nInputs: T,
    meanReward: sumReward / T,
    accuracy: sumCorrect / T,
    meanCostMs: cost / T,
    relativeCost: cost / T / costMs[K - 1],
    exitShares: Array.from(exitCounts, (x) => x / T),
    oracle: { meanReward: sumOracle / T, accuracy: oracle.correct / T, meanCostMs: oracle.cost / T },
    hindsight: hs?.summary,
    regretOracle: sumOracle - sumReward,
    regretHindsight: hs ? cumH : NaN,
    checkpoints,
    records: run.records,
  };
}

/** Bin digits of every non-empty cell, [cell][m], m < K−1 (cells with zero count are skipped by the callers). */
function digitsOf(cell: number, K: number, bins: number, out: Int32Array): void {
  let id = cell;
  for (let m = 0; m < K - 1; m++) {
    out[m] = id % bins;
    id = (id - out[m]) / bins;
  }
}

/** The exit a rule (Uint8Array [(m)(bin)], 1 = exit) takes for a bin path. */
function ruleExit(rule: Uint8Array, digits: Int32Array, K: number, bins: number): number {
  for (let m = 0; m < K - 1; m++) if (rule[m * bins + digits[m]] === 1) return m;
  return K - 1;
}

/**
 * Σ over the table of `values[cell][exit(rule, cell)]`: the total reward (or correct count) the rule gets on the
 * inputs aggregated in the table.
 */
export function evaluateRule(rule: Uint8Array, values: Float64Array, count: Float64Array, K: number, bins: number): number {
  const d = new Int32Array(K);
  let s = 0;
  for (let cell = 0; cell < count.length; cell++) {
    if (count[cell] === 0) continue;
    digitsOf(cell, K, bins, d);
    s += values[cell * K + ruleExit(rule, d, K, bins)];
  }
  return s;
}

function ruleExitCounts(rule: Uint8Array, count: Float64Array, K: number, bins: number): Float64Array {
  const d = new Int32Array(K);
  const out = new Float64Array(K);
  for (let cell = 0; cell < count.length; cell++) {
    if (count[cell] === 0) continue;
    digitsOf(cell, K, bins, d);
    out[ruleExit(rule, d, K, bins)] += count[cell];
  }
  return out;
}

/**
 * The best per-context rule found for an aggregate table (see the module comment for the search and why it is a
 * lower bound): `reward` is Σ r_m per [cell][m], `count` the inputs per cell, cells indexed by bin paths.
 * @returns Uint8Array [(m)(bin)], m < K−1, 1 = exit.
 */
export function bestContextRule(reward: Float64Array, count: Float64Array, K: number, bins: number): Uint8Array {
  const D = K - 1;
  // Only non-empty cells matter; gather them with their digits once.
  const cells: number[] = [];
  for (let c = 0; c < count.length; c++) if (count[c] > 0) cells.push(c);
  const digits = new Int32Array(cells.length * D);
  const tmp = new Int32Array(K);
  cells.forEach((c, i) => {
    digitsOf(c, K, bins, tmp);
    for (let m = 0; m < D; m++) digits[i * D + m] = tmp[m];
  });
  const value = (rule: Uint8Array): number => {
    let s = 0;
    for (let i = 0; i < cells.length; i++) {
      let e = D;
      for (let m = 0; m < D; m++) {
        if (rule[m * bins + digits[i * D + m]] === 1) {
          e = m;
          break;
        }
      }
      s += reward[cells[i] * K + e];
    }
    return s;
  };
  const fromThresholds = (theta: Int32Array): Uint8Array => {
    const r = new Uint8Array(D * bins);
    for (let m = 0; m < D; m++) for (let x = theta[m]; x < bins; x++) r[m * bins + x] = 1;
    return r;
  };
  // 1. Exhaustive over monotone threshold rules, when that costs at most 2·10^7 (rule, occupied cell) evaluations.
  let best: Uint8Array = new Uint8Array(D * bins);
  let bestValue = value(best);
  if ((bins + 1) ** D * cells.length <= 2e7) {
    const theta = new Int32Array(D);
    for (;;) {
      const r = fromThresholds(theta);
      const v = value(r);
      if (v > bestValue) {
        bestValue = v;
        best = r;
      }
      let m = 0;
      while (m < D && ++theta[m] > bins) theta[m++] = 0;
      if (m === D) break;
    }
  }
  // 2. Backward induction: the rule that is optimal if the bin path were Markov (what DEE estimates).
  const induction = new Uint8Array(D * bins);
  {
    // cont[i] = reward input cell i gets from exit m+1 on under the rule built so far.
    const cont = new Float64Array(cells.length);
    for (let i = 0; i < cells.length; i++) cont[i] = reward[cells[i] * K + D];
    for (let m = D - 1; m >= 0; m--) {
      const gain = new Float64Array(bins); // Σ (r_m − continuation) per bin at m
      for (let i = 0; i < cells.length; i++) gain[digits[i * D + m]] += reward[cells[i] * K + m] - cont[i];
      for (let x = 0; x < bins; x++) induction[m * bins + x] = gain[x] > 0 ? 1 : 0;
      for (let i = 0; i < cells.length; i++) if (induction[m * bins + digits[i * D + m]] === 1) cont[i] = reward[cells[i] * K + m];
    }
  }
  // 3. Coordinate ascent from both starts.
  for (const start of [best, induction]) {
    const r = start.slice();
    let v = value(r);
    for (let improved = true; improved; ) {
      improved = false;
      for (let j = 0; j < r.length; j++) {
        r[j] ^= 1;
        const v2 = value(r);
        if (v2 > v + 1e-9 * Math.max(1, Math.abs(v))) {
          v = v2;
          improved = true;
        } else r[j] ^= 1;
      }
    }
    if (v > bestValue) {
      bestValue = v;
      best = r;
    }
  }
  return best;
}
