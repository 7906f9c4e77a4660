/**
 * Real vs simulated, cell by cell, from a testbed run's records (`cells.jsonl`): for each trace × policy ×
 * arrivals × B × λ/μ, the real figure's mean over seeds with its 95% confidence interval (Student t), the
 * simulated means (calibrated service times; in-run service times), and whether each simulated mean falls inside
 * the real interval. Reads records only.
 *
 *   npx tsx experiments/testbed/compare.ts RUN_DIR [--out FILE.md]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InputError } from '../../lib/errors.ts';

/** The parts of a record this reads. */
interface Rec {
  readonly trace: string;
  readonly model?: string;
  readonly label: string;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly seed: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/** Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, 1.96. */
const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and 95% half-width over values (half-width NaN for one value). */
export function meanCi(xs: readonly number[]): { mean: number; half: number; n: number } {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, half: NaN, n };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: NaN, n };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, half: (T95[Math.min(n - 1, 30)] ?? 1.96) * (sd / Math.sqrt(n)), n };
}

/** A figure compared: the real metric and its simulated counterparts. */
const FIGURES = [
  { title: 'loss ratio', real: 'lossRatio', sim: 'simLossRatio', inRun: 'simInRunLossRatio', digits: 3 },
  { title: 'p95 response (ms)', real: 'p95ResponseMs', sim: 'simP95ResponseMs', inRun: 'simInRunP95ResponseMs', digits: 1 },
  { title: 'accuracy incl. lost', real: 'accuracyOverall', sim: 'simAccuracyOverall', inRun: 'simInRunAccuracyOverall', digits: 3 },
] as const;

/** Build the Markdown comparison from records. */
export function compareMarkdown(records: readonly Rec[]): string {
  const groups = new Map<string, Rec[]>();
  for (const r of records) {
    const key = JSON.stringify([r.model ?? r.trace, r.label, r.axes.arrivals, r.axes.bufferSize, r.axes.lambdaOverMu]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  const keys = [...groups.keys()].sort((a, b) => {
    const x = JSON.parse(a) as (string | number)[];
    const y = JSON.parse(b) as (string | number)[];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return typeof x[i] === 'number' ? (x[i] as number) - (y[i] as number) : String(x[i]).localeCompare(String(y[i]));
    return 0;
  });
  const lines: string[] = [];
  const tally = FIGURES.map(() => ({ sim: 0, inRun: 0, n: 0, cells: 0, simBelow: 0, inRunBelow: 0 }));
  lines.push(`| model | policy | arrivals | B | λ/μ | seeds | ${FIGURES.map((f) => `${f.title}: real (95% CI) | sim | sim in-run`).join(' | ')} |`);
  lines.push(`|${'---|'.repeat(6 + 3 * FIGURES.length)}`);
  for (const key of keys) {
    const g = groups.get(key)!;
    const [model, label, arrivals, B, rho] = JSON.parse(key) as (string | number)[];
    const cells = FIGURES.map((f, i) => {
      const real = meanCi(g.map((r) => r.metrics[f.real]));
      const sim = meanCi(g.map((r) => r.metrics[f.sim])).mean;
      const inRun = meanCi(g.map((r) => r.metrics[f.inRun])).mean;
      const inside = (x: number): boolean => Number.isFinite(real.half) && Math.abs(x - real.mean) <= real.half;
      if (Number.isFinite(real.mean) && Number.isFinite(sim) && Number.isFinite(inRun)) {
        tally[i].cells++;
        if (sim < real.mean) tally[i].simBelow++;
        if (inRun < real.mean) tally[i].inRunBelow++;
      }
      if (Number.isFinite(real.half)) {
        tally[i].n++;
        if (inside(sim)) tally[i].sim++;
        if (inside(inRun)) tally[i].inRun++;
      }
      const mark = (x: number): string => `${x.toFixed(f.digits)}${Number.isFinite(real.half) ? (inside(x) ? ' ✓' : ' ✗') : ''}`;
      return `${real.mean.toFixed(f.digits)}${Number.isFinite(real.half) ? ` ± ${real.half.toFixed(f.digits)}` : ''} | ${mark(sim)} | ${mark(inRun)}`;
    });
    lines.push(`| ${model} | ${label} | ${arrivals} | ${B} | ${rho} | ${g.length} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('✓: the simulated mean lies inside the real 95% interval over seeds; ✗: outside.');
  lines.push('');
  for (const [i, f] of FIGURES.entries()) {
    const t = tally[i];
    if (t.n) lines.push(`- ${f.title}: calibrated simulation inside the real interval in ${t.sim} of ${t.n} cells; in-run simulation in ${t.inRun} of ${t.n}.`);
    if (t.cells) lines.push(`- ${f.title}: calibrated simulation below the real mean in ${t.simBelow} of ${t.cells} cells; in-run simulation in ${t.inRunBelow} of ${t.cells}.`);
  }
  return lines.join('\n') + '\n';
}

/** Read a run directory's records (a torn last line is skipped). */
export function readRunRecords(dir: string): Rec[] {
  const path = join(dir, 'cells.jsonl');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(path, 'file', 'the records of a testbed run', (err as NodeJS.ErrnoException).code ?? String(err));
  }
  const out: Rec[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as Rec);
    } catch {
      if (i < lines.length - 2) throw new InputError(path, `line ${i + 1}`, 'one JSON record per line');
    }
  });
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
  if (!positionals[0]) throw new InputError('command line', 'RUN_DIR', 'a testbed run directory');
  const md = compareMarkdown(readRunRecords(positionals[0]));
  if (values.out) writeFileSync(values.out, md);
  else process.stdout.write(md);
}
