/**
 * Reports read records and never run a policy: summary tables (mean and 95% confidence interval over seeds) as
 * CSV and Markdown, and a self-contained HTML page whose plots are SVG rendered by Vega (Vega-Lite specs, Vega's
 * headless `View.toSVG`, no browser or canvas needed). What a part's table shows, what it is ranked by and which
 * plots it gets are declared by its workload (`Workload.metrics`, `rankBy`, `plots`, `bestBaseline`); this file
 * only renders those declarations, plus one exit-share chart per part.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { textTable } from '../../lib/report.ts';
import type { AxisValue, BestBaselineDecl, CellRecord, ParsedPart, PlotDecl } from '../workloads/types.ts';
import type { AnyWorkload } from '../workloads/types.ts';
import { parsePart, type ExperimentDecl, type PartDecl } from './experiment.ts';
import { readRecords } from './run.ts';

/** Mean and 95% half-width of one metric over seeds (half-width NaN with one seed). */
export interface Stat {
  readonly mean: number;
  readonly ci95: number;
  readonly n: number;
}

/** One summary row: a cell without its seed. */
export interface SummaryRow {
  readonly part: string;
  readonly trace: string;
  readonly label: string;
  /** The trace's model name (absent for records written before v2). */
  readonly model: string | undefined;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly budgetMs: number | null;
  readonly metrics: Readonly<Record<string, Stat>>;
  /** Mean exit shares over seeds. */
  readonly exitShares: readonly number[];
  /** Mean curves over seeds (online parts). */
  readonly series: Readonly<Record<string, readonly number[]>>;
}

// Two-sided 95% Student t quantiles for 1..30 degrees of freedom; 1.96 beyond.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and 95% CI half-width of finite values (nulls from NaN metrics are skipped). */
export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: NaN, ci95: NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: NaN, n };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, ci95: ((n - 1 <= 30 ? T95[n - 2] : 1.96) * sd) / Math.sqrt(n), n };
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

