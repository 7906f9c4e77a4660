/**
 * The run directory as a thing that must not be lost (issue 15): what counts as an exitlab run directory, the
 * exclusive lock a run or a merge holds on it, and the validated reading of `cells.jsonl` (records and failure
 * records, line by line, naming the file and line of anything that is not one).
 *
 * Layout of a run directory: `config.json`, `run.json`, `cells.jsonl` (one record or failure record per line),
 * while a run or merge writes into it `run.lock`, after a run `summary.md`, `summary.csv`, `report.html`, and
 * `cells.foreign.jsonl` when `--ignore-foreign` set records of other experiments aside.
 */
import { accessSync, constants, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError, describe } from '../../lib/errors.ts';
import type { AxisSet, CellRecord } from '../workloads/types.ts';
import { parsePart, type ExperimentDecl, type PartDecl } from './experiment.ts';

/** Files only exitlab writes into a run directory: a folder holding one of them is a run directory. */
export const RUN_FILES: readonly string[] = ['config.json', 'run.json', 'cells.jsonl', 'run.lock'];

/** The lock file's name inside a run directory. */
export const LOCK_FILE = 'run.lock';

/**
 * A cell that threw: one line of `cells.jsonl`, like a record but with `failed: true` and the error message in
 * place of metrics. `--resume` runs it again; the report lists it.
 */
export interface FailedCell {
  readonly key: string;
  readonly part: string;
  readonly label: string;
  readonly policy: string;
  readonly trace: string;
  readonly axes: AxisSet;
  readonly seed: number;
  readonly failed: true;
  /** The error's message (the first line of what the cell threw). */
  readonly error: string;
}

/** What `cells.jsonl` holds, validated. */
export interface RunContents {
  /** `dir/cells.jsonl`. */
  readonly path: string;
  /** Finished cells, in file order. */
  readonly records: readonly CellRecord[];
  /** Failed cells, in file order. */
  readonly failures: readonly FailedCell[];
  /** 1-based line of each entry (records and failures), by key, the first occurrence. */
  readonly lines: ReadonlyMap<string, number>;
  /** Keys written more than once: the line of the first and of the repeated occurrence. */
  readonly duplicates: readonly { readonly key: string; readonly first: number; readonly line: number; readonly identical: boolean }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a parsed line is not a record or failure record, or undefined when it is one. */
function notARecord(v: unknown): string | undefined {
  if (!isObject(v)) return describe(v);
  for (const f of ['key', 'part', 'label', 'policy', 'trace']) if (typeof v[f] !== 'string') return `an object whose ${f} is ${describe(v[f])}`;
  if (!Number.isSafeInteger(v.seed)) return `an object whose seed is ${describe(v.seed)}`;
  if (!isObject(v.axes)) return `an object whose axes is ${describe(v.axes)}`;
  if (v.failed === true) return typeof v.error === 'string' ? undefined : `error: ${describe(v.error)}`;
  if (typeof v.kind !== 'string') return `an object whose kind is ${describe(v.kind)}`;
  if (!isObject(v.metrics) || !Object.values(v.metrics).every((m) => typeof m === 'number' || m === null)) return `an object whose metrics is ${describe(v.metrics)}`;
  if (!Array.isArray(v.exitShares) || !v.exitShares.every((x) => typeof x === 'number')) return `an object whose exitShares is ${describe(v.exitShares)}`;
  if (!(v.budgetMs === null || typeof v.budgetMs === 'number')) return `an object whose budgetMs is ${describe(v.budgetMs)}`;
  return undefined;
}

/**
 * Read and validate `dir/cells.jsonl` (absent: empty). A torn last line (a run killed mid-write) is ignored; a
 * malformed line before it, a line that is JSON but not a record (`null`, `{"hello":1}`), or a `cells.jsonl`
 * that is a symlink or not a regular file is an `InputError` naming the file and line.
 */
export function readRun(dir: string): RunContents {
  const path = join(dir, 'cells.jsonl');
  const empty: RunContents = { path, records: [], failures: [], lines: new Map(), duplicates: [] };
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return empty;
  }
  // A symlink could point at another run's records (which a resume would then append to) or at a device.
  if (st.isSymbolicLink()) throw new InputError(path, 'cells.jsonl', 'a regular file inside the run directory (a symlink is not followed; copy the records instead)', `a symlink to ${readlinkSync(path)}`);
  if (!st.isFile()) throw new InputError(path, 'cells.jsonl', 'a regular file', 'not a regular file');
  const text = readFileSync(path, 'utf8').split('\n');
  const records: CellRecord[] = [];
  const failures: FailedCell[] = [];
  const lines = new Map<string, number>();
  const texts = new Map<string, string>();
  const duplicates: { key: string; first: number; line: number; identical: boolean }[] = [];
  const last = text.length - (text[text.length - 1] === '' ? 2 : 1);
  text.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (i < last) throw new InputError(path, `line ${i + 1}`, 'one JSON record per line', 'malformed JSON before the last line');
      return;
    }
    const why = notARecord(v);
    if (why !== undefined) throw new InputError(path, `line ${i + 1}`, 'a cell record (key, part, label, policy, trace, seed, axes, then kind, metrics, exitShares, budgetMs, or failed and error)', why);
    const r = v as CellRecord | FailedCell;
    const first = lines.get(r.key);
    if (first !== undefined) {
      duplicates.push({ key: r.key, first, line: i + 1, identical: texts.get(r.key) === line });
      return;
    }
    lines.set(r.key, i + 1);
    texts.set(r.key, line);
    if ('failed' in r && r.failed === true) failures.push(r);
    else records.push(r as CellRecord);
  });
  return { path, records, failures, lines, duplicates };
}

