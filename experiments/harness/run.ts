/**
 * Running an experiment: expand it into cells, keep this shard's, skip the ones already recorded (`resume`),
 * run the rest in a pool of worker threads (piscina) sized to the machine, and append each record to
 * `cells.jsonl` the moment it arrives. A run directory holds:
 * - `config.json`: the resolved experiment (after --quick / --seeds), what the cells were expanded from;
 * - `run.json`: seeds, shard, git revision, TensorFlow.js backend, Node version, start time, cell counts;
 * - `cells.jsonl`: one record per finished cell, or a failure record per cell that threw (append-only; an
 *   interrupted run keeps every finished cell);
 * - `run.lock` while a run writes into it (see `rundir.ts`: one run per directory at a time).
 * Records depend only on their cell, so the set of records is the same whatever the number of workers or shards.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Piscina } from 'piscina';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { initBackend } from '../../lib/tensor.ts';
import { expandCells, resolveExperiment, type Cell, type ExperimentDecl } from './experiment.ts';
import { dropTraceCache, loadSplits, runCell, type CellRecord } from './cell.ts';
import { acquireLock, prepareRunDir, readRun, type FailedCell } from './rundir.ts';
import { modelInfo } from '../../lib/policy.ts';
import { instantiate, loadPolicy } from '../../lib/registry.ts';
import { getPolicySpec } from '../../policies/index.ts';
import { builtinExperiment } from '../builtins.ts';

/**
 * What a worker thread is asked to run (the worker protocol of harness v2): the experiment's `source` (a built-in
 * id, or the absolute file URL of an experiment module), the options it was resolved with, and the cell's key.
 * Cells are not sent: a policy entry may hold a user's `PolicySpec` object, whose functions cannot cross a thread
 * boundary, so the worker imports the module itself and rebuilds the same cells (resolution and expansion are
 * deterministic functions of the module and these options).
 */
export interface WorkerTask {
  readonly source: string;
  readonly resolve: { readonly quick?: boolean; readonly seeds?: number[]; readonly traces?: string[] };
  readonly key: string;
}

/** Options of `resolveExperiment` a run uses, as sent to workers. */
export type ResolveOptions = WorkerTask['resolve'];

const TS_SOURCE = /\.[cm]?tsx?$/;
let tsLoader: Promise<void> | undefined;

/**
 * Make `import()` of a TypeScript module work in this thread: a no-op when this code itself runs as TypeScript
 * (a checkout, where tsx is already registered), otherwise register tsx's ESM and CommonJS hooks once (the
 * installed package runs compiled JavaScript, and a user's experiment may be `.ts` in an ES module or a CommonJS
 * project).
 */
export function ensureTypeScriptLoader(): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return Promise.resolve();
  tsLoader ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    esm.register();
    cjs.register();
  })();
  return tsLoader;
}

function isDecl(x: unknown): x is ExperimentDecl {
  return typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string' && Array.isArray((x as { parts?: unknown }).parts);
}

/**
 * Load an experiment from its `source`: a built-in id (`experiments/builtins.ts`) or a `file:` URL of a module
 * whose default export is `defineExperiment({...})`. A CommonJS module compiled from `export default` arrives as
 * `{ default: { default: decl } }` and is unwrapped.
 */
export async function loadSource(source: string): Promise<ExperimentDecl> {
  if (!source.startsWith('file:')) {
    const builtin = builtinExperiment(source);
    if (!builtin) throw new InputError('experiment', 'source', 'a built-in experiment id or a file: URL', JSON.stringify(source));
    const decl = (await builtin.load()).default;
    if (!isDecl(decl) || decl.id !== source) throw new InputError(`built-in experiment "${source}"`, 'default export', `defineExperiment({ id: "${source}", ... })`);
    return decl;
  }
  if (TS_SOURCE.test(source)) await ensureTypeScriptLoader();
  const mod = (await import(source)) as { default?: unknown };
  let decl = mod.default;
  if (!isDecl(decl) && isDecl((decl as { default?: unknown } | undefined)?.default)) decl = (decl as { default: unknown }).default;
  if (!isDecl(decl)) throw new InputError(new URL(source).pathname, 'default export', 'defineExperiment({ id, description, traces, seeds, parts })', decl === undefined ? 'none' : typeof decl);
  return decl;
}

