/**
 * `exitlab/testing`: what our own conformance suite uses, for people writing policies outside this repository.
 *
 * - fast-check arbitraries for traces (realistic ones from the synthetic generator, and adversarial corners:
 *   ties everywhere, all exits wrong, the smallest valid shapes, one label for every sample), for online streams
 *   (stationary, switching trace, changing class mix) and for arrival workloads;
 * - `checkPolicy(subject, options)`: the single list of checks, picked from the policy's capabilities as river's
 *   `yield_checks` does (`policyChecks(subject)` names them): spec checks (defaults parse, an unknown key is
 *   rejected), different seeds differ (policies declared `stochastic`), and per generated case (trace, policy
 *   seed, budget, queue workload) and parameter set: offline run, last exit always exits, oracle bound, no peeking
 *   (even when the policy catches the error), determinism (offline, queue, online), budget kept (budgeted),
 *   queue run (buffer of 0–4 places, so `commit` sees backlogs and arrival-rate estimates and `onEvent` is
 *   called) and online run (learners with `observe`; regret against the oracle ≥ 0). On the first failure it
 *   throws a `PolicyCheckError` with a shrunk, printed counterexample naming the check.
 *
 * ExitTrace rejects K = 1 and C = 1 by design (a one-exit network leaves no decision; see `lib/trace.ts`), so the
 * smallest corners generated are K = 2 and C = 2, and "single class" means every label is the same class.
 */
import fc from 'fast-check';
import { burstyArrivals, type ArrivalConfig } from './arrivals.ts';
import { InputError } from './errors.ts';
import { runOnline, stationaryStream, type StreamSpec } from './online.ts';
import { oracleExits, runPolicy, summarizeExits } from './offline.ts';
import { simulate } from './queue.ts';
import { modelInfo, type ExitView, type ModelInfo, type Policy, type PolicyContext } from './policy.ts';
import { canonicalJson, policyRng } from './random.ts';
import { DEFAULT_REWARD } from './reward.ts';
import { instantiate, type AnyPolicySpec, type RawParams } from './registry.ts';
import { scoreTrace, type ScoredTrace } from './scores.ts';
import { syntheticTrace } from './synthetic.ts';
import { ExitTrace } from './trace.ts';

/** Options of `traceArbitrary`. */
export interface TraceArbitraryOptions {
  /** Largest N. Default 40. */
  readonly maxSamples?: number;
  /** Largest K (≥ 2). Default 5. */
  readonly maxExits?: number;
  /** Largest C (≥ 2). Default 5. */
  readonly maxClasses?: number;
  /** Include adversarial corners (ties, all-wrong exits, one label). Default true. */
  readonly corners?: boolean;
  /** Include realistic traces from the synthetic generator. Default true. */
  readonly realistic?: boolean;
}

/**
 * Traces for property tests. Realistic ones come from `syntheticTrace` (later exits more accurate and
 * confident, correlated across exits); adversarial ones have probabilities from small integer weights (so
 * argmax and score ties are everywhere), optionally every exit wrong or every label equal, and costs with equal
 * consecutive values allowed.
 */
export function traceArbitrary(options: TraceArbitraryOptions = {}): fc.Arbitrary<ExitTrace> {
  const { maxSamples = 40, maxExits = 5, maxClasses = 5, corners = true, realistic = true } = options;
  if (maxExits < 2 || maxClasses < 2 || maxSamples < 1) throw new RangeError('traceArbitrary: maxExits and maxClasses must be ≥ 2, maxSamples ≥ 1');
  const parts: fc.Arbitrary<ExitTrace>[] = [];
  if (realistic) {
    parts.push(
      fc
        .record({
          N: fc.integer({ min: 1, max: maxSamples }),
          K: fc.integer({ min: 2, max: maxExits }),
          C: fc.integer({ min: 2, max: maxClasses }),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        })
        .map(({ N, K, C, seed }) => syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed })),
    );
  }
  if (corners) parts.push(adversarialTrace(maxSamples, maxExits, maxClasses));
  if (parts.length === 0) throw new RangeError('traceArbitrary: enable realistic or corners');
  return parts.length === 1 ? parts[0] : fc.oneof(...parts);
}

