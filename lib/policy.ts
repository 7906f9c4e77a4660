/**
 * The policy contract: one interface that static thresholds, backlog schedulers, EENet and online bandits all
 * implement. Capabilities are optional methods, not a type enum: a policy implements what it needs.
 *
 * Life of one job, as every harness (offline, queue simulator, online stream) drives it:
 * 1. `commit(state)` — when processing starts. Returning an exit index fixes the job's exit (single-exit
 *    schedulers); returning `undefined` means "decide as you go".
 * 2. `decide(view)` — after each exit k < K−1 has run, if nothing was committed: `'exit'` or `'continue'`.
 *    The view shows that sample's scores at exits 0..k only. The harness, not the policy, forces an exit at
 *    the last classifier: `decide` is never called for k = K−1.
 * 3. `observe(feedback)` — after the job left, label-free: what was observed up to the exit taken, and its cost.
 * System events (`onEvent`) arrive between jobs: a job lost to a full buffer, the server finding the queue empty.
 * Offline, `fit(validation, objective)` runs once before any job, with labels (thresholds, EENet).
 */
import { InputError } from './errors.ts';
import type { Rng } from './random.ts';
import type { ScoreArray, ScoredTrace, ScoreTable } from './scores.ts';

/** A per-exit decision. */
export type ExitDecision = 'exit' | 'continue';

/**
 * What a policy may see of one job after exit `exit` ran: that sample's scores, predictions and probabilities
 * at exits 0..`exit`. Asking for a later exit throws a `PeekError`; the underlying arrays are held in closure
 * variables and the view has no method to move it (see `TraceCursor`), so there is no way around the check.
 *
 * A view is only valid during the call it was passed to: harnesses reuse one cursor object and move it.
 */
export interface ExitView {
  /** The exit that has just run (0-based). */
  readonly exit: number;
  /** Number of exits K of the model. */
  readonly nExits: number;
  /** Number of classes C. */
  readonly nClasses: number;
  /**
   * A utility score (see `lib/scores.ts`: maxprob, margin, entropy, patience, or a learned one) of this
   * sample at exit `atExit` (default: the current exit).
   */
  score(name: string, atExit?: number): number;
  /** Predicted class (argmax) at exit `atExit` (default: the current exit). */
  predicted(atExit?: number): number;
  /** A copy of the class probabilities at exit `atExit` (default: the current exit), length C. */
  probs(atExit?: number): Float32Array;
}

/** The state of the serving system when a job starts. */
export interface SystemState {
  /** Simulation clock, milliseconds. Offline: total cost of the jobs served before this one. */
  readonly timeMs: number;
  /** Jobs waiting in the buffer, not counting the one starting now. Offline: 0. */
  readonly queueLength: number;
  /** Buffer places B. Offline: Infinity. */
  readonly bufferCapacity: number;
  /** Current estimate of the arrival rate, jobs per millisecond; `undefined` when unknown (offline). */
  readonly arrivalRatePerMs: number | undefined;
}

/** Label-free feedback after a job left. */
export interface JobFeedback {
  /** Exit the job left at. */
  readonly exit: number;
  /** Cumulative cost paid, milliseconds (= the model's `costMs[exit]` times any jitter). */
  readonly costMs: number;
  /** Whether the exit was fixed by `commit` at job start. */
  readonly committed: boolean;
  /** What the job observed: scores at exits 0..exit. Valid only during the call. */
  readonly view: ExitView;
}

/** Events of the serving system a policy may react to (the reactive scheduler needs them). */
export type SystemEvent =
  /** An arrival found the buffer full and was dropped. */
  | { readonly kind: 'loss'; readonly timeMs: number; readonly queueLength: number }
  /** The server looked for work and found the queue empty. */
  | { readonly kind: 'idle'; readonly timeMs: number };

/** What an offline fit must achieve. */
export interface FitObjective {
  /** Target mean cost per sample on the fitting data, milliseconds. Budgeted policies require it. */
  readonly budgetMs?: number;
}

