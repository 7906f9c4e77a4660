/**
 * Creating the policy a testbed server runs: a registry policy by name, seeded and fitted exactly as the queue
 * harness does it (experiments/harness/cell.ts), except that its `ModelInfo` and the validation trace it fits on
 * carry the per-exit costs measured on the server, so schedulers plan with the real service times.
 */
import { InputError } from '../../lib/errors.ts';
import type { ModelInfo, Policy } from '../../lib/policy.ts';
import { Rng } from '../../lib/random.ts';
import type { RawParams } from '../../lib/registry.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import { getPolicySpec } from '../../policies/index.ts';

/** A registry policy as plain data (it crosses thread boundaries). */
export interface ServerPolicySpec {
  /** Registry name, e.g. "reactive". */
  readonly name: string;
  readonly params?: RawParams;
  /** Label naming the policy's random stream (the experiment's label); default the registry name. */
  readonly label?: string;
}

/**
 * Build and fit the policy.
 * @param opts.budgetMs passed to `fit` for budgeted policies (required by them).
 */
export function createServerPolicy(p: ServerPolicySpec, opts: { seed: number; model: ModelInfo; validation: ScoredTrace; budgetMs?: number }): Policy {
  if (typeof p?.name !== 'string') throw new InputError('testbed policy', 'name', 'a registry name', JSON.stringify(p?.name));
  const spec = getPolicySpec(p.name);
  const policy = spec.create(spec.parse(p.params ?? {}), { rng: new Rng(opts.seed).fork(p.label ?? p.name), model: opts.model });
  if (spec.budgeted && opts.budgetMs === undefined) throw new InputError('testbed policy', `${p.name}.budgetMs`, 'a budget in ms (a budgeted policy)', 'none');
  policy.fit?.(opts.validation, opts.budgetMs === undefined ? {} : { budgetMs: opts.budgetMs });
  return policy;
}
