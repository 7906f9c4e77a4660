/**
 * Reports read records and never run a policy: summary tables (mean and 95% confidence interval over seeds) as
 * CSV and Markdown, and a self-contained HTML page whose plots are SVG rendered by Vega (Vega-Lite specs, Vega's
 * headless `View.toSVG`, no browser or canvas needed). Each part gets one plot per declared axis — accuracy vs
 * cost along the budget axis; loss ratio and accuracy along arrival rate, buffer size and arrival process — and
 * one exit-share chart.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { textTable } from '../../lib/report.ts';
import type { ExperimentDecl, OfflineAxes, OnlineAxes, PartDecl } from './experiment.ts';
import type { CellRecord } from './cell.ts';
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

const MAIN_METRICS: Record<'offline' | 'queue' | 'online', string[]> = {
  offline: ['accuracy', 'meanCostMs', 'relativeCost', 'budgetMetOnTest', 'costOverBudget'],
  queue: ['lossRatio', 'accuracyServed', 'accuracyOverall', 'p95ResponseMs'],
  online: ['meanReward', 'regretOraclePerInput', 'regretHindsightPerInput', 'accuracy', 'meanCostMs'],
};

/** The metric a part's policies are ranked by: accuracy offline, accuracy counting losses in a queue, reward online. */
const RANK_METRIC = { offline: 'accuracy', queue: 'accuracyOverall', online: 'meanReward' } as const;

