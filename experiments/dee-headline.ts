/**
 * The figures of docs/results/dee.md that summary.md does not print, from a `dee-study` run's records
 * (`cells.jsonl`); runs no policy.
 *
 * - Headline: per (trace, stream, β) cell, DEE's mean reward relative to the best baseline's,
 *   (R − R_best)/|R_best|, and the share of that baseline's oracle gap it closes, (G_best − G)/G_best, each with
 *   the 95% Welch interval over seeds of R − R_best (resp. G_best − G) divided by |R_best| (resp. G_best) — the
 *   interval of that cell's figure, not of a maximum or median chosen after the fact. Over the whole stream
 *   (meanReward, regretOraclePerInput) and the last window (lastWindowReward, lastWindowRegretOracle), against
 *   every baseline and against the online ones; closed by maximum, median (the upper middle over cells, as the
 *   harness's report) and minimum, each with its cell.
 * - Verdicts: every non-baseline policy against every baseline on the whole stream's meanReward, Welch t over
 *   seeds, Holm over all those comparisons of the part (as summary.md's comparison table); tallied per pair, and
 *   DEE's verdict against the best baseline (all, online) of each cell.
 * - Per cell: DEE's last-window regret against the hindsight rule, and the tuned threshold's over the stream
 *   (t intervals over seeds).
 * - Per-window regret against the hindsight rule (the records' `series.regretHindsight`), mean over seeds, at
 *   one stream and β per trace (`--stream`, `--beta`).
 *
 * Usage: tsx experiments/dee-headline.ts DIR [--part dee] [--stream stationary] [--beta 0.1]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { textTable } from '../lib/report.ts';
import { compareRows, decide, overSeeds, type Comparison } from './harness/statistics.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { part: { type: 'string', default: 'dee' }, stream: { type: 'string', default: 'stationary' }, beta: { type: 'string', default: '0.1' } },
});
if (positionals.length !== 1) throw new Error('usage: tsx experiments/dee-headline.ts DIR [--part dee] [--stream stationary] [--beta 0.1]');
const dir = positionals[0];

interface Rec {
  readonly part: string;
  readonly model: string;
  readonly label: string;
  readonly axes: { readonly stream: string; readonly beta: number };
  readonly seed: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly series: { readonly t: number[]; readonly regretHindsight: number[] };
}
interface PartDecl {
  readonly name: string;
  readonly policies: { readonly label: string }[];
  readonly baselines: string[];
  readonly baselineGroups?: Record<string, string[]>;
}
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { parts: PartDecl[] };
const part = config.parts.find((p) => p.name === values.part);
if (!part) throw new Error(`${dir}/config.json: no part "${values.part}"`);
const recs: Rec[] = readFileSync(join(dir, 'cells.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Rec)
  .filter((r) => r.part === values.part);

const baselines = part.baselines;
const groups: [string, string[]][] = [['every baseline', baselines], ...Object.entries(part.baselineGroups ?? {})];
const learners = part.policies.map((p) => p.label).filter((l) => !baselines.includes(l));
const cellKey = (r: Rec) => `${r.model}|${r.axes.stream}|${r.axes.beta}`;
const cells = [...new Set(recs.map(cellKey))];
/** Per-seed values of one metric, in seed order. */
const vals = (cell: string, label: string, metric: string): number[] =>
  recs
    .filter((r) => cellKey(r) === cell && r.label === label)
    .sort((a, b) => a.seed - b.seed)
    .map((r) => r.metrics[metric]);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(2)}`;
const f4 = (x: number) => x.toFixed(4);
const cellName = (c: string) => {
  const [m, s, b] = c.split('|');
  return `${m}, ${s}, β = ${b}`;
};

interface Fig {
  cell: string;
  best: string;
  rel: number;
  relLo: number;
  relHi: number;
  closed: number;
  closedLo: number;
  closedHi: number;
}
/** One learner's figures against the best of `bs` per cell. */
function figures(label: string, bs: string[], metric: string, gap: string): Fig[] {
  return cells.map((cell) => {
    const best = bs.reduce((b, l) => (mean(vals(cell, l, metric)) > mean(vals(cell, b, metric)) ? l : b), bs[0]);
    const rb = Math.abs(mean(vals(cell, best, metric)));
    const gb = mean(vals(cell, best, gap));
    const dR = compareRows(metric, { values: vals(cell, label, metric) }, { values: vals(cell, best, metric) }).diff;
    const dG = compareRows(gap, { values: vals(cell, best, gap) }, { values: vals(cell, label, gap) }).diff;
    return { cell, best, rel: dR.mean / rb, relLo: dR.lo / rb, relHi: dR.hi / rb, closed: dG.mean / gb, closedLo: dG.lo / gb, closedHi: dG.hi / gb };
  });
}
const pick = (fs: Fig[], key: 'rel' | 'closed') => {
  const s = [...fs].sort((a, b) => a[key] - b[key]);
  return { max: s[s.length - 1], median: s[Math.floor(s.length / 2)], min: s[0] };
};
const fmt = (f: Fig, key: 'rel' | 'closed') =>
  key === 'rel' ? `${pct(f.rel)}% [${pct(f.relLo)}, ${pct(f.relHi)}]` : `${pct(f.closed)}% [${pct(f.closedLo)}, ${pct(f.closedHi)}]`;

const out: string[] = [];
for (const [title, metric, gap] of [
  ['whole stream', 'meanReward', 'regretOraclePerInput'],
  ['last window', 'lastWindowReward', 'lastWindowRegretOracle'],
] as const) {
  for (const [group, bs] of groups) {
    out.push(`## ${title}, against ${group} (${bs.join(', ')})`);
    for (const label of learners) {
      const fs = figures(label, bs, metric, gap);
      for (const key of ['rel', 'closed'] as const) {
        const p = pick(fs, key);
        out.push(
          `${label} ${key === 'rel' ? `${metric} relative` : 'gap closed'}: up to ${fmt(p.max, key)} (${cellName(p.max.cell)}, vs ${p.max.best}), ` +
            `median ${fmt(p.median, key)} (${cellName(p.median.cell)}), worst ${fmt(p.min, key)} (${cellName(p.min.cell)}, vs ${p.min.best})`,
        );
      }
      if (label === learners[0]) {
        out.push('');
        out.push(textTable(['cell', 'best baseline', `${label} rel % [95%]`, `${label} gap closed % [95%]`], fs.map((f) => [cellName(f.cell), f.best, fmt(f, 'rel'), fmt(f, 'closed')])));
        out.push('');
      }
    }
    out.push('');
  }
}

