/**
 * The online workload: a label-free stream of test inputs (`lib/online.ts`), reward r_m = c_m − β·L_m (c the
 * reward's score at the exit taken, L_m the cumulative cost to m over the last exit's), regret against the
 * per-input oracle and the best per-context rule in hindsight, over the whole stream and in its last window
 * (after learning).
 *
 * Which policies learn the cell's reward — explicit, not guessed: a policy whose spec declares a `beta`
 * parameter (its `defaults` list `beta`) is an online learner of r = c − β·L and must declare `score` too; the
 * workload passes it the cell's β and the part's `score`, so it learns the reward it is measured by. An entry of
 * such a policy may not set `beta` or `score` itself (the β axis and `workload.score` decide them): that is an
 * error, not an override. A policy without `beta` (fixed exit, thresholds) runs with its own parameters; its
 * `score`, if any, is its own exit rule, not the reward.
 */
import { InputError } from '../../lib/errors.ts';
import { runOnline, stationaryStream, type BinScale, type StreamSpec } from '../../lib/online.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import type { AnyPolicySpec } from '../../lib/registry.ts';
import { axis, instantiate, intOption, isOneOf, knownKeys, num, ownBudget, requireOwnBudgets } from './common.ts';
import type { Workload } from './types.ts';

/** The streams an online part can sweep. */
export type StreamName = 'stationary' | 'switch-split' | 'switch-mix';
const STREAMS: readonly StreamName[] = ['stationary', 'switch-split', 'switch-mix'];

/** `part.workload` of an online part. */
export interface OnlineWorkloadDecl {
  readonly kind: 'online';
  /** Stream length T. */
  readonly inputs: number;
  /** The reward's confidence c (default `maxprob`). */
  readonly score?: string;
  /** Points of the regret curves, equal windows of the stream (default 20); the last one is "after learning". */
  readonly windows?: number;
  /** Contexts of the hindsight reference: bins per exit (default 10) and their scale (default `sqrt`). */
  readonly context?: { readonly bins?: number; readonly scale?: BinScale };
}

/** Sweep axes of an online part. */
export interface OnlineAxes {
  /** β: reward r_m = c_m − β · L_m (L_m = cumulative cost to m over the last exit's). */
  readonly beta: readonly number[];
  /**
   * Streams over the trace: `stationary` (test split, repeated permutations), `switch-split` (validation split,
   * then test split from the middle on), `switch-mix` (test split, first half only the first ⌈C/2⌉ classes, then
   * only the others).
   */
  readonly stream: readonly StreamName[];
}

/** Validated options, stored in every cell. */
export interface OnlineOptions extends Readonly<Record<string, unknown>> {
  readonly inputs: number;
  readonly score: string;
  readonly windows: number;
  readonly bins: number;
  readonly scale: BinScale;
}

/** Whether a spec learns the reward r = c − β·L (declares `beta`; see the module comment). */
export function learnsReward(spec: AnyPolicySpec): boolean {
  return Object.prototype.hasOwnProperty.call(spec.defaults ?? {}, 'beta');
}

/** The stream of a cell, with the cell's seed as the order's seed. */
function onlineStream(name: string, validation: ScoredTrace, test: ScoredTrace, length: number, seed: number): StreamSpec {
  const mid = Math.floor(length / 2);
  if (name === 'stationary') return stationaryStream(test, length, seed);
  if (name === 'switch-split') return { length, seed, phases: [{ start: 0, trace: validation }, { start: mid, trace: test }] };
  const C = test.trace.nClasses;
  const first = Array.from({ length: C }, (_, y) => (y < Math.ceil(C / 2) ? 1 : 0));
  return { length, seed, phases: [{ start: 0, trace: test, classWeights: first }, { start: mid, trace: test, classWeights: first.map((w) => 1 - w) }] };
}

