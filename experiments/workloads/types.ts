/**
 * The one interface every workload kind implements (Gymnasium's registry, for early exits): a workload is
 * registered by kind in `experiments/workloads/index.ts`, built from the plain options and axes an experiment
 * part declares, and run one cell at a time into a flat record. The harness core (experiment validation, cell
 * expansion, run directory, summary, report shell) only ever calls these members, so it has no per-kind code:
 * a new kind is one module exporting a `Workload` plus one line in the registry, and a new sweep axis is one edit
 * in its workload's `parse` (and the experiment using it).
 *
 * The data types shared by the core and the workloads (a policy entry, a cell, a record) live here too, so a
 * workload module depends on nothing but this file, `common.ts` and the library.
 */
import type { ModelInfo } from '../../lib/policy.ts';
import type { AnyPolicySpec, RawParams } from '../../lib/registry.ts';
import type { ScoredTrace } from '../../lib/scores.ts';

/** A value on a sweep axis. */
export type AxisValue = number | string;

/** The axis values of one cell (axis name → value), in the workload's axis order. */
export type AxisSet = Readonly<Record<string, AxisValue>>;

/** One policy of a part. */
export interface PolicyDecl {
  /** Label in tables and plots (unique within the part). */
  readonly label: string;
  /**
   * A registry name (`policies/index.ts`), or a `PolicySpec` object: a policy of your own enters an experiment
   * without being registered anywhere. (Workers rebuild cells from the experiment module, so a spec object
   * never has to cross a thread boundary.)
   */
  readonly policy: string | AnyPolicySpec;
  /** Parameters, validated by the policy's spec. */
  readonly params?: RawParams;
  /**
   * For budgeted policies: the budget as a fraction of the way from the first exit's cost (0) to the last's (1).
   * If omitted, the part's budget axis gives it (offline parts: `axes.budgetFraction`).
   */
  readonly budgetFraction?: number;
}

/** What a workload knows of one policy entry of its part, after the core validated it. */
export interface PolicyInfo {
  readonly label: string;
  /** The spec's registry name (a user's spec object: its own `name`). */
  readonly name: string;
  readonly spec: AnyPolicySpec;
  /** `spec.budgeted`: its fit takes a budget. */
  readonly budgeted: boolean;
  /** The entry's own budget fraction, if it declares one. */
  readonly budgetFraction: number | undefined;
  readonly params: RawParams;
}

/** One sweep axis of a parsed part. */
export interface Axis {
  readonly name: string;
  /** Values in declaration order. */
  readonly values: readonly AxisValue[];
  /** Text for plot axes (default: the name), e.g. "λ/μ". */
  readonly title?: string;
  /** Values are categories (strings), drawn as points rather than lines. */
  readonly categorical?: boolean;
}

/** A validated part, as a workload's `parse` returns it. */
export interface ParsedPart<O> {
  /** Validated workload options: plain JSON data, copied into every cell of the part. */
  readonly options: O;
  /**
   * The sweep axes, outermost first: cells are the product of their values in this order, and a cell key lists
   * them in this order.
   */
  readonly axes: readonly Axis[];
}

/** Where in an experiment a workload is validating: errors are `new InputError(source, `${at}.field`, ...)`. */
export interface Where {
  /** `experiment "<id>"`. */
  readonly source: string;
  /** The part's path, e.g. `parts[1]`. */
  readonly at: string;
}

/** A row computed from the trace alone (no policy, no axes, one seed), e.g. the offline oracle. */
export interface ReferenceDecl {
  /** Label in tables; no policy of the part may use it. */
  readonly label: string;
  /** Its `policy` in records, e.g. "oracle". */
  readonly name: string;
}

/** One unit of work: everything needed to run it, and its stable key. Plain data unless `spec` is set. */
export interface Cell {
  /** Stable identifier: part, trace, policy label, axis values and seed. Records are keyed and sorted by it. */
  readonly key: string;
  readonly part: string;
  /** Workload kind (a key of the workload registry). */
  readonly kind: string;
  readonly trace: string;
  readonly label: string;
  /** Registry name of the policy (a user's spec: its `name`), or a reference's name. */
  readonly policy: string;
  /**
   * The spec object when the entry gave one instead of a registry name (a function-bearing object: such cells
   * are rebuilt in workers from the experiment module, never sent).
   */
  readonly spec?: AnyPolicySpec;
  /** True for a reference row (`Workload.references`): no policy runs. */
  readonly reference?: boolean;
  readonly params: RawParams;
  /** Budget fraction for budgeted policies (undefined otherwise). */
  readonly budgetFraction: number | undefined;
  /** Axis values of this cell (only the axes this policy depends on; seed excluded). */
  readonly axes: AxisSet;
  readonly seed: number;
  /** The part's validated workload options (`ParsedPart.options`). */
  readonly options: Readonly<Record<string, unknown>>;
}

