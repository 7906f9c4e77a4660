/**
 * What a registered policy declares: its name, parameters (with defaults and validation) and the parameter
 * sets the conformance suite runs it with. Adding a policy is one file exporting a `PolicySpec` plus one line in
 * `policies/index.ts`; the conformance suite then tests it for free.
 */
import { InputError, describe } from './errors.ts';
import type { ModelInfo, Policy, PolicyContext } from './policy.ts';
import { policyRng } from './random.ts';

/** Raw, unvalidated parameters (from JSON, a CLI, or code). */
export type RawParams = Readonly<Record<string, unknown>>;

/** A registered policy family. `P` is its validated parameter type. */
export interface PolicySpec<P extends object = object> {
  /** Registry name, e.g. "threshold". Lower-case, dash-separated. */
  readonly name: string;
  /** One line: what it does and where it comes from (paper, section). */
  readonly description: string;
  /** Parameter values used when a key is omitted. */
  readonly defaults: P;
  /**
   * Parameter sets the conformance suite runs. Budgeted policies get their budgets from the suite and
   * need not list them.
   */
  readonly testParams: (model: ModelInfo) => readonly RawParams[];
  /**
   * True when `fit` takes `objective.budgetMs` and promises the fitted policy's mean cost on the fitting data
   * is at most that budget (up to floating-point summation error).
   */
  readonly budgeted: boolean;
  /**
   * True when its decisions draw from the policy's random stream (an exit sampled per job, ε-exploration), so
   * different seeds must give different decisions; `checkPolicy` checks it. Randomness used only in fitting does
   * not count. Default false.
   */
  readonly stochastic?: boolean;
  /** Validate raw parameters, filling defaults. Throws `InputError` naming the bad parameter. */
  parse(raw: RawParams): P;
  /** Build a policy. Called with validated parameters only. */
  create(params: P, ctx: PolicyContext): Policy;
  /**
   * Load the family's heavy dependencies (a WebAssembly solver, TensorFlow.js) before its first use. Absent when
   * there are none. Importing `exitlab/policies` loads none of them, and `create`, `fit` and the decisions are
   * synchronous, so every harness awaits `loadPolicy(spec)` before `instantiate`. Idempotent.
   */
  readonly load?: () => Promise<void>;
}

/** Await a spec's `load` (its heavy dependencies), if it has one. Cheap after the first call. */
export async function loadPolicy(spec: AnyPolicySpec): Promise<void> {
  await spec.load?.();
}

/** A spec with its parameter type erased, for lists of mixed policies. */
export type AnyPolicySpec = PolicySpec<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Helpers that read one parameter and name it in the error. `source` is e.g. 'policy "threshold"'. */
export class ParamReader {
  readonly #raw: RawParams;
  readonly #source: string;
  readonly #seen = new Set<string>();

  constructor(source: string, raw: RawParams) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InputError(source, 'params', 'an object of named parameters', describe(raw));
    }
    this.#raw = raw;
    this.#source = source;
  }

  /** A finite number in [min, max] (integer if asked), or the fallback when absent. */
  number(key: string, fallback: number | undefined, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
    this.#seen.add(key);
    const v = this.#raw[key] ?? fallback;
    const { min = -Infinity, max = Infinity, integer = false } = opts;
    const form = `${integer ? 'an integer' : 'a finite number'}${min > -Infinity || max < Infinity ? ` in [${min}, ${max}]` : ''}`;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new InputError(this.#source, `params.${key}`, form, describe(v));
    }
    return v;
  }

  /** An optional finite number in [min, max] (integer if asked): `undefined` when absent. */
  optionalNumber(key: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    this.#seen.add(key);
    return this.#raw[key] === undefined ? undefined : this.number(key, undefined, opts);
  }

  /** A boolean (`true` or `false`, nothing truthy), or the fallback when absent. */
  boolean(key: string, fallback: boolean | undefined): boolean {
    this.#seen.add(key);
    const v = this.#raw[key] ?? fallback;
    if (typeof v !== 'boolean') throw new InputError(this.#source, `params.${key}`, 'true or false', describe(v));
    return v;
  }

  /** One of the allowed strings, or the fallback when absent. */
  choice<T extends string>(key: string, allowed: readonly T[] | undefined, fallback: T | undefined): T {
    this.#seen.add(key);
    const v = this.#raw[key] ?? fallback;
    if (typeof v !== 'string' || (allowed !== undefined && !allowed.includes(v as T))) {
      throw new InputError(this.#source, `params.${key}`, allowed ? `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : 'a string', describe(v));
    }
    return v as T;
  }

  /** A number or an array of numbers (each finite, in range), or the fallback when absent. */
  numberOrArray(key: string, fallback: number | readonly number[] | undefined, opts: { min?: number; max?: number } = {}): number | number[] {
    this.#seen.add(key);
    const v = this.#raw[key] ?? fallback;
    const { min = -Infinity, max = Infinity } = opts;
    const ok = (x: unknown): x is number => typeof x === 'number' && !Number.isNaN(x) && x >= min && x <= max;
    if (ok(v)) return v;
    if (Array.isArray(v) && v.length > 0 && v.every(ok)) return [...v];
    throw new InputError(this.#source, `params.${key}`, `a number in [${min}, ${max}] or a non-empty array of them`, describe(v));
  }

  /** An optional array of non-negative finite numbers with a positive sum. */
  optionalWeights(key: string): number[] | undefined {
    this.#seen.add(key);
    const v = this.#raw[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) || v.reduce((a, b) => a + b, 0) <= 0) {
      throw new InputError(this.#source, `params.${key}`, 'a non-empty array of non-negative weights with a positive sum', describe(v));
    }
    return [...v];
  }

  /** Reject keys no reader asked for: a misspelt parameter must not be silently ignored. */
  done(): void {
    for (const key of Object.keys(this.#raw)) {
      if (!this.#seen.has(key)) {
        throw new InputError(this.#source, `params.${key}`, `one of the known parameters ${[...this.#seen].join(', ') || '(none)'}`, 'an unknown parameter');
      }
    }
  }
}

/** Resolve a possibly negative exit index (−1 = last) against K, naming the parameter on error. */
export function resolveExit(source: string, field: string, exit: number, nExits: number): number {
  const k = exit < 0 ? nExits + exit : exit;
  if (!Number.isInteger(exit) || k < 0 || k >= nExits) {
    throw new InputError(source, field, `an exit index in [${-nExits}, ${nExits - 1}] for a ${nExits}-exit model (−1 = last)`, String(exit));
  }
  return k;
}

/** What `instantiate` needs besides the spec and its raw parameters. */
export interface InstantiateOptions {
  /** The run's seed; the policy's stream is `policyRng(seed, spec.name, parsed params)`. */
  readonly seed: number;
  /** The model the policy serves. */
  readonly model: ModelInfo;
}

/**
 * Build a policy the one way every harness, workload and `checkPolicy` does: parse the raw parameters (defaults
 * filled, unknown keys rejected), derive its random stream from (seed, registry name, canonical parsed
 * parameters) with `policyRng`, and create it. A label never enters, so renaming an entry changes no result.
 * @throws InputError from `spec.parse` naming the bad parameter.
 */
export function instantiate(spec: AnyPolicySpec, raw: RawParams, opts: InstantiateOptions): Policy {
  const params = spec.parse(raw);
  return spec.create(params, { rng: policyRng(opts.seed, spec.name, params), model: opts.model });
}
