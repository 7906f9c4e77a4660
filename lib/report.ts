/**
 * Plain-text tables for the terminal. Reporting reads result records; it never runs a policy.
 */
import type { PolicyResult } from './offline.ts';

/** Format rows as an aligned text table. Numbers are right-aligned, text left-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number'));
  const widths = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(4);
}

/** The comparison table: accuracy, mean cost, relative cost and exit shares per policy. */
export function resultsTable(results: readonly PolicyResult[]): string {
  const K = results[0]?.exitShares.length ?? 0;
  const header = ['policy', 'budget ms', 'accuracy', 'mean ms', 'rel. cost', ...Array.from({ length: K }, (_, k) => `exit ${k}`)];
  const rows = results.map((r) => [
    r.policy,
    r.budgetMs === undefined ? '-' : r.budgetMs.toFixed(4),
    r.accuracy,
    r.meanCostMs,
    r.relativeCost,
    ...r.exitShares.map((s) => s),
  ]);
  return textTable(header, rows);
}

/** Accuracy vs budget, one row per budget, one column per budgeted policy family/score. */
export function sweepTable(results: readonly PolicyResult[]): string {
  const budgets = [...new Set(results.map((r) => r.budgetMs ?? NaN))];
  const names = [...new Set(results.map((r) => r.policy.replace(/ \(B=.*\)$/, '')))];
  const header = ['budget ms', ...names.flatMap((n) => [`${n} acc`, 'cost'])];
  const rows = budgets.map((b) => [
    b,
    ...names.flatMap((n) => {
      const r = results.find((x) => x.budgetMs === b && x.policy.replace(/ \(B=.*\)$/, '') === n);
      return r ? [r.accuracy, r.meanCostMs] : [NaN, NaN];
    }),
  ]);
  return textTable(header, rows);
}