function adversarialTrace(maxSamples: number, maxExits: number, maxClasses: number): fc.Arbitrary<ExitTrace> {
  return fc
    .record({
      N: fc.integer({ min: 1, max: maxSamples }),
      K: fc.integer({ min: 2, max: maxExits }),
      C: fc.integer({ min: 2, max: maxClasses }),
      corner: fc.constantFrom('ties', 'all-wrong', 'one-label'),
      costSteps: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: maxExits, maxLength: maxExits }),
    })
    .chain(({ N, K, C, corner, costSteps }) =>
      fc
        .record({
          weights: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: N * K * C, maxLength: N * K * C }),
          labels: fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: N, maxLength: N }),
        })
        .map(({ weights, labels }) => {
          const probs = new Float32Array(N * K * C);
          const lab = Int32Array.from(corner === 'one-label' ? labels.map(() => labels[0]) : labels);
          for (let row = 0; row < N * K; row++) {
            const n = Math.floor(row / K);
            let s = 0;
            for (let c = 0; c < C; c++) s += weights[row * C + c];
            for (let c = 0; c < C; c++) {
              if (corner === 'all-wrong') probs[row * C + c] = c === (lab[n] + 1) % C ? 1 : 0;
              else probs[row * C + c] = s === 0 ? 1 / C : weights[row * C + c] / s;
            }
          }
          const costMs: number[] = [];
          let c = 0.5;
          for (let k = 0; k < K; k++) costMs.push((c += costSteps[k] * 0.25));
          return new ExitTrace({ nSamples: N, nExits: K, nClasses: C, probs, labels: lab, costMs, provenance: { model: `adversarial-${corner}`, dataset: 'fast-check', split: 'check' } });
        }),
    );
}

/** The arrival processes the queue checks use, each at mean rate `ratePerMs` (bursty: 50 arrivals per MMPP cycle). */
const ARRIVAL_KINDS = ['poisson', 'bursty', 'deterministic'] as const;
function arrivalsAt(kind: (typeof ARRIVAL_KINDS)[number], ratePerMs: number): ArrivalConfig {
  if (kind === 'poisson') return { kind: 'poisson', ratePerMs };
  if (kind === 'bursty') return burstyArrivals(ratePerMs, { cycleMs: 50 / ratePerMs });
  return { kind: 'deterministic', intervalMs: 1 / ratePerMs };
}

/** Arrival workloads for queue property tests: Poisson, bursty MMPP2 and deterministic, at rates in jobs/ms. */
export function arrivalArbitrary(options: { minRatePerMs?: number; maxRatePerMs?: number } = {}): fc.Arbitrary<ArrivalConfig> {
  const { minRatePerMs = 0.05, maxRatePerMs = 2 } = options;
  const rate = fc.double({ min: minRatePerMs, max: maxRatePerMs, noNaN: true });
  return fc.oneof(...ARRIVAL_KINDS.map((kind) => rate.map((r) => arrivalsAt(kind, r))));
}

/**
 * Online streams for the online harness (`runOnline`): stationary over one trace, a switch to a second trace of
 * the same network (same K and costs) at a random point, or a class-mix change at a random point. Orders by
 * permutation or with replacement; lengths up to `maxLength`.
 */
