/**
 * Creating the policy a testbed server runs: a registry policy by name, loaded, instantiated and fitted exactly
 * as the queue workload does it (`loadPolicy`, then `instantiate` with the cell's seed), except that its
 * `ModelInfo` and the validation trace it fits on carry the per-exit costs measured on the server, so
 * schedulers plan with the real service times.
 */
import { InputError } from '../../lib/errors.ts';
import type { ModelInfo, Policy } from '../../lib/policy.ts';
import { instantiate, loadPolicy, type RawParams } from '../../lib/registry.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import { getPolicySpec } from '../../policies/index.ts';

/** A registry policy as plain data (it crosses thread boundaries). */
export interface ServerPolicySpec {
  /** Registry name, e.g. "reactive". */
  readonly name: string;
  readonly params?: RawParams;
}

/**
 * Build and fit the policy.
 * @param opts.budgetMs passed to `fit` for budgeted policies (required by them).
 */
export async function createServerPolicy(p: ServerPolicySpec, opts: { seed: number; model: ModelInfo; validation: ScoredTrace; budgetMs?: number }): Promise<Policy> {
  if (typeof p?.name !== 'string') throw new InputError('testbed policy', 'name', 'a registry name', JSON.stringify(p?.name));
  const spec = getPolicySpec(p.name);
  if (spec.budgeted && opts.budgetMs === undefined) throw new InputError('testbed policy', `${p.name}.budgetMs`, 'a budget in ms (a budgeted policy)', 'none');
  await loadPolicy(spec);
  const policy = instantiate(spec, p.params ?? {}, { seed: opts.seed, model: opts.model });
  policy.fit?.(opts.validation, opts.budgetMs === undefined ? {} : { budgetMs: opts.budgetMs });
  return policy;
}
