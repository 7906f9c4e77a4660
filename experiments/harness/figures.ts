/**
 * What every figure of a report shares: one colour and one mark per policy label across the whole report (a
 * label keeps its look in every part and plot), and writing each plot on its own as `figures/<part>-<plot>.svg`
 * with its data as `.csv` and its Vega-Lite spec as `.vl.json` beside it, so a reader can restyle it or load the
 * numbers elsewhere.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite } from '../../lib/io.ts';

// 18 colours that stay apart on white (Tableau 20 without its two greys, which the bounds use: strong tones first,
// their light partners after) and 8 point shapes. Label i gets colour i mod 18 and shape (⌊i / 18⌋ + i) mod 8:
// labels i and i + 18j share a colour but their shapes differ by 19j mod 8 ≠ 0 for j < 8, so (colour, shape)
// pairs are distinct for up to 144 labels, and neighbouring labels never share a shape.
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#dbdb8d', '#9edae5'];
const SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down', 'triangle-right', 'triangle-left'];

/** Colour and shape scales for policy labels, in first-seen order over the whole report. */
export interface PolicyStyles {
  /** Labels, the scales' domain. */
  readonly domain: readonly string[];
  /** CSS colour per label. */
  readonly colours: readonly string[];
  /** Vega point shape per label. */
  readonly shapes: readonly string[];
}

/**
 * Styles for `labels` (duplicates ignored, first occurrence fixes the order). The full-network and oracle rows get
 * fixed neutral looks (black, grey) so the bounds read the same in every report.
 */
export function policyStyles(labels: readonly string[]): PolicyStyles {
  const domain = [...new Set(labels)];
  const fixed: Record<string, [string, string]> = { 'plain network': ['#000000', 'square'], oracle: ['#7f7f7f', 'cross'] };
  let i = 0;
  const colours: string[] = [];
  const shapes: string[] = [];
  for (const l of domain) {
    const f = fixed[l];
    if (f) {
      colours.push(f[0]);
      shapes.push(f[1]);
      continue;
    }
    colours.push(COLOURS[i % COLOURS.length]);
    shapes.push(SHAPES[(Math.floor(i / COLOURS.length) + i) % SHAPES.length]);
    i++;
  }
  return { domain, colours, shapes };
}

/**
 * Vega-Lite colour and shape encodings of field `policy` with the report's styles, restricted to the labels a plot
 * shows (`present`; default all), so its legend lists only those while each keeps its report-wide look.
 */
export function policyEncoding(styles: PolicyStyles, present?: ReadonlySet<string>): { color: object; shape: object } {
  const keep = styles.domain.map((_, i) => i).filter((i) => !present || present.has(styles.domain[i]));
  const domain = keep.map((i) => styles.domain[i]);
  return {
    color: { field: 'policy', type: 'nominal', title: 'policy', scale: { domain, range: keep.map((i) => styles.colours[i]) } },
    shape: { field: 'policy', type: 'nominal', title: 'policy', scale: { domain, range: keep.map((i) => styles.shapes[i]) } },
  };
}

/** Rows as CSV (header: the union of the rows' keys in first-seen order; empty cells for missing or non-finite values). */
export function rowsCsv(rows: readonly Readonly<Record<string, unknown>>[]): string {
  const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const esc = (v: unknown) => {
    const s = v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header.join(','), ...rows.map((r) => header.map((h) => esc(r[h])).join(','))].join('\n') + '\n';
}

/** File-name stem of a plot: lower-case letters, digits and dashes. */
export function figureStem(part: string, plot: string): string {
  const slug = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug(part)}-${slug(plot)}`;
}

/**
 * Write one plot into `dir/figures/`: `<stem>.svg`, `<stem>.csv` (the plotted rows) and `<stem>.vl.json` (the
 * Vega-Lite spec with its data inline). Returns the stem.
 */
export function writeFigure(dir: string, stem: string, svg: string, data: readonly Readonly<Record<string, unknown>>[], spec: object): string {
  const out = join(dir, 'figures');
  mkdirSync(out, { recursive: true });
  atomicWrite(join(out, `${stem}.svg`), svg);
  atomicWrite(join(out, `${stem}.csv`), rowsCsv(data));
  atomicWrite(join(out, `${stem}.vl.json`), JSON.stringify({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec }, null, 1) + '\n');
  return stem;
}