/** Options of `runExperiment`. */
export interface RunOptions {
  /** Run directory: a new path, an empty folder, or an exitlab run directory (to `resume`). */
  readonly out: string;
  readonly quick?: boolean;
  /** Replace the declared seeds. */
  readonly seeds?: readonly number[];
  /** Replace the declared traces (manifest paths). */
  readonly traces?: readonly string[];
  /** Run only cells whose index ≡ shard.index (mod shard.count). */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * Skip cells already in `out/cells.jsonl` (required if the directory already has records); failed cells are
   * run again.
   */
  readonly resume?: boolean;
  /**
   * Records in `out/cells.jsonl` whose keys are not cells of this experiment (another experiment's run) are an
   * error; with this, they are moved to `out/cells.foreign.jsonl` and named in `RunResult.foreign`.
   */
  readonly ignoreForeign?: boolean;
  /** Clear a stale `out/run.lock` (left by a run that was killed); a lock of a running process is never broken. */
  readonly breakLock?: boolean;
  /**
   * Worker threads; default and upper bound: the machine's available parallelism, and never more than the cells
   * to run (0 = run inline in this thread).
   */
  readonly workers?: number;
  /**
   * What worker threads load to rebuild the cells: a built-in id or the file URL of the experiment module (see
   * `WorkerTask`). Without it, workers receive the cells themselves, which works only while every cell is plain
   * data (registry names, not `PolicySpec` objects).
   */
  readonly source?: string;
  /** Called once the cells are known and before any runs (the CLI prints its run header from it). */
  readonly onStart?: (info: RunStart) => void;
  /** Progress reporter; default: none. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stop after this many new cells (tests use it to simulate an interrupted run). */
  readonly stopAfter?: number;
}

/** What a run is about to do: `RunOptions.onStart`'s argument. */
export interface RunStart {
  /** The experiment as run (overrides applied). */
  readonly resolved: ExperimentDecl;
  /** Cells of the whole experiment, of this shard, already recorded in the run directory, and to run now. */
  readonly cells: { readonly total: number; readonly shard: number; readonly alreadyRecorded: number; readonly toRun: number };
  /** Worker threads used (0 = inline), what was asked for, and the machine's available parallelism. */
  readonly workers: { readonly used: number; readonly requested: number; readonly available: number };
  /** Keys of records set aside as not this experiment's (`ignoreForeign`). */
  readonly foreign: readonly string[];
}

/** What a run did. */
export interface RunResult {
  readonly out: string;
  /** Cells of this shard. */
  readonly total: number;
  /** Cells already recorded before this run (resume). */
  readonly skipped: number;
  /** Cells run now (finished or failed). */
  readonly ran: number;
  /**
   * Cells that threw, recorded as failure records in `cells.jsonl` (every other cell still ran); `--resume`
   * retries them. The CLI exits 1 when this is not empty.
   */
  readonly failed: readonly FailedCell[];
  /** Keys of records moved to `cells.foreign.jsonl` (`ignoreForeign`). */
  readonly foreign: readonly string[];
}

/**
 * The finished cells of `dir/cells.jsonl` (failure records left out), validated line by line: a torn last line (a
 * run killed mid-write) is ignored, anything else that is not a record is an `InputError` naming the file and
 * line; a symlinked `cells.jsonl` is refused. See `readRun` for failures and repeated keys.
 */
export function readRecords(dir: string): CellRecord[] {
  return [...readRun(dir).records];
}

function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Load and validate every trace, and create every policy once against each trace's model, before anything is
 * written: a bad manifest or a parameter that fails only against the model (`fixed-exit` with `exit: 7` on a
 * 4-exit model, `threshold` with a score the trace lacks) is an `InputError` naming it, not a failure inside a
 * worker after `config.json` exists.
 */
async function checkAgainstTraces(resolved: ExperimentDecl, cells: readonly Cell[]): Promise<void> {
  for (const t of resolved.traces) if (!existsSync(t)) throw new InputError(t, 'traces', 'a readable trace manifest (.json)', 'no such file');
  const models = new Map(resolved.traces.map((t) => [t, modelInfo(loadSplits(t).validation)]));
  const seen = new Set<string>();
  for (const cell of cells) {
    const id = `${cell.part}|${cell.trace}|${cell.label}`;
    if (cell.reference || seen.has(id)) continue;
    seen.add(id);
    const spec = cell.spec ?? getPolicySpec(cell.policy);
    const i = resolved.parts.findIndex((p) => p.name === cell.part);
    const j = resolved.parts[i].policies.findIndex((p) => p.label === cell.label);
    const model = models.get(cell.trace)!;
    await loadPolicy(spec);
    try {
      instantiate(spec, cell.params, { seed: cell.seed, model });
    } catch (err) {
      throw new InputError(
        `experiment "${resolved.id}"`,
        `parts[${i}].policies[${j}].params`,
        `parameters valid for "${spec.name}" on the model of ${cell.trace} (${model.nExits} exits, ${model.nClasses} classes): ${(err as Error).message}`,
      );
    }
  }
}

