/**
 * Merging shard run directories into one run directory (`exitlab merge`): same resolved experiment, records
 * united by key, every cell of the experiment accounted for, and the output folder guarded like a run's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { atomicWrite } from '../../lib/io.ts';
import { expandCells, resolveExperiment, type ExperimentDecl } from './experiment.ts';
import { acquireLock, isRunDir, prepareRunDir, readConfig, readRun } from './rundir.ts';

/** Options of `mergeRuns`. */
export interface MergeOptions {
  /** Replace the run already in `out` (otherwise an existing run directory is refused). */
  readonly force?: boolean;
  /** Merge even when cells of the experiment are in none of the runs (they are named either way). */
  readonly partial?: boolean;
}

/**
 * The cell keys of a resolved experiment read back from `config.json`. A user's `PolicySpec` object is stored
 * as its JSON (name, budgeted, ...) without its functions; keys depend only on its name and `budgeted`, so a
 * stand-in that validates nothing serves. Undefined if the configuration cannot be expanded.
 */
function configKeys(config: ExperimentDecl): string[] | undefined {
  const stub = (p: unknown) =>
    typeof p === 'object' && p !== null ? { ...(p as object), parse: (raw: object) => raw, create: () => { throw new Error('stand-in spec'); } } : p;
  try {
    const d = { ...config, parts: config.parts.map((part) => ({ ...part, policies: part.policies.map((e) => ({ ...e, policy: stub(e.policy) })) })) } as ExperimentDecl;
    return expandCells(resolveExperiment(d)).map((c) => c.key);
  } catch {
    return undefined;
  }
}

/**
 * Merge shard run directories into one: same resolved experiment required; records are united by key (a key
 * recorded twice with different content is an error); a cell failed in one run and finished in another counts
 * as finished, failed everywhere stays a failure record. Cells in none of the runs (a missing shard) are an
 * error naming them unless `partial`. `out` must be a new or empty folder, or with `force` an existing run
 * directory, which is replaced (locked while it is written). Returns the number of finished cells merged.
 */
export function mergeRuns(dirs: readonly string[], out: string, options: MergeOptions = {}): number {
  if (dirs.length === 0) throw new InputError('merge', 'dirs', 'at least one run directory');
  // Refuse before reading anything: a merge over a run would replace its records (84 → 6 in issue 15).
  if (isRunDir(out) && !options.force) {
    throw new InputError(out, '--out', 'a new or empty folder for the merged run (or --force to replace the run in it)', `an existing run directory (${readRun(out).records.length} recorded cells)`);
  }
  const configs = dirs.map((d) => {
    readConfig(d);
    return readFileSync(join(d, 'config.json'), 'utf8');
  });
  configs.forEach((c, i) => {
    if (c !== configs[0]) throw new InputError(join(dirs[i], 'config.json'), 'config', `the same resolved experiment as ${dirs[0]}`, 'a different one');
  });
  const byKey = new Map<string, string>();
  const failed = new Map<string, string>();
  const shards: string[] = [];
  for (const d of dirs) {
    const contents = readRun(d);
    const dup = contents.duplicates.find((x) => !x.identical);
    if (dup) throw new InputError(contents.path, `line ${dup.line}`, 'one record per cell key', `key ${JSON.stringify(dup.key)} recorded differently at line ${dup.first}`);
    for (const r of contents.records) {
      const line = JSON.stringify(r);
      const prev = byKey.get(r.key);
      if (prev !== undefined && prev !== line) throw new InputError(d, `cells.jsonl ${r.key}`, 'the same record as the other shards for a shared cell', 'a different record');
      byKey.set(r.key, line);
    }
    for (const f of contents.failures) failed.set(f.key, JSON.stringify(f));
    try {
      const s = (JSON.parse(readFileSync(join(d, 'run.json'), 'utf8')) as { shard?: { index: number; count: number } }).shard;
      if (s) shards.push(`${s.index}/${s.count}`);
    } catch {
      // a run.json is informative only
    }
  }
  for (const k of byKey.keys()) failed.delete(k);
  const expected = configKeys(JSON.parse(configs[0]) as ExperimentDecl);
  if (expected !== undefined && !options.partial) {
    const missing = expected.filter((k) => !byKey.has(k) && !failed.has(k));
    if (missing.length > 0) {
      throw new InputError(
        'merge',
        'runs',
        `every cell of the experiment (${expected.length}) in one of the runs (or --partial)`,
        `${missing.length} cell(s) in none of them (a missing shard or an unfinished run? shards merged: ${[...new Set(shards)].sort().join(', ') || 'unknown shards'}), e.g. ${missing.slice(0, 3).map((k) => JSON.stringify(k)).join(', ')}`,
      );
    }
  }
  prepareRunDir(out);
  const lock = acquireLock(out);
  try {
    const keys = [...byKey.keys()].sort();
    const lines = [...keys.map((k) => byKey.get(k)!), ...[...failed.keys()].sort().map((k) => failed.get(k)!)];
    atomicWrite(join(out, 'config.json'), configs[0]);
    atomicWrite(join(out, 'cells.jsonl'), lines.map((l) => l + '\n').join(''));
    atomicWrite(join(out, 'run.json'), JSON.stringify({ mergedFrom: dirs, cells: keys.length, failed: failed.size, merged: new Date().toISOString() }, null, 2) + '\n');
    return keys.length;
  } finally {
    lock.release();
  }
}
