/**
 * The one job driver: how every harness (offline `runPolicy`, the online stream `runOnline`, the queue simulator
 * `simulate`) asks a policy about a job, with the contract's checks written once.
 *
 * - `systemState` builds the `SystemState` a policy's `commit` sees (the only place one is built);
 * - `JobDriver.commit` / `decideExit` / `observe` / `event` / `exitDistribution` are the checked calls: a bad
 *   value is a `ContractError` naming the policy and the method, the same message in every harness;
 * - `JobDriver.runJob` is the per-job loop of the offline and online harnesses, where a job runs without a clock
 *   between its exits: `commit` at job start, else `decide` after each exit k < K−1 (the driver, never the policy,
 *   stops the job at the last classifier), then `observe`. The queue simulator keeps its own event loop, since
 *   there time passes and other events happen between exits, but calls the same checked methods.
 */
import { ContractError, type ExitView, type Policy, type SystemEvent, type SystemState, type TraceCursor } from './policy.ts';

/**
 * The state a policy's `commit` sees at a job's start: a fresh object per call, so a policy that keeps it cannot
 * watch it change.
 * @param timeMs simulation clock, ms (offline and online: total cost of the jobs served before this one).
 * @param queueLength jobs waiting, not counting the one starting (offline and online: 0).
 * @param bufferCapacity buffer places B (offline and online: Infinity).
 * @param arrivalRatePerMs arrival-rate estimate, jobs/ms, or undefined when unknown.
 */
export function systemState(timeMs: number, queueLength: number, bufferCapacity: number, arrivalRatePerMs: number | undefined): SystemState {
  return { timeMs, queueLength, bufferCapacity, arrivalRatePerMs };
}

/** A policy with the contract's checks around every call (see the module comment). One per run. */
export class JobDriver {
  readonly policy: Policy;
  /** Number of exits K of the model the policy serves. */
  readonly nExits: number;
  readonly hasCommit: boolean;
  readonly hasDecide: boolean;
  readonly hasObserve: boolean;
  readonly hasEvent: boolean;
  readonly hasDistribution: boolean;
  /** Whether the last `runJob` was committed at its start. */
  lastCommitted = false;

  /** A policy implementing neither `commit` nor `decide` fails at its first job's `commit` (ContractError). */
  constructor(policy: Policy, nExits: number) {
    this.policy = policy;
    this.nExits = nExits;
    this.hasCommit = typeof policy.commit === 'function';
    this.hasDecide = typeof policy.decide === 'function';
    this.hasObserve = typeof policy.observe === 'function';
    this.hasEvent = typeof policy.onEvent === 'function';
    this.hasDistribution = typeof policy.exitDistribution === 'function';
  }

  /**
   * Checked `commit` at a job's start.
   * @returns the committed exit, or −1 to decide per exit (also when the policy has no `commit`).
   * @throws ContractError for a value other than an exit index in [0, K−1] or undefined, or for undefined from
   *   a policy without `decide`.
   */
  commit(state: SystemState): number {
    if (this.hasCommit) {
      const c = this.policy.commit!(state);
      if (c !== undefined) {
        if (!Number.isInteger(c) || c < 0 || c >= this.nExits) {
          throw new ContractError(`${this.policy.name}: commit() returned ${String(c)}; expected an exit index in [0, ${this.nExits - 1}] or undefined`);
        }
        return c;
      }
    }
    if (!this.hasDecide) throw new ContractError(`${this.policy.name}: commit() returned undefined and the policy has no decide()`);
    return -1;
  }

  /**
   * Checked `decide` after exit `view.exit` < K−1 ran.
   * @returns true to exit there, false to continue.
   * @throws ContractError for a value other than 'exit' or 'continue'.
   */
  decideExit(view: ExitView): boolean {
    const d = this.policy.decide!(view);
    if (d === 'exit') return true;
    if (d !== 'continue') throw new ContractError(`${this.policy.name}: decide() returned ${JSON.stringify(d)}; expected 'exit' or 'continue'`);
    return false;
  }

  /** Label-free feedback after a job left at `exit`, having paid `costMs`; moves `cursor` to the exits it ran. */
  observe(cursor: TraceCursor, sample: number, exit: number, costMs: number, committed: boolean): void {
    if (!this.hasObserve) return;
    cursor.moveTo(sample, exit);
    this.policy.observe!({ exit, costMs, committed, view: cursor.view });
  }

  /** A system event, if the policy listens. */
  event(e: SystemEvent): void {
    if (this.hasEvent) this.policy.onEvent!(e);
  }

  /**
   * Checked `exitDistribution` (introspection for time series).
   * @returns a copy, or null when the policy has none (or does not implement it).
   * @throws ContractError when its length is not K.
   */
  exitDistribution(): number[] | null {
    if (!this.hasDistribution) return null;
    const d = this.policy.exitDistribution!();
    if (d === undefined) return null;
    if (d.length !== this.nExits) throw new ContractError(`${this.policy.name}: exitDistribution() returned ${d.length} values; expected K = ${this.nExits}`);
    return Array.from(d);
  }

  /**
   * One job of the offline and online harnesses: checked `commit(state)`, else checked `decide` after each exit
   * k < K−1 (the last exit is forced), then `observe` with the cost `costMs[exit]`. Sets `lastCommitted`.
   * @param state what `commit` sees; may be undefined only when the policy has no `commit`.
   * @param costMs cumulative cost per exit, ms, length K.
   * @returns the exit the job left at.
   */
  runJob(cursor: TraceCursor, sample: number, state: SystemState | undefined, costMs: readonly number[]): number {
    const K = this.nExits;
    let exit = this.commit(state!);
    const committed = exit >= 0;
    if (!committed) {
      const view = cursor.view;
      for (let k = 0; k < K - 1; k++) {
        cursor.moveTo(sample, k);
        if (this.decideExit(view)) {
          exit = k;
          break;
        }
      }
      if (exit < 0) exit = K - 1; // the harness, not the policy, stops the job at the last classifier
    }
    this.lastCommitted = committed;
    this.observe(cursor, sample, exit, costMs[exit], committed);
    return exit;
  }
}
