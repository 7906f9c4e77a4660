/**
 * The tables of docs/results/risk-control.md from a `risk-control` run directory: per part and trace, one row per
 * target and method with the violation rate on the test draw and on the whole pool, accuracy, the accuracy given
 * up relative to the part's first baseline (plain calibration; naive for the gap), and the cost.
 *
 *   npx tsx experiments/risk/tables.ts results/risk-control-<time>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fields of a `risk` workload record this script reads (one line of cells.jsonl). */
export interface RiskRecordLike {
  readonly part: string;
  readonly trace: string;
  readonly model?: string;
  readonly label: string;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly seed: number;
  readonly metrics: Readonly<Record<string, number>>;
}

const fmt = (x: number | undefined, digits: number) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

/**
 * Markdown tables (module comment) from records, parts in order of first appearance, metrics averaged over seeds.
 * @param baselineOf label each part's accuracy price is measured against.
 */
export function riskTables(records: readonly RiskRecordLike[], baselineOf: (part: string) => string, labelOrder: (part: string) => readonly string[] = () => []): string {
  const out: string[] = [];
  const parts = [...new Set(records.map((r) => r.part))];
  for (const part of parts) {
    const mine = records.filter((r) => r.part === part);
    for (const trace of [...new Set(mine.map((r) => r.model ?? r.trace))]) {
      const rows = mine.filter((r) => (r.model ?? r.trace) === trace);
      const axisName = Object.keys(rows[0].axes)[0];
      const targets = [...new Set(rows.map((r) => Number(r.axes[axisName])))].sort((a, b) => a - b);
      const seen = [...new Set(rows.map((r) => r.label))];
      const order = labelOrder(part);
      const labels = [...order.filter((l) => seen.includes(l)), ...seen.filter((l) => !order.includes(l))];
      const splits = rows[0].metrics.splits;
      out.push(`### ${part}: ${trace} (${splits} draws per row)`, '');
      out.push(`| ${axisName} | method | violation rate (test draw) | violation rate (pool) | accuracy | accuracy given up vs ${baselineOf(part)} (points) | mean cost (ms) | cost vs ${baselineOf(part)} | gap |`);
      out.push('|---|---|---|---|---|---|---|---|---|');
      for (const t of targets) {
        const at = rows.filter((r) => Number(r.axes[axisName]) === t);
        const mean = (label: string, m: string) => {
          const xs = at.filter((r) => r.label === label && r.metrics[m] !== undefined).map((r) => r.metrics[m]);
          return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
        };
        const base = mean(baselineOf(part), 'accuracy');
        const baseCost = mean(baselineOf(part), 'meanCostMs');
        for (const label of labels) {
          const acc = mean(label, 'accuracy');
          const price = acc === undefined || base === undefined ? undefined : 100 * (base - acc);
          const cost = mean(label, 'meanCostMs');
          const rel = cost === undefined || baseCost === undefined ? undefined : 100 * (cost / baseCost - 1);
          const relText = rel === undefined ? '–' : `${rel >= 0 ? '+' : ''}${rel.toFixed(1)}%`;
          out.push(`| ${t} | ${label} | ${fmt(mean(label, 'violationRate'), 3)} | ${fmt(mean(label, 'poolViolationRate'), 3)} | ${fmt(acc, 4)} | ${fmt(price, 2)} | ${fmt(cost, 4)} | ${relText} | ${fmt(mean(label, 'gap'), 4)} |`);
        }
      }
      out.push('');
    }
  }
  return out.join('\n');
}

function main(): void {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx experiments/risk/tables.ts RUN_DIR');
    process.exit(2);
  }
  const lines = readFileSync(join(dir, 'cells.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  const records = lines.map((l) => JSON.parse(l) as RiskRecordLike).filter((r) => r.metrics && 'violationRate' in r.metrics);
  // Rows in the experiment's policy order, first baseline as the reference for the price.
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { parts: { name: string; policies: { label: string }[]; baselines?: string[] }[] };
  const partOf = (name: string) => config.parts.find((p) => p.name === name);
  console.log(
    riskTables(
      records,
      (part) => partOf(part)?.baselines?.[0] ?? partOf(part)?.policies[0].label ?? '',
      (part) => partOf(part)?.policies.map((p) => p.label) ?? [],
    ),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
