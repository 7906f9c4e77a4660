/**
 * Fixed exit: every job runs to exit k and leaves there. With k = −1 (the last exit) this is the plain network,
 * the baseline every early-exit policy is measured against.
 */
import type { Policy } from '../lib/policy.ts';
import { ParamReader, resolveExit, type PolicySpec } from '../lib/registry.ts';

/** Parameters of `fixed-exit`. */
export interface FixedExitParams {
  /** Exit index; negative counts from the end (−1 = last exit = plain network). */
  readonly exit: number;
}

/** Registry entry `fixed-exit`: every job leaves at one exit (`exit: -1` = the last, i.e. the plain network); commits at job start. */
export const fixedExit: PolicySpec<FixedExitParams> = {
  name: 'fixed-exit',
  description: 'Every job leaves at one fixed exit; exit −1 is the plain network.',
  defaults: { exit: -1 },
  testParams: (model) => [{ exit: 0 }, { exit: -1 }, { exit: Math.floor(model.nExits / 2) }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "fixed-exit"', raw);
    const exit = r.number('exit', this.defaults.exit, { integer: true });
    r.done();
    return { exit };
  },
  create(params, { model }): Policy {
    const k = resolveExit('policy "fixed-exit"', 'params.exit', params.exit, model.nExits);
    // Committing at job start (rather than continuing in decide) tells a queue simulator the service time
    // before the job runs, as it is for a single-exit network.
    return {
      name: k === model.nExits - 1 ? 'plain network (last exit)' : `fixed exit ${k}`,
      commit: () => k,
    };
  },
};