export function streamArbitrary(options: { maxLength?: number; maxSamples?: number; maxExits?: number; maxClasses?: number } = {}): fc.Arbitrary<StreamSpec> {
  const { maxLength = 200, maxSamples = 30, maxExits = 4, maxClasses = 4 } = options;
  return fc
    .record({
      N: fc.integer({ min: 1, max: maxSamples }),
      K: fc.integer({ min: 2, max: maxExits }),
      C: fc.integer({ min: 2, max: maxClasses }),
      seeds: fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      length: fc.integer({ min: 1, max: maxLength }),
      switchAt: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom('stationary', 'switch-trace', 'class-mix'),
      order: fc.constantFrom<'permutation' | 'replacement'>('permutation', 'replacement'),
    })
    .map(({ N, K, C, seeds, length, switchAt, kind, order }): StreamSpec => {
      const first = scoreTrace(syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed: seeds[0] }));
      const start = Math.min(length - 1, Math.max(1, Math.floor(switchAt * length)));
      if (kind === 'stationary' || length < 2) return { length, seed: seeds[1], order, phases: [{ start: 0, trace: first }] };
      if (kind === 'switch-trace') {
        // A second split of the same network: same K and costs, other samples (harder: weaker early exits).
        const second = scoreTrace(syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed: seeds[0] + 1, strength: [0.5, 3] }));
        return { length, seed: seeds[1], order, phases: [{ start: 0, trace: first }, { start, trace: second }] };
      }
      // Class mix: only classes present in the trace can be drawn, so weight present classes (first half, then rest).
      const present = Array.from({ length: C }, (_, y) => (first.trace.labels.includes(y) ? 1 : 0));
      const ids = present.flatMap((p, y) => (p ? [y] : []));
      const half = new Set(ids.slice(0, Math.ceil(ids.length / 2)));
      const a = present.map((p, y) => (p && half.has(y) ? 1 : 0));
      const b = present.map((p, y) => (p && (!half.has(y) || ids.length === 1) ? 1 : 0));
      return { length, seed: seeds[1], order, phases: [{ start: 0, trace: first, classWeights: a }, { start, trace: first, classWeights: b }] };
    });
}

/** A policy to check: a registered spec (with parameter sets), or a plain factory. */
export type PolicyUnderTest =
  | AnyPolicySpec
  | {
      /** Name used in messages (and in the policy's random stream, `policyRng(seed, name, {})`). */
      readonly name: string;
      /** Build a fresh policy; must use only `ctx.rng` for randomness. */
      readonly create: (ctx: PolicyContext) => Policy;
      /** Whether `fit(validation, {budgetMs})` promises mean cost ≤ budget on the fitting data. */
      readonly budgeted?: boolean;
      /** Whether its decisions draw from its random stream (then different seeds must give different decisions). */
      readonly stochastic?: boolean;
    };

/** Options of `checkPolicy`. */
export interface CheckPolicyOptions {
  /** Parameter sets to check (specs only); default: the spec's `testParams`. */
  readonly params?: (model: ModelInfo) => readonly RawParams[];
  /** Traces to check on. Default `traceArbitrary()`. */
  readonly traces?: fc.Arbitrary<ExitTrace>;
  /** Number of generated cases. Default 60. */
  readonly numRuns?: number;
  /** fast-check seed, for reproducing a failure. Default 42. */
  readonly seed?: number;
  /** Relative tolerance on the budget (floating-point summation). Default 1e-9. */
  readonly budgetTolerance?: number;
}

/** One failing case, as shrunk by fast-check. */
export interface Counterexample {
  readonly trace: ExitTrace;
  readonly policySeed: number;
  /** Budget handed to fit, ms (budgeted policies). */
  readonly budgetMs: number | undefined;
  readonly params: RawParams | undefined;
  /** The queue run that broke it, if it broke behind the buffer rather than offline. */
  readonly queue?: QueueCase;
  /** The online stream that broke it (stationary over `trace`), if it broke in the online run. */
  readonly online?: { readonly length: number; readonly seed: number };
  /** Which check broke (one of `policyChecks`), and how. */
  readonly check?: string;
  readonly message: string;
}

/** A queue workload of `checkPolicy`: arrivals (jobs/ms), buffer places and the simulator's seed. */
export interface QueueCase {
  readonly arrivals: ArrivalConfig;
  readonly bufferCapacity: number;
  readonly seed: number;
}

/** Thrown by `checkPolicy` when a check fails; the message includes the printed counterexample. */
export class PolicyCheckError extends Error {
  readonly counterexample: Counterexample;
  constructor(policy: string, cx: Counterexample) {
    super(`checkPolicy(${policy}): ${cx.message}\ncounterexample:\n${formatCounterexample(cx)}`);
    this.name = 'PolicyCheckError';
    this.counterexample = cx;
  }
}