const traceName = (path: string) => path.replace(/^.*fixtures\//, '').replace(/\/manifest\.json$/, '');
const fmt = (s: Stat | undefined) => (!s || !Number.isFinite(s.mean) ? '–' : Number.isFinite(s.ci95) ? `${s.mean.toFixed(4)} ± ${s.ci95.toFixed(4)}` : s.mean.toFixed(4));

/** Markdown summary: one table per part. */
export function summaryMarkdown(decl: ExperimentDecl, rows: readonly SummaryRow[]): string {
  let md = `# ${decl.id}\n\n${decl.description}\n\nMean ± 95% confidence half-width over ${decl.seeds.length} seed(s).\n`;
  for (const part of decl.parts) {
    const sel = rows.filter((r) => r.part === part.name);
    const axisNames = [...new Set(sel.flatMap((r) => Object.keys(r.axes)))];
    const metrics = MAIN_METRICS[part.workload.kind];
    const table = textTable(
      ['trace', 'policy', ...axisNames, ...metrics],
      sel.map((r) => [traceName(r.trace), r.label, ...axisNames.map((a) => String(r.axes[a] ?? '')), ...metrics.map((m) => fmt(r.metrics[m]))]),
    );
    md += `\n## ${part.name} (${part.workload.kind})\n\n\`\`\`\n${table}\n\`\`\`\n`;
    if (part.baselines?.length) md += baselineComparison(part, sel);
    if (part.baselines?.length && part.workload.kind === 'online') md += improvementTable(part, sel);
  }
  return md;
}

/**
 * Where each policy beats or loses to each baseline, along the part's first axis: "+" lists the axis values
 * where it is more than `margin` better on the part's accuracy metric (offline: accuracy; queue: accuracy
 * counting lost jobs as failures), "−" where it is more than `margin` worse; anything else is a tie.
 */
export function baselineComparison(part: PartDecl, rows: readonly SummaryRow[], margin = 0.005): string {
  const metric = RANK_METRIC[part.workload.kind];
  const axes = axisValues(part);
  const [first, ...others] = Object.keys(axes);
  if (!first || !part.baselines) return '';
  const labels = part.policies.map((p) => p.label).filter((l) => !part.baselines!.includes(l));
  const traces = [...new Set(rows.map((r) => r.trace))];
  const combos: Record<string, number | string>[] = [{}];
  for (const o of others) combos.splice(0, combos.length, ...combos.flatMap((c) => axes[o].map((v) => ({ ...c, [o]: v }))));
  const value = (label: string, trace: string, at: Record<string, number | string>): number | undefined => {
    const r = rows.find((x) => x.label === label && x.trace === trace && Object.entries(at).every(([k, v]) => !(k in x.axes) || x.axes[k] === v));
    return r?.metrics[metric]?.mean;
  };
  const body: string[][] = [];
  for (const trace of traces) {
    for (const combo of combos) {
      const cells = labels.flatMap((l) =>
        part.baselines!.map((b) => {
          const plus: (number | string)[] = [];
          const minus: (number | string)[] = [];
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
      body.push([traceName(trace), ...others.map((o) => String(combo[o])), ...cells]);
    }
  }
  const header = ['trace', ...others, ...labels.flatMap((l) => part.baselines!.map((b) => `${l} vs ${b}`))];
  return (
    `\n${part.name}: where each policy is more than ${margin * 100} points better (+) or worse (−) than each baseline on ${metric}, ` +
    `listed by ${first}:\n\n\`\`\`\n${textTable(header, body)}\n\`\`\`\n`
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
  const header = ['part', 'trace', 'policy', ...axisNames, 'budgetMs', 'seeds', ...metricNames.flatMap((m) => [`${m}_mean`, `${m}_ci95`])];
  const lines = rows.map((r) =>
    [r.part, r.trace, r.label, ...axisNames.map((a) => r.axes[a]), r.budgetMs, Math.max(0, ...Object.values(r.metrics).map((s) => s.n)), ...metricNames.flatMap((m) => [r.metrics[m]?.mean, r.metrics[m]?.ci95])].map(esc).join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

/** A plot to render: its Vega-Lite spec and what it shows. */
interface Plot {
  readonly part: string;
  /** The declared axis it is drawn along, or "exit-shares". */
  readonly axis: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

/**
 * Online parts: each policy's mean reward relative to the best baseline in the same cell (trace, stream, β),
 * (R − R_best) / |R_best| — "overall performance" in the sense of the DEE paper (whose exact definition is not
 * public): the quantity every online policy maximises, r = c − β·L, averaged over the stream and the seeds.
 */
export function improvementTable(part: PartDecl, rows: readonly SummaryRow[]): string {
  const baselines = part.baselines ?? [];
  const labels = part.policies.map((p) => p.label).filter((l) => !baselines.includes(l));
  const cells = [...new Set(rows.map((r) => `${r.trace}|${r.axes.stream}|${r.axes.beta}`))];
  const body = cells.map((c) => {
    const [trace, stream, beta] = c.split('|');
    const at = rows.filter((r) => `${r.trace}|${r.axes.stream}|${r.axes.beta}` === c);
    const reward = (l: string) => at.find((r) => r.label === l)?.metrics.meanReward?.mean ?? NaN;
    const gap = (l: string) => at.find((r) => r.label === l)?.metrics.regretOraclePerInput?.mean ?? NaN;
    const best = baselines.reduce((b, l) => (reward(l) > reward(b) ? l : b), baselines[0]);
    const rb = reward(best);
    const gb = gap(best);
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    return [traceName(trace), stream, beta, `${best} ${rb.toFixed(4)}`, ...labels.flatMap((l) => [pct((reward(l) - rb) / Math.abs(rb)), pct((gb - gap(l)) / gb)])];
  });
  return (
    `\n${part.name}: against the best baseline in each cell (trace, stream, β) — mean reward relative to it, (R − R_best)/|R_best|, ` +
    `and the share of its per-input regret against the oracle that the policy closes, (G_best − G)/G_best:\n\n\`\`\`\n` +
    `${textTable(['trace', 'stream', 'β', 'best baseline (reward)', ...labels.flatMap((l) => [`${l} reward`, `${l} gap closed`])], body)}\n\`\`\`\n`
  );
}

function axisValues(part: PartDecl): Record<string, readonly (number | string)[]> {
  if (part.workload.kind === 'offline') {
    const fr = (part.axes as OfflineAxes | undefined)?.budgetFraction;
    return fr ? { budgetFraction: fr } : {};
  }
  if (part.workload.kind === 'online') {
    const a = part.axes as OnlineAxes;
    return { beta: a.beta, stream: a.stream };
  }
  const a = part.axes as { lambdaOverMu: number[]; bufferSize: number[]; arrivals: string[] };
  return { lambdaOverMu: a.lambdaOverMu, bufferSize: a.bufferSize, arrivals: a.arrivals };
}

/** Plots of one part: one per declared axis, then exit shares. Other axes are held at their middle value. */
function partPlots(part: PartDecl, rows: readonly SummaryRow[]): Plot[] {
  const sel = rows.filter((r) => r.part === part.name);
  const axes = axisValues(part);
  const middle = Object.fromEntries(Object.entries(axes).map(([k, vs]) => [k, vs[Math.floor((vs.length - 1) / 2)]]));
  const plots: Plot[] = [];
  const datum = (r: SummaryRow) => ({
    trace: traceName(r.trace),
    policy: r.label,
    ...r.axes,
    budgetMs: r.budgetMs,
    ...Object.fromEntries(Object.entries(r.metrics).map(([m, s]) => [m, s.mean])),
  });
  for (const axis of Object.keys(axes)) {
    const held = Object.entries(middle).filter(([k]) => k !== axis);
    // Rows at the held values of the other axes; rows that do not vary with this axis (offline non-budgeted
    // policies) are drawn as points.
    const data = sel.filter((r) => held.every(([k, v]) => !(k in r.axes) || r.axes[k] === v)).map(datum);
    const heldText = held.map(([k, v]) => `${k} = ${v}`).join(', ');
    if (part.workload.kind === 'offline') {
      plots.push({
        part: part.name,
        axis,
        title: 'Accuracy vs mean cost on test, over budgets (lines: budgeted policies; points: others)',
        spec: {
          data: { values: data },
          facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } },
          spec: {
            width: 260,
            height: 200,
            layer: [
              { mark: { type: 'line', point: true }, transform: [{ filter: 'isValid(datum.budgetFraction)' }], encoding: { x: { field: 'meanCostMs', type: 'quantitative', title: 'mean cost (ms)' }, y: { field: 'accuracy', type: 'quantitative', scale: { zero: false } }, color: { field: 'policy', type: 'nominal' }, order: { field: 'budgetFraction' } } },
              { mark: { type: 'point', shape: 'diamond', filled: true, size: 60 }, transform: [{ filter: '!isValid(datum.budgetFraction)' }], encoding: { x: { field: 'meanCostMs', type: 'quantitative' }, y: { field: 'accuracy', type: 'quantitative' }, color: { field: 'policy', type: 'nominal' } } },
            ],
          },
          resolve: { scale: { x: 'independent', y: 'independent' } },
        } as TopLevelSpec,
      });
    } else if (part.workload.kind === 'online') {
      const categorical = axis === 'stream';
      const x = { field: axis, type: categorical ? 'nominal' : 'quantitative', title: axis === 'beta' ? 'β' : axis, axis: categorical ? {} : { format: '~g' } } as const;
      const panel = (metric: string, title: string) => ({
        width: 240,
        height: 160,
        mark: categorical ? { type: 'point' as const, filled: true, size: 70 } : { type: 'line' as const, point: true },
        encoding: { x, y: { field: metric, type: 'quantitative' as const, title, scale: { zero: false } }, color: { field: 'policy', type: 'nominal' as const } },
      });
      plots.push({
        part: part.name,
        axis,
        title: `Mean reward and per-input regret against the best per-context rule in hindsight along ${axis}${heldText ? `, at ${heldText}` : ''}`,
        spec: {
          data: { values: data },
          vconcat: [
            { facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } }, spec: panel('meanReward', 'mean reward') },
            { facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } }, spec: panel('regretHindsightPerInput', 'regret / input (hindsight)') },
          ],
        } as TopLevelSpec,
      });
    } else {
      const categorical = axis === 'arrivals';
      const x = { field: axis, type: categorical ? 'nominal' : 'quantitative', title: axis === 'lambdaOverMu' ? 'λ/μ' : axis, axis: categorical ? {} : { format: '~g', tickMinStep: axis === 'bufferSize' ? 1 : undefined } } as const;
      const panel = (metric: string, title: string) => ({
        width: 240,
        height: 160,
        mark: categorical ? { type: 'point' as const, filled: true, size: 70 } : { type: 'line' as const, point: true },
        encoding: { x, y: { field: metric, type: 'quantitative' as const, title }, color: { field: 'policy', type: 'nominal' as const } },
      });
      plots.push({
        part: part.name,
        axis,
        title: `Loss ratio and accuracy (lost jobs count as failures) along ${axis}${heldText ? `, at ${heldText}` : ''}`,
        spec: {
          data: { values: data },
          vconcat: [
            { facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } }, spec: panel('lossRatio', 'loss ratio') },
            { facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } }, spec: panel('accuracyOverall', 'accuracy incl. lost') },
          ],
        } as TopLevelSpec,
      });
    }
  }
  const atMiddle = sel.filter((r) => Object.entries(middle).every(([k, v]) => !(k in r.axes) || r.axes[k] === v));
  if (part.workload.kind === 'online') {
    const curves = atMiddle.flatMap((r) =>
      (r.series.t ?? []).flatMap((t, i) => [
        { trace: traceName(r.trace), policy: r.label, t, reference: 'hindsight rule', regret: r.series.regretHindsight?.[i] },
        { trace: traceName(r.trace), policy: r.label, t, reference: 'oracle', regret: r.series.regretOracle?.[i] },
      ]),
    );
    plots.push({
      part: part.name,
      axis: 'regret-curves',
      title: `Per-input regret within each window of the stream, at ${Object.entries(middle).map(([k, v]) => `${k} = ${v}`).join(', ')}`,
      spec: {
        data: { values: curves },
        facet: { row: { field: 'reference', type: 'nominal', header: { title: null } }, column: { field: 'trace', type: 'nominal', header: { title: null } } },
        spec: { width: 260, height: 150, mark: { type: 'line' }, encoding: { x: { field: 't', type: 'quantitative', title: 'inputs seen' }, y: { field: 'regret', type: 'quantitative', title: 'regret / input' }, color: { field: 'policy', type: 'nominal' } } },
        resolve: { scale: { y: 'independent' } },
      } as TopLevelSpec,
    });
  }
  const shares = atMiddle.flatMap((r) => r.exitShares.map((s, k) => ({ trace: traceName(r.trace), policy: r.label, exit: `exit ${k}`, share: s })));
  plots.push({
    part: part.name,
    axis: 'exit-shares',
    title: `Exit shares${Object.keys(middle).length ? ` at ${Object.entries(middle).map(([k, v]) => `${k} = ${v}`).join(', ')}` : ''}`,
    spec: {
      data: { values: shares },
      facet: { column: { field: 'trace', type: 'nominal', header: { title: null } } },
      spec: { width: 260, height: 18 * new Set(shares.map((s) => s.policy)).size + 20, mark: 'bar', encoding: { y: { field: 'policy', type: 'nominal', title: null }, x: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share of jobs' }, color: { field: 'exit', type: 'ordinal' } } },
    } as TopLevelSpec,
  });
  return plots;
}

async function renderSvg(spec: TopLevelSpec): Promise<string> {
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
  for (const part of decl.parts) {
    const figures: string[] = [];
    for (const plot of partPlots(part, rows)) {
      const svg = await renderSvg(plot.spec);
      figures.push(`<figure data-part="${plot.part}" data-axis="${plot.axis}"><figcaption>${escapeHtml(plot.title)}</figcaption>${svg}</figure>`);
    }
    sections.push(`<section><h2>${escapeHtml(part.name)} <small>(${part.workload.kind})</small></h2>${figures.join('\n')}</section>`);
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>exitlab: ${escapeHtml(decl.id)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}figure{margin:16px 0;padding:8px;border:1px solid #ddd;border-radius:6px}figcaption{font-weight:600;margin-bottom:6px}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}small{color:#666;font-weight:normal}</style>
</head><body>
<h1>${escapeHtml(decl.id)}</h1><p>${escapeHtml(decl.description)}</p>
<p>${records.length} cells, ${decl.seeds.length} seed(s); traces: ${decl.traces.map((t) => escapeHtml(traceName(t))).join(', ')}.</p>
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
