/**
 * The experiment CLI (`npx exitlab <command>`; in a checkout also `npm run exitlab -- <command>`), on commander:
 *   list                          the built-in experiments and their cell counts
 *   run <experiment> [options]    a built-in id or the path of an experiment module (.ts through tsx, or .js/.mjs)
 *   report <dir>                  rewrite a run directory's summaries and report from its records
 *   merge <dirs...> --out DIR     shards of one resolved experiment into one run directory
 * `run` runs the cells in a pool of worker threads with a progress bar (plain lines when not a terminal), writes
 * the report and prints its short headline (headline.txt; the full tables are in summary.md).
 *
 * Exit codes (also in README): 0 ok; 1 the run failed (an error while running cells or writing the report);
 * 2 usage error (unknown command, option or experiment id, a bad option value, a missing argument); 3 bad input
 * (an `InputError`: an invalid experiment declaration, an unreadable trace manifest, a run directory that needs
 * --resume or belongs to another experiment).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { InputError } from '../lib/errors.ts';
import { BUILTIN_EXPERIMENTS } from './builtins.ts';
import type { RunStart } from './harness/run.ts';

// The harness, the report (Vega) and what they import are loaded by the commands that use them, so that help,
// version and usage errors answer at once.
const harness = () => Promise.all([import('./harness/experiment.ts'), import('./harness/run.ts'), import('./harness/report.ts')]);

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, runFailed: 1, usage: 2, badInput: 3 } as const;

/** Most seeds one run may ask for (`--seeds N` or a list): a typo like `--seeds 1000000` should not start a week-long run. */
export const MAX_SEEDS = 10000;
/** Seeds are reduced to 32 bits by `Rng`, so larger ones would silently alias smaller ones. */
const MAX_SEED = 2 ** 32 - 1;

/** A mistake on the command line (exit code 2), as opposed to bad input files (3) or a failed run (1). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Levenshtein distance, for "did you mean" on experiment ids. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The known words closest to `word` (at most 40% of its length away, like commander's suggestions). */
export function suggest(word: string, known: readonly string[]): string[] {
  const scored = known.map((k) => ({ k, d: editDistance(word, k) })).filter(({ k, d }) => d <= Math.max(1, Math.floor(0.4 * Math.max(word.length, k.length))) || k.startsWith(word));
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best || s.k.startsWith(word)).map((s) => s.k);
}

/** Whether a `run` argument names a file rather than a built-in id. */
function isPath(arg: string): boolean {
  return /[\\/]/.test(arg) || /\.[cm]?[jt]s$/.test(arg);
}

/** The `source` of `run <experiment>`: a built-in id as is, a path as its file URL. Unknown ids are usage errors. */
export function sourceOf(arg: string): string {
  if (isPath(arg)) return pathToFileURL(resolve(arg)).href;
  const ids = BUILTIN_EXPERIMENTS.map((e) => e.id);
  if (ids.includes(arg)) return arg;
  const near = suggest(arg, ids);
  throw new UsageError(
    `unknown experiment "${arg}"${near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : ''}; built-in: ${ids.join(', ')}; ` +
      'or give the path of a module default-exporting defineExperiment(...), e.g. ./my-experiment.ts',
  );
}

/** `--seeds`: a count N (seeds 1..N) or a comma-separated list of distinct integers in [0, 2³² − 1]. */
export function parseSeeds(text: string): number[] {
  const bad = (why: string) => new InvalidArgumentError(`expected a count 1..${MAX_SEEDS} or a list of distinct integer seeds in [0, ${MAX_SEED}] like 1,2,3; ${why}`);
  if (/^\s*\d+\s*$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > MAX_SEEDS) throw bad(`got a count of ${text.trim()}`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length > MAX_SEEDS) throw bad(`got ${parts.length} seeds`);
  const seeds = parts.map((p, i) => {
    if (p === '') throw bad(`element ${i + 1} is empty`);
    if (!/^\d+$/.test(p) || Number(p) > MAX_SEED) throw bad(`element ${i + 1} is ${JSON.stringify(p)}`);
    return Number(p);
  });
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw bad(`seed ${dup} is repeated`);
  return seeds;
}

