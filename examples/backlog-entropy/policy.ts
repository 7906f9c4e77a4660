/**
 * Backlog-aware entropy threshold: BranchyNet's rule (exit at the first k whose entropy confidence 1 − H/log C
 * reaches t) with a threshold that relaxes as jobs pile up behind this one:
 *   t = max(floor, base − perJob · queueLength),
 * fixed when the job starts. Offline (no queue) it is the plain entropy threshold `base`; under load it trades
 * accuracy for shorter service, like the backlog schedulers, but still per input.
 *
 * Written only against the public package (`exitlab`), as a user would.
 */
import { InputError, ParamReader, type Policy, type PolicySpec } from 'exitlab';

/** Parameters of `backlog-entropy`. All thresholds are entropy confidences in [0, 1]. */
export interface BacklogEntropyParams {
  /** Threshold with an empty queue. */
  readonly base: number;
  /** How much the threshold drops per waiting job. */
  readonly perJob: number;
  /** Lowest threshold, however long the queue. */
  readonly floor: number;
}

export const backlogEntropy: PolicySpec<BacklogEntropyParams> = {
  name: 'backlog-entropy',
  description: 'Entropy threshold lowered by perJob for each waiting job, down to floor.',
  defaults: { base: 0.9, perJob: 0.05, floor: 0.3 },
  testParams: () => [{}, { base: 1, perJob: 0.2, floor: 0 }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "backlog-entropy"', raw);
    const base = r.number('base', this.defaults.base, { min: 0, max: 1 });
    const perJob = r.number('perJob', this.defaults.perJob, { min: 0, max: 1 });
    const floor = r.number('floor', this.defaults.floor, { min: 0, max: 1 });
    r.done();
    if (floor > base) throw new InputError('policy "backlog-entropy"', 'params.floor', `a value ≤ base (${base})`, String(floor));
    return { base, perJob, floor };
  },
  create(params, { model }): Policy {
    if (!model.scoreNames.includes('entropy')) throw new InputError('policy "backlog-entropy"', 'model', 'traces with the entropy score');
    let t = params.base;
    return {
      name: `backlog-entropy(${params.base}−${params.perJob}·q, ≥${params.floor})`,
      // Returning undefined: the exit is not fixed at start; we only read the backlog here.
      commit(state) {
        t = Math.max(params.floor, params.base - params.perJob * state.queueLength);
        return undefined;
      },
      decide: (view) => (view.score('entropy') >= t ? 'exit' : 'continue'),
    };
  },
};
