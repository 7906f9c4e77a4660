/**
 * Tables and the "overall performance" figures of the DEE experiment, computed from its records only (it never
 * runs a policy). `npx tsx experiments/dee-report.ts results/<run>/records.jsonl` re-prints a finished run;
 * `experiments/dee.ts` calls `reportDee` at the end of a run.
 *
 * Figures, per (fixture, stream, β) cell, each quantity averaged over seeds first:
 * - reward improvement = (R_DEE − R_best) / |R_best|, R = mean reward per input c − β·L, best = the baseline with
 *   the highest R in that cell;
 * - oracle-gap closed = (G_best − G_DEE) / G_best, G = mean per-input regret against the per-input oracle;
 * - both also over the last tenth of the stream (after learning), best chosen again on that tenth;
 * - and all of it against two baseline sets: every baseline, and the online ones only (no offline fitting).
 * Reported as max ("up to"), median and min over cells.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { OnlineResult } from '../lib/online.ts';
import { textTable } from '../lib/report.ts';

/** One run of the DEE experiment: a policy on one stream (a line of records.jsonl). */
export type DeeRecord = Omit<OnlineResult, 'records'> & {
  readonly fixture: string;
  readonly synthetic: boolean;
  /** 'stationary' | 'switch-split' | 'switch-mix'. */
  readonly stream: string;
  readonly beta: number;
  readonly seed: number;
  /** Policy label in the experiment (e.g. 'DEE', 'tuned-threshold'). */
  readonly label: string;
  readonly family: string;
  readonly params: unknown;
  readonly fit: unknown;
  /** Wall time of the run, seconds. */
  readonly seconds: number;
};

