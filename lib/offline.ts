/**
 * The offline harness: run policies over a trace sample by sample (no queue, no clock other than accumulated
 * cost), fit each on a validation trace first, and summarise accuracy, mean cost and exit shares.
 * Flat per-sample records (the exit of each sample) come back with every run, so any other analysis can be
 * done from them without running a policy again.
 */
import { InputError } from './errors.ts';
import { JobDriver, systemState } from './drive.ts';
import { TraceCursor, modelInfo, type FitReport, type Policy } from './policy.ts';
import { instantiate, type AnyPolicySpec, type RawParams } from './registry.ts';
import type { ScoredTrace } from './scores.ts';

/**
 * Run one policy over every sample of a trace, in order. Drives the contract exactly as every harness must:
 * `commit` at job start, else `decide` after each exit < K−1 (the last exit is forced here), then `observe`.
 * @returns the exit of each sample, Int32Array of length N.
 * @throws ContractError if the policy commits to an invalid exit, returns something other than
 *   'exit'/'continue', implements neither `commit` nor `decide`, or peeks at an exit that has not run.
 */
export function runPolicy(policy: Policy, scored: ScoredTrace): Int32Array {
  const { nSamples: N, nExits: K, costMs } = scored.trace;
  const exits = new Int32Array(N);
  const cursor = new TraceCursor(scored);
  const driver = new JobDriver(policy, K);
  let clock = 0;
  for (let n = 0; n < N; n++) {
    const exit = driver.runJob(cursor, n, driver.hasCommit ? systemState(clock, 0, Infinity, undefined) : undefined, costMs);
    exits[n] = exit;
    clock += costMs[exit];
  }
  return exits;
}

/**
 * The oracle: every sample leaves at its cheapest correct exit, or the last exit if none is correct. Not a
 * policy — it reads labels, which the contract's view never shows — but the upper bound on accuracy (and,
 * among policies reaching that accuracy, the lower bound on cost) for every policy on the same trace.
 */
export function oracleExits(scored: ScoredTrace): Int32Array {
  const { nSamples: N, nExits: K } = scored.trace;
  const correct = scored.scores.correct;
  const exits = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let e = K - 1;
    for (let k = 0; k < K; k++) {
      if (correct[n * K + k]) {
        e = k;
        break;
      }
    }
    exits[n] = e;
  }
  return exits;
}

/** Summary of one policy on one trace. */
export interface PolicyResult {
  /** Display name of the policy instance. */
  readonly policy: string;
  /** Registry name of its family ("oracle" for the oracle). */
  readonly family: string;
  /** Parameters it was created with. */
  readonly params: RawParams;
  /** Budget it was fitted to, milliseconds, if any. */
  readonly budgetMs: number | undefined;
  /** "model/split" of the evaluation trace. */
  readonly trace: string;
  /** Number of samples evaluated. */
  readonly nSamples: number;
  /** Fraction of samples whose exit's prediction is correct. */
  readonly accuracy: number;
  /** Mean cumulative cost per sample, milliseconds. */
  readonly meanCostMs: number;
  /** `meanCostMs` divided by the last exit's cost (1 = plain network). */
  readonly relativeCost: number;
  /** Fraction of samples leaving at each exit, length K. */
  readonly exitShares: readonly number[];
  /** Mean cost the fit promised on the validation data, if the policy reported it. */
  readonly fitExpectedCostMs: number | undefined;
  /** Seed the policy's random stream was derived from. */
  readonly seed: number;
}

/** Accuracy, mean cost and exit shares of given per-sample exits. */
export function summarizeExits(exits: Int32Array, scored: ScoredTrace): { accuracy: number; meanCostMs: number; relativeCost: number; exitShares: number[] } {
  const { nSamples: N, nExits: K, costMs } = scored.trace;
  if (exits.length !== N) throw new InputError('summarizeExits', 'exits', `length N = ${N}`, `length ${exits.length}`);
  const counts = new Float64Array(K);
  let correct = 0;
  const c = scored.scores.correct;
  for (let n = 0; n < N; n++) {
    const e = exits[n];
    counts[e]++;
    correct += c[n * K + e];
  }
  let cost = 0;
  for (let k = 0; k < K; k++) cost += counts[k] * costMs[k];
  const meanCostMs = cost / N;
  return { accuracy: correct / N, meanCostMs, relativeCost: meanCostMs / costMs[K - 1], exitShares: Array.from(counts, (x) => x / N) };
}

/** One policy to evaluate: a registered family with parameters, and an optional budget for its fit. */
export interface PolicyEntry {
  readonly spec: AnyPolicySpec;
  readonly params?: RawParams;
  /** Budget handed to `fit`, milliseconds. Required for budgeted families. */
  readonly budgetMs?: number;
}