/** What a fit reports back. */
export interface FitReport {
  /** Mean cost per sample the fitted policy will have on the fitting data, milliseconds. */
  readonly expectedCostMs?: number;
  /** Anything worth recording (thresholds, shares, training curves). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Static facts about the model a policy serves, known before any job (from the trace manifest). */
export interface ModelInfo {
  /** Number of exits K. */
  readonly nExits: number;
  /** Number of classes C. */
  readonly nClasses: number;
  /** Cumulative cost to each exit, milliseconds, length K. */
  readonly costMs: readonly number[];
  /** Names of the scores jobs' views offer. */
  readonly scoreNames: readonly string[];
}

/**
 * An early-exit policy. Implement `decide` (per-exit), `commit` (single-exit at job start), or both (commit may
 * return undefined for some jobs); the rest is optional. Policies never print, and use randomness only from the
 * `Rng` they were created with.
 */
export interface Policy {
  /** Display name, including the parameters that distinguish it, e.g. "threshold(maxprob≥0.9)". */
  readonly name: string;
  /** Offline fitting on labelled validation data. */
  fit?(validation: ScoredTrace, objective: FitObjective): FitReport;
  /** Called when a job starts; return an exit index to fix the job's exit, or undefined to decide per exit. */
  commit?(state: SystemState): number | undefined;
  /** Called after exit `view.exit` < K−1 ran (only when nothing was committed). */
  decide?(view: ExitView): ExitDecision;
  /** Label-free feedback after each job. */
  observe?(feedback: JobFeedback): void;
  /** System events: losses, idle server. */
  onEvent?(event: SystemEvent): void;
  /**
   * Introspection, for time series only (never called to make a decision): the distribution over exits, length K,
   * that the policy would draw the next committed exit from right now (a single-exit scheduler's current π; the
   * reactive scheduler's current exit as a one-hot vector). Undefined when it has none yet. The queue simulator
   * samples it with the queue length (`QueueConfig.timeSeriesEveryMs`).
   */
  exitDistribution?(): readonly number[] | undefined;
  /**
   * Columnar fast path of the offline harness (optional): the exit of every sample of `scored` at once — exactly
   * the exits the per-decision path would give (`decide` after each exit k < K−1, the last exit forced), or
   * `undefined` when it cannot say (e.g. before `fit`; the harness then takes the per-decision path, which
   * raises the policy's own error). For rules that decide a sample from its own scores at exits 0..k alone, as
   * threshold rules do (leave at the first k with score_k ≥ t_k): one pass over a column of the score table
   * instead of K−1 calls through a view per sample. Harnesses use it only for policies with neither `commit`
   * nor `observe` (those need the job-by-job protocol), and only offline. `checkPolicy` checks, for every
   * policy that has it, that it gives exactly the per-decision exits on random traces (check "columnar path").
   * @returns Int32Array of length N with exits in [0, K−1], or undefined.
   */
  decideAll?(scored: ScoredTrace): Int32Array | undefined;
}

/** What a policy factory receives. */
export interface PolicyContext {
  /** The policy's own random stream (fork it further if needed). */
  readonly rng: Rng;
  /** The model it serves. */
  readonly model: ModelInfo;
}

/** A broken promise of the contract by a policy (bad decision value, out-of-range commit, a peek). */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

/** A policy asked for an exit that has not run yet. */
export class PeekError extends ContractError {
  constructor(asked: number, current: number) {
    super(`policy asked for exit ${asked} but only exits 0..${current} have run (no peeking at later exits)`);
    this.name = 'PeekError';
  }
}

/**
 * What harnesses use to show policies one job at a time: a cursor over a score table. The harness keeps the
 * cursor and moves it with `moveTo`; policies only ever receive `cursor.view`, a frozen object with the read
 * methods of `ExitView` and nothing else, so a policy cannot move to another sample or widen its own window.
 * The data lives in closure variables of the constructor, so no property, private field or prototype path of the
 * view leads to the arrays behind it. Closures rather than `#private` fields because this is the per-decision
 * hot path, and V8's private-field brand checks cost measurably there.
 */
export class TraceCursor {
  /** The view handed to `decide` and `observe`: exits 0..`exit` of the current sample. */
  readonly view: ExitView;
  /** Point the view at `sample`, with exits 0..`exit` visible. Harness use only; never pass the cursor itself. */
  readonly moveTo: (sample: number, exit: number) => void;

  constructor(scored: ScoredTrace) {
    const K = scored.trace.nExits;
    const C = scored.trace.nClasses;
    const predictedTable = scored.scores.predicted;
    const probsTable = scored.trace.probs;
    const byName = new Map<string, ScoreArray>();
    for (const name of scored.scores.names) byName.set(name, scored.scores.get(name));
    let sample = 0;
    let current = 0;
    const index = (atExit: number | undefined): number => {
      if (atExit === undefined) return sample * K + current;
      if (!(atExit >= 0 && atExit <= current) || !Number.isInteger(atExit)) {
        if (Number.isInteger(atExit) && atExit > current) throw new PeekError(atExit, current);
        throw new ContractError(`exit index must be an integer in [0, ${current}], got ${atExit}`);
      }
      return sample * K + atExit;
    };
    this.moveTo = (n, k) => {
      sample = n;
      current = k;
    };
    this.view = Object.freeze({
      nExits: K,
      nClasses: C,
      get exit(): number {
        return current;
      },
      score(name: string, atExit?: number): number {
        const arr = byName.get(name);
        if (!arr) throw new InputError('ExitView.score', 'name', `one of ${[...byName.keys()].join(', ')}`, JSON.stringify(name));
        return arr[index(atExit)];
      },
      predicted: (atExit?: number): number => predictedTable[index(atExit)],
      probs(atExit?: number): Float32Array {
        const base = index(atExit) * C;
        return probsTable.slice(base, base + C);
      },
    });
  }
}

/** `ModelInfo` of a scored trace. */
export function modelInfo(scored: ScoredTrace): ModelInfo {
  return {
    nExits: scored.trace.nExits,
    nClasses: scored.trace.nClasses,
    costMs: scored.trace.costMs,
    scoreNames: scored.scores.names,
  };
}
