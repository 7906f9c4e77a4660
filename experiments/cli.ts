/**
 * The experiment CLI (`npx exitlab <command>`, or `npm run exitlab -- <command>`):
 *   run <id> [--seeds 1,2,3 | --seeds N] [--trace manifest.json ...] [--out DIR] [--quick] [--shard i/n] [--resume] [--workers N]
 *   list
 *   report <dir>
 *   merge <dir> <dir> ... --out DIR
 * `run` loads `experiments/<id>.ts` (a module default-exporting `defineExperiment(...)`), runs its cells in a
 * worker pool with a progress bar (plain lines when not a terminal), writes the report and prints its summary.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { expandCells, parseShard, resolveExperiment, type ExperimentDecl } from './harness/experiment.ts';
import { mergeRuns, writeReport } from './harness/report.ts';
import { progressReporter, runExperiment } from './harness/run.ts';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Load `experiments/<id>.ts` and check that it declares an experiment of that id. A path ending in `.ts` loads
 * that file instead (experiments kept outside this folder, and tests).
 */
export async function loadExperiment(idOrPath: string): Promise<ExperimentDecl> {
  if (idOrPath.endsWith('.ts')) {
    const mod = (await import(pathToFileURL(resolve(idOrPath)).href)) as { default?: ExperimentDecl };
    if (!mod.default?.id) throw new Error(`${idOrPath}: its default export must be defineExperiment({ id, ... })`);
    return mod.default;
  }
  const id = idOrPath;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new Error(`experiment id: expected a lower-case identifier, got ${JSON.stringify(id)}`);
  const file = join(here, `${id}.ts`);
  if (!existsSync(file) || !readFileSync(file, 'utf8').includes('defineExperiment(')) {
    throw new Error(`no experiment "${id}": expected experiments/${id}.ts exporting defineExperiment(...); known: ${listIds().join(', ')}`);
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: ExperimentDecl };
  if (!mod.default || mod.default.id !== id) throw new Error(`experiments/${id}.ts: its default export must be defineExperiment({ id: "${id}", ... })`);
  return mod.default;
}

/** Ids of the experiment modules (files that call defineExperiment), without importing anything else. */
export function listIds(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && readFileSync(join(here, f), 'utf8').includes('export default defineExperiment('))
    .map((f) => f.slice(0, -3))
    .sort();
}

function parseSeeds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 1 && /^\d+$/.test(parts[0]) && !text.includes(',')) {
    const n = Number(parts[0]);
    if (n < 1) throw new Error(`--seeds: expected a count ≥ 1 or a list like 1,2,3, got ${text}`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const seeds = parts.map(Number);
  if (seeds.some((s) => !Number.isSafeInteger(s))) throw new Error(`--seeds: expected integers like 1,2,3, got ${text}`);
  return seeds;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      seeds: { type: 'string' },
      trace: { type: 'string', multiple: true },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      shard: { type: 'string' },
      resume: { type: 'boolean', default: false },
      workers: { type: 'string' },
    },
  });
  switch (command) {
    case 'list': {
      for (const id of listIds()) {
        const decl = await loadExperiment(id);
        const cells = expandCells(resolveExperiment(decl)).length;
        const quick = decl.quick ? expandCells(resolveExperiment(decl, { quick: true })).length : cells;
        console.log(`${id.padEnd(14)} ${String(cells).padStart(6)} cells (${quick} with --quick)  ${decl.description}`);
      }
      return;
    }
    case 'run': {
      const id = positionals[0];
      if (!id) throw new Error('usage: exitlab run <id> [--seeds 1,2,3] [--trace manifest.json ...] [--out DIR] [--quick] [--shard i/n] [--resume] [--workers N]');
      const decl = await loadExperiment(id);
      const out = values.out ?? join('results', `${decl.id}${values.quick ? '-quick' : ''}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const workers = values.workers === undefined ? undefined : Number(values.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 0)) throw new Error(`--workers: expected an integer ≥ 0, got ${values.workers}`);
      const result = await runExperiment(decl, {
        out,
        quick: values.quick,
        seeds: values.seeds ? parseSeeds(values.seeds) : undefined,
        traces: values.trace,
        shard: values.shard ? parseShard(values.shard) : undefined,
        resume: values.resume,
        workers,
        onProgress: progressReporter(decl.id),
      });
      const report = await writeReport(out);
      console.log(readFileSync(join(out, 'summary.md'), 'utf8'));
      console.log(`${result.ran} cells run, ${result.skipped} already recorded; records ${join(out, 'cells.jsonl')}`);
      console.log(`report: ${report}`);
      return;
    }
    case 'report': {
      const dir = positionals[0];
      if (!dir) throw new Error('usage: exitlab report <run dir>');
      console.log(`report: ${await writeReport(dir)}`);
      return;
    }
    case 'merge': {
      if (!values.out || positionals.length === 0) throw new Error('usage: exitlab merge <dir> <dir> ... --out DIR');
      const n = mergeRuns(positionals, values.out);
      console.log(`merged ${n} cells from ${positionals.length} runs into ${values.out}`);
      console.log(`report: ${await writeReport(values.out)}`);
      return;
    }
    default:
      throw new Error(`usage: exitlab run <id> | list | report <dir> | merge <dirs...> --out DIR (got ${JSON.stringify(command ?? '')})`);
  }
}

// Run only as the entry point (tests import loadExperiment/listIds without running a command).
const entry = process.argv[1] ?? '';
if (entry.endsWith('cli.ts') || entry.endsWith('exitlab.mjs') || entry.endsWith('/exitlab')) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`exitlab: ${err.message}`);
    process.exitCode = 1;
  });
}