/** What to compare in `reportDee`. */
export interface DeeReportOptions {
  /** Windows per stream (the records' checkpoints). */
  readonly windows: number;
  /** Policy labels in table order. */
  readonly order: readonly string[];
  /** Labels of the baselines DEE is compared with. */
  readonly baselines: readonly string[];
  /** Baselines that learn online without offline fitting. Default lee-ucb, adaee-ucb, egreedy. */
  readonly onlineBaselines?: readonly string[];
  /** Label of the policy under test. Default 'DEE'. */
  readonly subject?: string;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The full text report: per-cell tables, regret curves, and the figures against the best baseline. */
export function reportDee(records: readonly DeeRecord[], opt: DeeReportOptions): string {
  const out: string[] = [];
  const subject = opt.subject ?? 'DEE';
  const online = opt.onlineBaselines ?? ['lee-ucb', 'adaee-ucb', 'egreedy'];
  const keyOf = (r: DeeRecord) => `${r.fixture}|${r.stream}|${r.beta}`;
  const cellKeys = [...new Set(records.map(keyOf))];
  const seeds = [...new Set(records.map((r) => r.seed))];
  const last = (r: DeeRecord) => r.checkpoints[r.checkpoints.length - 1];
  const agg = (key: string, label: string) => {
    const rs = records.filter((r) => keyOf(r) === key && r.label === label);
    if (rs.length === 0) throw new Error(`no records for ${label} in ${key}`);
    return {
      reward: mean(rs.map((r) => r.meanReward)),
      regO: mean(rs.map((r) => r.regretOracle / r.nInputs)),
      regH: mean(rs.map((r) => r.regretHindsight / r.nInputs)),
      lastH: mean(rs.map((r) => last(r).windowRegretHindsight)),
      lastReward: mean(rs.map((r) => last(r).windowMeanReward)),
      lastRegO: mean(rs.map((r) => last(r).windowRegretOracle)),
      acc: mean(rs.map((r) => r.accuracy)),
      cost: mean(rs.map((r) => r.meanCostMs)),
      rel: mean(rs.map((r) => r.relativeCost)),
      windowsH: rs[0].checkpoints.map((_, w) => mean(rs.map((r) => r.checkpoints[w].windowRegretHindsight))),
      oracle: mean(rs.map((r) => r.oracle.meanReward)),
      oracleAcc: mean(rs.map((r) => r.oracle.accuracy)),
      hind: mean(rs.map((r) => r.hindsight?.meanReward ?? NaN)),
      hindAcc: mean(rs.map((r) => r.hindsight?.accuracy ?? NaN)),
    };
  };
  const T = records[0]?.nInputs ?? 0;
  out.push(`DEE vs bandit baselines online: ${T} inputs per run, seeds ${seeds.join(',')}; means over seeds.${records.some((r) => r.synthetic) ? ' SYNTHETIC trace (no fixtures found).' : ''}`);
  out.push('regret/in = per-input regret over the whole stream; last-win = per-input regret vs hindsight in the last window.\n');
  for (const key of cellKeys) {
    const [fixture, stream, beta] = key.split('|');
    const ref = agg(key, opt.order[0]);
    out.push(`== ${fixture} | ${stream} | β = ${beta}   (oracle: reward ${ref.oracle.toFixed(4)}, acc ${ref.oracleAcc.toFixed(4)}; hindsight rule: reward ${ref.hind.toFixed(4)}, acc ${ref.hindAcc.toFixed(4)})`);
    const rows = opt.order.map((label) => {
      const a = agg(key, label);
      return [label, a.reward, a.regO, a.regH, a.lastH, a.acc, a.cost, a.rel];
    });
    out.push(textTable(['policy', 'reward', 'regret/in vs oracle', 'regret/in vs hindsight', 'last-win vs hindsight', 'accuracy', 'mean ms', 'rel. cost'], rows));
    out.push('');
  }
  const betas = [...new Set(records.map((r) => r.beta))];
  const curveBeta = betas.includes(0.1) ? 0.1 : betas[0];
  for (const fixture of [...new Set(records.map((r) => r.fixture))]) {
    const key = `${fixture}|stationary|${curveBeta}`;
    if (!cellKeys.includes(key)) continue;
    out.push(`Per-input regret vs hindsight per window (1/${opt.windows} of the stream each): ${fixture}, stationary, β = ${curveBeta}`);
    out.push(textTable(['policy', ...Array.from({ length: opt.windows }, (_, w) => `${w + 1}/${opt.windows}`)], opt.order.map((label) => [label, ...agg(key, label).windowsH])));
    out.push('');
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const med = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
  const summary = (xs: number[], digits: number) => `up to ${Math.max(...xs).toFixed(digits)}% (median ${med(xs).toFixed(digits)}%, worst ${Math.min(...xs).toFixed(digits)}%)`;
  for (const [setName, set] of [['every baseline', opt.baselines], ['online baselines only', online]] as const) {
    const figures = cellKeys.map((key) => {
      const d = agg(key, subject);
      const pick = (f: (a: ReturnType<typeof agg>) => number) => set.reduce((b, l) => (f(agg(key, l)) > f(agg(key, b)) ? l : b), set[0]);
      const best = pick((a) => a.reward);
      const bestLast = pick((a) => a.lastReward);
      const bb = agg(key, best);
      const bl = agg(key, bestLast);
      return {
        key,
        best,
        improvement: (100 * (d.reward - bb.reward)) / Math.abs(bb.reward),
        gapClosed: (100 * (bb.regO - d.regO)) / bb.regO,
        bestLast,
        lastImprovement: (100 * (d.lastReward - bl.lastReward)) / Math.abs(bl.lastReward),
        lastGapClosed: (100 * (bl.lastRegO - d.lastRegO)) / bl.lastRegO,
      };
    });
    out.push(`${subject} vs the best of ${setName} (${set.join(', ')}) per cell, whole stream and last window (best chosen separately):`);
    out.push(
      textTable(
        ['cell', 'best baseline', 'reward improv. %', 'oracle-gap closed %', 'best (last window)', 'last-window reward improv. %', 'last-window gap closed %'],
        figures.map((x) => [x.key.replace(/\|/g, ' '), x.best, x.improvement, x.gapClosed, x.bestLast, x.lastImprovement, x.lastGapClosed]),
      ),
    );
    out.push(`Overall performance (mean reward c − β·L), ${subject} vs the best of ${setName}: ${summary(figures.map((x) => x.improvement), 2)} over ${figures.length} cells;`);
    out.push(`  oracle gap (per-input regret) closed: ${summary(figures.map((x) => x.gapClosed), 1)};`);
    out.push(`  last window: reward ${summary(figures.map((x) => x.lastImprovement), 2)}; gap closed ${summary(figures.map((x) => x.lastGapClosed), 1)}.`);
    out.push('');
  }
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const path = process.argv[2];
  if (!path) throw new Error('usage: npx tsx experiments/dee-report.ts results/<run>/records.jsonl');
  const records = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as DeeRecord);
  const order = [...new Set(records.map((r) => r.label))];
  const windows = records[0].checkpoints.length;
  console.log(reportDee(records, { windows, order, baselines: order.filter((l) => !l.startsWith('DEE')) }));
}
