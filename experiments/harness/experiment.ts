/**
 * Experiments as typed data. An experiment module (`experiments/<id>.ts`) default-exports
 * `defineExperiment({...})`: the traces, the seeds, and one or more parts, each a workload (offline, or a queue
 * with arrivals) with its policies and sweep axes. The harness expands it into cells — trace × axis values ×
 * policy × seed — each run independently and recorded as one JSON line, so a sweep can be resumed, sharded over a
 * cluster and merged, and gives the same records whatever the number of workers.
 *
 * Everything here is plain data, validated on load with an error naming the bad field.
 */
import { InputError, describe } from '../../lib/errors.ts';
import { getPolicySpec } from '../../policies/index.ts';

/** One policy of a part. */
export interface PolicyDecl {
  /** Label in tables and plots (unique within the part). */
  readonly label: string;
  /** Registry name (`policies/index.ts`). */
  readonly policy: string;
  /** Parameters, validated by the policy's spec. */
  readonly params?: Readonly<Record<string, unknown>>;
  /**
   * For budgeted policies: the budget as a fraction of the way from the first exit's cost (0) to the last's (1).
   * If omitted, the part's `budgetFraction` axis gives it.
   */
  readonly budgetFraction?: number;
}

/** Sweep axes of an offline part. */
export interface OfflineAxes {
  /** Budgets for budgeted policies, as fractions in [0, 1] between the first and last exit's cost. */
  readonly budgetFraction?: readonly number[];
}

/** Sweep axes of a queue part. */
export interface QueueAxes {
  /** Arrival rate as a multiple of the full network's service rate μ = 1 / cost of the last exit. */
  readonly lambdaOverMu: readonly number[];
  /** Buffer places B. */
  readonly bufferSize: readonly number[];
  /** Arrival process: Poisson, or bursty (two-state MMPP, 5× peaks 20% of the time, same mean). */
  readonly arrivals: readonly ('poisson' | 'bursty')[];
}

/** Sweep axes of an online part. */
export interface OnlineAxes {
  /** β: reward r_m = c_m − β · L_m (L_m = cumulative cost to m over the last exit's). */
  readonly beta: readonly number[];
  /**
   * Streams over the fixture: `stationary` (test split, repeated permutations), `switch-split` (validation split,
   * then test split from the middle on), `switch-mix` (test split, first half only the first ⌈C/2⌉ classes, then
   * only the others).
   */
  readonly stream: readonly ('stationary' | 'switch-split' | 'switch-mix')[];
}

/** A part: one workload, its policies and axes. */
export type PartDecl =
  | {
      readonly name: string;
      readonly workload: { readonly kind: 'offline' };
      readonly policies: readonly PolicyDecl[];
      readonly axes?: OfflineAxes;
      /** Labels the report compares every other policy against. */
      readonly baselines?: readonly string[];
    }
  | {
      readonly name: string;
      /** `jobs`: arrivals simulated per cell. */
      readonly workload: { readonly kind: 'queue'; readonly jobs: number };
      readonly policies: readonly PolicyDecl[];
      readonly axes: QueueAxes;
      /** Labels the report compares every other policy against. */
      readonly baselines?: readonly string[];
    }
  | {
      readonly name: string;
      /**
       * `inputs`: stream length T; `score`: the reward's confidence c (default maxprob); `windows`: points of the
       * regret curves (default 20). Policies whose parameters include `beta` get the cell's β and `score`.
       */
      readonly workload: { readonly kind: 'online'; readonly inputs: number; readonly score?: string; readonly windows?: number };
      readonly policies: readonly PolicyDecl[];
      readonly axes: OnlineAxes;
      /** Labels the report compares every other policy against. */
      readonly baselines?: readonly string[];
    };

/** What `--quick` changes: fewer seeds, shorter axes, fewer jobs. */
export interface QuickOverrides {
  readonly seeds?: readonly number[];
  /** Per part name: replacement axes (only the keys given are replaced). */
  readonly axes?: Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;
  /** Queue jobs per cell. */
  readonly jobs?: number;
  /** Online stream length. */
  readonly inputs?: number;
}

/** A declared experiment. */
export interface ExperimentDecl {
  /** Identifier: the module's file name without `.ts`. */
  readonly id: string;
  readonly description: string;
  /** Trace manifests, relative to the repository root (the working directory of the CLI). */
  readonly traces: readonly string[];
  /** Seeds: every cell runs once per seed. */
  readonly seeds: readonly number[];
  readonly parts: readonly PartDecl[];
  readonly quick?: QuickOverrides;
}