/** An `InputError` for a duplicated key, naming both lines. */
export function duplicateError(c: RunContents): InputError | undefined {
  const d = c.duplicates[0];
  if (!d) return undefined;
  return new InputError(
    c.path,
    `line ${d.line}`,
    'one record per cell key (two runs wrote into one directory?)',
    `key ${JSON.stringify(d.key)} already recorded at line ${d.first}${c.duplicates.length > 1 ? ` (and ${c.duplicates.length - 1} more repeated keys)` : ''}`,
  );
}

const errnoText: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a path through an existing file',
  EROFS: 'a read-only file system',
  ENOSPC: 'no space left on the device',
};

/** An `InputError` naming the option for a file-system error on the run directory (not a raw errno). */
export function outError(out: string, option: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new InputError(out, option, 'a folder this user can create and write in', `${errnoText[code] ?? (err as Error).message} (${code || 'error'})`);
}

/**
 * Make sure `out` can be a run directory and create it: a new path, an empty folder, or a folder holding an
 * exitlab run (`RUN_FILES`). An existing file, a folder of other files (a user's `summary.md` would be
 * overwritten), or a path this user cannot write is an `InputError` naming `option`.
 * @returns whether `out` already held a run.
 */
export function prepareRunDir(out: string, option = '--out'): boolean {
  let st;
  try {
    st = statSync(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw outError(out, option, err);
    try {
      mkdirSync(out, { recursive: true });
    } catch (e) {
      throw outError(out, option, e);
    }
    return false;
  }
  if (!st.isDirectory()) throw new InputError(out, option, 'a run directory (a new or empty folder, or an exitlab run)', 'an existing file');
  const entries = readdirSync(out);
  const isRun = entries.some((e) => RUN_FILES.includes(e));
  if (entries.length > 0 && !isRun) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, … (${entries.length})` : '');
    throw new InputError(out, option, `a new or empty folder, or an exitlab run directory (holding ${RUN_FILES.slice(0, 3).join(', ')})`, `a folder of other files (${shown})`);
  }
  try {
    accessSync(out, constants.W_OK);
  } catch (err) {
    throw outError(out, option, err);
  }
  return isRun;
}

/** What `run.lock` holds. */
interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

function readLock(path: string): { text: string; info: LockInfo | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    return { text, info: Number.isSafeInteger(v.pid) && typeof v.host === 'string' ? (v as LockInfo) : undefined };
  } catch {
    return { text, info: undefined };
  }
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Create `path` holding `text`, failing if it exists: write a private file, then hard-link it (atomic and exclusive). */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.floor(performance.now() * 1000)}`;
  writeFileSync(tmp, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

const held = new Set<RunLock>();

/**
 * Release every lock this process holds. The CLI calls it on SIGINT and SIGTERM, so that Ctrl-C leaves no stale
 * lock; only a process killed outright (SIGKILL, a crash, power loss) does.
 */
export function releaseHeldLocks(): void {
  for (const lock of [...held]) {
    try {
      lock.release();
    } catch {
      // best effort while exiting
    }
  }
}

/** A held lock: `release` removes it (if it is still ours). */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Take the exclusive lock on a run directory: `dir/run.lock`, created exclusively (a hard link of a complete
 * file, so no reader sees it half-written) holding this process's pid, host and start time. A lock held by a
 * running process is an `InputError`; so is a stale one (its process is gone, e.g. killed), which
 * `breakLock` clears — but never a lock whose process still runs on this machine. Two processes breaking the
 * same stale lock at once are serialised by `run.lock.break`, so at most one of them ends up holding the lock.
 */
export function acquireLock(dir: string, opts: { readonly breakLock?: boolean } = {}): RunLock {
  const path = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() } satisfies LockInfo) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    let created: boolean;
    try {
      created = createExclusive(path, mine);
    } catch (err) {
      throw outError(dir, '--out', err);
    }
    if (created) {
      const lock: RunLock = {
        path,
        release: () => {
          held.delete(lock);
          if (readLock(path)?.text === mine) unlinkSync(path);
        },
      };
      held.add(lock);
      return lock;
    }
    const holder = readLock(path);
    if (holder === undefined) continue; // released between our attempt and the read: try again
    const { info } = holder;
    const here = info !== undefined && info.host === hostname();
    const who = info ? `process ${info.pid} on ${info.host} (since ${info.started})` : 'an unreadable lock file';
    if (here && alive(info.pid)) {
      throw new InputError(
        dir,
        LOCK_FILE,
        'a run directory no other exitlab run or merge is writing to',
        `locked by ${who}, which is still running (wait for it; if that pid is not an exitlab run, delete ${path})`,
      );
    }
    if (!opts.breakLock) {
      const why = here ? 'which is no longer running (killed or crashed)' : info ? 'on another machine, which cannot be checked from here' : 'which cannot be checked';
      throw new InputError(dir, LOCK_FILE, `a run directory no other run is writing to; a stale lock is cleared with --break-lock`, `a lock left by ${who}, ${why}`);
    }
    const breaker = `${path}.break`;
    let breaking: boolean;
    try {
      breaking = createExclusive(breaker, mine);
    } catch (err) {
      throw outError(dir, '--out', err);
    }
    if (!breaking) throw new InputError(dir, `${LOCK_FILE}.break`, 'no other process clearing the lock at the same time', `${breaker} exists (delete it if no exitlab run is starting)`);
    try {
      // Only the lock we judged stale: another breaker may have replaced it with its own live one meanwhile.
      if (readLock(path)?.text === holder.text) unlinkSync(path);
    } finally {
      unlinkSync(breaker);
    }
  }
  throw new InputError(dir, LOCK_FILE, 'a lock that can be taken', 'the lock kept changing hands (another run is starting)');
}