/** Print a (small, shrunk) counterexample: shapes, costs, then per sample its label and each exit's argmax/confidence. */
export function formatCounterexample(cx: Counterexample): string {
  const t = cx.trace;
  const scored = scoreTrace(t);
  const lines = [
    `  trace N=${t.nSamples} K=${t.nExits} C=${t.nClasses} (${t.provenance.model}), costMs [${t.costMs.join(', ')}]`,
    `  policy seed ${cx.policySeed}${cx.budgetMs === undefined ? '' : `, budget ${cx.budgetMs} ms`}${cx.params ? `, params ${JSON.stringify(cx.params)}` : ''}`,
  ];
  if (cx.queue) lines.push(`  in the queue simulator: buffer ${cx.queue.bufferCapacity} places, arrivals ${JSON.stringify(cx.queue.arrivals)}, seed ${cx.queue.seed}`);
  if (cx.online) lines.push(`  in the online harness: stationary stream of ${cx.online.length} inputs over the trace, seed ${cx.online.seed}`);
  const show = Math.min(t.nSamples, 8);
  for (let n = 0; n < show; n++) {
    const cells = Array.from({ length: t.nExits }, (_, k) => `${scored.scores.predicted[n * t.nExits + k]}@${scored.scores.get('maxprob')[n * t.nExits + k].toFixed(2)}`);
    lines.push(`  sample ${n}: label ${t.labels[n]} | exits (argmax@maxprob) ${cells.join(' ')}`);
  }
  if (t.nSamples > show) lines.push(`  … ${t.nSamples - show} more samples`);
  return lines.join('\n');
}

/** Why a single run failed (internal). */
class Violation extends Error {}

/**
 * Wrap a policy so every view it is handed records (and refuses) reads of exits that have not run, whether or
 * not the policy catches the resulting error, and so a `decide` asked at the last exit is recorded.
 */
function guarded(policy: Policy, peeks: string[], lastAsked: string[]): Policy {
  const guardView = (view: ExitView): ExitView => {
    const check = (atExit: number | undefined, what: string) => {
      if (atExit !== undefined && atExit > view.exit) peeks.push(`${what}(exit ${atExit}) after only exits 0..${view.exit} ran`);
    };
    return {
      get exit() {
        return view.exit;
      },
      nExits: view.nExits,
      nClasses: view.nClasses,
      score: (name, atExit) => (check(atExit, `score('${name}')`), view.score(name, atExit)),
      predicted: (atExit) => (check(atExit, 'predicted'), view.predicted(atExit)),
      probs: (atExit) => (check(atExit, 'probs'), view.probs(atExit)),
    };
  };
  return {
    get name() {
      return policy.name;
    },
    fit: policy.fit?.bind(policy),
    commit: policy.commit?.bind(policy),
    decide: policy.decide
      ? (view) => {
          if (view.exit >= view.nExits - 1) lastAsked.push(`decide() was called at exit ${view.exit} of a ${view.nExits}-exit model`);
          return policy.decide!(guardView(view));
        }
      : undefined,
    observe: policy.observe ? (fb) => policy.observe!({ ...fb, view: guardView(fb.view) }) : undefined,
    onEvent: policy.onEvent?.bind(policy),
    exitDistribution: policy.exitDistribution?.bind(policy),
  };
}

/**
 * The checks of `checkPolicy` (river's `yield_checks`): every check, each with the capability that makes it
 * apply. Per generated case (trace, policy seed, budget, queue workload), for every parameter set:
 */
const CASE_CHECKS = [
  /** Offline run (`runPolicy`): valid decisions, no exception. */
  'offline run',
  /** The last exit always exits: `decide` is never asked at exit K−1 and every sample leaves at an exit in [0, K−1]. */
  'last exit always exits',
  /** Offline accuracy ≤ the oracle's (`oracleExits`) on the same trace. */
  'oracle bound',
  /** The policy never reads an exit that has not run, even when it catches the PeekError. */
  'no peeking',
  /** Two instances with the same seed make the same decisions (offline, queue, online). */
  'determinism',
  /** Budgeted policies: mean cost ≤ budget on the data they were fitted on. */
  'budget kept',
  /** A queue run (`simulate`: buffer of 0–4 places, Poisson, bursty or deterministic arrivals at 0.3–3× load). */
  'queue run',
  /** Policies with `observe`: an online run (`runOnline`, stationary stream over the trace), regret ≥ 0 vs the oracle. */
  'online run',
] as const;
/** Once per spec, not per case. */
const SPEC_CHECKS = [
  /** `parse({})` succeeds, `parse(spec.defaults)` gives the same parameters, and every `testParams` set parses. */
  'defaults parse',
  /** An unknown parameter key is rejected with an InputError naming it. */
  'unknown key rejected',
] as const;
/** Stochastic policies (their decisions draw from the random stream): different seeds give different decisions. */
const STOCHASTIC_CHECK = 'different seeds differ';