/** The online workload (kind `online`). */
export const online: Workload<OnlineWorkloadDecl, OnlineAxes, OnlineOptions> = {
  kind: 'online',
  description: 'a label-free stream of test inputs, reward c − β·L; regret vs the per-input oracle and the best per-context rule in hindsight',
  parse(workload, axes, where) {
    knownKeys(where, 'workload', workload, ['kind', 'inputs', 'score', 'windows', 'context']);
    const inputs = intOption(where, 'workload.inputs', workload.inputs, 1, 'stream length');
    if (workload.score !== undefined && typeof workload.score !== 'string') throw new InputError(where.source, `${where.at}.workload.score`, 'a score name', JSON.stringify(workload.score));
    const windows = intOption(where, 'workload.windows', workload.windows, 1, 'curve windows', 20);
    if (windows > inputs) throw new InputError(where.source, `${where.at}.workload.windows`, `at most workload.inputs (${inputs}) windows`, String(windows));
    const ctx = knownKeys(where, 'workload.context', workload.context, ['bins', 'scale']);
    const bins = intOption(where, 'workload.context.bins', ctx.bins, 2, 'bins per exit', 10);
    if (ctx.scale !== undefined && ctx.scale !== 'linear' && ctx.scale !== 'sqrt') throw new InputError(where.source, `${where.at}.workload.context.scale`, '"linear" or "sqrt"', JSON.stringify(ctx.scale));
    const a = knownKeys(where, 'axes', axes ?? {}, ['beta', 'stream']);
    return {
      options: { inputs, score: workload.score ?? 'maxprob', windows, bins, scale: (ctx.scale as BinScale | undefined) ?? 'sqrt' },
      // Key order, outermost first (records are keyed stream=…,beta=…).
      axes: [
        axis(where, 'stream', a.stream, isOneOf(...STREAMS), STREAMS.map((x) => `"${x}"`).join(', ').replace(/, ([^,]*)$/, ' or $1'), { categorical: true }),
        axis(where, 'beta', a.beta, (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0, 'β values ≥ 0', { title: 'β' }),
      ],
    };
  },
  checkPolicies(_parsed, policies, where) {
    requireOwnBudgets(where, 'online', policies);
    policies.forEach((p, j) => {
      if (!learnsReward(p.spec)) return;
      if (!Object.prototype.hasOwnProperty.call(p.spec.defaults, 'score')) {
        throw new InputError(where.source, `${where.at}.policies[${j}].policy`, `a policy declaring both reward parameters, score and beta ("${p.name}" declares beta only)`, JSON.stringify(p.name));
      }
      for (const key of ['beta', 'score']) {
        if (key in p.params) throw new InputError(where.source, `${where.at}.policies[${j}].params.${key}`, `no ${key} (an online part gives its learners the cell's β and workload.score)`, JSON.stringify(p.params[key]));
      }
    });
  },
  dependsOn: () => true,
  budgetFraction: ownBudget,
  quickKeys: ['inputs'],
  quick(workload, q, where) {
    if (q.inputs === undefined) return workload;
    const inputs = intOption({ source: where.source, at: 'quick' }, 'inputs', q.inputs, 1, 'stream length');
    return { ...workload, inputs, ...(workload.windows !== undefined && workload.windows > inputs ? { windows: inputs } : {}) };
  },
  async run(cell, ctx) {
    const o = cell.options as OnlineOptions;
    const beta = num(cell.axes, 'beta');
    const spec = ctx.spec!;
    const params = learnsReward(spec) ? { ...cell.params, score: o.score, beta } : cell.params;
    const policy = instantiate(spec, params, { seed: cell.seed, model: ctx.model });
    policy.fit?.(ctx.validation, ctx.budgetMs === undefined ? {} : { budgetMs: ctx.budgetMs });
    const stream = onlineStream(String(cell.axes.stream), ctx.validation, ctx.test, o.inputs, cell.seed);
    const r = runOnline(policy, stream, { reward: { score: o.score, beta }, context: { bins: o.bins, scale: o.scale }, checkpoints: o.windows });
    const last = r.checkpoints[r.checkpoints.length - 1];
    return {
      metrics: {
        meanReward: r.meanReward,
        accuracy: r.accuracy,
        meanCostMs: r.meanCostMs,
        relativeCost: r.relativeCost,
        regretOraclePerInput: r.regretOracle / r.nInputs,
        regretHindsightPerInput: r.regretHindsight / r.nInputs,
        lastWindowRegretHindsight: last.windowRegretHindsight,
        lastWindowRegretOracle: last.windowRegretOracle,
        lastWindowReward: last.windowMeanReward,
        oracleReward: r.oracle.meanReward,
        hindsightReward: r.hindsight?.meanReward ?? NaN,
      },
      exitShares: r.exitShares,
      series: { t: r.checkpoints.map((c) => c.t), regretOracle: r.checkpoints.map((c) => c.windowRegretOracle), regretHindsight: r.checkpoints.map((c) => c.windowRegretHindsight) },
    };
  },
  metrics: [
    { name: 'meanReward', description: 'mean reward per input, c − β·L, over the stream', unit: '', kind: 'mean', better: 'higher', summary: true },
    { name: 'accuracy', description: 'fraction of inputs whose exit predicts the label', unit: '', kind: 'share', better: 'higher', summary: true },
    { name: 'meanCostMs', description: 'mean cumulative cost per input', unit: 'ms', kind: 'mean', better: 'lower', summary: true },
    { name: 'relativeCost', description: 'mean cost over the last exit’s cost', unit: '', kind: 'mean', better: 'lower' },
    { name: 'regretOraclePerInput', description: 'per-input regret against the per-input oracle, whole stream', unit: '', kind: 'mean', better: 'lower', summary: true },
    { name: 'regretHindsightPerInput', description: 'per-input regret against the best per-context rule in hindsight, whole stream', unit: '', kind: 'mean', better: 'lower', summary: true },
    { name: 'lastWindowRegretHindsight', description: 'per-input regret against the hindsight rule in the last window (after learning)', unit: '', kind: 'mean', better: 'lower', summary: true },
    { name: 'lastWindowRegretOracle', description: 'per-input regret against the oracle in the last window', unit: '', kind: 'mean', better: 'lower' },
    { name: 'lastWindowReward', description: 'mean reward per input in the last window', unit: '', kind: 'mean', better: 'higher' },
    { name: 'oracleReward', description: 'the per-input oracle’s mean reward (the bound)', unit: '', kind: 'mean' },
    { name: 'hindsightReward', description: 'the best per-context rule’s mean reward in hindsight', unit: '', kind: 'mean' },
  ],
  series: [
    { name: 't', description: 'inputs seen at the end of each window', unit: '' },
    { name: 'regretOracle', description: 'per-input regret against the oracle within each window', unit: '' },
    { name: 'regretHindsight', description: 'per-input regret against the hindsight rule within each window', unit: '' },
  ],
  rankBy: 'meanReward',
  // One plot per axis, innermost (β) first, then the regret curves at the middle of every axis.
  plots: (parsed) => [
    ...[...parsed.axes].reverse().map((a) => ({
      kind: 'axis' as const,
      along: a.name,
      title: `Mean reward and per-input regret against the best per-context rule in hindsight along ${a.name}`,
      panels: [
        { metric: 'meanReward', title: 'mean reward', zeroFree: true },
        { metric: 'regretHindsightPerInput', title: 'regret / input (hindsight)', zeroFree: true },
      ],
    })),
    {
      kind: 'series' as const,
      id: 'regret-curves',
      title: 'Cumulative regret R(t) over the stream (R(t)/t → 0 is a learner that stops losing)',
      x: { series: 't', title: 'inputs seen t' },
      yTitle: 'cumulative regret R(t)',
      cumulative: true,
      y: [
        { series: 'regretHindsight', title: 'hindsight rule' },
        { series: 'regretOracle', title: 'oracle' },
      ],
    },
  ],
  bestBaseline: [
    { title: 'whole stream', metric: 'meanReward', gap: 'regretOraclePerInput' },
    { title: 'last window (after learning)', metric: 'lastWindowReward', gap: 'lastWindowRegretOracle' },
  ],
};