/** A failure record for a cell that threw. */
function failureOf(cell: Cell, err: unknown): FailedCell {
  // Workers prefix the message with the cell's key (worker.ts); the record has the key already.
  const message = ((err as Error)?.message ?? String(err)).replace(`cell ${cell.key}: `, '');
  return { key: cell.key, part: cell.part, label: cell.label, policy: cell.policy, trace: cell.trace, axes: cell.axes, seed: cell.seed, failed: true, error: message.split('\n')[0] };
}

/**
 * Run (or resume) an experiment into `options.out`. Traces and policies are checked before anything is written;
 * the run directory is locked for the run's duration (`run.lock`); a cell that throws is recorded as a failure
 * record and every other cell still runs (see `RunResult.failed`).
 */
export async function runExperiment(decl: ExperimentDecl, options: RunOptions): Promise<RunResult> {
  const resolved = resolveExperiment(decl, { quick: options.quick, seeds: options.seeds, traces: options.traces });
  const all = expandCells(resolved);
  const shard = options.shard ?? { index: 0, count: 1 };
  const mine = all.filter((_, i) => i % shard.count === shard.index);
  if (options.source === undefined && (options.workers ?? 1) > 0) {
    const bad = mine.find((c) => holdsFunction(c));
    if (bad) throw new InputError('runExperiment', 'options.source', 'the experiment module workers load (a built-in id or a file: URL), or workers: 0, for cells holding PolicySpec objects', `no source, cell ${bad.key}`);
  }
  // Fail before anything is written, not in a worker halfway through a sweep.
  await checkAgainstTraces(resolved, all);
  prepareRunDir(options.out);
  const lock = acquireLock(options.out, { breakLock: options.breakLock });
  try {
    return await runLocked(resolved, all, mine, shard, options);
  } finally {
    lock.release();
  }
}