/** The names of the checks `checkPolicy` runs on this subject, in order (which apply follows its capabilities). */
export function policyChecks(subject: PolicyUnderTest): string[] {
  const isSpec = 'parse' in subject;
  const budgeted = isSpec ? subject.budgeted : subject.budgeted === true;
  const out: string[] = isSpec ? [...SPEC_CHECKS] : [];
  if (subject.stochastic === true) out.push(STOCHASTIC_CHECK);
  for (const c of CASE_CHECKS) if (c !== 'budget kept' || budgeted) out.push(c);
  return out;
}

/**
 * Check a policy against the contract on generated traces: every check of `policyChecks(subject)`. Returns the
 * number of generated cases checked; throws `PolicyCheckError` with a shrunk counterexample on the first check
 * that fails. Policies are created as the harnesses create them (`instantiate`, i.e. `policyRng`), so a failure
 * reproduces in an experiment with the same seed. A spec with heavy dependencies must be loaded first
 * (`await loadPolicy(spec)`).
 */
export function checkPolicy(subject: PolicyUnderTest, options: CheckPolicyOptions = {}): number {
  const { numRuns = 60, seed = 42, budgetTolerance = 1e-9 } = options;
  const traces = options.traces ?? traceArbitrary();
  const isSpec = 'parse' in subject;
  const checks = new Set(policyChecks(subject));
  const paramsFor = (model: ModelInfo): readonly (RawParams | undefined)[] =>
    isSpec ? (options.params ?? subject.testParams)(model) : [undefined];
  const make = (params: RawParams | undefined, policySeed: number, model: ModelInfo): Policy =>
    isSpec ? instantiate(subject, params ?? {}, { seed: policySeed, model }) : subject.create({ rng: policyRng(policySeed, subject.name, {}), model });
  const fail = (check: string, cx: Omit<Counterexample, 'check' | 'message'>, message: string): never => {
    throw new PolicyCheckError(subject.name, { ...cx, check, message });
  };

  if (isSpec) checkSpec(subject, fail);
  if (checks.has(STOCHASTIC_CHECK)) checkSeedsDiffer(subject, make, paramsFor, fail);

  /**
   * One run: offline, in a queue, or online. Returns the exits (per sample / arrival / input) and, online, the
   * regret against the oracle.
   */
  const runOnce = (scored: ScoredTrace, params: RawParams | undefined, policySeed: number, budgetMs: number | undefined, where: QueueCase | { online: { length: number; seed: number } } | undefined) => {
    const peeks: string[] = [];
    const lastAsked: string[] = [];
    const policy = guarded(make(params, policySeed, modelInfo(scored)), peeks, lastAsked);
    let exits: ArrayLike<number>;
    let regret = 0;
    try {
      policy.fit?.(scored, budgetMs === undefined ? {} : { budgetMs });
      if (where === undefined) exits = runPolicy(policy, scored);
      else if ('online' in where) {
        const r = runOnline(policy, stationaryStream(scored, where.online.length, where.online.seed), { reward: DEFAULT_REWARD, records: true, hindsight: false, checkpoints: 1 });
        exits = r.records!.exit;
        regret = r.regretOracle;
      } else exits = simulate(policy, scored, { ...where, maxArrivals: 2 * scored.trace.nSamples + 4, records: true }).records!.exit;
    } catch (err) {
      if (peeks.length) throw new Violation(`peeks at a later exit: ${peeks[0]}`);
      if (lastAsked.length) throw new Violation(`the last exit did not exit: ${lastAsked[0]}`);
      const e = err as Error;
      throw new Violation(e.name === 'ContractError' ? `invalid decision: ${e.message}` : `threw ${e.name}: ${e.message}`);
    }
    if (peeks.length) throw new Violation(`peeks at a later exit: ${peeks[0]} (the policy caught the PeekError and went on)`);
    if (lastAsked.length) throw new Violation(`the last exit did not exit: ${lastAsked[0]}`);
    return { exits, regret };
  };

  // Arrival rates relative to the full network's service rate (0.3× to 3×), so every trace's costs get light
  // and heavy load alike.
  const queueCase = fc.record({
    load: fc.double({ min: 0.3, max: 3, noNaN: true }),
    kind: fc.constantFrom(...ARRIVAL_KINDS),
    bufferCapacity: fc.integer({ min: 0, max: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  const online = checks.has('online run');
  const property = fc.property(traces, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), queueCase, (trace, policySeed, budgetFraction, q) => {
    const scored = scoreTrace(trace);
    const K = trace.nExits;
    const cost = trace.costMs;
    const budgetMs = checks.has('budget kept') ? cost[0] + budgetFraction * (cost[K - 1] - cost[0]) : undefined;
    const queue: QueueCase = { arrivals: arrivalsAt(q.kind, q.load / cost[K - 1]), bufferCapacity: q.bufferCapacity, seed: q.seed };
    const model = modelInfo(scored);
    const wheres: (QueueCase | { online: { length: number; seed: number } } | undefined)[] = [undefined, queue];
    const first = paramsFor(model)[0];
    // Online: learners only (observe), and once per case: a stationary stream three passes long.
    if (online && typeof make(first, policySeed, model).observe === 'function') wheres.push({ online: { length: 3 * trace.nSamples + 2, seed: q.seed } });
    const oracleAccuracy = summarizeExits(oracleExits(scored), scored).accuracy;
    for (const params of paramsFor(model)) {
      for (const where of wheres) {
        const cx = { trace, policySeed, budgetMs, params, ...(where === undefined ? {} : 'online' in where ? { online: where.online } : { queue: where }) };
        let check = where === undefined ? 'offline run' : 'online' in where ? 'online run' : 'queue run';
        try {
          const a = runOnce(scored, params, policySeed, budgetMs, where);
          check = 'determinism';
          const b = runOnce(scored, params, policySeed, budgetMs, where);
          const unit = where === undefined ? 'sample' : 'online' in where ? 'input' : 'arrival';
          for (let n = 0; n < a.exits.length; n++) {
            if (a.exits[n] !== b.exits[n]) throw new Violation(`nondeterministic with a fixed seed: ${unit} ${n} left at exit ${a.exits[n]}, then at exit ${b.exits[n]} in a second instance with the same seed`);
          }
          if (where === undefined) {
            check = 'last exit always exits';
            for (let n = 0; n < a.exits.length; n++) {
              if (!(a.exits[n] >= 0 && a.exits[n] < K)) throw new Violation(`the last exit did not exit: sample ${n} has exit ${a.exits[n]}`);
            }
            const s = summarizeExits(Int32Array.from(a.exits), scored);
            check = 'oracle bound';
            if (s.accuracy > oracleAccuracy + 1e-12) throw new Violation(`accuracy ${s.accuracy} above the oracle's ${oracleAccuracy} on the same trace`);
            if (budgetMs !== undefined) {
              check = 'budget kept';
              if (s.meanCostMs > budgetMs * (1 + budgetTolerance)) throw new Violation(`ignores its budget: mean cost ${s.meanCostMs} ms on the data it was fitted on, budget ${budgetMs} ms`);
            }
          } else if ('online' in where) {
            // The oracle takes the best exit of every input, so no policy can beat it in total.
            if (a.regret < -1e-9 * Math.max(1, a.exits.length)) throw new Violation(`online: regret against the oracle ${a.regret} < 0 (the oracle bounds every policy)`);
          }
        } catch (err) {
          if (err instanceof Violation) {
            const which = err.message.startsWith('peeks') ? 'no peeking' : err.message.startsWith('the last exit') ? 'last exit always exits' : check;
            throw new ViolationWith({ ...cx, check: which, message: err.message });
          }
          throw err;
        }
      }
    }
  });
  const result = fc.check(property, { numRuns, seed });
  if (result.failed) {
    const err = result.errorInstance;
    if (err instanceof ViolationWith) throw new PolicyCheckError(subject.name, err.cx);
    throw err instanceof Error ? err : new Error(String(err));
  }
  return result.numRuns;
}

/** The trace the once-per-spec checks run on: realistic, small, fixed. */
function specTrace(): ScoredTrace {
  return scoreTrace(syntheticTrace({ nSamples: 120, nExits: 4, nClasses: 5, seed: 7 }));
}

/** Spec checks: defaults parse (and agree with `defaults`), every test parameter set parses, an unknown key is rejected. */
function checkSpec(spec: AnyPolicySpec, fail: (check: string, cx: Omit<Counterexample, 'check' | 'message'>, message: string) => never): void {
  const scored = specTrace();
  const model = modelInfo(scored);
  const cx = { trace: scored.trace, policySeed: 0, budgetMs: undefined, params: {} as RawParams };
  let fromEmpty: object;
  try {
    fromEmpty = spec.parse({});
    instantiate(spec, {}, { seed: 0, model });
  } catch (err) {
    return fail('defaults parse', cx, `defaults parse: parse({}) or create threw ${(err as Error).message}`);
  }
  let fromDefaults: object;
  try {
    fromDefaults = spec.parse(spec.defaults as RawParams);
  } catch (err) {
    return fail('defaults parse', { ...cx, params: spec.defaults as RawParams }, `defaults parse: parse(spec.defaults) threw ${(err as Error).message}`);
  }
  if (canonicalJson(fromDefaults) !== canonicalJson(fromEmpty)) {
    fail('defaults parse', cx, `defaults parse: parse(spec.defaults) gives ${canonicalJson(fromDefaults)}, parse({}) gives ${canonicalJson(fromEmpty)}`);
  }
  for (const raw of spec.testParams(model)) {
    try {
      spec.parse(raw);
    } catch (err) {
      fail('defaults parse', { ...cx, params: raw }, `defaults parse: test parameters ${JSON.stringify(raw)} do not parse: ${(err as Error).message}`);
    }
    const key = 'notAParameterOfThisPolicy';
    let threw: unknown;
    try {
      spec.parse({ ...raw, [key]: 1 });
    } catch (err) {
      threw = err;
    }
    if (!(threw instanceof InputError) || !threw.message.includes(key)) {
      fail('unknown key rejected', { ...cx, params: { ...raw, [key]: 1 } }, `unknown key rejected: parse() with the unknown key "${key}" ${threw ? `threw without naming it: ${(threw as Error).message}` : 'succeeded'}`);
    }
  }
}

/**
 * Stochastic policies: with the first parameter set, five seeds must not all give the same exits, offline and in
 * a queue together (schedulers draw only once they see an arrival-rate estimate).
 */
function checkSeedsDiffer(
  subject: PolicyUnderTest,
  make: (params: RawParams | undefined, seed: number, model: ModelInfo) => Policy,
  paramsFor: (model: ModelInfo) => readonly (RawParams | undefined)[],
  fail: (check: string, cx: Omit<Counterexample, 'check' | 'message'>, message: string) => never,
): void {
  const scored = specTrace();
  const model = modelInfo(scored);
  const params = paramsFor(model)[0];
  const K = model.nExits;
  const budgetMs = subject.budgeted ? (model.costMs[0] + model.costMs[K - 1]) / 2 : undefined;
  const queue: QueueCase = { arrivals: { kind: 'poisson', ratePerMs: 1 / model.costMs[K - 1] }, bufferCapacity: 2, seed: 3 };
  const runs = [1, 2, 3, 4, 5].map((s) => {
    const a = make(params, s, model);
    a.fit?.(scored, budgetMs === undefined ? {} : { budgetMs });
    const b = make(params, s, model);
    b.fit?.(scored, budgetMs === undefined ? {} : { budgetMs });
    return [...runPolicy(a, scored), ...simulate(b, scored, { ...queue, maxArrivals: 400, records: true }).records!.exit].join(',');
  });
  if (new Set(runs).size === 1) {
    fail(STOCHASTIC_CHECK, { trace: scored.trace, policySeed: 1, budgetMs, params }, `${STOCHASTIC_CHECK}: declared stochastic, but seeds 1–5 give the same decisions offline and in a queue (is ctx.rng used?)`);
  }
}

class ViolationWith extends Error {
  readonly cx: Counterexample;
  constructor(cx: Counterexample) {
    super(cx.message);
    this.cx = cx;
  }
}