/** One unit of work: everything needed to run it, and its stable key. */
export interface Cell {
  /** Stable identifier: part, trace, policy label, axis values and seed. Records are keyed and sorted by it. */
  readonly key: string;
  readonly part: string;
  readonly kind: 'offline' | 'queue' | 'online';
  readonly trace: string;
  readonly label: string;
  readonly policy: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Budget fraction for budgeted policies (undefined otherwise). */
  readonly budgetFraction: number | undefined;
  /** Axis values of this cell (excluding seed). */
  readonly axes: Readonly<Record<string, number | string>>;
  readonly seed: number;
  /** Queue jobs per cell (queue parts), or stream length (online parts). */
  readonly jobs: number | undefined;
  /** Online parts: the reward's score and the number of curve windows. */
  readonly online?: { readonly score: string; readonly windows: number };
}

const SRC = (id: string) => `experiment "${id}"`;

function nonEmptyArray(id: string, field: string, v: unknown, each: (x: unknown) => boolean, form: string): void {
  if (!Array.isArray(v) || v.length === 0 || !v.every(each)) throw new InputError(SRC(id), field, `a non-empty array of ${form}`, describe(v));
}

const isFraction = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;
const isPositive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

/**
 * Validate an experiment declaration (throws `InputError` naming the field) and return it unchanged.
 * Policy names and parameters are checked against the registry here, before any cell runs.
 */