/** Group records over seeds, in a fixed order (so the summary does not depend on completion order). */
export function summarize(records: readonly CellRecord[]): SummaryRow[] {
  const groups = new Map<string, CellRecord[]>();
  for (const r of [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const k = groupKey(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const rows = [...groups.values()].map((g): SummaryRow => {
    const names = [...new Set(g.flatMap((r) => Object.keys(r.metrics)))];
    const K = g[0].exitShares.length;
    return {
      part: g[0].part,
      trace: g[0].trace,
      label: g[0].label,
      model: g[0].model,
      axes: g[0].axes,
      budgetMs: g[0].budgetMs,
      metrics: Object.fromEntries(names.map((m) => [m, stat(g.map((r) => r.metrics[m] ?? null))])),
      exitShares: Array.from({ length: K }, (_, k) => g.reduce((a, r) => a + r.exitShares[k], 0) / g.length),
      series: Object.fromEntries(
        Object.keys(g[0].series ?? {}).map((name) => [name, g[0].series![name].map((_, i) => g.reduce((a, r) => a + (r.series?.[name]?.[i] ?? NaN), 0) / g.length)]),
      ),
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

const fmt = (s: Stat | undefined) => (!s || !Number.isFinite(s.mean) ? '–' : Number.isFinite(s.ci95) ? `${s.mean.toFixed(4)} ± ${s.ci95.toFixed(4)}` : s.mean.toFixed(4));

/** What was run: each trace's model name and manifest path. */
function tracesLine(traces: readonly string[], rows: readonly { trace: string; model?: string | undefined }[]): string {
  const model = new Map(rows.filter((r) => r.model !== undefined).map((r) => [r.trace, r.model!]));
  return traces.map((t) => (model.has(t) ? `${model.get(t)} (${t})` : t)).join(', ');
}

/** Markdown summary: one table per part, with the workload's summary metrics. */
export function summaryMarkdown(decl: ExperimentDecl, rows: readonly SummaryRow[]): string {
  const name = traceLabels(rows);
  let md = `# ${decl.id}\n\n${decl.description}\n\nTraces: ${tracesLine(decl.traces, rows)}.\n\nMean ± 95% confidence half-width over ${decl.seeds.length} seed(s).\n`;
  for (const part of reportParts(decl)) {
    const sel = rows.filter((r) => r.part === part.decl.name);
    const axisNames = [...new Set(sel.flatMap((r) => Object.keys(r.axes)))];
    const metrics = part.workload.metrics.filter((m) => m.summary).map((m) => m.name);
    const table = textTable(
      ['trace', 'policy', ...axisNames, ...metrics],
      sel.map((r) => [name(r.trace), r.label, ...axisNames.map((a) => String(r.axes[a] ?? '')), ...metrics.map((m) => fmt(r.metrics[m]))]),
    );
    md += `\n## ${part.decl.name} (${part.workload.kind})\n\n\`\`\`\n${table}\n\`\`\`\n`;
    if (part.decl.baselines?.length) {
      md += baselineComparison(part, sel);
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
 * Where each policy beats or loses to each baseline, along the part's innermost axis: "+" lists the axis values
 * where it is more than `margin` better on the workload's rank metric (`Workload.rankBy`), "−" where it is more
 * than `margin` worse; anything else is a tie.
 */
function baselineComparison(part: ReportPart, rows: readonly SummaryRow[], margin = 0.005): string {
  const metric = part.workload.rankBy;
  const baselines = part.decl.baselines ?? [];
  const axes = axisValues(part);
  const [first, ...others] = Object.keys(axes);
  if (!first || baselines.length === 0) return '';
  const name = traceLabels(rows);
  const labels = part.decl.policies.map((p) => p.label).filter((l) => !baselines.includes(l));
  const traces = [...new Set(rows.map((r) => r.trace))];
  const combos: Record<string, AxisValue>[] = [{}];
  for (const o of others) combos.splice(0, combos.length, ...combos.flatMap((c) => axes[o].map((v) => ({ ...c, [o]: v }))));
  const value = (label: string, trace: string, at: Record<string, AxisValue>): number | undefined => {
    const r = rows.find((x) => x.label === label && x.trace === trace && Object.entries(at).every(([k, v]) => !(k in x.axes) || x.axes[k] === v));
    return r?.metrics[metric]?.mean;
  };
  const body: string[][] = [];
  for (const trace of traces) {
    for (const combo of combos) {
      const cells = labels.flatMap((l) =>
        baselines.map((b) => {
          const plus: AxisValue[] = [];
          const minus: AxisValue[] = [];
          for (const v of axes[first]) {
            const at = { ...combo, [first]: v };
            const a = value(l, trace, at);
            const c = value(b, trace, at);
            if (a === undefined || c === undefined) continue;
            if (a > c + margin) plus.push(v);
            else if (a < c - margin) minus.push(v);
          }
          return [plus.length ? `+${plus.join(',')}` : '', minus.length ? `−${minus.join(',')}` : ''].filter(Boolean).join(' ') || 'tie';
        }),
      );
      body.push([name(trace), ...others.map((o) => String(combo[o])), ...cells]);
    }
  }
  const header = ['trace', ...others, ...labels.flatMap((l) => baselines.map((b) => `${l} vs ${b}`))];
  return (
    `\n${part.decl.name}: where each policy is more than ${margin * 100} points better (+) or worse (−) than each baseline on ${metric}, ` +
    `listed by ${first}:\n\n\`\`\`\n${textTable(header, body)}\n\`\`\`\n`
  );
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
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const axisNames = [...new Set(rows.flatMap((r) => Object.keys(r.axes)))];
  const metricNames = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const esc = (v: unknown) => {
    const s = v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const header = ['part', 'trace', 'model', 'policy', ...axisNames, 'budgetMs', 'seeds', ...metricNames.flatMap((m) => [`${m}_mean`, `${m}_ci95`])];
  const lines = rows.map((r) =>
    [r.part, r.trace, r.model, r.label, ...axisNames.map((a) => r.axes[a]), r.budgetMs, Math.max(0, ...Object.values(r.metrics).map((s) => s.n)), ...metricNames.flatMap((m) => [r.metrics[m]?.mean, r.metrics[m]?.ci95])].map(esc).join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

/** A plot to render: its Vega-Lite spec and what it shows. */
interface Plot {
  readonly part: string;
  /** The axis it is drawn along, a series plot's id, or "exit-shares". */
  readonly axis: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

const byTrace = { column: { field: 'trace', type: 'nominal', header: { title: null } } } as const;

/** Render a part's declared plots, then its exit shares. Axes other than the one drawn along are held at their middle value. */
function partPlots(part: ReportPart, rows: readonly SummaryRow[]): Plot[] {
  const name = traceLabels(rows);
  const sel = rows.filter((r) => r.part === part.decl.name);
  const axes = part.parsed.axes;
  const middle = Object.fromEntries(axes.map((a) => [a.name, a.values[Math.floor((a.values.length - 1) / 2)]]));
  const at = (held: [string, AxisValue][]) => sel.filter((r) => held.every(([k, v]) => !(k in r.axes) || r.axes[k] === v));
  const heldText = (held: [string, AxisValue][]) => held.map(([k, v]) => `${k} = ${v}`).join(', ');
  const datum = (r: SummaryRow) => ({
    trace: name(r.trace),
    policy: r.label,
    ...r.axes,
    budgetMs: r.budgetMs,
    ...Object.fromEntries(Object.entries(r.metrics).map(([m, s]) => [m, s.mean])),
  });
  const plots: Plot[] = [];
  for (const plot of part.workload.plots(part.parsed) as readonly PlotDecl[]) {
    if (plot.kind === 'series') {
      const held = Object.entries(middle);
      const curves = at(held).flatMap((r) =>
        (r.series[plot.x.series] ?? []).flatMap((x, i) => plot.y.map((y) => ({ trace: name(r.trace), policy: r.label, x, reference: y.title, value: r.series[y.series]?.[i] }))),
      );
      plots.push({
        part: part.decl.name,
        axis: plot.id,
        title: `${plot.title}${held.length ? `, at ${heldText(held)}` : ''}`,
        spec: {
          data: { values: curves },
          facet: { row: { field: 'reference', type: 'nominal', header: { title: null } }, ...byTrace },
          spec: { width: 260, height: 150, mark: { type: 'line' }, encoding: { x: { field: 'x', type: 'quantitative', title: plot.x.title }, y: { field: 'value', type: 'quantitative', title: plot.yTitle }, color: { field: 'policy', type: 'nominal' } } },
          resolve: { scale: { y: 'independent' } },
        } as TopLevelSpec,
      });
      continue;
    }
    const along = axes.find((a) => a.name === plot.along);
    if (!along) continue;
    const held = Object.entries(middle).filter(([k]) => k !== along.name);
    // Rows that do not vary with this axis (offline non-budgeted policies) are kept, and drawn as points.
    const data = at(held).map(datum);
    const title = `${plot.title}${held.length ? `, at ${heldText(held)}` : ''}`;
    if (plot.kind === 'tradeoff') {
      const enc = { x: { field: plot.x.metric, type: 'quantitative', title: plot.x.title }, y: { field: plot.y.metric, type: 'quantitative', title: plot.y.title, scale: { zero: !plot.y.zeroFree } }, color: { field: 'policy', type: 'nominal' } };
      plots.push({
        part: part.decl.name,
        axis: along.name,
        title,
        spec: {
          data: { values: data },
          facet: byTrace,
          spec: {
            width: 260,
            height: 200,
            layer: [
              { mark: { type: 'line', point: true }, transform: [{ filter: `isValid(datum[${JSON.stringify(along.name)}])` }], encoding: { ...enc, order: { field: along.name } } },
              { mark: { type: 'point', shape: 'diamond', filled: true, size: 60 }, transform: [{ filter: `!isValid(datum[${JSON.stringify(along.name)}])` }], encoding: enc },
            ],
          },
          resolve: { scale: { x: 'independent', y: 'independent' } },
        } as TopLevelSpec,
      });
      continue;
    }
    const categorical = along.categorical === true;
    const x = { field: along.name, type: categorical ? 'nominal' : 'quantitative', title: along.title ?? along.name, axis: categorical ? {} : { format: '~g' } } as const;
    plots.push({
      part: part.decl.name,
      axis: along.name,
      title,
      spec: {
        data: { values: data },
        vconcat: plot.panels.map((p) => ({
          facet: byTrace,
          spec: {
            width: 240,
            height: 160,
            mark: categorical ? { type: 'point', filled: true, size: 70 } : { type: 'line', point: true },
            encoding: { x, y: { field: p.metric, type: 'quantitative', title: p.title, scale: { zero: !p.zeroFree } }, color: { field: 'policy', type: 'nominal' } },
          },
        })),
      } as TopLevelSpec,
    });
  }
  const atMiddle = at(Object.entries(middle));
  const shares = atMiddle.flatMap((r) => r.exitShares.map((s, k) => ({ trace: name(r.trace), policy: r.label, exit: `exit ${k}`, share: s })));
  plots.push({
    part: part.decl.name,
    axis: 'exit-shares',
    title: `Exit shares${Object.keys(middle).length ? ` at ${heldText(Object.entries(middle))}` : ''}`,
    spec: {
      data: { values: shares },
      facet: byTrace,
      spec: { width: 260, height: 18 * new Set(shares.map((s) => s.policy)).size + 20, mark: 'bar', encoding: { y: { field: 'policy', type: 'nominal', title: null }, x: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share of jobs' }, color: { field: 'exit', type: 'ordinal' } } },
    } as TopLevelSpec,
  });
  return plots;
}

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

/**
 * Write `summary.csv`, `summary.md` and `report.html` into a run directory from its `config.json` and
 * `cells.jsonl`. Returns the report's path.
 */
export async function writeReport(dir: string): Promise<string> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new InputError(dir, 'config.json', 'a run directory written by `exitlab run`', 'no config.json');
  const decl = JSON.parse(readFileSync(configPath, 'utf8')) as ExperimentDecl;
  const records = readRecords(dir);
  const rows = summarize(records);
  atomicWrite(join(dir, 'summary.csv'), summaryCsv(rows));
  const md = summaryMarkdown(decl, rows);
  atomicWrite(join(dir, 'summary.md'), md);
  const run = existsSync(join(dir, 'run.json')) ? readFileSync(join(dir, 'run.json'), 'utf8') : '{}';
  const sections: string[] = [];
  for (const part of reportParts(decl)) {
    const figures: string[] = [];
    for (const plot of partPlots(part, rows)) {
      const svg = await renderSvg(plot.spec);
      figures.push(`<figure data-part="${plot.part}" data-axis="${plot.axis}"><figcaption>${escapeHtml(plot.title)}</figcaption>${svg}</figure>`);
    }
    sections.push(`<section><h2>${escapeHtml(part.decl.name)} <small>(${escapeHtml(part.workload.kind)})</small></h2>${figures.join('\n')}</section>`);
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>exitlab: ${escapeHtml(decl.id)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}figure{margin:16px 0;padding:8px;border:1px solid #ddd;border-radius:6px}figcaption{font-weight:600;margin-bottom:6px}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}small{color:#666;font-weight:normal}</style>
</head><body>
<h1>${escapeHtml(decl.id)}</h1><p>${escapeHtml(decl.description)}</p>
<p>${records.length} cells, ${decl.seeds.length} seed(s); traces: ${escapeHtml(tracesLine(decl.traces, records))}.</p>
${sections.join('\n')}
<h2>Summary</h2><pre>${escapeHtml(md)}</pre>
<h2>Run</h2><pre>${escapeHtml(run)}</pre>
</body></html>
`;
  const path = join(dir, 'report.html');
  atomicWrite(path, html);
  return path;
}

/**
 * Merge shard run directories into one: same resolved experiment required; records are united by key
 * (a key recorded twice with different content is an error).
 */
export function mergeRuns(dirs: readonly string[], out: string): number {
  if (dirs.length === 0) throw new InputError('merge', 'dirs', 'at least one run directory');
  const configs = dirs.map((d) => {
    const p = join(d, 'config.json');
    if (!existsSync(p)) throw new InputError(d, 'config.json', 'a run directory written by `exitlab run`', 'no config.json');
    return readFileSync(p, 'utf8');
  });
  configs.forEach((c, i) => {
    if (c !== configs[0]) throw new InputError(join(dirs[i], 'config.json'), 'config', `the same resolved experiment as ${dirs[0]}`, 'a different one');
  });
  const byKey = new Map<string, string>();
  for (const d of dirs) {
    for (const r of readRecords(d)) {
      const line = JSON.stringify(r);
      const prev = byKey.get(r.key);
      if (prev !== undefined && prev !== line) throw new InputError(d, `cells.jsonl ${r.key}`, 'the same record as the other shards for a shared cell', 'a different record');
      byKey.set(r.key, line);
    }
  }
  const keys = [...byKey.keys()].sort();
  mkdirSync(out, { recursive: true });
  atomicWrite(join(out, 'config.json'), configs[0]);
  atomicWrite(join(out, 'cells.jsonl'), keys.map((k) => byKey.get(k)).join('\n') + '\n');
  atomicWrite(join(out, 'run.json'), JSON.stringify({ mergedFrom: dirs, cells: keys.length, merged: new Date().toISOString() }, null, 2) + '\n');
  return keys.length;
}
