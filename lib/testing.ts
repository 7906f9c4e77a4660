/**
 * `exitlab/testing`: what our own conformance suite uses, for people writing policies outside this repository.
 *
 * - fast-check arbitraries for traces (realistic ones from the synthetic generator, and adversarial corners:
 *   ties everywhere, all exits wrong, the smallest valid shapes, one label for every sample), for online streams
 *   (stationary, switching trace, changing class mix) and for arrival workloads;
 * - `checkPolicy(factory, options)`: runs the contract's invariants over many generated traces and seeds and,
 *   when one fails, throws a `PolicyCheckError` with a shrunk, printed counterexample.
 *
 * Invariants checked, each with its own message:
 * 1. decisions are valid: `decide` returns 'exit' or 'continue', `commit` an exit index in [0, K−1] or undefined;
 * 2. no peeking: the policy never asks its view for an exit that has not run — even if it catches the error;
 * 3. determinism: two instances created with the same seed make the same decisions on the same trace;
 * 4. budget: a policy that claims a budget has mean cost ≤ budget on the data it was fitted on;
 * 5. no other exception on any generated trace.
 * Each case runs the policy twice offline (`runPolicy`) and twice behind a small buffer in the queue simulator
 * (`simulate`: generated arrivals, buffer of 0–4 places, so `commit` sees backlogs and arrival-rate estimates,
 * and `onEvent`/`observe` are called), checking 1–3 and 5 in both; 4 is checked offline.
 * (The last exit always exits because the harnesses force it: `decide` is never called there.)
 *
 * ExitTrace rejects K = 1 and C = 1 by design (a one-exit network leaves no decision; see `lib/trace.ts`), so the
 * smallest corners generated are K = 2 and C = 2, and "single class" means every label is the same class.
 */
import fc from 'fast-check';
import { burstyArrivals, type ArrivalConfig } from './arrivals.ts';
import type { StreamSpec } from './online.ts';
import { runPolicy, summarizeExits } from './offline.ts';
import { simulate } from './queue.ts';
import { modelInfo, type ExitView, type ModelInfo, type Policy, type PolicyContext } from './policy.ts';
import { policyRng } from './random.ts';
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
      /** Name used in messages. */
      readonly name: string;
      /** Build a fresh policy; must use only `ctx.rng` for randomness. */
      readonly create: (ctx: PolicyContext) => Policy;
      /** Whether `fit(validation, {budgetMs})` promises mean cost ≤ budget on the fitting data. */
      readonly budgeted?: boolean;
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
  /** Which invariant broke, and how. */
  readonly message: string;
}

/** A queue workload of `checkPolicy`: arrivals (jobs/ms), buffer places and the simulator's seed. */
export interface QueueCase {
  readonly arrivals: ArrivalConfig;
  readonly bufferCapacity: number;
  readonly seed: number;
}

/** Thrown by `checkPolicy` when an invariant fails; the message includes the printed counterexample. */
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
 * not the policy catches the resulting error.
 */
function guarded(policy: Policy, peeks: string[]): Policy {
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
    decide: policy.decide ? (view) => policy.decide!(guardView(view)) : undefined,
    observe: policy.observe ? (fb) => policy.observe!({ ...fb, view: guardView(fb.view) }) : undefined,
    onEvent: policy.onEvent?.bind(policy),
  };
}

/**
 * Check a policy against the contract's invariants on generated traces. Returns the number of cases checked;
 * throws `PolicyCheckError` with a shrunk counterexample on the first invariant that fails.
 */
export function checkPolicy(subject: PolicyUnderTest, options: CheckPolicyOptions = {}): number {
  const { numRuns = 60, seed = 42, budgetTolerance = 1e-9 } = options;
  const traces = options.traces ?? traceArbitrary();
  const isSpec = 'parse' in subject;
  const budgeted = isSpec ? subject.budgeted : subject.budgeted === true;
  const paramsFor = (model: ModelInfo): readonly (RawParams | undefined)[] =>
    isSpec ? (options.params ?? subject.testParams)(model) : [undefined];
  // The harnesses' own derivation (lib/random.ts `policyRng` through `instantiate`), so a failure found here
  // reproduces in an experiment with the same seed.
  const make = (params: RawParams | undefined, seed: number, model: ModelInfo): Policy =>
    isSpec ? instantiate(subject, params ?? {}, { seed, model }) : subject.create({ rng: policyRng(seed, subject.name, {}), model });

  /** Offline: the exit of each sample. In a queue: the exit of each arrival (−1 for lost jobs). */
  const runOnce = (scored: ScoredTrace, params: RawParams | undefined, policySeed: number, budgetMs: number | undefined, queue?: QueueCase) => {
    const peeks: string[] = [];
    const inner = make(params, policySeed, modelInfo(scored));
    const policy = guarded(inner, peeks);
    let exits: Int32Array;
    try {
      policy.fit?.(scored, budgetMs === undefined ? {} : { budgetMs });
      exits = queue
        ? simulate(policy, scored, { ...queue, maxArrivals: 2 * scored.trace.nSamples + 4, records: true }).records!.exit
        : runPolicy(policy, scored);
    } catch (err) {
      if (peeks.length) throw new Violation(`peeks at a later exit: ${peeks[0]}`);
      const e = err as Error;
      throw new Violation(e.name === 'ContractError' ? `invalid decision: ${e.message}` : `threw ${e.name}: ${e.message}`);
    }
    if (peeks.length) throw new Violation(`peeks at a later exit: ${peeks[0]} (the policy caught the PeekError and went on)`);
    return exits;
  };

  // Arrival rates relative to the full network's service rate (0.3× to 3×), so every trace's costs get light
  // and heavy load alike.
  const queueCase = fc.record({
    load: fc.double({ min: 0.3, max: 3, noNaN: true }),
    kind: fc.constantFrom(...ARRIVAL_KINDS),
    bufferCapacity: fc.integer({ min: 0, max: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  const property = fc.property(traces, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), queueCase, (trace, policySeed, budgetFraction, q) => {
    const scored = scoreTrace(trace);
    const cost = trace.costMs;
    const budgetMs = budgeted ? cost[0] + budgetFraction * (cost[cost.length - 1] - cost[0]) : undefined;
    const queue: QueueCase = { arrivals: arrivalsAt(q.kind, q.load / cost[cost.length - 1]), bufferCapacity: q.bufferCapacity, seed: q.seed };
    for (const params of paramsFor(modelInfo(scored))) {
      for (const where of [undefined, queue]) {
        try {
          const a = runOnce(scored, params, policySeed, budgetMs, where);
          const b = runOnce(scored, params, policySeed, budgetMs, where);
          const unit = where ? 'arrival' : 'sample';
          for (let n = 0; n < a.length; n++) {
            if (a[n] !== b[n]) throw new Violation(`nondeterministic with a fixed seed: ${unit} ${n} left at exit ${a[n]}, then at exit ${b[n]} in a second instance with the same seed`);
          }
          if (budgetMs !== undefined && !where) {
            const mean = summarizeExits(a, scored).meanCostMs;
            if (mean > budgetMs * (1 + budgetTolerance)) throw new Violation(`ignores its budget: mean cost ${mean} ms on the data it was fitted on, budget ${budgetMs} ms`);
          }
        } catch (err) {
          if (err instanceof Violation) throw new ViolationWith({ trace, policySeed, budgetMs, params, ...(where ? { queue: where } : {}), message: err.message });
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

class ViolationWith extends Error {
  readonly cx: Counterexample;
  constructor(cx: Counterexample) {
    super(cx.message);
    this.cx = cx;
  }
}
