/**
 * The experiment CLI (`npx exitlab <command>`; in a checkout also `npm run exitlab -- <command>`), on commander:
 *   list                          the built-in experiments and their cell counts
 *   run <experiment> [options]    a built-in id or the path of an experiment module (.ts through tsx, or .js/.mjs)
 *   report <dir>                  rewrite a run directory's summaries and report from its records
 *   merge <dirs...> --out DIR     shards of one resolved experiment into one run directory
 *   serve [options]               a fixture's model served over HTTP on loopback with real early exits (testbed)
 *   load [options]                open-loop load against a testbed server (arrivals of lib/arrivals.ts)
 *   slurm <experiment> --shards N --out DIR [--submit]   the sharded run as a Slurm array job + merge job
 *   kubernetes <experiment> --shards N --image I --claim C --out DIR   the same as a Kubernetes Indexed Job
 * `run` runs the cells in a pool of worker threads with a progress bar (plain lines when not a terminal), writes
 * the report and prints its short headline (headline.txt; the full tables are in summary.md).
 *
 * Exit codes (also in README): 0 ok; 1 the run failed (some cells failed — recorded, listed, retried by
 * --resume — or an error while writing the report);
 * 2 usage error (unknown command, option or experiment id, a bad option value, a missing argument); 3 bad input
 * (an `InputError`: an invalid experiment declaration, an unreadable trace manifest, a run directory that needs
 * --resume or belongs to another experiment, a locked run directory, an --out that is not a run directory).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
  breakLock: boolean;
  ignoreForeign: boolean;
  workers?: number;
}

/** Some cells threw (exit code 1): they are recorded as failure records, every other cell ran. */
export class CellsFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CellsFailedError';
  }
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
  const { releaseHeldLocks } = await import('./harness/rundir.ts');
  // Ctrl-C or a scheduler's SIGTERM must not leave the run directory locked (exit codes as a shell reports them).
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      releaseHeldLocks();
      process.exit(code);
    });
  }
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
    breakLock: flags.breakLock,
    ignoreForeign: flags.ignoreForeign,
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
  if (result.foreign.length > 0) console.error(`exitlab: set aside ${result.foreign.length} record(s) of other cells in ${join(out, 'cells.foreign.jsonl')}: ${result.foreign.slice(0, 5).join(', ')}${result.foreign.length > 5 ? ', …' : ''}`);
  if (result.failed.length > 0) {
    const list = result.failed.map((f) => `  ${f.key} (${f.label}): ${f.error}`).join('\n');
    throw new CellsFailedError(`${result.failed.length} of ${result.ran} cells failed (recorded in ${join(out, 'cells.jsonl')}; every other cell ran; rerun with --resume --out ${out} to retry them):\n${list}`);
  }
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

/** The bin (`experiments/exitlab.mjs`) beside this module in a checkout, or two levels up from dist/experiments/. */
function binPath(): string {
  for (const rel of ['./exitlab.mjs', '../../experiments/exitlab.mjs']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return fileURLToPath(url);
  }
  throw new Error('exitlab: cannot find the exitlab bin (experiments/exitlab.mjs) next to the CLI');
}

