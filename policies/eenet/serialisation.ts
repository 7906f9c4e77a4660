/**
 * Saving and loading a fitted EENet (policies/eenet/) as plain JSON: weights as float64 numbers (JSON numbers
 * round-trip doubles), infinite thresholds as strings, every field validated on load.
 */
import { InputError, describe } from '../../lib/errors.ts';
import { REFERENCE_EENET_CONFIG, checkConfig, featureWidth, type EENetConfig, type FittedEENet, type HeadWeights } from './model.ts';

/** Format tag of a saved EENet. */
export const EENET_FORMAT = 'exitlab-eenet/1';

/** JSON form of a fitted EENet. Infinite thresholds are written as the strings "Infinity" / "-Infinity". */
export interface EENetJSON {
  readonly format: typeof EENET_FORMAT;
  readonly nExits: number;
  readonly nClasses: number;
  readonly headOutput: 'logit' | 'sigmoid';
  readonly g: number[][];
  readonly heads: { hidden: number; w1: number[]; b1: number[]; w2: number[]; b2: number }[];
  readonly thresholds: (number | 'Infinity' | '-Infinity')[];
  readonly shares: number[];
  readonly budgetMs: number;
  readonly costMs: number[];
  readonly config: EENetConfig;
}

/** A fitted EENet as JSON-safe data (float64 weights kept exactly: JSON numbers round-trip doubles). */
export function eenetToJSON(m: FittedEENet): EENetJSON {
  return {
    format: EENET_FORMAT,
    nExits: m.weights.nExits,
    nClasses: m.weights.nClasses,
    headOutput: m.weights.headOutput,
    g: m.weights.g.map((w) => Array.from(w)),
    heads: m.weights.heads.map((h) => ({ hidden: h.hidden, w1: Array.from(h.w1), b1: Array.from(h.b1), w2: Array.from(h.w2), b2: h.b2 })),
    thresholds: Array.from(m.thresholds, (t) => (t === Infinity ? 'Infinity' : t === -Infinity ? '-Infinity' : t)),
    shares: [...m.shares],
    budgetMs: m.budgetMs,
    costMs: [...m.costMs],
    config: { ...m.config },
  };
}

/**
 * Load a fitted EENet from `eenetToJSON`'s output (parsed JSON), validating every field.
 * @param source where it came from (a path), for error messages.
 * @throws InputError naming the bad field.
 */
export function eenetFromJSON(raw: unknown, source = 'EENet JSON'): FittedEENet {
  const o = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new InputError(source, '(root)', 'an object', describe(raw));
  if (o.format !== EENET_FORMAT) throw new InputError(source, 'format', JSON.stringify(EENET_FORMAT), describe(o.format));
  const K = o.nExits;
  const C = o.nClasses;
  if (typeof K !== 'number' || !Number.isInteger(K) || K < 2) throw new InputError(source, 'nExits', 'an integer ≥ 2', describe(K));
  if (typeof C !== 'number' || !Number.isInteger(C) || C < 2) throw new InputError(source, 'nClasses', 'an integer ≥ 2', describe(C));
  if (o.headOutput !== 'logit' && o.headOutput !== 'sigmoid') throw new InputError(source, 'headOutput', '"logit" or "sigmoid"', describe(o.headOutput));
  const nums = (field: string, v: unknown, len?: number): Float64Array => {
    if (!Array.isArray(v) || (len !== undefined && v.length !== len) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new InputError(source, field, `an array of ${len ?? 'any number of'} finite numbers`, describe(v));
    }
    return Float64Array.from(v as number[]);
  };
  if (!Array.isArray(o.g) || o.g.length !== K) throw new InputError(source, 'g', `${K} weight arrays`, describe(o.g));
  const g = (o.g as unknown[]).map((w, k) => nums(`g[${k}]`, w, featureWidth(C, k)));
  if (!Array.isArray(o.heads) || o.heads.length !== K) throw new InputError(source, 'heads', `${K} heads`, describe(o.heads));
  const heads = (o.heads as unknown[]).map((h, k): HeadWeights => {
    const r = h as Record<string, unknown>;
    const m = r?.hidden;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw new InputError(source, `heads[${k}].hidden`, 'an integer ≥ 1', describe(m));
    const b2 = r.b2;
    if (typeof b2 !== 'number' || !Number.isFinite(b2)) throw new InputError(source, `heads[${k}].b2`, 'a finite number', describe(b2));
    return { hidden: m, w1: nums(`heads[${k}].w1`, r.w1, featureWidth(C, k) * m), b1: nums(`heads[${k}].b1`, r.b1, m), w2: nums(`heads[${k}].w2`, r.w2, m), b2 };
  });
  if (!Array.isArray(o.thresholds) || o.thresholds.length !== K) throw new InputError(source, 'thresholds', `${K} thresholds`, describe(o.thresholds));
  const thresholds = Float64Array.from(o.thresholds as unknown[], (t, k) => {
    if (t === 'Infinity') return Infinity;
    if (t === '-Infinity') return -Infinity;
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new InputError(source, `thresholds[${k}]`, 'a finite number, "Infinity" or "-Infinity"', describe(t));
    return t;
  });
  const shares = Array.from(nums('shares', o.shares, K));
  const costMs = Array.from(nums('costMs', o.costMs, K));
  const budgetMs = o.budgetMs;
  if (typeof budgetMs !== 'number' || !Number.isFinite(budgetMs) || budgetMs <= 0) throw new InputError(source, 'budgetMs', 'a positive finite number', describe(budgetMs));
  const config = { ...REFERENCE_EENET_CONFIG, ...(o.config as object) } as EENetConfig;
  checkConfig(`${source} config`, config);
  return { weights: { nExits: K, nClasses: C, g, heads, headOutput: o.headOutput }, thresholds, shares, budgetMs, costMs, config };
}