/** What a workload's `run` returns: the metrics of one cell. */
export interface CellOutput {
  /** Scalar metrics, each declared in `Workload.metrics` (a record may omit a metric that does not apply). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Share of jobs per exit, length K. */
  readonly exitShares: readonly number[];
  /** Curves (name → values), each declared in `Workload.series`; equal lengths within a record. */
  readonly series?: Readonly<Record<string, readonly number[]>>;
  /**
   * The exit of every test sample, in test order, as `encodeExits` writes it (base64, one byte per sample): with
   * it the report compares two policies sample by sample (paired bootstrap, McNemar). Offline records.
   */
  readonly exits?: string;
}

/** A finished cell: the cell's identity plus its metrics. One line of `cells.jsonl`. */
export interface CellRecord extends CellOutput {
  readonly key: string;
  readonly part: string;
  /** Workload kind that produced it. */
  readonly kind: string;
  /** Manifest path as declared (or given with `--trace`). */
  readonly trace: string;
  /** The trace's model name (`provenance.model` of its manifest). Absent in records written before v2. */
  readonly model?: string;
  readonly label: string;
  readonly policy: string;
  readonly axes: AxisSet;
  readonly seed: number;
  /** Budget handed to fit, ms (budgeted policies), else null. */
  readonly budgetMs: number | null;
}

/** What `run` gets besides the cell: the cell's trace, loaded and scored once per worker, and the policy. */
export interface CellContext {
  /** Validation split (fitting data). */
  readonly validation: ScoredTrace;
  /** Test split (evaluation data). */
  readonly test: ScoredTrace;
  /** The model both splits come from. */
  readonly model: ModelInfo;
  /** The policy's spec (undefined for a reference cell). */
  readonly spec: AnyPolicySpec | undefined;
  /** The budget for fit, ms: `cell.budgetFraction` of the way from the first exit's cost to the last's. */
  readonly budgetMs: number | undefined;
}

/**
 * How a metric aggregates, for the statistics over seeds: `mean` a continuous quantity (ms, reward), `share` a
 * proportion in [0, 1] of jobs or of runs (accuracy, loss ratio, a 0/1 "budget met"), `count` a non-negative
 * integer count.
 */
export type MetricKind = 'mean' | 'share' | 'count';

/** A metric a workload's records carry. */
export interface MetricDecl {
  readonly name: string;
  /** One line: what it measures and on which data. */
  readonly description: string;
  /** Unit, e.g. "ms", "1/s"; "" for dimensionless. */
  readonly unit: string;
  readonly kind: MetricKind;
  /** Whether more is better (for rankings and "better than the baseline"); absent when neither. */
  readonly better?: 'higher' | 'lower';
  /** Shown in the Markdown summary table (every metric is in the CSV). */
  readonly summary?: boolean;
}

/** A curve a workload's records carry (`CellOutput.series`). */
export interface SeriesDecl {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
}

/** One y panel of an axis plot. */
export interface PanelDecl {
  readonly metric: string;
  readonly title: string;
  /** Let the y scale start away from zero. */
  readonly zeroFree?: boolean;
}

/**
 * A declared plot; the report renders it with Vega-Lite, one column per trace. Held axes: every axis other than
 * the one a plot is drawn along is held at its middle value.
 * - `axis`: metrics (one panel each, stacked) against the values of axis `along`, one line per policy;
 * - `tradeoff`: metric `y` against metric `x`, rows that vary with axis `along` as lines ordered by it, the
 *   others as points (accuracy vs cost over budgets);
 * - `series`: curves `y` (one row of panels each) against curve `x`, at the middle of every axis.
 */
export type PlotDecl =
  | { readonly kind: 'axis'; readonly along: string; readonly title: string; readonly panels: readonly PanelDecl[] }
  | { readonly kind: 'tradeoff'; readonly along: string; readonly title: string; readonly x: PanelDecl; readonly y: PanelDecl }
  | {
      readonly kind: 'series';
      readonly id: string;
      readonly title: string;
      readonly x: { readonly series: string; readonly title: string };
      /** One row of panels per curve; `yTitle` labels their common y axis. */
      readonly y: readonly { readonly series: string; readonly title: string }[];
      readonly yTitle: string;
      /**
       * Plot the running sum Σ_{j ≤ i} y_j·(x_j − x_{j−1}) instead of y: per-window means (regret per input within
       * each window) become the cumulative curve (total regret after x inputs).
       */
      readonly cumulative?: boolean;
    };

