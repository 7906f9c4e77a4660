/**
 * What the workload modules share: validation helpers that name the field and the bad element, the budget rules
 * of budgeted policies, and `instantiate`, the one way a workload creates a policy.
 */
import { InputError, describe } from '../../lib/errors.ts';
import type { Axis, AxisSet, AxisValue, PolicyInfo, Where } from './types.ts';

/**
 * The one way a workload creates a policy: the core's `instantiate` (lib/registry.ts) — parse, derive the
 * policy's random stream from (seed, registry name, canonical parsed parameters), never from a table label, and
 * create. Re-exported here so workload modules import everything they share from one place.
 */
export { instantiate } from '../../lib/registry.ts';

/** Throw unless `raw` is a plain object whose keys are all in `known` (a misspelt option must not be ignored). */
export function knownKeys(where: Where, field: string, raw: unknown, known: readonly string[]): Readonly<Record<string, unknown>> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(where.source, `${where.at}.${field}`, 'an object', describe(raw));
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new InputError(where.source, `${where.at}.${field}.${key}`, known.length ? `one of ${known.join(', ')}` : 'nothing (this workload has none)', 'an unknown key');
  }
  return raw as Record<string, unknown>;
}

/** An integer option ≥ `min` (required unless a fallback is given). */
export function intOption(where: Where, field: string, v: unknown, min: number, what: string, fallback?: number): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || (x as number) < min) throw new InputError(where.source, `${where.at}.${field}`, `an integer ≥ ${min} (${what})`, describe(x));
  return x as number;
}

/**
 * One axis: a non-empty array of distinct values each passing `check`. A bad element is named by its index,
 * e.g. `parts[1].axes.lambdaOverMu[2]`.
 */
export function axis(where: Where, name: string, raw: unknown, check: (x: unknown) => boolean, form: string, extra: Omit<Axis, 'name' | 'values'> = {}): Axis {
  const field = `${where.at}.axes.${name}`;
  if (!Array.isArray(raw) || raw.length === 0) throw new InputError(where.source, field, `a non-empty array of ${form}`, describe(raw));
  raw.forEach((x, i) => {
    if (!check(x)) throw new InputError(where.source, `${field}[${i}]`, form, describe(x));
    if (raw.indexOf(x) !== i) throw new InputError(where.source, `${field}[${i}]`, 'a value not already on the axis', describe(x));
  });
  return { name, values: raw as AxisValue[], ...extra };
}

/** A number in [0, 1] (a budget fraction). */
export const isFraction = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x <= 1;
/** A finite number > 0. */
export const isPositive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;
/** A check for one of the given strings (categorical axes). */
export const isOneOf =
  (...allowed: readonly string[]) =>
  (x: unknown): boolean =>
    typeof x === 'string' && allowed.includes(x);

/** Every budgeted policy must bring its own budget (workloads without a budget axis). */
export function requireOwnBudgets(where: Where, kind: string, policies: readonly PolicyInfo[]): void {
  policies.forEach((p, j) => {
    if (p.budgeted && p.budgetFraction === undefined) throw new InputError(where.source, `${where.at}.policies[${j}].budgetFraction`, `a budget fraction (budgeted policy in a ${kind} part, which has no budget axis)`, 'none');
  });
}

/** The budget of a workload without a budget axis: the policy's own (budgeted policies only). */
export const ownBudget = (p: PolicyInfo): number | undefined => (p.budgeted ? p.budgetFraction : undefined);

/** A number axis value of a cell (the workload declared the axis, so it is there). */
export const num = (axes: AxisSet, name: string): number => Number(axes[name]);