export function defineExperiment(decl: ExperimentDecl): ExperimentDecl {
  if (typeof decl !== 'object' || decl === null) throw new InputError('experiment', '(root)', 'an object', describe(decl));
  const id = decl.id;
  if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new InputError('experiment', 'id', 'a lower-case identifier like "queue-sweep"', describe(id));
  if (typeof decl.description !== 'string') throw new InputError(SRC(id), 'description', 'a string', describe(decl.description));
  nonEmptyArray(id, 'traces', decl.traces, (x) => typeof x === 'string' && x.endsWith('.json'), 'manifest paths (.json)');
  nonEmptyArray(id, 'seeds', decl.seeds, (x) => Number.isSafeInteger(x), 'integer seeds');
  if (new Set(decl.seeds).size !== decl.seeds.length) throw new InputError(SRC(id), 'seeds', 'distinct seeds', `[${decl.seeds.join(', ')}]`);
  nonEmptyArray(id, 'parts', decl.parts, (x) => typeof x === 'object' && x !== null, 'parts');
  const partNames = new Set<string>();
  decl.parts.forEach((part, i) => {
    const at = `parts[${i}]`;
    if (typeof part.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(part.name)) throw new InputError(SRC(id), `${at}.name`, 'a lower-case identifier', describe(part.name));
    if (partNames.has(part.name)) throw new InputError(SRC(id), `${at}.name`, 'a name unique among the parts', JSON.stringify(part.name));
    partNames.add(part.name);
    const kind = (part.workload as { kind?: unknown })?.kind;
    if (kind !== 'offline' && kind !== 'queue' && kind !== 'online') throw new InputError(SRC(id), `${at}.workload.kind`, '"offline", "queue" or "online"', describe(kind));
    nonEmptyArray(id, `${at}.policies`, part.policies, (x) => typeof x === 'object' && x !== null, 'policy declarations');
    const labels = new Set<string>();
    let needsBudgetAxis = false;
    part.policies.forEach((p, j) => {
      const pat = `${at}.policies[${j}]`;
      if (typeof p.label !== 'string' || p.label.length === 0) throw new InputError(SRC(id), `${pat}.label`, 'a non-empty string', describe(p.label));
      if (labels.has(p.label)) throw new InputError(SRC(id), `${pat}.label`, 'a label unique within the part', JSON.stringify(p.label));
      labels.add(p.label);
      let spec;
      try {
        spec = getPolicySpec(p.policy);
      } catch (err) {
        throw new InputError(SRC(id), `${pat}.policy`, (err as InputError).expected ?? 'a registered policy', describe(p.policy));
      }
      try {
        spec.parse(p.params ?? {});
      } catch (err) {
        throw new InputError(SRC(id), `${pat}.params`, `parameters valid for "${p.policy}" (${(err as Error).message})`);
      }
      if (p.budgetFraction !== undefined && !isFraction(p.budgetFraction)) throw new InputError(SRC(id), `${pat}.budgetFraction`, 'a fraction in [0, 1]', describe(p.budgetFraction));
      if (spec.budgeted && p.budgetFraction === undefined) needsBudgetAxis = true;
    });
    if (part.baselines !== undefined) {
      nonEmptyArray(id, `${at}.baselines`, part.baselines, (x) => typeof x === 'string' && labels.has(x), `labels of this part's policies (${[...labels].join(', ')})`);
    }
    if (labels.has('oracle') && kind === 'offline') throw new InputError(SRC(id), `${at}.policies`, 'no label "oracle" (offline parts add the oracle themselves)', '"oracle"');
    if (kind === 'offline') {
      const axes = (part.axes ?? {}) as OfflineAxes;
      for (const key of Object.keys(axes)) if (key !== 'budgetFraction') throw new InputError(SRC(id), `${at}.axes.${key}`, 'only budgetFraction for an offline part', 'an unknown axis');
      if (axes.budgetFraction !== undefined) nonEmptyArray(id, `${at}.axes.budgetFraction`, axes.budgetFraction, isFraction, 'fractions in [0, 1]');
      if (needsBudgetAxis && axes.budgetFraction === undefined) {
        throw new InputError(SRC(id), `${at}.axes.budgetFraction`, 'budgets for the budgeted policies without a budgetFraction of their own', 'none');
      }
    } else if (kind === 'online') {
      const w = part.workload as { inputs?: unknown; score?: unknown; windows?: unknown };
      if (!Number.isSafeInteger(w.inputs) || (w.inputs as number) < 1) throw new InputError(SRC(id), `${at}.workload.inputs`, 'an integer ≥ 1 (stream length)', describe(w.inputs));
      if (w.score !== undefined && typeof w.score !== 'string') throw new InputError(SRC(id), `${at}.workload.score`, 'a score name', describe(w.score));
      if (w.windows !== undefined && (!Number.isSafeInteger(w.windows) || (w.windows as number) < 1)) throw new InputError(SRC(id), `${at}.workload.windows`, 'an integer ≥ 1', describe(w.windows));
      const axes = part.axes as OnlineAxes | undefined;
      if (!axes) throw new InputError(SRC(id), `${at}.axes`, 'beta and stream', 'none');
      for (const key of Object.keys(axes)) if (key !== 'beta' && key !== 'stream') throw new InputError(SRC(id), `${at}.axes.${key}`, 'one of beta, stream', 'an unknown axis');
      nonEmptyArray(id, `${at}.axes.beta`, axes.beta, (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0, 'β values ≥ 0');
      nonEmptyArray(id, `${at}.axes.stream`, axes.stream, (x) => x === 'stationary' || x === 'switch-split' || x === 'switch-mix', '"stationary", "switch-split" or "switch-mix"');
    } else {
      const w = part.workload as { jobs?: unknown };
      if (!Number.isSafeInteger(w.jobs) || (w.jobs as number) < 1) throw new InputError(SRC(id), `${at}.workload.jobs`, 'an integer ≥ 1 (arrivals per cell)', describe(w.jobs));
      const axes = part.axes as QueueAxes | undefined;
      if (!axes) throw new InputError(SRC(id), `${at}.axes`, 'lambdaOverMu, bufferSize and arrivals', 'none');
      for (const key of Object.keys(axes)) {
        if (!['lambdaOverMu', 'bufferSize', 'arrivals'].includes(key)) throw new InputError(SRC(id), `${at}.axes.${key}`, 'one of lambdaOverMu, bufferSize, arrivals', 'an unknown axis');
      }
      nonEmptyArray(id, `${at}.axes.lambdaOverMu`, axes.lambdaOverMu, isPositive, 'positive multiples of μ');
      nonEmptyArray(id, `${at}.axes.bufferSize`, axes.bufferSize, (x) => Number.isSafeInteger(x) && (x as number) >= 0, 'integer buffer sizes ≥ 0');
      nonEmptyArray(id, `${at}.axes.arrivals`, axes.arrivals, (x) => x === 'poisson' || x === 'bursty', '"poisson" or "bursty"');
      if (needsBudgetAxis) throw new InputError(SRC(id), `${at}.policies`, 'a budgetFraction on every budgeted policy of a queue part', 'a budgeted policy without one');
    }
  });
  if (decl.quick !== undefined) {
    if (decl.quick.seeds !== undefined) nonEmptyArray(id, 'quick.seeds', decl.quick.seeds, (x) => Number.isSafeInteger(x), 'integer seeds');
    if (decl.quick.jobs !== undefined && (!Number.isSafeInteger(decl.quick.jobs) || decl.quick.jobs < 1)) throw new InputError(SRC(id), 'quick.jobs', 'an integer ≥ 1', describe(decl.quick.jobs));
    for (const name of Object.keys(decl.quick.axes ?? {})) if (!partNames.has(name)) throw new InputError(SRC(id), `quick.axes.${name}`, `a part name (${[...partNames].join(', ')})`, 'an unknown part');
  }
  return decl;
}

/**
 * The declaration as run: quick overrides, a seed override and a trace override (`--trace`: run the experiment on
 * other models' manifests) applied, validated again.
 */
export function resolveExperiment(decl: ExperimentDecl, opts: { quick?: boolean; seeds?: readonly number[]; traces?: readonly string[] } = {}): ExperimentDecl {
  let d: ExperimentDecl = decl;
  if (opts.quick && decl.quick) {
    const q = decl.quick;
    d = {
      ...d,
      seeds: q.seeds ?? d.seeds,
      parts: d.parts.map((p): PartDecl => {
        const axes = { ...(p.axes ?? {}), ...(q.axes?.[p.name] ?? {}) };
        const baselines = p.baselines ? { baselines: p.baselines } : {};
        if (p.workload.kind === 'queue') return { name: p.name, policies: p.policies, axes: axes as unknown as QueueAxes, workload: { kind: 'queue', jobs: q.jobs ?? p.workload.jobs }, ...baselines };
        if (p.workload.kind === 'online') return { name: p.name, policies: p.policies, axes: axes as unknown as OnlineAxes, workload: { ...p.workload, inputs: q.inputs ?? p.workload.inputs }, ...baselines };
        return { name: p.name, policies: p.policies, workload: p.workload, axes: axes as OfflineAxes, ...baselines };
      }),
    };
  }
  if (opts.seeds) d = { ...d, seeds: opts.seeds };
  if (opts.traces) d = { ...d, traces: opts.traces };
  const { quick: _quick, ...rest } = d;
  return defineExperiment(rest);
}

/** Every cell of a resolved experiment, in a fixed order (parts, traces, axes, policies, seeds). */
export function expandCells(decl: ExperimentDecl): Cell[] {
  const cells: Cell[] = [];
  for (const part of decl.parts) {
    for (const trace of decl.traces) {
      const axisSets: Record<string, number | string>[] = [];
      if (part.workload.kind === 'offline') {
        const fr = (part.axes as OfflineAxes | undefined)?.budgetFraction;
        axisSets.push(...(fr ? fr.map((f): Record<string, number> => ({ budgetFraction: f })) : [{}]));
      } else if (part.workload.kind === 'online') {
        const a = part.axes as OnlineAxes;
        for (const stream of a.stream) for (const beta of a.beta) axisSets.push({ stream, beta });
      } else {
        const a = part.axes as QueueAxes;
        for (const arrivals of a.arrivals) for (const bufferSize of a.bufferSize) for (const lambdaOverMu of a.lambdaOverMu) axisSets.push({ arrivals, bufferSize, lambdaOverMu });
      }
      if (part.workload.kind === 'offline') {
        // The oracle (cheapest correct exit) bounds every policy; it reads labels, so it is a reference, not a
        // registered policy, and it depends on nothing but the trace.
        cells.push({ key: `${part.name}|${trace}|oracle||seed=${decl.seeds[0]}`, part: part.name, kind: 'offline', trace, label: 'oracle', policy: 'oracle', params: {}, budgetFraction: undefined, axes: {}, seed: decl.seeds[0], jobs: undefined });
      }
      for (const axes of axisSets) {
        for (const p of part.policies) {
          const budgeted = getPolicySpec(p.policy).budgeted;
          // A non-budgeted policy, or a budgeted one with a budget of its own, does not depend on the budget axis:
          // run it once, not once per budget.
          const onAxis = budgeted && p.budgetFraction === undefined;
          if (part.workload.kind === 'offline' && !onAxis && 'budgetFraction' in axes && axes !== axisSets[0]) continue;
          const cellAxes = part.workload.kind === 'offline' && !onAxis ? {} : axes;
          const budgetFraction = budgeted ? (p.budgetFraction ?? (axes.budgetFraction as number)) : undefined;
          for (const seed of decl.seeds) {
            const axisKey = Object.entries(cellAxes)
              .map(([k, v]) => `${k}=${v}`)
              .join(',');
            cells.push({
              key: `${part.name}|${trace}|${p.label}|${axisKey}|seed=${seed}`,
              part: part.name,
              kind: part.workload.kind,
              trace,
              label: p.label,
              policy: p.policy,
              params: p.params ?? {},
              budgetFraction,
              axes: cellAxes,
              seed,
              jobs: part.workload.kind === 'queue' ? part.workload.jobs : part.workload.kind === 'online' ? part.workload.inputs : undefined,
              ...(part.workload.kind === 'online' ? { online: { score: part.workload.score ?? 'maxprob', windows: part.workload.windows ?? 20 } } : {}),
            });
          }
        }
      }
    }
  }
  return cells;
}

/** Parse "--shard i/n" (0-based i < n). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new InputError('--shard', 'shard', '"i/n" with 0 ≤ i < n, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)', JSON.stringify(text));
  return { index, count };
}
