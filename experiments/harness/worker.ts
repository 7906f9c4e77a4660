/**
 * Pool worker (piscina): runs one cell per task. A task is the harness-v2 worker protocol's `WorkerTask`
 * ({ source, resolve, key }): the worker loads the experiment module itself (a built-in id, or a user's file,
 * TypeScript through tsx), resolves and expands it exactly as the main thread did, and runs the cell with that
 * key. Expansions are cached per (source, resolve), traces per worker (cell.ts). A task `{ cell }` (a
 * declaration passed in by a program, plain data only) runs that cell as given.
 *
 * In a checkout this module is loaded through `worker.mjs`, which registers tsx first; in the package it is the
 * compiled `dist/experiments/harness/worker.js`.
 */
import { InputError } from '../../lib/errors.ts';
import { runCell, type CellRecord } from './cell.ts';
import { expandCells, resolveExperiment, type Cell } from './experiment.ts';
import { loadSource, type WorkerTask } from './run.ts';

const expansions = new Map<string, Promise<Map<string, Cell>>>();

function cellsOf(task: WorkerTask): Promise<Map<string, Cell>> {
  const cacheKey = JSON.stringify([task.source, task.resolve]);
  let cells = expansions.get(cacheKey);
  if (!cells) {
    cells = loadSource(task.source).then((decl) => new Map(expandCells(resolveExperiment(decl, task.resolve)).map((c) => [c.key, c])));
    expansions.set(cacheKey, cells);
  }
  return cells;
}

async function run(t: WorkerTask | { readonly cell: Cell }): Promise<CellRecord> {
  if ('cell' in t) return runCell(t.cell);
  const cell = (await cellsOf(t)).get(t.key);
  // The module changed between the main thread's expansion and this one (edited mid-run), or is not deterministic.
  if (!cell) throw new InputError(t.source, 'cells', `a cell with key ${JSON.stringify(t.key)} (the worker's expansion differs from the run's)`);
  return runCell(cell);
}

/**
 * Run the task's cell and return its record. A failure is rethrown as a plain `Error` naming the cell: piscina
 * cannot pass an error subclass with extra fields (`InputError`) back to the main thread and would crash the
 * pool instead of rejecting the task.
 */
export default async function task(t: WorkerTask | { readonly cell: Cell }): Promise<CellRecord> {
  try {
    return await run(t);
  } catch (err) {
    const e = err as Error;
    const failure = new Error(`cell ${'cell' in t ? t.cell.key : t.key}: ${e.message}`);
    failure.stack = `${failure.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
    throw failure;
  }
}