/** `--workers`: an integer ≥ 0 (0 = run every cell in the main thread). */
export function parseWorkers(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError(`expected an integer ≥ 0 (0 = no worker threads), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `--shard i/n`: 0 ≤ i < n ≤ 10,000. */
export function parseShardOption(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\/(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 10000 || index >= count) {
    throw new InvalidArgumentError(`expected "i/n" with 0 ≤ i < n ≤ 10000, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

/** `--trace`: a manifest path (.json); repeatable. */
function collectTrace(text: string, previous: string[] | undefined): string[] {
  if (!text.endsWith('.json')) throw new InvalidArgumentError(`expected the path of a trace manifest (.json), got ${JSON.stringify(text)}`);
  return [...(previous ?? []), text];
}

/** The `model` a manifest declares, or undefined when it cannot be read (the run then fails with the reason). */
function modelOf(manifest: string): string | undefined {
  try {
    const m = (JSON.parse(readFileSync(manifest, 'utf8')) as { model?: unknown }).model;
    return typeof m === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The run header: what is run, on which traces (model and manifest), with which seeds, cells and workers. */
export function runHeader(source: string, out: string, start: RunStart, tracesOverridden: boolean): string {
  const r = start.resolved;
  const what = source.startsWith('file:') ? relative(process.cwd(), fileURLToPath(source)) || fileURLToPath(source) : `built-in ${source}`;
  const lines = [`exitlab run ${r.id} (${what})`];
  // The description speaks of the declared traces ("on the shipped fixtures"); with --trace it would be false.
  if (!tracesOverridden) lines.push(`  ${r.description}`);
  lines.push(`  traces${tracesOverridden ? ' (--trace, replacing the declared ones)' : ''}:`);
  for (const t of r.traces) lines.push(`    ${modelOf(t) ?? '(model unknown)'}  ${t}`);
  const c = start.cells;
  const shard = c.shard === c.total ? '' : ` (${c.shard} in this shard)`;
  lines.push(`  seeds ${r.seeds.length <= 10 ? r.seeds.join(', ') : `${r.seeds.slice(0, 5).join(', ')}, … (${r.seeds.length})`}; ${c.total} cells${shard}; ${c.alreadyRecorded} already recorded, ${c.toRun} to run`);
  const w = start.workers;
  let workers = w.used === 0 ? 'no worker threads (inline)' : `${w.used} worker thread${w.used === 1 ? '' : 's'}`;
  if (w.requested > w.used && w.used > 0) {
    const why = [w.requested > w.available ? `${w.available} available cores` : '', w.requested > c.toRun ? `${c.toRun} cells to run` : ''].filter(Boolean).join(', ');
    workers += ` (asked for ${w.requested}; capped at ${why})`;
  }
  lines.push(`  ${workers}; out ${out}`);
  return lines.join('\n');
}

interface RunFlags {
  seeds?: number[];
  trace?: string[];
  out?: string;
  quick: boolean;
  shard?: { index: number; count: number };
  resume: boolean;
  workers?: number;
}

async function commandList(): Promise<void> {
  const [{ expandCells, resolveExperiment }, { loadSource }] = await harness();
  for (const { id } of BUILTIN_EXPERIMENTS) {
    const decl = await loadSource(id);
    const cells = expandCells(resolveExperiment(decl)).length;
    const quick = decl.quick ? expandCells(resolveExperiment(decl, { quick: true })).length : cells;
    console.log(`${id.padEnd(14)} ${String(cells).padStart(6)} cells (${quick} with --quick)  ${decl.description}`);
  }
}

async function commandRun(experiment: string, flags: RunFlags): Promise<void> {
  if (flags.resume && flags.out === undefined) throw new UsageError('option --resume: needs --out DIR (the run directory to continue)');
  const source = sourceOf(experiment);
  const [, { loadSource, progressReporter, runExperiment }, { writeReport }] = await harness();
  const decl = await loadSource(source);
  const out = flags.out ?? join('results', `${decl.id}${flags.quick ? '-quick' : ''}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const result = await runExperiment(decl, {
    out,
    source,
    quick: flags.quick,
    seeds: flags.seeds,
    traces: flags.trace,
    shard: flags.shard,
    resume: flags.resume,
    workers: flags.workers,
    onStart: (start) => console.log(runHeader(source, out, start, flags.trace !== undefined)),
    onProgress: progressReporter(decl.id),
  });
  const report = await writeReport(out);
  // The short headline; the full tables are in summary.md beside the report.
  console.log(readFileSync(join(out, 'headline.txt'), 'utf8'));
  console.log(`full tables: ${join(out, 'summary.md')}; figures: ${join(out, 'figures')}/`);
  console.log(`${result.ran} cells run, ${result.skipped} already recorded; records ${join(out, 'cells.jsonl')}`);
  console.log(`report: ${report}`);
}

function version(): string {
  // Two levels up from experiments/cli.ts in a checkout, three from dist/experiments/cli.js in the package.
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'exitlab' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

/** The command tree. Errors are thrown (exitOverride), never `process.exit`ed, so `main` picks the exit code. */
export function program(): Command {
  const p = new Command('exitlab')
    .description('Run, report and merge early-exit policy experiments.')
    .version(version(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run exitlab --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 run failed, 2 usage error, 3 bad input (experiment declaration, trace manifest, run directory).',
    );
  p.command('list').description('list the built-in experiments and their cell counts').action(commandList);
  p.command('run')
    .description('run an experiment: a built-in id (see list) or the path of a module default-exporting defineExperiment(...)')
    .argument('<experiment>', 'built-in id, or path of an experiment module (.ts, .mts, .js, .mjs)')
    .addOption(new Option('--seeds <count|list>', `seeds: a count N (1..N, N ≤ ${MAX_SEEDS}) or a list like 1,2,3 (replaces the declared seeds)`).argParser(parseSeeds))
    .addOption(new Option('--trace <manifest.json>', 'run on this trace manifest instead of the declared ones (repeatable)').argParser(collectTrace))
    .option('--out <dir>', 'run directory (default results/<id>[-quick]-<time>)')
    .option('--quick', 'the experiment\'s quick overrides: fewer seeds, shorter axes', false)
    .addOption(new Option('--shard <i/n>', 'run only cells whose index ≡ i (mod n), 0 ≤ i < n').argParser(parseShardOption))
    .option('--resume', 'continue the run in --out: cells already recorded are skipped', false)
    .addOption(
      new Option('--workers <n>', `worker threads (0 = inline; default and upper bound: available cores, here ${availableParallelism()}, and the cells to run)`).argParser(parseWorkers),
    )
    .action(commandRun);
  p.command('report')
    .description('rewrite summary.csv, summary.md, headline.txt, report.html and figures/ of a run directory from its records')
    .argument('<dir>', 'run directory')
    .action(async (dir: string) => {
      const [, , { writeReport }] = await harness();
      console.log(`report: ${await writeReport(dir)}`);
    });
  p.command('merge')
    .description('merge run directories (shards of the same resolved experiment) into one')
    .argument('<dirs...>', 'run directories')
    .requiredOption('--out <dir>', 'merged run directory')
    .action(async (dirs: string[], flags: { out: string }) => {
      const [, , { mergeRuns, writeReport }] = await harness();
      const n = mergeRuns(dirs, flags.out);
      console.log(`merged ${n} cells from ${dirs.length} runs into ${flags.out}`);
      console.log(`report: ${await writeReport(flags.out)}`);
    });
  return p;
}

/** Run the CLI on `argv` (without node and the script) and return the exit code; errors are printed to stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    // commander has printed its own message (with "did you mean") already; help and --version exit 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const e = err as Error;
    if (err instanceof UsageError) {
      console.error(`exitlab: ${e.message}`);
      return EXIT.usage;
    }
    if (err instanceof InputError) {
      console.error(`exitlab: ${e.message}`);
      return EXIT.badInput;
    }
    console.error(`exitlab: run failed: ${e.stack ?? e.message}`);
    return EXIT.runFailed;
  }
}

// Run when executed directly (`tsx experiments/cli.ts ...`); the bin (exitlab.mjs) imports this module and calls main.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
