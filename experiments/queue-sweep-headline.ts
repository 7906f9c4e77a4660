/**
 * Headline of a queue-sweep run (issue 17): for every trace × arrivals × buffer size × λ/μ, the best
 * backlog-threshold control (labels starting `bt-`) against the best existing policy (the ordinary EEN and the
 * three single-exit schedulers), by mean accuracyOverall over seeds, with the paired difference over seeds
 * (same seed = same arrivals and samples for every policy: common random numbers), the loss ratio and the p95
 * response time of both, and two verdicts: win / tie / loss at the 95% level of the per-setting paired t interval,
 * and the same from the paired t test's two-sided p-value after Holm's correction over all settings of the table
 * (`lib/stats.ts` `holm`), which controls the chance of any false win or loss in the whole table at 5%.
 * Reads only the run's records (`cells.jsonl`); runs no policy.
 *
 * Picking the best of several controls after the fact favours them (selection); `--control LABEL` compares one
 * control fixed in advance instead (e.g. the family's default, `bt-model-maxprob`).
 *
 * After the table: how large the wins are, and in how many of them the control's loss ratio and p95 response time
 * are at most the best existing policy's (so the accuracy was not bought with losses or latency).
 *
 * Usage: tsx experiments/queue-sweep-headline.ts DIR [--part sweep] [--md out.md] [--control LABEL]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { holm, incompleteBeta } from '../lib/stats.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { part: { type: 'string', default: 'sweep' }, md: { type: 'string' }, control: { type: 'string' } } });
if (positionals.length !== 1) throw new Error('usage: tsx experiments/queue-sweep-headline.ts DIR [--part sweep] [--md out.md]');
const EXISTING = ['EEN', 'reactive', 'model-based', 'rate-based'];

interface Rec {
  readonly part: string;
  readonly trace: string;
  readonly label: string;
  readonly axes: Readonly<Record<string, string | number>>;
  readonly seed: number;
  readonly metrics: Readonly<Record<string, number>>;
}
const recs: Rec[] = readFileSync(join(positionals[0], 'cells.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Rec)
  .filter((r) => r.part === values.part);

// Two-sided 95% Student t quantiles by degrees of freedom.
const T95 = [NaN, 12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const half = (xs: number[]) => {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return ((T95[xs.length - 1] ?? 1.96) * Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))) / Math.sqrt(xs.length);
};
/** Two-sided p-value of the one-sample t test of mean(d) = 0 (P[|T| > t] = I_{df/(df+t²)}(df/2, 1/2)). */
const tTestP = (d: number[]): number => {
  const n = d.length;
  if (n < 2) return NaN;
  const m = mean(d);
  const sd = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
  if (sd === 0) return m === 0 ? 1 : 0;
  const t = m / (sd / Math.sqrt(n));
  const df = n - 1;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
};
const traceName = (t: string) => t.split('/').slice(-2, -1)[0] ?? t;

