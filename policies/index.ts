/**
 * The policy registry. Adding a policy = one file exporting a `PolicySpec` and one line here; the conformance
 * suite (test/conformance.test.ts) runs every entry.
 */
import { InputError } from '../lib/errors.ts';
import type { AnyPolicySpec } from '../lib/registry.ts';
import { adaeeUcb } from './adaee-ucb.ts';
import { budgetedThreshold } from './budgeted-threshold.ts';
import { dee } from './dee.ts';
import { eenet } from './eenet/index.ts';
import { egreedyContext } from './egreedy-context.ts';
import { fixedExit } from './fixed-exit.ts';
import { leeUcb } from './lee-ucb.ts';
import { modelBased } from './model-based.ts';
import { randomExit } from './random-exit.ts';
import { rateBased } from './rate-based.ts';
import { reactive } from './reactive.ts';
import { threshold } from './threshold.ts';
import { tunedThreshold } from './tuned-threshold.ts';

/** Every registered policy family, by registry name. */
export const REGISTRY: readonly AnyPolicySpec[] = [fixedExit, randomExit, threshold, budgetedThreshold, reactive, modelBased, rateBased, dee, tunedThreshold, leeUcb, adaeeUcb, egreedyContext, eenet];

/**
 * Look a policy family up by name.
 * @throws InputError listing the registered names when there is none of that name.
 */
export function getPolicySpec(name: string): AnyPolicySpec {
  const spec = REGISTRY.find((s) => s.name === name);
  if (!spec) throw new InputError('policy registry', 'name', `one of ${REGISTRY.map((s) => s.name).join(', ')}`, JSON.stringify(name));
  return spec;
}

export { adaeeUcb, budgetedThreshold, dee, eenet, egreedyContext, fixedExit, leeUcb, modelBased, randomExit, rateBased, reactive, threshold, tunedThreshold };