/**
 * A table against the best baseline in each cell (trace × axis values): for each non-baseline policy, metric
 * `metric` relative to the best baseline's, (R − R_best)/|R_best|, and the share of the best baseline's `gap`
 * (a regret, lower is better) the policy closes, (G_best − G)/G_best. The best baseline is chosen per cell on
 * `metric` (higher is better).
 */
export interface BestBaselineDecl {
  /** Heading of the table. */
  readonly title: string;
  readonly metric: string;
  readonly gap: string;
}

/**
 * A workload kind. `D` is the declared `part.workload` (with its literal `kind`), `A` the declared `part.axes`
 * (include `undefined` when a part may omit them), `O` the validated options stored in cells.
 */
export interface Workload<D extends { readonly kind: string }, A, O extends Readonly<Record<string, unknown>>> {
  readonly kind: D['kind'];
  /** One line for `exitlab list` and the README. */
  readonly description: string;
  /**
   * Validate `part.workload` and `part.axes` (plain data: the report calls it again on `config.json`). Throws
   * `InputError` naming the field and the bad element, e.g. `parts[1].axes.lambdaOverMu[2]`.
   */
  parse(workload: D, axes: A, where: Where): ParsedPart<O>;
  /** What this workload requires of the part's policies (e.g. a budget for every budgeted one); throws `InputError`. */
  checkPolicies?(parsed: ParsedPart<O>, policies: readonly PolicyInfo[], where: Where): void;
  /** Whether a policy's cells vary along an axis (a non-budgeted policy does not vary with the budget axis). */
  dependsOn(axis: string, policy: PolicyInfo): boolean;
  /** The budget fraction a policy's cell at `axes` fits with (undefined: no budget). */
  budgetFraction(policy: PolicyInfo, axes: AxisSet): number | undefined;
  /** Rows every trace gets without a policy (the offline oracle). */
  readonly references?: readonly ReferenceDecl[];
  /** Keys of an experiment's `quick` this workload reads, e.g. `jobs`. */
  readonly quickKeys: readonly string[];
  /**
   * The part's workload declaration under `--quick`: `quick` is the experiment's `quick` object (this workload
   * reads only its `quickKeys`). Also called at validation, so a bad quick value fails before any run.
   */
  quick(workload: D, quick: Readonly<Record<string, unknown>>, where: { readonly source: string }): D;
  /** Run one cell into its metrics. Must depend only on the cell (its seed included). */
  run(cell: Cell, ctx: CellContext): Promise<CellOutput>;
  /** Every metric a record may carry. */
  readonly metrics: readonly MetricDecl[];
  /** Every curve a record may carry. */
  readonly series?: readonly SeriesDecl[];
  /** Metric policies are ranked by and compared with baselines on (higher is better). */
  readonly rankBy: string;
  /** Plots of a part (exit shares are added by the report for every part). */
  plots(parsed: ParsedPart<O>): readonly PlotDecl[];
  /** Tables against the best baseline, drawn when the part declares baselines. */
  readonly bestBaseline?: readonly BestBaselineDecl[];
}

/** A workload with its type parameters erased, for the registry. */
export type AnyWorkload = Workload<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Fields every part declares, whatever its workload. */
export interface PartBase {
  /** Lower-case identifier, unique among the parts. */
  readonly name: string;
  readonly policies: readonly PolicyDecl[];
  /** Labels the report compares every other policy against. */
  readonly baselines?: readonly string[];
  /**
   * Further named sets of baselines for the tables against the best baseline (`Workload.bestBaseline`), e.g.
   * `{ 'online only': ['LEE-UCB', 'ε-greedy'] }` beside the full `baselines`.
   */
  readonly baselineGroups?: Readonly<Record<string, readonly string[]>>;
}

/** The declaration of a part of workload `W` (its `workload` and `axes` typed by the workload). */
export type PartDeclOf<W> =
  W extends Workload<infer D, infer A, infer _O> ? PartBase & { readonly workload: D } & (undefined extends A ? { readonly axes?: A } : { readonly axes: A }) : never;