/** Whether `dir` holds an exitlab run (one of `RUN_FILES`). */
export function isRunDir(dir: string): boolean {
  return RUN_FILES.some((f) => existsSync(join(dir, f)));
}

/**
 * 1-based line of the first character where `text` stops being valid JSON. V8's messages give a position for
 * some errors only ("Unexpected token ']', ... is not valid JSON" has none), so find the shortest prefix that
 * fails for a reason other than ending early: it ends on the offending character.
 */
function jsonErrorLine(text: string): number {
  const failsInside = (k: number) => {
    try {
      JSON.parse(text.slice(0, k));
      return false;
    } catch (err) {
      const m = (err as Error).message;
      if (/end of JSON input/.test(m)) return false;
      const pos = /position (\d+)/.exec(m);
      return !(pos && Number(pos[1]) >= k);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsInside(mid + 1)) hi = mid;
    else lo = mid + 1;
  }
  return text.slice(0, lo).split('\n').length;
}

/**
 * Read a run directory's `config.json`: malformed JSON is an `InputError` naming the file and line, a value that
 * is not a resolved experiment one naming the field.
 */
export function readConfig(dir: string): ExperimentDecl {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new InputError(dir, 'config.json', 'a run directory written by `exitlab run`', 'no config.json');
  const text = readFileSync(path, 'utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `line ${jsonErrorLine(text)}`, 'the resolved experiment `exitlab run` wrote (valid JSON)', (err as Error).message.replace(/, (\.\.\.)?"[\s\S]*" is not valid JSON$/, ''));
  }
  const d = v as Partial<ExperimentDecl> | null;
  const bad =
    typeof d !== 'object' || d === null || Array.isArray(d)
      ? ['(root)', describe(d)]
      : typeof d.id !== 'string'
        ? ['id', describe(d.id)]
        : typeof d.description !== 'string'
          ? ['description', describe(d.description)]
          : !Array.isArray(d.traces) || !d.traces.every((t) => typeof t === 'string')
            ? ['traces', describe(d.traces)]
            : !Array.isArray(d.seeds) || !d.seeds.every((x) => Number.isSafeInteger(x))
              ? ['seeds', describe(d.seeds)]
              : !Array.isArray(d.parts) || !d.parts.every((p) => typeof p === 'object' && p !== null && Array.isArray((p as { policies?: unknown }).policies))
                ? ['parts', describe(d.parts)]
                : undefined;
  if (bad) throw new InputError(path, bad[0], 'the resolved experiment `exitlab run` wrote (id, description, traces, seeds, parts)', bad[1]);
  try {
    const decl = d as ExperimentDecl;
    decl.parts.forEach((p: PartDecl, i) => parsePart(decl.id, p, i));
  } catch (err) {
    throw new InputError(path, 'parts', 'the resolved experiment `exitlab run` wrote', (err as Error).message);
  }
  return d as ExperimentDecl;
}
