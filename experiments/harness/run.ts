/**
 * Running an experiment: expand it into cells, keep this shard's, skip the ones already recorded (`resume`),
 * run the rest in a pool of worker threads (piscina) sized to the machine, and append each record to
 * `cells.jsonl` the moment it arrives. A run directory holds:
 * - `config.json`: the resolved experiment (after --quick / --seeds), what the cells were expanded from;
 * - `run.json`: seeds, shard, git revision, TensorFlow.js backend, Node version, start time, cell counts;
 * - `cells.jsonl`: one record per finished cell (append-only; an interrupted run keeps every finished cell).
 * Records depend only on their cell, so the set of records is the same whatever the number of workers or shards.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Piscina } from 'piscina';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { initBackend } from '../../lib/tensor.ts';
import { expandCells, resolveExperiment, type Cell, type ExperimentDecl } from './experiment.ts';
import { runCell, type CellRecord } from './cell.ts';
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
  /** Run directory. */
  readonly out: string;
  readonly quick?: boolean;
  /** Replace the declared seeds. */
  readonly seeds?: readonly number[];
  /** Replace the declared traces (manifest paths). */
  readonly traces?: readonly string[];
  /** Run only cells whose index ≡ shard.index (mod shard.count). */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Skip cells already in `out/cells.jsonl` (required if the directory already has records). */
  readonly resume?: boolean;
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
}

/** What a run did. */
export interface RunResult {
  readonly out: string;
  /** Cells of this shard. */
  readonly total: number;
  /** Cells already recorded before this run (resume). */
  readonly skipped: number;
  /** Cells run now. */
  readonly ran: number;
}

/** Read `cells.jsonl`, ignoring a torn last line (a run killed mid-write). */
export function readRecords(dir: string): CellRecord[] {
  const path = join(dir, 'cells.jsonl');
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: CellRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as CellRecord);
    } catch {
      if (i < lines.length - 2) throw new InputError(path, `line ${i + 1}`, 'one JSON record per line', 'malformed JSON before the last line');
    }
  });
  return out;
}

function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Run (or resume) an experiment into `options.out`. */
export async function runExperiment(decl: ExperimentDecl, options: RunOptions): Promise<RunResult> {
  const resolved = resolveExperiment(decl, { quick: options.quick, seeds: options.seeds, traces: options.traces });
  // Fail before any cell runs, not in a worker halfway through a sweep.
  for (const t of resolved.traces) if (!existsSync(t)) throw new InputError(t, 'traces', 'a readable trace manifest (.json)', 'no such file');
  const all = expandCells(resolved);
  const shard = options.shard ?? { index: 0, count: 1 };
  const mine = all.filter((_, i) => i % shard.count === shard.index);
  mkdirSync(options.out, { recursive: true });
  const configPath = join(options.out, 'config.json');
  const configText = JSON.stringify(resolved, null, 2) + '\n';
  const existing = readRecords(options.out);
  if (existing.length > 0 || existsSync(configPath)) {
    if (!options.resume) throw new InputError(options.out, 'out', 'an empty run directory, or --resume to continue the run in it', `${existing.length} recorded cells`);
    if (existsSync(configPath) && readFileSync(configPath, 'utf8') !== configText) {
      throw new InputError(configPath, 'config', 'the same resolved experiment as this run (same id, seeds, --quick, declaration)', 'a different one');
    }
  }
  // Rewrite a torn last line away so appends start on a fresh line.
  const recordsPath = join(options.out, 'cells.jsonl');
  if (existing.length > 0) writeFileSync(recordsPath, existing.map((r) => JSON.stringify(r)).join('\n') + '\n');
  atomicWrite(configPath, configText);
  const done = new Set(existing.map((r) => r.key));
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
  });
  let finished = mine.length - pending.length;
  options.onProgress?.(finished, mine.length);
  const record = (r: CellRecord) => {
    appendFileSync(recordsPath, JSON.stringify(r) + '\n');
    finished++;
    options.onProgress?.(finished, mine.length);
  };
  if (workers <= 0) {
    for (const cell of todo) record(await runCell(cell));
  } else {
    const resolveOpts: ResolveOptions = {
      ...(options.quick ? { quick: true } : {}),
      ...(options.seeds ? { seeds: [...options.seeds] } : {}),
      ...(options.traces ? { traces: [...options.traces] } : {}),
    };
    if (options.source === undefined) {
      const bad = todo.find((c) => holdsFunction(c));
      if (bad) throw new InputError('runExperiment', 'options.source', 'the experiment module workers load (a built-in id or a file: URL), or workers: 0, for cells holding PolicySpec objects', `no source, cell ${bad.key}`);
    }
    const pool = new Piscina<WorkerTask | { readonly cell: Cell }, CellRecord>({
      filename: workerEntry(),
      minThreads: workers,
      maxThreads: workers,
    });
    try {
      const task = (cell: Cell) => (options.source === undefined ? { cell } : { source: options.source, resolve: resolveOpts, key: cell.key });
      await Promise.all(todo.map((cell) => pool.run(task(cell)).then(record)));
    } finally {
      await pool.destroy();
    }
  }
  return { out: options.out, total: mine.length, skipped: mine.length - pending.length, ran: todo.length };
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
