/**
 * Reports read records and never run a policy: summary tables (point estimate and 95% interval: over test
 * samples and seeds where records carry per-sample exits, else over seeds; see ./statistics.ts) as CSV and
 * Markdown, paired tests against the baselines with Holm's correction, budget-curve summaries, a per-exit table of
 * every model, a short terminal headline, and a self-contained HTML page whose plots are SVG rendered by Vega
 * (Vega-Lite specs, Vega's headless `View.toSVG`, no browser or canvas needed), each also written on its own under
 * `figures/`. What a part's table shows, what it is ranked by and which plots it gets are declared by its workload
 * (`Workload.metrics`, `rankBy`, `plots`, `bestBaseline`); this file only renders those declarations, plus one
 * exit-share chart per part.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite, loadTrace } from '../../lib/io.ts';
import { textTable } from '../../lib/report.ts';
import { scoreTrace } from '../../lib/scores.ts';
import { tInterval, type CurvePoint } from '../../lib/stats.ts';
import { getWorkload } from '../workloads/index.ts';
import { figureStem, policyEncoding, policyStyles, writeFigure, type PolicyStyles } from './figures.ts';
import {
  ALPHA,
  RESAMPLES,
  compareRows as compareWithBaseline,
  curveSummary,
  decide,
  fromBatches,
  fromEstimate,
  overSeeds,
  perExitRows,
  traceEstimates,
  type Comparison,
  type CurveSummary,
  type RowEstimates,
  type StatGroup,
  type SummaryStat,
  type TestSplit,
} from './statistics.ts';
import type { AxisValue, BestBaselineDecl, CellRecord, ParsedPart, PlotDecl } from '../workloads/types.ts';
import type { AnyWorkload } from '../workloads/types.ts';
import { parsePart, type ExperimentDecl, type PartDecl } from './experiment.ts';
import { duplicateError, readConfig, readRun, type FailedCell } from './rundir.ts';

export { mergeRuns, type MergeOptions } from './merge.ts';
export { readConfig } from './rundir.ts';

/** A summary value: point estimate, 95% interval and its method (see ./statistics.ts). */
export type Stat = SummaryStat;

/** One summary row: a cell without its seed. */
export interface SummaryRow {
  readonly part: string;
  readonly trace: string;
  readonly label: string;
  /** The trace's model name (absent for records written before v2). */
  readonly model: string | undefined;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly budgetMs: number | null;
  /** Seeds (records) the row pools. */
  readonly seeds: number;
  readonly metrics: Readonly<Record<string, Stat>>;
  /** Per-seed values of each metric, in seed order (for tests over seeds). */
  readonly values: Readonly<Record<string, readonly number[]>>;
  /** Mean exit shares over seeds. */
  readonly exitShares: readonly number[];
  /** Mean curves over seeds (online parts). */
  readonly series: Readonly<Record<string, readonly number[]>>;
  /** Per-seed curves: name → [seed][point]. */
  readonly seriesBySeed: Readonly<Record<string, readonly (readonly number[])[]>>;
  /** Sample-level bootstrap estimates, when every record of the row carries per-sample exits. */
  readonly samples: RowEstimates | undefined;
}