/** A fitted-and-evaluated policy: its summary and its per-sample exits on the test trace. */
export interface EvaluatedPolicy {
  readonly result: PolicyResult;
  /** Exit of each test sample, Int32Array of length N (the flat per-sample record). */
  readonly exits: Int32Array;
  readonly fit: FitReport | undefined;
}

/**
 * Create a policy from its entry, fit it on `validation` (if it can be fitted), and run it on `test`.
 * The policy is built by `instantiate`: its random stream is `policyRng(seed, family, parsed params)`,
 * so adding another policy to a comparison never changes this one's draws.
 */
export function evaluateEntry(entry: PolicyEntry, validation: ScoredTrace, test: ScoredTrace, seed: number): EvaluatedPolicy {
  checkSameModel(validation, test);
  const { spec } = entry;
  const params = spec.parse(entry.params ?? {});
  if (spec.budgeted && entry.budgetMs === undefined) {
    throw new InputError(`policy "${spec.name}"`, 'budgetMs', 'a budget in milliseconds (this policy is budgeted)', 'none');
  }
  const policy = instantiate(spec, entry.params ?? {}, { seed, model: modelInfo(validation) });
  const fit = policy.fit?.(validation, entry.budgetMs === undefined ? {} : { budgetMs: entry.budgetMs });
  const exits = runPolicy(policy, test);
  const s = summarizeExits(exits, test);
  return {
    exits,
    fit,
    result: {
      policy: policy.name,
      family: spec.name,
      params: { ...params },
      budgetMs: entry.budgetMs,
      trace: `${test.trace.provenance.model}/${test.trace.provenance.split}`,
      nSamples: test.trace.nSamples,
      ...s,
      fitExpectedCostMs: fit?.expectedCostMs,
      seed,
    },
  };
}

/** The oracle's summary on a trace, in the same record form as a policy's. */
export function evaluateOracle(test: ScoredTrace): EvaluatedPolicy {
  const exits = oracleExits(test);
  return {
    exits,
    fit: undefined,
    result: {
      policy: 'oracle',
      family: 'oracle',
      params: {},
      budgetMs: undefined,
      trace: `${test.trace.provenance.model}/${test.trace.provenance.split}`,
      nSamples: test.trace.nSamples,
      ...summarizeExits(exits, test),
      fitExpectedCostMs: undefined,
      seed: 0,
    },
  };
}

/**
 * Fit every entry on `validation`, evaluate on `test`, and append the oracle.
 * @returns one record per entry, in order, then the oracle.
 */
export function compare(entries: readonly PolicyEntry[], validation: ScoredTrace, test: ScoredTrace, seed: number): PolicyResult[] {
  const out = entries.map((e) => evaluateEntry(e, validation, test, seed).result);
  out.push(evaluateOracle(test).result);
  return out;
}

/**
 * Accuracy vs budget: every budgeted entry fitted at every budget (non-budgeted entries are rejected: they
 * have nothing to sweep).
 * @param budgetsMs budgets in milliseconds, each ≥ the first exit's cost.
 * @param onResult called after each (budget, policy) cell, so a caller can persist results as they come.
 */
export function budgetSweep(
  entries: readonly Omit<PolicyEntry, 'budgetMs'>[],
  budgetsMs: readonly number[],
  validation: ScoredTrace,
  test: ScoredTrace,
  seed: number,
  onResult?: (r: PolicyResult) => void,
): PolicyResult[] {
  for (const e of entries) {
    if (!e.spec.budgeted) throw new InputError('budgetSweep', 'entries', 'budgeted policies only', `"${e.spec.name}"`);
  }
  const out: PolicyResult[] = [];
  for (const budgetMs of budgetsMs) {
    for (const e of entries) {
      const r = evaluateEntry({ ...e, budgetMs }, validation, test, seed).result;
      out.push(r);
      onResult?.(r);
    }
  }
  return out;
}

/** Budgets evenly spaced from the first exit's cost to the last's, inclusive. */
export function budgetGrid(costMs: readonly number[], count: number): number[] {
  if (!Number.isInteger(count) || count < 2) throw new InputError('budgetGrid', 'count', 'an integer ≥ 2', String(count));
  const lo = costMs[0];
  const hi = costMs[costMs.length - 1];
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

function checkSameModel(a: ScoredTrace, b: ScoredTrace): void {
  const ta = a.trace;
  const tb = b.trace;
  if (ta.nExits !== tb.nExits || ta.nClasses !== tb.nClasses || ta.costMs.some((c, k) => c !== tb.costMs[k])) {
    throw new InputError(
      'evaluate',
      'validation/test',
      'two splits of the same model (same K, C and per-exit costs)',
      `${ta.toString()} vs ${tb.toString()}`,
    );
  }
}