// Group: trace | arrivals | bufferSize | lambdaOverMu → label → seed → metrics.
const groups = new Map<string, Map<string, Map<number, Rec['metrics']>>>();
for (const r of recs) {
  const g = `${traceName(r.trace)}|${r.axes.arrivals}|${r.axes.bufferSize}|${r.axes.lambdaOverMu}`;
  if (!groups.has(g)) groups.set(g, new Map());
  const byLabel = groups.get(g)!;
  if (!byLabel.has(r.label)) byLabel.set(r.label, new Map());
  byLabel.get(r.label)!.set(r.seed, r.metrics);
}
const order = [...groups.keys()].sort((a, b) => {
  const [ta, aa, ba, la] = a.split('|');
  const [tb, ab, bb, lb] = b.split('|');
  return ta.localeCompare(tb) || aa.localeCompare(ab) || Number(ba) - Number(bb) || Number(la) - Number(lb);
});
const lines = [
  '| trace | arrivals | B | λ/μ | best control | acc | loss | p95 ms | best existing | acc | loss | p95 ms | Δ acc (paired 95%) | verdict | Holm |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
/** One row per setting, finished once every p-value is known (Holm needs them all). */
const rows: { text: string; p: number; dm: number; keys: string[]; ours: { loss: number; p95: number }; theirs: { loss: number; p95: number } }[] = [];
const tally = { win: 0, tie: 0, loss: 0 };
/** Verdicts per trace × arrivals and per buffer size. */
const byGroup = new Map<string, { win: number; tie: number; loss: number }>();
const count = (key: string, v: 'win' | 'tie' | 'loss') => {
  if (!byGroup.has(key)) byGroup.set(key, { win: 0, tie: 0, loss: 0 });
  byGroup.get(key)![v]++;
};
for (const g of order) {
  const byLabel = groups.get(g)!;
  const summary = (label: string) => {
    const m = [...byLabel.get(label)!.values()];
    return { label, acc: mean(m.map((x) => x.accuracyOverall)), loss: mean(m.map((x) => x.lossRatio)), p95: mean(m.map((x) => x.p95ResponseMs)) };
  };
  const pick = (labels: string[]) => labels.filter((l) => byLabel.has(l)).map(summary).sort((a, b) => b.acc - a.acc)[0];
  const ours = pick([...byLabel.keys()].filter((l) => (values.control ? l === values.control : l.startsWith('bt-'))));
  const theirs = pick(EXISTING);
  if (!ours || !theirs) continue;
  const a = byLabel.get(ours.label)!;
  const b = byLabel.get(theirs.label)!;
  const d = [...a.keys()].filter((s) => b.has(s)).map((s) => a.get(s)!.accuracyOverall - b.get(s)!.accuracyOverall);
  const dm = mean(d);
  const dh = half(d);
  const verdict = dm - dh > 0 ? 'win' : dm + dh < 0 ? 'loss' : 'tie';
  tally[verdict]++;
  const [t, arr, B, l] = g.split('|');
  count(`${t} / ${arr}`, verdict);
  count(`best control: ${ours.label}`, verdict);
  count(`B = ${B}`, verdict);
  rows.push({
    text: `| ${t} | ${arr} | ${B} | ${l} | ${ours.label} | ${ours.acc.toFixed(4)} | ${ours.loss.toFixed(4)} | ${ours.p95.toFixed(3)} | ${theirs.label} | ${theirs.acc.toFixed(4)} | ${theirs.loss.toFixed(4)} | ${theirs.p95.toFixed(3)} | ${dm >= 0 ? '+' : ''}${dm.toFixed(4)} ± ${dh.toFixed(4)} | ${verdict} |`,
    p: tTestP(d),
    dm,
    keys: [`${t} / ${arr}`, `best control: ${ours.label}`, `B = ${B}`],
    ours,
    theirs,
  });
}
const adjusted = holm(rows.map((r) => r.p));
const holmTally = { win: 0, tie: 0, loss: 0 };
const holmBy = new Map<string, { win: number; tie: number; loss: number }>();
rows.forEach((r, i) => {
  const v = adjusted.reject[i] ? (r.dm > 0 ? 'win' : 'loss') : 'tie';
  holmTally[v]++;
  for (const k of r.keys) {
    if (!holmBy.has(k)) holmBy.set(k, { win: 0, tie: 0, loss: 0 });
    holmBy.get(k)![v]++;
  }
  lines.push(`${r.text} ${v} (p ${adjusted.adjusted[i].toPrecision(2)}) |`);
});
const n = rows.length;
lines.push('', `${tally.win} wins, ${tally.tie} ties, ${tally.loss} losses of ${n} settings by the per-setting paired 95% interval (best control vs best of ${EXISTING.join(', ')}).`);
lines.push(`${holmTally.win} wins, ${holmTally.tie} ties, ${holmTally.loss} losses of ${n} settings by the paired t test with Holm's correction over the ${n} settings (family-wise α = 0.05).`);
// The wins by size, and whether they cost losses or latency (by the per-setting interval's verdicts).
const wins = rows.filter((r) => r.text.endsWith('| win |'));
const bySize = [wins.filter((r) => r.dm >= 0.005).length, wins.filter((r) => r.dm >= 0.001 && r.dm < 0.005).length, wins.filter((r) => r.dm < 0.001).length];
const p95Ratios = wins.map((r) => r.ours.p95 / r.theirs.p95).sort((a, b) => a - b);
lines.push(
  `Wins by size: ${bySize[0]} by ≥ 0.5 points of accuracyOverall, ${bySize[1]} by 0.1–0.5, ${bySize[2]} by < 0.1. ` +
    `In ${wins.filter((r) => r.ours.loss <= r.theirs.loss).length} of the ${wins.length} wins the control's loss ratio is at most the best existing policy's; ` +
    `its p95 response time is at most theirs in ${wins.filter((r) => r.ours.p95 <= r.theirs.p95).length} (median ratio ${wins.length ? p95Ratios[p95Ratios.length >> 1].toFixed(2) : '–'}).`,
);
lines.push('', '| group | wins | ties | losses | Holm: wins | ties | losses |', '|---|---|---|---|---|---|---|');
for (const [k, v] of [...byGroup.entries()].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }))) {
  const h = holmBy.get(k) ?? { win: 0, tie: 0, loss: 0 };
  lines.push(`| ${k} | ${v.win} | ${v.tie} | ${v.loss} | ${h.win} | ${h.tie} | ${h.loss} |`);
}
const out = lines.join('\n') + '\n';
if (values.md) writeFileSync(values.md, out);
process.stdout.write(out);
