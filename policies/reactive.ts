/**
 * Reactive single-exit scheduler (imperial-qore/CEED `single_exit`, beside Casale & Roveri, IEEE TC 2024):
 * all jobs use one current exit, fixed at job start. It starts at the last exit; every job lost to a full
 * buffer moves it one exit earlier, and every time the server finds the queue empty it moves one exit later.
 * No model and no fit: it follows the load through its two signals only.
 */
import type { Policy } from '../lib/policy.ts';
import { ParamReader, resolveExit, type PolicySpec } from '../lib/registry.ts';
import { oneHot } from './scheduler-common.ts';

/** Parameters of `reactive`. */
export interface ReactiveParams {
  /** Exit to start from; negative counts from the end. Default −1 (the last exit). */
  readonly startExit: number;
}

/** Registry entry `reactive`: the backlog scheduler of Casale & Roveri that moves one shared exit earlier per lost job and later per idle server. */
export const reactive: PolicySpec<ReactiveParams> = {
  name: 'reactive',
  description: 'Backlog scheduler: one current exit for all jobs; a loss moves it earlier, an idle server later.',
  defaults: { startExit: -1 },
  testParams: () => [{}, { startExit: 0 }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "reactive"', raw);
    const startExit = r.number('startExit', this.defaults.startExit, { integer: true });
    r.done();
    return { startExit };
  },
  create(params, { model }): Policy {
    const K = model.nExits;
    let current = resolveExit('policy "reactive"', 'params.startExit', params.startExit, K);
    return {
      name: 'reactive scheduler',
      commit: () => current,
      exitDistribution: () => oneHot(current, K),
      onEvent(event) {
        if (event.kind === 'loss') current = Math.max(0, current - 1);
        else current = Math.min(K - 1, current + 1);
      },
    };
  },
};