/** Mean and 95% t-interval over seeds of finite values (nulls and NaN skipped). */
export function stat(values: readonly (number | null)[]): Stat {
  return overSeeds(values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
}

const groupKey = (r: CellRecord) => r.key.replace(/\|seed=-?\d+$/, '');

/** Order of summary rows: part, trace, policy label, then each axis value, numbers numerically (1 < 1.2 < 10). */
function compareRows(a: SummaryRow, b: SummaryRow): number {
  const text = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const c = text(a.part, b.part) || text(a.trace, b.trace) || text(a.label, b.label);
  if (c !== 0) return c;
  for (const k of Object.keys(a.axes)) {
    const x = a.axes[k];
    const y = b.axes[k];
    const d = typeof x === 'number' && typeof y === 'number' ? x - y : text(String(x), String(y));
    if (d !== 0) return d;
  }
  return 0;
}

/** Where `summarize` finds the test split of a trace (undefined: not available, intervals over seeds only). */
export type SplitSource = (trace: string) => TestSplit | undefined;

/** The test split of a manifest, read from disk once per path (undefined if it cannot be read). */
export function diskSplits(): SplitSource {
  const cache = new Map<string, TestSplit | undefined>();
  return (trace) => {
    const abs = resolve(trace);
    if (!cache.has(abs)) {
      let split: TestSplit | undefined;
      try {
        const t = scoreTrace(loadTrace(abs, 'test'));
        split = { nSamples: t.trace.nSamples, costMs: t.trace.costMs, correct: t.scores.correct, flops: t.trace.flops };
      } catch {
        split = undefined;
      }
      cache.set(abs, split);
    }
    return cache.get(abs);
  };
}

/** The series holding a metric's batch means inside one run (queue records): `lossRatio` → `batchLossRatio`. */
const batchSeries = (metric: string) => `batch${metric[0].toUpperCase()}${metric.slice(1)}`;

/** Comparison values of a row on a metric: its per-seed values, or with one seed its batch means if recorded. */
function comparisonValues(row: SummaryRow, metric: string): { values: readonly number[]; batches: boolean } {
  const b = row.seeds === 1 ? row.seriesBySeed[batchSeries(metric)]?.[0] : undefined;
  return b && b.length >= 2 ? { values: b, batches: true } : { values: row.values[metric] ?? [], batches: false };
}

/** Whether a metric is a share in [0, 1] (its interval is clipped to [0, 1]). */
function isShare(kind: string, metric: string): boolean {
  try {
    return getWorkload(kind).metrics.find((m) => m.name === metric)?.kind === 'share';
  } catch {
    return false;
  }
}

/**
 * Group records over seeds, in a fixed order (so the summary does not depend on completion order), with the
 * intervals of ./statistics.ts: rows whose records carry per-sample exits get sample-level bootstrap estimates
 * (one resample draw per part and trace, shared by its rows) when `splits` finds the trace's test split.
 */
export function summarize(records: readonly CellRecord[], splits: SplitSource = () => undefined): SummaryRow[] {
  const groups = new Map<string, CellRecord[]>();
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // A key twice would be counted as two seeds (seeds = 2, ci = 0 for a one-seed run written by two runs at once).
  sorted.forEach((r, i) => {
    if (i > 0 && sorted[i - 1].key === r.key) throw new InputError('summary', 'records', 'one record per cell key', `key ${JSON.stringify(r.key)} twice`);
  });
  for (const r of sorted) {
    const k = groupKey(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const list = [...groups.values()];
  // Sample-level estimates, per (part, trace).
  const samples = new Map<CellRecord[], RowEstimates | undefined>();
  const byPartTrace = new Map<string, CellRecord[][]>();
  for (const g of list) {
    if (!g.every((r) => typeof r.exits === 'string')) continue;
    const k = `${g[0].part}\u0000${g[0].trace}`;
    byPartTrace.set(k, [...(byPartTrace.get(k) ?? []), g]);
  }
  for (const gs of byPartTrace.values()) {
    const split = splits(gs[0][0].trace);
    if (!split) continue;
    const { rows } = traceEstimates(gs[0][0].trace, gs.map((records): StatGroup => ({ records })), split);
    gs.forEach((g, i) => samples.set(g, rows[i]));
  }
  const rows = list.map((g): SummaryRow => {
    const names = [...new Set(g.flatMap((r) => Object.keys(r.metrics)))];
    const K = g[0].exitShares.length;
    const est = samples.get(g);
    if (est) for (const m of Object.keys(est.estimates)) if (!names.includes(m)) names.push(m);
    const values = Object.fromEntries(names.map((m) => [m, g.map((r) => r.metrics[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))]));
    const metrics = Object.fromEntries(
      names.map((m) => {
        const e = est?.estimates[m];
        if (e) return [m, fromEstimate(e, g.length, est!.correct === undefined)];
        const batches = g.length === 1 ? g[0].series?.[batchSeries(m)] : undefined;
        const st = batches && batches.length >= 2 && values[m].length === 1 ? fromBatches(values[m][0], batches) : overSeeds(values[m]);
        return [m, isShare(g[0].kind, m) ? { ...st, lo: Math.max(0, st.lo), hi: Math.min(1, st.hi) } : st];
      }),
    );
    const seriesNames = Object.keys(g[0].series ?? {});
    return {
      part: g[0].part,
      trace: g[0].trace,
      label: g[0].label,
      model: g[0].model,
      axes: g[0].axes,
      budgetMs: g[0].budgetMs,
      seeds: g.length,
      metrics,
      values,
      exitShares: Array.from({ length: K }, (_, k) => g.reduce((a, r) => a + r.exitShares[k], 0) / g.length),
      series: Object.fromEntries(seriesNames.map((name) => [name, g[0].series![name].map((_, i) => g.reduce((a, r) => a + (r.series?.[name]?.[i] ?? NaN), 0) / g.length)])),
      seriesBySeed: Object.fromEntries(seriesNames.map((name) => [name, g.map((r) => r.series?.[name] ?? [])])),
      samples: est,
    };
  });
  return rows.sort(compareRows);
}

/** A part of a run's configuration with its workload and parsed axes. */
interface ReportPart {
  readonly decl: PartDecl;
  readonly workload: AnyWorkload;
  readonly parsed: ParsedPart<Readonly<Record<string, unknown>>>;
}

function reportParts(decl: ExperimentDecl): ReportPart[] {
  return decl.parts.map((p, i) => ({ decl: p, ...parsePart(decl.id, p, i) }));
}

/** Manifest path without the fixture folder and file name (`fixtures/x/manifest.json` → `x`). */
const traceName = (path: string) => path.replace(/^.*fixtures\//, '').replace(/\/manifest\.json$/, '');

/**
 * How tables and plots name each trace: its model name when the run's traces have distinct model names (the
 * model is what was run), else the shortened manifest path.
 */
function traceLabels(rows: readonly { trace: string; model?: string | undefined }[]): (path: string) => string {
  const model = new Map<string, string>();
  for (const r of rows) if (r.model !== undefined) model.set(r.trace, r.model);
  const names = [...model.values()];
  const distinct = new Set(names).size === names.length;
  return (path) => (distinct && model.has(path) ? model.get(path)! : traceName(path));
}

/** Digits for a value: 4 decimals below 10, else 2 (ms and rates), plain integers for counts ≥ 1000. */
function num(x: number): string {
  if (!Number.isFinite(x)) return x === Infinity ? '∞' : x === -Infinity ? '−∞' : '–';
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 10 ? x.toFixed(2) : x.toFixed(4);
}

/** `mean [lo, hi]`, or the mean alone when there is no interval (one seed without per-sample data). */
const fmt = (s: Stat | undefined) => (!s || Number.isNaN(s.mean) ? '–' : Number.isNaN(s.lo) ? num(s.mean) : `${num(s.mean)} [${num(s.lo)}, ${num(s.hi)}]`);

/** What was run: each trace's model name and manifest path. */
function tracesLine(traces: readonly string[], rows: readonly { trace: string; model?: string | undefined }[]): string {
  const model = new Map(rows.filter((r) => r.model !== undefined).map((r) => [r.trace, r.model!]));
  return traces.map((t) => (model.has(t) ? `${model.get(t)} (${t})` : t)).join(', ');
}

/** How the intervals of a run were computed, in one paragraph. */
function methodsNote(decl: ExperimentDecl): string {
  const seeds = decl.seeds.length;
  return (
    `Values are point estimates with 95% intervals [lo, hi]. Rows whose records carry every test sample's exit get a seeded paired ` +
    `bootstrap over test samples (${RESAMPLES} resamples, the same resample indices for every policy of a trace), two-level with the seeds ` +
    `for stochastic policies (resampled seeds within each replicate; docs/statistics.md); other rows get a Student-t interval over seeds, or with one seed the batch means inside the run where its records have them (20 batches after a 10% warm-up) ` +
    `(shares clipped to [0, 1]; Wilson for a binary per-run metric).` +
    (seeds === 1 ? ` **One seed:** no interval over seeds; only sample-level (bootstrap) and within-run (batch means) intervals are given, and rows with neither show the value alone.` : ` ${seeds} seeds.`) +
    ` \`budgetFraction\` f means the budget B = c₀ + f·(c_{K−1} − c₀) ms between the first and the last exit's cost (column \`budget ms\`).\n`
  );
}

/** The per-exit table of every model: accuracy of each exit on each split (Wilson 95%), cumulative cost and FLOPs. */
export function exitTable(traces: readonly string[]): string {
  const body: (string | number)[][] = [];
  for (const t of traces) {
    for (const split of ['validation', 'test']) {
      let rows;
      try {
        const s = scoreTrace(loadTrace(resolve(t), split));
        rows = perExitRows(split, s.scores.correct, s.trace.costMs, s.trace.flops);
        for (const r of rows) body.push([s.trace.provenance.model, split, s.trace.nSamples, r.exit, fmt(r.accuracy), r.costMs.toFixed(4), r.flops === undefined ? '–' : String(r.flops)]);
      } catch {
        body.push([t, split, '–', '–', 'not readable', '–', '–']);
      }
    }
  }
  return `## Models: every exit\n\nAccuracy of each exit when every sample leaves there (Wilson 95% over the split's samples), cumulative cost (ms) and FLOPs through it.\n\n\`\`\`\n${textTable(['model', 'split', 'N', 'exit', 'accuracy [95%]', 'cost ms', 'FLOPs'], body)}\n\`\`\`\n`;
}

/** Everything a summary adds to its tables: comparisons and curves per part (computed once for Markdown and headline). */
export interface PartAnalysis {
  readonly part: ReportPart;
  readonly rows: readonly SummaryRow[];
  readonly comparisons: readonly (Comparison & { row: SummaryRow; baseline: SummaryRow })[];
  /** Per trace, the budget-curve summary (offline parts with a budget axis and per-sample exits). */
  readonly curves: ReadonlyMap<string, CurveSummary>;
}

/** Whether two rows sit at the same setting: equal on every axis both have. */
const sameSetting = (a: SummaryRow, b: SummaryRow) => a.trace === b.trace && Object.keys(a.axes).every((k) => !(k in b.axes) || a.axes[k] === b.axes[k]);

/** Comparisons with the baselines on the rank metric (Holm over the part) and budget curves. */
export function analysePart(part: ReportPart, all: readonly SummaryRow[]): PartAnalysis {
  const rows = all.filter((r) => r.part === part.decl.name);
  const metric = part.workload.rankBy;
  const better = part.workload.metrics.find((m: { name: string }) => m.name === metric)?.better ?? 'higher';
  const baselines = part.decl.baselines ?? [];
  const refs = new Set((part.workload.references ?? []).map((r: { label: string }) => r.label));
  const comparisons: (Comparison & { row: SummaryRow; baseline: SummaryRow })[] = [];
  for (const row of rows) {
    if (baselines.includes(row.label) || refs.has(row.label)) continue;
    for (const b of baselines) {
      // A baseline that varies along an axis the row does not (a budgeted baseline against a policy without a
      // budget) is not compared: that would set one fixed point against every budget and swell the Holm family.
      for (const base of rows.filter((x) => x.label === b && sameSetting(row, x) && Object.keys(x.axes).every((k) => k in row.axes))) {
        const c = compareWithBaseline(metric, { est: row.samples, ...comparisonValues(row, metric) }, { est: base.samples, ...comparisonValues(base, metric) });
        comparisons.push({ ...c, adjusted: NaN, verdict: 'tie', row, baseline: base });
      }
    }
  }
  decide(comparisons, better === 'lower' ? 'lower' : 'higher');
  const curves = new Map<string, CurveSummary>();
  const budgetAxis = part.parsed.axes.find((a) => a.name === 'budgetFraction');
  if (budgetAxis) {
    for (const trace of [...new Set(rows.map((r) => r.trace))]) {
      const sel = rows.filter((r) => r.trace === trace && r.samples && 'budgetFraction' in r.axes);
      const full = rows.find((r) => r.trace === trace && r.samples);
      if (!full || sel.length === 0) continue;
      const byLabel = new Map<string, CurvePoint[]>();
      for (const r of sel) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), { cost: r.samples!.estimates.meanCostMs, accuracy: r.samples!.estimates.accuracy }]);
      const fullRow = rows.find((r) => r.trace === trace && r.samples && r.samples.fullAccuracy);
      if (!fullRow) continue;
      // Seeds a curve pools for its interval's method: 1 when the policy is deterministic (identical seeds).
      const seeds = (label: string) => (sel.some((r) => r.label === label && r.samples!.correct === undefined) ? (sel.find((r) => r.label === label)?.seeds ?? 1) : 1);
      curves.set(trace, curveSummary(byLabel, fullRow.samples!.fullAccuracy!, fullRow.samples!.fullCostMs!, seeds));
    }
  }
  return { part, rows, comparisons, curves };
}

/** The comparison table of a part: difference to each baseline on the rank metric, test, Holm-adjusted p, verdict. */
function comparisonTable(a: PartAnalysis, name: (t: string) => string): string {
  if (a.comparisons.length === 0) return '';
  const axisNames = a.part.parsed.axes.map((x) => x.name);
  const metric = a.part.workload.rankBy;
  const tests = [...new Set(a.comparisons.map((c) => (c.test === 'none' ? 'none (one seed, no per-sample data: every difference is a tie)' : c.test)))].join(', ');
  const body = a.comparisons.map((c) => [
    name(c.row.trace),
    ...axisNames.map((x) => String(c.row.axes[x] ?? c.baseline.axes[x] ?? '')),
    c.row.label,
    c.baseline.label,
    fmt(c.diff),
    c.test,
    Number.isNaN(c.adjusted) ? '–' : c.adjusted < 1e-4 ? '<0.0001' : c.adjusted.toFixed(4),
    c.verdict,
  ]);
  const counts = (['better', 'worse', 'tie'] as const).map((v) => `${a.comparisons.filter((c) => c.verdict === v).length} ${v}`).join(', ');
  return (
    `\n${a.part.decl.name}: each policy against each baseline on ${metric} (difference policy − baseline, 95% interval). Tests: ${tests}; ` +
    `p-values Holm-adjusted over the ${a.comparisons.length} comparisons of this table; better/worse only when the adjusted p ≤ ${ALPHA} (${counts}).\n\n` +
    `\`\`\`\n${textTable(['trace', ...axisNames, 'policy', 'baseline', `Δ ${metric} [95%]`, 'test', 'p (Holm)', 'verdict'], body)}\n\`\`\`\n`
  );
}

/** The budget-curve table of a part, per trace. */
function curveTable(a: PartAnalysis, name: (t: string) => string): string {
  let md = '';
  for (const [trace, c] of a.curves) {
    if (c.curves.length === 0) continue;
    const head = ['policy', 'AUC [95%]', ...c.grid.map((g) => `acc @ ${g.toFixed(3)} ms`), 'cost to 99% ms', 'saving %'];
    const body = c.curves.map((x) => [x.label, fmt(x.auc), ...x.atCost.map(fmt), fmt(x.costTo99), fmt(x.savingPct)]);
    const range = c.grid.length ? `[${c.range.lo.toFixed(4)}, ${c.range.hi.toFixed(4)}] ms` : 'empty (the curves do not overlap)';
    md +=
      `\n${a.part.decl.name} on ${name(trace)}: budget curves (each policy's accuracy against its mean test cost over the budget axis). AUC: ` +
      `area under the curve over the common cost range ${range} divided by its width; accuracy at matched cost on that range; cost to reach 99% ` +
      `of the full network's accuracy and the saving against the full network's cost (∞: not reached). Bootstrap 95% intervals.\n\n\`\`\`\n${textTable(head, body)}\n\`\`\`\n`;
  }
  return md;
}

/** Markdown summary: the per-exit table (if given), then per part its table, comparisons and curves. */
export function summaryMarkdown(decl: ExperimentDecl, rows: readonly SummaryRow[], extras: { exitTable?: string; analyses?: readonly PartAnalysis[] } = {}): string {
  const name = traceLabels(rows);
  let md = `# ${decl.id}\n\n${decl.description}\n\nTraces: ${tracesLine(decl.traces, rows)}.\n\n${methodsNote(decl)}`;
  if (extras.exitTable) md += `\n${extras.exitTable}`;
  const analyses = extras.analyses ?? reportParts(decl).map((p) => analysePart(p, rows));
  for (const a of analyses) {
    const part = a.part;
    const sel = a.rows;
    const axisNames = [...new Set(sel.flatMap((r) => Object.keys(r.axes)))];
    const metrics = part.workload.metrics.filter((m: { summary?: boolean }) => m.summary).map((m: { name: string }) => m.name);
    const withBudget = sel.some((r) => r.budgetMs !== null);
    const table = textTable(
      ['trace', 'policy', ...axisNames, ...(withBudget ? ['budget ms'] : []), 'seeds', ...metrics],
      sel.map((r) => [name(r.trace), r.label, ...axisNames.map((x) => String(r.axes[x] ?? '')), ...(withBudget ? [r.budgetMs === null ? '' : r.budgetMs.toFixed(4)] : []), String(r.seeds), ...metrics.map((m: string) => fmt(r.metrics[m]))]),
    );
    const methods = [...new Set(sel.flatMap((r) => metrics.map((m: string) => r.metrics[m]?.method).filter(Boolean)))].join(', ');
    md += `\n## ${part.decl.name} (${part.workload.kind})\n\nIntervals: ${methods}.\n\n\`\`\`\n${table}\n\`\`\`\n`;
    md += comparisonTable(a, name);
    md += curveTable(a, name);
    if (part.decl.baselines?.length) {
      const groups: [string, readonly string[]][] = [['every baseline', part.decl.baselines], ...Object.entries(part.decl.baselineGroups ?? {})];
      for (const table of part.workload.bestBaseline ?? []) for (const [group, members] of groups) md += bestBaselineTable(part, sel, table, group, members);
    }
  }
  return md;
}

/** Axes of a part as the report lists them: innermost (fastest-varying) first, the axis plots' order. */
function axisValues(part: ReportPart): Record<string, readonly AxisValue[]> {
  return Object.fromEntries([...part.parsed.axes].reverse().map((a) => [a.name, a.values]));
}

/**
 * The terminal headline: per part and trace, the best policies at up to three settings of the innermost axis
 * (the others held at their middle) with intervals, the budget-curve leaders, and the counts of significant wins
 * and losses against each baseline. A few lines per part; the full tables are in summary.md.
 */
export function headline(decl: ExperimentDecl, analyses: readonly PartAnalysis[], rows: readonly SummaryRow[]): string {
  // (At a setting of a budget axis, rows off that axis count only when their mean cost is within the budget.)
  const name = traceLabels(rows);
  const lines: string[] = [`${decl.id}: ${decl.seeds.length} seed(s)${decl.seeds.length === 1 ? ' (one seed: intervals over test samples or batch means only, none over seeds)' : ''}; 95% intervals; full tables in summary.md`];
  for (const a of analyses) {
    const metric = a.part.workload.rankBy;
    const better = a.part.workload.metrics.find((m: { name: string }) => m.name === metric)?.better ?? 'higher';
    const axes = axisValues(a.part);
    const [first, ...others] = Object.keys(axes);
    const middle = Object.fromEntries(others.map((o) => [o, axes[o][Math.floor((axes[o].length - 1) / 2)]]));
    const vals = first ? axes[first] : [undefined];
    const pick = vals.length <= 3 ? vals : [vals[Math.floor(vals.length / 4)], vals[Math.floor(vals.length / 2)], vals[Math.floor((3 * vals.length) / 4)]];
    lines.push(`${a.part.decl.name}${a.part.decl.name === a.part.workload.kind ? '' : ` (${a.part.workload.kind})`}, best on ${metric}${others.length ? ` at ${others.map((o) => `${o}=${middle[o]}`).join(', ')}` : ''}:`);
    for (const trace of [...new Set(a.rows.map((r) => r.trace))]) {
      const refs = new Set((a.part.workload.references ?? []).map((r: { label: string }) => r.label));
      const parts: string[] = [];
      for (const v of pick) {
        const setting = a.rows.filter((r) => r.trace === trace && !refs.has(r.label) && (first === undefined || !(first in r.axes) || r.axes[first] === v) && others.every((o) => !(o in r.axes) || r.axes[o] === middle[o]));
        // At a budget, a row that is not on the budget axis (no budget, or one of its own) competes only if its
        // mean cost is within that budget.
        const onAxis = first === 'budgetFraction' ? setting.find((r) => first in r.axes && r.budgetMs !== null) : undefined;
        const at = onAxis ? setting.filter((r) => (first as string) in r.axes || (r.metrics.meanCostMs?.mean ?? Infinity) <= onAxis.budgetMs!) : setting;
        const ranked = at.filter((r) => r.metrics[metric] && Number.isFinite(r.metrics[metric].mean)).sort((x, y) => (better === 'lower' ? 1 : -1) * (x.metrics[metric].mean - y.metrics[metric].mean));
        if (ranked.length === 0) continue;
        const top = ranked[0];
        const ms = onAxis ? ` (B=${onAxis.budgetMs!.toFixed(3)} ms)` : '';
        parts.push(`${first ? `${first}=${v}${ms}: ` : ''}${top.label} ${fmt(top.metrics[metric])}${top.metrics.meanCostMs ? ` at ${num(top.metrics.meanCostMs.mean)} ms` : ''}`);
      }
      lines.push(`  ${name(trace)}: ${parts.join('; ')}`);
      const c = a.curves.get(trace);
      if (c && c.curves.length) {
        const auc = [...c.curves].sort((x, y) => y.auc.mean - x.auc.mean)[0];
        const reach = [...c.curves].sort((x, y) => x.costTo99.mean - y.costTo99.mean)[0];
        lines.push(`    curves: best AUC ${auc.label} ${fmt(auc.auc)}; 99% of full accuracy cheapest by ${reach.label} at ${fmt(reach.costTo99)} ms (${fmt(reach.savingPct)}% cheaper)`);
      }
      const ofTrace = a.comparisons.filter((x) => x.row.trace === trace);
      if (ofTrace.length > 0 && ofTrace.every((x) => x.test === 'none')) {
        lines.push(`    vs ${(a.part.decl.baselines ?? []).join(', ')}: no test (one seed, no per-sample data)`);
        continue;
      }
      for (const b of a.part.decl.baselines ?? []) {
        const mine = a.comparisons.filter((x) => x.baseline.label === b && x.row.trace === trace);
        if (mine.length === 0) continue;
        const wins = mine.filter((x) => x.verdict === 'better');
        const losses = mine.filter((x) => x.verdict === 'worse').length;
        const winners = [...new Set(wins.map((x) => x.row.label))];
        if (mine.every((x) => x.test === 'none')) {
          lines.push(`    vs ${b}: no test (one seed, no per-sample data)`);
          continue;
        }
        lines.push(`    vs ${b}: ${wins.length} better, ${losses} worse, ${mine.length - wins.length - losses} tie of ${mine.length} (${[...new Set(mine.map((x) => x.test))].join('/')}, Holm)${winners.length ? `; better: ${winners.slice(0, 4).join(', ')}${winners.length > 4 ? ', …' : ''}` : ''}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

const median = (xs: readonly number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

/**
 * Each policy against the best of a set of baselines in each cell (trace × axis values): `metric` relative to the
 * best baseline's, (R − R_best)/|R_best| — for online parts "overall performance" in the sense of the DEE paper
 * (whose exact definition is not public): the quantity every online policy maximises, r = c − β·L — and the share
 * of the best baseline's gap (a regret against the oracle) the policy closes, (G_best − G)/G_best. Closed by the
 * maximum ("up to"), median and minimum over cells of each policy.
 */
function bestBaselineTable(part: ReportPart, rows: readonly SummaryRow[], decl: BestBaselineDecl, group: string, baselines: readonly string[]): string {
  const labels = part.decl.policies.map((p) => p.label).filter((l) => !(part.decl.baselines ?? []).includes(l));
  if (labels.length === 0 || baselines.length === 0) return '';
  const name = traceLabels(rows);
  const axisNames = part.parsed.axes.map((a) => a.name);
  const cellOf = (r: SummaryRow) => [r.trace, ...axisNames.map((a) => String(r.axes[a] ?? ''))].join('|');
  const cells = [...new Set(rows.map(cellOf))];
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '–');
  const improvements = new Map<string, { rel: number[]; closed: number[] }>(labels.map((l) => [l, { rel: [], closed: [] }]));
  const body = cells.map((c) => {
    const at = rows.filter((r) => cellOf(r) === c);
    const get = (l: string, m: string) => at.find((r) => r.label === l)?.metrics[m]?.mean ?? NaN;
    const best = baselines.reduce((b, l) => (get(l, decl.metric) > get(b, decl.metric) ? l : b), baselines[0]);
    const rb = get(best, decl.metric);
    const gb = get(best, decl.gap);
    const [trace, ...values] = c.split('|');
    return [
      name(trace),
      ...values,
      `${best} ${rb.toFixed(4)}`,
      ...labels.flatMap((l) => {
        const rel = (get(l, decl.metric) - rb) / Math.abs(rb);
        const closed = (gb - get(l, decl.gap)) / gb;
        improvements.get(l)!.rel.push(rel);
        improvements.get(l)!.closed.push(closed);
        return [pct(rel), pct(closed)];
      }),
    ];
  });
  const range = (xs: number[]) => `up to ${pct(Math.max(...xs))} (median ${pct(median(xs))}, worst ${pct(Math.min(...xs))})`;
  const closing = labels.map((l) => `- ${l}: ${decl.metric} ${range(improvements.get(l)!.rel)}; gap closed ${range(improvements.get(l)!.closed)} over ${cells.length} cells.`).join('\n');
  return (
    `\n${part.decl.name}: against the best baseline in each cell (trace, ${axisNames.join(', ')}) of ${group} (${baselines.join(', ')}), ${decl.title} — ` +
    `${decl.metric} relative to it, (R − R_best)/|R_best|, and the share of its ${decl.gap} that the policy closes, (G_best − G)/G_best:\n\n\`\`\`\n` +
    `${textTable(['trace', ...axisNames, `best baseline (${decl.metric})`, ...labels.flatMap((l) => [`${l} ${decl.metric}`, `${l} gap closed`])], body)}\n\`\`\`\n\n${closing}\n`
  );
}

/** CSV: every metric's mean and CI half-width, one row per summary row. */

/**
 * CSV: every metric's point estimate, 95% interval ends and interval method (`<metric>_mean`, `_lo`, `_hi`,
 * `_method`: bootstrap = paired over test samples, bootstrap×seeds = two-level, wilson, t = over seeds, one seed =
 * none), one row per summary row.
 */
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const axisNames = [...new Set(rows.flatMap((r) => Object.keys(r.axes)))];
  const metricNames = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const esc = (v: unknown) => {
    const s = v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const header = ['part', 'trace', 'model', 'policy', ...axisNames, 'budgetMs', 'seeds', ...metricNames.flatMap((m) => [`${m}_mean`, `${m}_lo`, `${m}_hi`, `${m}_method`])];
  const lines = rows.map((r) =>
    [r.part, r.trace, r.model, r.label, ...axisNames.map((a) => r.axes[a]), r.budgetMs, r.seeds, ...metricNames.flatMap((m) => [r.metrics[m]?.mean, r.metrics[m]?.lo, r.metrics[m]?.hi, r.metrics[m]?.method])].map(esc).join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

/** A plot to render: its Vega-Lite spec, what it shows, and the rows it plots (its CSV). */
interface Plot {
  readonly part: string;
  /** The axis it is drawn along, a series plot's id, or "exit-shares". */
  readonly axis: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
  readonly data: readonly Record<string, unknown>[];
}

const byTrace = { column: { field: 'trace', type: 'nominal', header: { title: null } } } as const;

/**
 * Render a part's declared plots, then its exit shares. Axes other than the one drawn along are held at their
 * middle value; an axis with a single value gets no plot. Every point carries its interval as error bars.
 */
function partPlots(part: ReportPart, rows: readonly SummaryRow[], styles: PolicyStyles): Plot[] {
  const name = traceLabels(rows);
  const sel = rows.filter((r) => r.part === part.decl.name);
  const axes = part.parsed.axes;
  const middle = Object.fromEntries(axes.map((a) => [a.name, a.values[Math.floor((a.values.length - 1) / 2)]]));
  const at = (held: [string, AxisValue][]) => sel.filter((r) => held.every(([k, v]) => !(k in r.axes) || r.axes[k] === v));
  const heldText = (held: [string, AxisValue][]) => held.map(([k, v]) => `${k} = ${v}`).join(', ');
  const present = new Set(sel.map((r) => r.label));
  const enc = policyEncoding(styles, present);
  const datum = (r: SummaryRow) => ({
    trace: name(r.trace),
    policy: r.label,
    ...r.axes,
    budgetMs: r.budgetMs,
    ...Object.fromEntries(Object.entries(r.metrics).flatMap(([m, s]) => [[m, s.mean], [`${m}_lo`, Number.isNaN(s.lo) ? s.mean : s.lo], [`${m}_hi`, Number.isNaN(s.hi) ? s.mean : s.hi]])),
  });
  const plots: Plot[] = [];
  for (const plot of part.workload.plots(part.parsed) as readonly PlotDecl[]) {
    if (plot.kind === 'series') {
      const held = Object.entries(middle);
      // Cumulative curves (regret R(t) = Σ per-input regret × inputs of each window), band = t-interval over seeds.
      const curves = at(held).flatMap((r) => {
        const xs = r.series[plot.x.series] ?? [];
        return plot.y.flatMap((y) => {
          const perSeed = (r.seriesBySeed[y.series] ?? []).map((ys) => {
            let acc = 0;
            return ys.map((v, i) => (plot.cumulative ? (acc += v * (xs[i] - (i > 0 ? xs[i - 1] : 0))) : v));
          });
          return xs.map((x, i) => {
            const t = tInterval(perSeed.map((s) => s[i]));
            return { trace: name(r.trace), policy: r.label, x, reference: y.title, value: t.mean, lo: Number.isNaN(t.lo) ? t.mean : t.lo, hi: Number.isNaN(t.hi) ? t.mean : t.hi };
          });
        });
      });
      const x = { field: 'x', type: 'quantitative', title: plot.x.title };
      plots.push({
        part: part.decl.name,
        axis: plot.id,
        title: `${plot.title}${held.length ? `, at ${heldText(held)}` : ''}${decl1(sel) ? '' : ' (band: 95% t-interval over seeds)'}`,
        data: curves,
        spec: {
          data: { values: curves },
          facet: { row: { field: 'reference', type: 'nominal', header: { title: null } }, ...byTrace },
          spec: {
            width: 260,
            height: 150,
            layer: [
              { mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: plot.yTitle }, y2: { field: 'hi' }, color: enc.color } },
              { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'value', type: 'quantitative', title: plot.yTitle }, color: enc.color, shape: enc.shape } },
            ],
          },
          resolve: { scale: { y: 'independent' } },
        } as TopLevelSpec,
      });
      continue;
    }
    const along = axes.find((a) => a.name === plot.along);
    if (!along || along.values.length < 2) continue;
    const held = Object.entries(middle).filter(([k]) => k !== along.name);
    // Rows that do not vary with this axis (offline non-budgeted policies) are kept, and drawn as points.
    const data = at(held).map(datum);
    const title = `${plot.title}${held.length ? `, at ${heldText(held)}` : ''}; bars: 95% intervals`;
    if (plot.kind === 'tradeoff') {
      const variants: [string, typeof plot.x][] = [[along.name, plot.x]];
      // Against FLOPs too, when the rows have them (manifests with per-exit FLOPs).
      if (plot.x.metric === 'meanCostMs' && data.some((d) => Number.isFinite((d as Record<string, unknown>).meanFlops as number))) variants.push([`${along.name}-flops`, { metric: 'meanFlops', title: 'mean FLOPs per sample' }]);
      for (const [id, xDecl] of variants) {
        const xe = { field: xDecl.metric, type: 'quantitative', title: xDecl.title, scale: { zero: false } };
        const ye = { field: plot.y.metric, type: 'quantitative', title: plot.y.title, scale: { zero: !plot.y.zeroFree } };
        const onAxis = { filter: `isValid(datum[${JSON.stringify(along.name)}])` };
        const offAxis = { filter: `!isValid(datum[${JSON.stringify(along.name)}])` };
        plots.push({
          part: part.decl.name,
          axis: id,
          title: xDecl === plot.x ? title : `${plot.title.replace('mean cost', 'mean FLOPs')}${held.length ? `, at ${heldText(held)}` : ''}; bars: 95% intervals`,
          data,
          spec: {
            data: { values: data },
            facet: byTrace,
            spec: {
              width: 300,
              height: 220,
              layer: [
                { mark: { type: 'rule', opacity: 0.6 }, encoding: { x: xe, y: { field: `${plot.y.metric}_lo`, type: 'quantitative' }, y2: { field: `${plot.y.metric}_hi` }, color: enc.color } },
                { mark: { type: 'rule', opacity: 0.6 }, encoding: { y: ye, x: { field: `${xDecl.metric}_lo`, type: 'quantitative' }, x2: { field: `${xDecl.metric}_hi` }, color: enc.color } },
                { mark: { type: 'line' }, transform: [onAxis], encoding: { x: xe, y: ye, color: enc.color, order: { field: along.name } } },
                { mark: { type: 'point', filled: true, size: 45 }, transform: [onAxis], encoding: { x: xe, y: ye, color: enc.color, shape: enc.shape } },
                { mark: { type: 'point', filled: true, size: 90, strokeWidth: 1, stroke: '#000' }, transform: [offAxis], encoding: { x: xe, y: ye, color: enc.color, shape: enc.shape } },
              ],
            },
            resolve: { scale: { x: 'independent', y: 'independent' } },
          } as TopLevelSpec,
        });
      }
      continue;
    }
    const categorical = along.categorical === true;
    const x = { field: along.name, type: categorical ? 'nominal' : 'quantitative', title: along.title ?? along.name, axis: categorical ? {} : { format: '~g' } } as const;
    plots.push({
      part: part.decl.name,
      axis: along.name,
      title,
      data,
      spec: {
        data: { values: data },
        vconcat: plot.panels.map((p) => {
          const y = { field: p.metric, type: 'quantitative', title: p.title, scale: { zero: !p.zeroFree } };
          return {
            facet: byTrace,
            spec: {
              width: 240,
              height: 160,
              layer: [
                { mark: { type: 'rule', opacity: 0.6 }, encoding: { x, y: { field: `${p.metric}_lo`, type: 'quantitative' }, y2: { field: `${p.metric}_hi` }, color: enc.color } },
                ...(categorical ? [] : [{ mark: { type: 'line' }, encoding: { x, y, color: enc.color } }]),
                { mark: { type: 'point', filled: true, size: categorical ? 70 : 40 }, encoding: { x, y, color: enc.color, shape: enc.shape } },
              ],
            },
          };
        }),
      } as TopLevelSpec,
    });
  }
  const heldAll = Object.entries(middle);
  const atMiddle = at(heldAll);
  const shares = atMiddle.flatMap((r) => r.exitShares.map((s, k) => ({ trace: name(r.trace), policy: r.label, exit: `exit ${k}`, share: s, budgetMs: r.budgetMs })));
  const budgets = [...new Set(atMiddle.filter((r) => r.budgetMs !== null && 'budgetFraction' in r.axes).map((r) => `${name(r.trace)}: B = ${r.budgetMs!.toFixed(3)} ms`))];
  plots.push({
    part: part.decl.name,
    axis: 'exit-shares',
    title: `Exit shares of every policy${heldAll.length ? ` at ${heldText(heldAll)}` : ''}${budgets.length ? ` (${budgets.join('; ')})` : ''}`,
    data: shares,
    spec: {
      data: { values: shares },
      facet: byTrace,
      spec: { width: 260, height: 18 * new Set(shares.map((s) => s.policy)).size + 20, mark: 'bar', encoding: { y: { field: 'policy', type: 'nominal', title: null, sort: styles.domain }, x: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share of jobs' }, color: { field: 'exit', type: 'ordinal', scale: { scheme: 'viridis' } } } },
    } as TopLevelSpec,
  });
  return plots;
}

/** Whether every row pools a single seed. */
const decl1 = (rows: readonly SummaryRow[]) => rows.every((r) => r.seeds <= 1);

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first render, not at import: importing `exitlab/experiments` to declare an experiment must not load
  // the plotting stack (vega-canvas has a top-level await, which a CommonJS consumer cannot load).
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The failed cells of a run as a Markdown section (empty when none failed). */
function failedSection(failures: readonly FailedCell[]): string {
  if (failures.length === 0) return '';
  const table = textTable(['part', 'policy', 'cell', 'error'], failures.map((f) => [f.part, f.label, f.key, f.error]));
  return `\n## Failed cells (${failures.length})\n\nThese cells threw and have no results; \`exitlab run … --resume\` runs them again.\n\n\`\`\`\n${table}\n\`\`\`\n`;
}

/**
 * Write `summary.csv`, `summary.md`, `headline.txt`, `report.html` and `figures/` (each plot as
 * `<part>-<plot>.svg` with `.csv` and `.vl.json`) into a run directory from its `config.json` and `cells.jsonl`.
 * Returns the report's path.
 */
export async function writeReport(dir: string): Promise<string> {
  const decl = readConfig(dir);
  const contents = readRun(dir);
  const dup = duplicateError(contents);
  if (dup) throw dup;
  const records = [...contents.records];
  const rows = summarize(records, diskSplits());
  const parts = reportParts(decl);
  const analyses = parts.map((p) => analysePart(p, rows));
  atomicWrite(join(dir, 'summary.csv'), summaryCsv(rows));
  const exits = exitTable(decl.traces);
  const md = summaryMarkdown(decl, rows, { exitTable: exits, analyses }) + failedSection(contents.failures);
  atomicWrite(join(dir, 'summary.md'), md);
  atomicWrite(join(dir, 'headline.txt'), headline(decl, analyses, rows) + failedSection(contents.failures));
  const run = existsSync(join(dir, 'run.json')) ? readFileSync(join(dir, 'run.json'), 'utf8') : '{}';
  // One colour and mark per policy label across the whole report, in declaration order.
  const styles = policyStyles([...parts.flatMap((p) => p.decl.policies.map((x) => x.label)), ...parts.flatMap((p) => (p.workload.references ?? []).map((r: { label: string }) => r.label))]);
  const sections: string[] = [];
  for (const part of parts) {
    const figures: string[] = [];
    for (const plot of partPlots(part, rows, styles)) {
      const svg = await renderSvg(plot.spec);
      const stem = writeFigure(dir, figureStem(plot.part, plot.axis), svg, plot.data, plot.spec);
      figures.push(`<figure data-part="${plot.part}" data-axis="${plot.axis}"><figcaption>${escapeHtml(plot.title)} <small><a href="figures/${stem}.svg">svg</a> · <a href="figures/${stem}.csv">csv</a> · <a href="figures/${stem}.vl.json">vega-lite</a></small></figcaption>${svg}</figure>`);
    }
    sections.push(`<section><h2>${escapeHtml(part.decl.name)} <small>(${escapeHtml(part.workload.kind)})</small></h2>${figures.join('\n')}</section>`);
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>exitlab: ${escapeHtml(decl.id)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1300px;color:#222}figure{margin:16px 0;padding:8px;border:1px solid #ddd;border-radius:6px}figcaption{font-weight:600;margin-bottom:6px}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}small{color:#666;font-weight:normal}</style>
</head><body>
<h1>${escapeHtml(decl.id)}</h1><p>${escapeHtml(decl.description)}</p>
<p>${records.length} cells, ${decl.seeds.length} seed(s); traces: ${escapeHtml(tracesLine(decl.traces, records))}.</p>
${contents.failures.length > 0 ? `<p class="failed"><strong>${contents.failures.length} cell(s) failed</strong> (listed under Summary; <code>exitlab run … --resume</code> runs them again).</p>` : ''}
<h2>Models: every exit</h2><pre>${escapeHtml(exits.replace(/^## .*\n\n/, '').replace(/```\n?/g, ''))}</pre>
<h2>Headline</h2><pre>${escapeHtml(headline(decl, analyses, rows))}</pre>
${sections.join('\n')}
<h2>Summary</h2><pre>${escapeHtml(md)}</pre>
<h2>Run</h2><pre>${escapeHtml(run)}</pre>
</body></html>
`;
  const path = join(dir, 'report.html');
  atomicWrite(path, html);
  return path;
}