async function runLocked(resolved: ExperimentDecl, all: readonly Cell[], mine: readonly Cell[], shard: { index: number; count: number }, options: RunOptions): Promise<RunResult> {
  const configPath = join(options.out, 'config.json');
  const configText = JSON.stringify(resolved, null, 2) + '\n';
  const contents = readRun(options.out);
  const entries = [...contents.records, ...contents.failures];
  if (entries.length > 0 || existsSync(configPath)) {
    if (!options.resume) throw new InputError(options.out, '--out', 'an empty run directory, or --resume to continue the run in it', `${contents.records.length} recorded cells`);
    if (existsSync(configPath) && readFileSync(configPath, 'utf8') !== configText) {
      throw new InputError(configPath, 'config', 'the same resolved experiment as this run (same id, seeds, --quick, declaration)', 'a different one');
    }
  }
  const differing = contents.duplicates.find((d) => !d.identical);
  if (differing) throw new InputError(contents.path, `line ${differing.line}`, 'one record per cell key', `key ${JSON.stringify(differing.key)} recorded differently at line ${differing.first}`);
  const known = new Set(all.map((c) => c.key));
  const foreignEntries = entries.filter((r) => !known.has(r.key));
  const foreign = foreignEntries.map((r) => r.key);
  if (foreign.length > 0 && !options.ignoreForeign) {
    throw new InputError(
      contents.path,
      `line ${contents.lines.get(foreign[0])}`,
      `records of cells of experiment "${resolved.id}" as resolved (${all.length} cells), or --ignore-foreign to set the others aside in cells.foreign.jsonl`,
      `${foreign.length} record(s) of other cells, e.g. ${foreign.slice(0, 3).map((k) => JSON.stringify(k)).join(', ')}`,
    );
  }
  const recordsPath = contents.path;
  if (foreign.length > 0) appendFileSync(join(options.out, 'cells.foreign.jsonl'), foreignEntries.map((r) => JSON.stringify(r) + '\n').join(''));
  // Keep each finished cell once; failure records go (their cells run again), a torn last line goes so appends
  // start on a fresh line. Written through a temporary file: a kill now loses nothing.
  const kept = contents.records.filter((r) => known.has(r.key));
  if (entries.length > 0 || contents.duplicates.length > 0) atomicWrite(recordsPath, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  atomicWrite(configPath, configText);
  const done = new Set(kept.map((r) => r.key));
  const pending = mine.filter((c) => !done.has(c.key));
  const backend = await initBackend();
  atomicWrite(
    join(options.out, 'run.json'),
    JSON.stringify(
      {
        experiment: resolved.id,
        // What was loaded: a built-in id or the module's file URL (null: a declaration passed in by a program).
        source: options.source ?? null,
        seeds: resolved.seeds,
        quick: options.quick === true,
        shard,
        revision: gitRevision(),
        backend,
        node: process.version,
        started: new Date().toISOString(),
        cells: { total: all.length, shard: mine.length, alreadyRecorded: mine.length - pending.length },
      },
      null,
      2,
    ) + '\n',
  );
  const todo = options.stopAfter === undefined ? pending : pending.slice(0, options.stopAfter);
  const available = availableParallelism();
  const requested = options.workers ?? available;
  // More threads than cores only adds memory (each worker loads its traces and, for some policies, TF.js).
  const workers = Math.max(0, Math.min(requested, available, todo.length));
  options.onStart?.({
    resolved,
    cells: { total: all.length, shard: mine.length, alreadyRecorded: mine.length - pending.length, toRun: todo.length },
    workers: { used: workers, requested, available },
    foreign,
  });
  let finished = mine.length - pending.length;
  options.onProgress?.(finished, mine.length);
  const failed: FailedCell[] = [];
  const record = (r: CellRecord | FailedCell) => {
    appendFileSync(recordsPath, JSON.stringify(r) + '\n');
    finished++;
    options.onProgress?.(finished, mine.length);
  };
  const fail = (cell: Cell, err: unknown) => {
    const f = failureOf(cell, err);
    failed.push(f);
    record(f);
  };
  if (workers <= 0) {
    for (const cell of todo) {
      let r: CellRecord;
      try {
        r = await runCell(cell);
      } catch (err) {
        fail(cell, err);
        continue;
      }
      record(r);
    }
  } else {
    // The workers load their own copies; this thread's were only for the checks.
    dropTraceCache();
    const resolveOpts: ResolveOptions = {
      ...(options.quick ? { quick: true } : {}),
      ...(options.seeds ? { seeds: [...options.seeds] } : {}),
      ...(options.traces ? { traces: [...options.traces] } : {}),
    };
    const pool = new Piscina<WorkerTask | { readonly cell: Cell }, CellRecord | { readonly workerFailure: string }>({
      filename: workerEntry(),
      minThreads: workers,
      maxThreads: workers,
    });
    try {
      const task = (cell: Cell) => (options.source === undefined ? { cell } : { source: options.source, resolve: resolveOpts, key: cell.key });
      const settle = (cell: Cell, r: CellRecord | { readonly workerFailure: string }) => ('workerFailure' in r ? fail(cell, new Error(r.workerFailure)) : record(r));
      await Promise.all(todo.map((cell) => pool.run(task(cell)).then((r) => settle(cell, r), (err: unknown) => fail(cell, err))));
    } finally {
      await pool.destroy();
    }
  }
  // In key order, not completion order, so a rerun lists them the same way.
  failed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { out: options.out, total: mine.length, skipped: mine.length - pending.length, ran: todo.length, failed, foreign };
}

/**
 * The worker entry: in a checkout (this file is TypeScript) `worker.mjs`, which registers tsx before importing
 * `worker.ts`, since worker threads do not inherit this thread's loader; in the package, the compiled `worker.js`.
 */
function workerEntry(): string {
  return new URL(import.meta.url.endsWith('.ts') ? './worker.mjs' : './worker.js', import.meta.url).href;
}

/** Whether a value holds a function anywhere (it then cannot be structured-cloned to a worker). */
function holdsFunction(value: unknown, seen = new Set<unknown>()): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  seen.add(value);
  return Object.values(value).some((v) => holdsFunction(v, seen));
}

/** A progress reporter: a bar with ETA on a terminal, a plain line every 10% (or 30 s) otherwise. */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  const start = Date.now();
  let lastLine = -1;
  let lastTime = 0;
  return (done, total) => {
    const frac = total === 0 ? 1 : done / total;
    const elapsed = (Date.now() - start) / 1000;
    const eta = done > 0 && frac < 1 ? (elapsed / Math.max(frac, 1e-9)) * (1 - frac) : 0;
    const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`);
    if (stream.isTTY) {
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      stream.write(`\r${label} [${bar}] ${done}/${total} ${(frac * 100).toFixed(0)}% ETA ${fmt(eta)}   ${done === total ? '\n' : ''}`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastLine || Date.now() - lastTime > 30000 || done === total) {
        if (decile !== lastLine || done === total) stream.write(`${label}: ${done}/${total} cells (${(frac * 100).toFixed(0)}%), ${fmt(elapsed)} elapsed, ETA ${fmt(eta)}\n`);
        lastLine = decile;
        lastTime = Date.now();
      }
    }
  };
}