/** A positive integer option, named in the error. */
function positiveInt(option: string, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected an integer in [1, ${max}], got ${JSON.stringify(text)} (${option})`);
    return n;
  };
}

interface SlurmFlags {
  shards: number;
  out: string;
  partition?: string;
  time?: string;
  cpus?: number;
  mem?: string;
  account?: string;
  qos?: string;
  maxParallel?: number;
  jobName?: string;
  quick: boolean;
  seeds?: number[];
  trace?: string[];
  submit: boolean;
  force: boolean;
}

/** `run` options every shard task gets, from the flags given to `slurm` / `kubernetes`. */
function shardRunArgs(flags: { quick: boolean; seeds?: number[]; trace?: string[] }): string[] {
  return [...(flags.quick ? ['--quick'] : []), ...(flags.seeds ? ['--seeds', flags.seeds.join(',')] : []), ...(flags.trace ?? []).flatMap((t) => ['--trace', resolve(t)])];
}

async function commandSlurm(experiment: string, flags: SlurmFlags): Promise<void> {
  const source = sourceOf(experiment);
  const { writeSlurmJob } = await import('./cluster/slurm.ts');
  const out = resolve(flags.out);
  const r = await writeSlurmJob(
    {
      experiment: source.startsWith('file:') ? fileURLToPath(source) : source,
      shards: flags.shards,
      out,
      exitlab: [process.execPath, binPath()],
      workdir: process.cwd(),
      partition: flags.partition,
      time: flags.time,
      cpus: flags.cpus,
      mem: flags.mem,
      account: flags.account,
      qos: flags.qos,
      maxParallel: flags.maxParallel,
      jobName: flags.jobName,
      runArgs: shardRunArgs(flags),
    },
    { submit: flags.submit, force: flags.force },
  );
  console.log(`wrote ${r.files.shards}\nwrote ${r.files.merge}`);
  if (r.jobIds) {
    console.log(`submitted array job ${r.jobIds.shards} (${flags.shards} tasks) and merge job ${r.jobIds.merge} (afterok); merged run: ${join(out, 'all')}`);
  } else {
    console.log(`submit with: jid=$(sbatch --parsable ${r.files.shards}) && sbatch --dependency=afterok:$jid ${r.files.merge}`);
  }
}

interface KubernetesFlags {
  shards: number;
  out: string;
  image: string;
  claim: string;
  mountPath: string;
  parallelism?: number;
  cpus?: number;
  memory?: string;
  name?: string;
  quick: boolean;
  seeds?: number[];
  trace?: string[];
  force: boolean;
  file?: string;
}

async function commandKubernetes(experiment: string, flags: KubernetesFlags): Promise<void> {
  const source = sourceOf(experiment);
  const { indexedJobManifest } = await import('./cluster/kubernetes.ts');
  const yaml = indexedJobManifest({
    experiment: source.startsWith('file:') ? fileURLToPath(source) : source,
    shards: flags.shards,
    image: flags.image,
    out: flags.out,
    claim: flags.claim,
    mountPath: flags.mountPath,
    parallelism: flags.parallelism,
    cpus: flags.cpus,
    memory: flags.memory,
    name: flags.name,
    runArgs: [...(flags.quick ? ['--quick'] : []), ...(flags.seeds ? ['--seeds', flags.seeds.join(',')] : []), ...(flags.trace ?? []).flatMap((t) => ['--trace', t])],
  });
  if (!flags.file) {
    process.stdout.write(yaml);
    return;
  }
  if (existsSync(flags.file) && !flags.force) throw new InputError(flags.file, '--file', 'a path that does not exist yet (or --force to replace it)', 'an existing file');
  writeFileSync(flags.file, yaml);
  console.log(`wrote ${flags.file}; kubectl apply -f ${flags.file}`);
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
    .option('--resume', 'continue the run in --out: cells already recorded are skipped, failed ones run again', false)
    .option('--break-lock', 'clear a stale run.lock in --out left by a run that was killed (a running one is never broken)', false)
    .option('--ignore-foreign', 'with --resume: move records of cells not in this experiment to cells.foreign.jsonl instead of refusing', false)
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
    .requiredOption('--out <dir>', 'merged run directory (a new or empty folder)')
    .option('--force', 'replace the run already in --out', false)
    .option('--partial', 'merge even if cells of the experiment are in none of the runs (a missing shard)', false)
    .action(async (dirs: string[], flags: { out: string; force: boolean; partial: boolean }) => {
      const [, , { mergeRuns, writeReport }] = await harness();
      const n = mergeRuns(dirs, flags.out, { force: flags.force, partial: flags.partial });
      console.log(`merged ${n} cells from ${dirs.length} runs into ${flags.out}`);
      console.log(`report: ${await writeReport(flags.out)}`);
    });
  // The serving testbed (experiments/testbed/commands.ts, loaded only by these two commands).
  p.command('serve')
    .description("serve a fixture's TF.js model on 127.0.0.1 with real early exits: one worker, B buffer places, 503 when full; stops on Ctrl-C")
    .option('--fixture <name>', 'fashion-mnist-wide, fashion-mnist-cnn or nsl-kdd-mlp', 'fashion-mnist-wide')
    .option('--policy <name>', 'registry policy', 'fixed-exit')
    .option('--params <json>', 'policy parameters as a JSON object')
    .option('--budget-fraction <f>', 'budget for budgeted policies, from the first exit\'s measured cost (0) to the last\'s (1)')
    .option('--buffer <B>', 'buffer places', '10')
    .option('--host <addr>', 'loopback address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', '8080')
    .option('--seed <n>', "the policy's seed", '1')
    .option('--data <dir>', 'datasets folder (needed for nsl-kdd-mlp inputs)')
    .option('--calibrate <n>', 'timed passes measuring the per-exit service times first', '500')
    .action(async (flags: Record<string, string | undefined>) => {
      const { serveCommand } = await import('./testbed/commands.ts');
      await serveCommand(flags);
    });
  p.command('load')
    .description('open-loop load against a testbed server: requests at times of a Poisson, bursty (MMPP2) or replayed process, bounded in number and time')
    .option('--url <url>', 'server URL (loopback only)', 'http://127.0.0.1:8080')
    .option('--fixture <name>', 'whose test inputs to send', 'fashion-mnist-wide')
    .option('--rate <per-s>', 'mean request rate, requests per second')
    .option('--arrivals <kind>', 'poisson, bursty or replay:FILE', 'poisson')
    .option('--requests <n>', 'requests at most', '10000')
    .option('--time-limit <s>', 'stop sending after this many seconds', '60')
    .option('--seed <n>', 'seed of the arrival and input streams (the simulator\'s)', '1')
    .option('--data <dir>', 'datasets folder (needed for nsl-kdd-mlp inputs)')
    .option('--out <file>', 'write one JSON line per request')
    .action(async (flags: Record<string, string | undefined>) => {
      const { loadCommand } = await import('./testbed/commands.ts');
      await loadCommand(flags);
    });
  p.command('slurm')
    .description('write (and with --submit, submit) a sharded run as a Slurm array job plus a dependent merge job')
    .argument('<experiment>', 'built-in id, or path of an experiment module')
    .requiredOption('--shards <n>', 'array tasks (shards), each runs `exitlab run --shard i/n --resume`', positiveInt('--shards', 10000))
    .requiredOption('--out <dir>', 'run directory: shards in DIR/shard-i, merged run in DIR/all, scripts in DIR/slurm, logs in DIR/logs')
    .option('--partition <p>', '#SBATCH --partition')
    .option('--time <t>', '#SBATCH --time (per task; Slurm format, e.g. 2:00:00)')
    .addOption(new Option('--cpus <c>', '#SBATCH --cpus-per-task, and --workers for each task').argParser(positiveInt('--cpus', 4096)))
    .option('--mem <m>', '#SBATCH --mem (e.g. 4G)')
    .option('--account <a>', '#SBATCH --account')
    .option('--qos <q>', '#SBATCH --qos')
    .addOption(new Option('--max-parallel <m>', '#SBATCH --array=0-(n-1)%m: at most m tasks at once').argParser(positiveInt('--max-parallel', 10000)))
    .option('--job-name <name>', '#SBATCH --job-name prefix (default exitlab-<experiment>)')
    .option('--quick', 'pass --quick to every task', false)
    .addOption(new Option('--seeds <count|list>', 'pass --seeds to every task').argParser(parseSeeds))
    .addOption(new Option('--trace <manifest.json>', 'pass --trace to every task (repeatable; made absolute)').argParser(collectTrace))
    .option('--submit', 'submit with sbatch (array job, then the merge job with --dependency=afterok)', false)
    .option('--force', 'replace existing scripts in DIR/slurm', false)
    .action(commandSlurm);
  p.command('kubernetes')
    .description('write a sharded run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX = shard) plus a merge Job, as YAML')
    .argument('<experiment>', 'built-in id, or path of an experiment module inside the image')
    .requiredOption('--shards <n>', 'completions (shards)', positiveInt('--shards', 10000))
    .requiredOption('--image <image>', 'container image with exitlab installed')
    .requiredOption('--claim <pvc>', 'ReadWriteMany PersistentVolumeClaim holding the run directory')
    .option('--mount-path <path>', 'where the claim is mounted in the pods', '/runs')
    .option('--out <dir>', 'run directory inside the pods (on the claim)', '/runs/exitlab')
    .addOption(new Option('--parallelism <p>', 'pods at once (default: all shards)').argParser(positiveInt('--parallelism', 10000)))
    .addOption(new Option('--cpus <c>', 'CPU request/limit per pod, and --workers').argParser(positiveInt('--cpus', 4096)))
    .option('--memory <m>', 'memory request/limit per pod (e.g. 4Gi)')
    .option('--name <name>', 'Job name prefix (default exitlab-<experiment>)')
    .option('--quick', 'pass --quick to every shard', false)
    .addOption(new Option('--seeds <count|list>', 'pass --seeds to every shard').argParser(parseSeeds))
    .addOption(new Option('--trace <manifest.json>', 'pass --trace to every shard (paths inside the image; repeatable)').argParser(collectTrace))
    .option('--file <path>', 'write the YAML to this file instead of stdout')
    .option('--force', 'replace --file if it exists', false)
    .action(commandKubernetes);
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
    if (err instanceof CellsFailedError) {
      console.error(`exitlab: ${e.message}`);
      return EXIT.runFailed;
    }
    console.error(`exitlab: run failed: ${e.stack ?? e.message}`);
    return EXIT.runFailed;
  }
}

// Run when executed directly (`tsx experiments/cli.ts ...`); the bin (exitlab.mjs) imports this module and calls main.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