// Holm over every learner × baseline × cell on the whole stream's meanReward, as summary.md's table.
const comps: (Comparison & { cell: string; label: string; baseline: string })[] = [];
for (const cell of cells) {
  for (const label of learners) {
    for (const b of baselines) {
      const c = compareRows('meanReward', { values: vals(cell, label, 'meanReward') }, { values: vals(cell, b, 'meanReward') });
      comps.push({ ...c, adjusted: NaN, verdict: 'tie', cell, label, baseline: b });
    }
  }
}
decide(comps, 'higher');
const tally = (xs: { verdict: string }[]) => ['better', 'worse', 'tie'].map((v) => xs.filter((x) => x.verdict === v).length).join(' / ');
out.push(`## Verdicts on meanReward (Welch t over seeds, Holm over ${comps.length} comparisons): better / worse / tie over ${cells.length} cells`);
out.push(`total: ${tally(comps)}`);
for (const label of learners) out.push(`${label}: ${baselines.map((b) => `${b} ${tally(comps.filter((c) => c.label === label && c.baseline === b))}`).join('; ')}`);
const byTrace = (label: string, b: string) =>
  [...new Set(cells.map((c) => c.split('|')[0]))].map((m) => `${m} ${tally(comps.filter((c) => c.label === label && c.baseline === b && c.cell.startsWith(`${m}|`)))}`).join(', ');
for (const label of learners) for (const b of baselines) out.push(`${label} vs ${b} by trace: ${byTrace(label, b)}`);
for (const [group, bs] of groups) {
  const rows = cells.map((cell) => {
    const best = bs.reduce((x, l) => (mean(vals(cell, l, 'meanReward')) > mean(vals(cell, x, 'meanReward')) ? l : x), bs[0]);
    const c = comps.find((k) => k.cell === cell && k.label === 'DEE' && k.baseline === best)!;
    return { cell, best, c };
  });
  out.push('');
  out.push(`DEE vs the best baseline of ${group}: ${tally(rows.map((r) => r.c))}`);
  out.push(
    textTable(
      ['cell', 'best', 'Δ meanReward [95%]', 'p (Holm)', 'verdict'],
      rows.map((r) => [cellName(r.cell), r.best, `${r.c.diff.mean.toFixed(5)} [${r.c.diff.lo.toFixed(5)}, ${r.c.diff.hi.toFixed(5)}]`, r.c.adjusted < 0.0001 ? '<0.0001' : r.c.adjusted.toFixed(4), r.c.verdict]),
    ),
  );
}
out.push('');
out.push('## Per cell: DEE last-window regret vs hindsight; tuned threshold whole-stream regret vs hindsight and vs oracle; plain accuracy (t over seeds)');
const ci = (xs: number[]) => {
  const s = overSeeds(xs);
  return `${f4(s.mean)} [${f4(s.lo)}, ${f4(s.hi)}]`;
};
out.push(
  textTable(
    ['cell', 'DEE lastWindowRegretHindsight', 'DEE regretHindsightPerInput', 'tuned regretHindsightPerInput', 'tuned − DEE meanReward', 'plain accuracy'],
    cells.map((c) => [
      cellName(c),
      ci(vals(c, 'DEE', 'lastWindowRegretHindsight')),
      ci(vals(c, 'DEE', 'regretHindsightPerInput')),
      ci(vals(c, 'tuned-threshold', 'regretHindsightPerInput')),
      f4(mean(vals(c, 'tuned-threshold', 'meanReward')) - mean(vals(c, 'DEE', 'meanReward'))),
      ci(vals(c, 'plain', 'accuracy')),
    ]),
  ),
);
out.push('');
out.push('## Per-window regret');
for (const model of [...new Set(recs.map((r) => r.model))]) {
  const cell = `${model}|${values.stream}|${values.beta}`;
  const at = recs.filter((r) => cellKey(r) === cell);
  if (at.length === 0) continue;
  const seeds = [...new Set(at.map((r) => r.seed))].sort((a, b) => a - b);
  const nw = at[0].series.t.length;
  out.push(`Per-input regret vs hindsight per window (1/${nw} of the stream each), mean over seeds ${seeds[0]}-${seeds[seeds.length - 1]}: ${model}, ${values.stream}, β = ${values.beta}`);
  const head = ['policy', ...Array.from({ length: nw }, (_, i) => `${i + 1}/${nw}`)];
  const rows = part.policies.map((p) => {
    const rs = at.filter((r) => r.label === p.label);
    return [p.label, ...Array.from({ length: nw }, (_, i) => f4(mean(rs.map((r) => r.series.regretHindsight[i]))))];
  });
  out.push(textTable(head, rows));
  out.push('');
}
console.log(out.join('\n'));
