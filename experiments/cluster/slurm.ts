/**
 * A sharded experiment as a Slurm array job. `exitlab slurm <experiment> --shards N --out DIR` writes two plain
 * `sbatch` scripts a user can read and edit:
 * - `DIR/slurm/shards.sbatch`: an array job `0..N-1` whose task i runs
 *   `exitlab run <experiment> --shard i/N --out DIR/shard-i --resume`; `--resume` makes a requeued or preempted task
 *   continue where it stopped (finished cells are in `cells.jsonl`, the rest runs), and `--requeue` lets Slurm
 *   requeue it;
 * - `DIR/slurm/merge.sbatch`: merges `DIR/shard-0 … DIR/shard-(N-1)` into `DIR/all` and writes the report; submitted
 *   with `--dependency=afterok:<array job id>` so it runs once every task has finished.
 * With `--submit` both are submitted with `sbatch --parsable`. Every option maps to one documented `#SBATCH` line
 * (see `SLURM_OPTION_LINES`), so nothing is hidden in the generator.
 */
import { InputError, describe } from '../../lib/errors.ts';

/** What the generator needs to know. */
export interface SlurmJobOptions {
  /** Experiment id (built-in) or path of an experiment module, passed to `exitlab run` as given. */
  readonly experiment: string;
  /** Number of array tasks (shards), 1..10,000. */
  readonly shards: number;
  /** Run directory (absolute path): shards go to `out/shard-i`, the merged run to `out/all`. */
  readonly out: string;
  /** The command that runs exitlab on the compute nodes, as argv words (e.g. ['node', '/abs/experiments/exitlab.mjs']). */
  readonly exitlab: readonly string[];
  /** Working directory of every task (absolute; trace paths in the experiment are relative to it). */
  readonly workdir: string;
  /** `--partition`: the partition (queue) to submit to. */
  readonly partition?: string;
  /** `--time`: wall-clock limit per task, Slurm's format (`MM`, `HH:MM:SS`, `D-HH`, ...). */
  readonly time?: string;
  /** `--cpus-per-task`: cores per task; also the task's `--workers`. */
  readonly cpus?: number;
  /** `--mem`: memory per node, Slurm's format (`4G`, `800M`). */
  readonly mem?: string;
  /** `--account`: the account charged. */
  readonly account?: string;
  /** `--qos`: quality of service. */
  readonly qos?: string;
  /** `--array` throttle `%M`: at most this many tasks at once. */
  readonly maxParallel?: number;
  /** Job name prefix (default `exitlab-<experiment id>`). */
  readonly jobName?: string;
  /** Extra `exitlab run` options passed to every task (e.g. ['--quick'], ['--seeds', '1,2,3']). */
  readonly runArgs?: readonly string[];
}

/** The documented mapping from generator options to `#SBATCH` lines (README "On a cluster" prints it). */
export const SLURM_OPTION_LINES: Readonly<Record<string, string>> = {
  partition: '#SBATCH --partition=<P>',
  time: '#SBATCH --time=<T>',
  cpus: '#SBATCH --cpus-per-task=<C>   (and `--workers C` for the task)',
  mem: '#SBATCH --mem=<M>',
  account: '#SBATCH --account=<A>',
  qos: '#SBATCH --qos=<Q>',
  maxParallel: '#SBATCH --array=0-<N-1>%<M>',
  jobName: '#SBATCH --job-name=<name>-shards / <name>-merge',
};

/** The two scripts. */
export interface SlurmScripts {
  /** The array job. */
  readonly shards: string;
  /** The merge job (to be submitted with `--dependency=afterok:<array job id>`). */
  readonly merge: string;
}

const SRC = 'exitlab slurm';

/** Quote one word for bash (single quotes; a single quote inside becomes '\''). */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A value that goes into an `#SBATCH` line: no whitespace or newlines, which would end the directive. */
function directiveValue(field: string, v: string | undefined, form: string, re: RegExp): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !re.test(v)) throw new InputError(SRC, field, form, describe(v));
  return v;
}

/** Validate the options (errors name the option) and write both scripts. */
export function slurmScripts(o: SlurmJobOptions): SlurmScripts {
  if (!Number.isSafeInteger(o.shards) || o.shards < 1 || o.shards > 10000) throw new InputError(SRC, '--shards', 'an integer in [1, 10000]', describe(o.shards));
  if (typeof o.out !== 'string' || !o.out.startsWith('/')) throw new InputError(SRC, '--out', 'an absolute directory path', describe(o.out));
  if (typeof o.workdir !== 'string' || !o.workdir.startsWith('/')) throw new InputError(SRC, 'workdir', 'an absolute directory path', describe(o.workdir));
  if (o.exitlab.length === 0) throw new InputError(SRC, 'exitlab', 'the command that runs exitlab, as argv words', '[]');
  if (o.cpus !== undefined && (!Number.isSafeInteger(o.cpus) || o.cpus < 1 || o.cpus > 4096)) throw new InputError(SRC, '--cpus', 'an integer in [1, 4096]', describe(o.cpus));
  if (o.maxParallel !== undefined && (!Number.isSafeInteger(o.maxParallel) || o.maxParallel < 1)) throw new InputError(SRC, '--max-parallel', 'an integer ≥ 1', describe(o.maxParallel));
  const word = /^[A-Za-z0-9_.,:+-]+$/;
  const partition = directiveValue('--partition', o.partition, 'a partition name like "gpu" or "short,long"', word);
  const time = directiveValue('--time', o.time, 'a Slurm time like "30", "2:00:00" or "1-12"', /^(\d+-)?\d+(:\d{1,2}){0,2}$/);
  const mem = directiveValue('--mem', o.mem, 'a Slurm memory size like "4G" or "800M"', /^\d+[KMGT]?$/);
  const account = directiveValue('--account', o.account, 'an account name', word);
  const qos = directiveValue('--qos', o.qos, 'a QOS name', word);
  const id = o.experiment.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, '');
  const name = directiveValue('--job-name', o.jobName ?? `exitlab-${id.replace(/[^A-Za-z0-9_.-]+/g, '-')}`, 'a job name of letters, digits and - _ .', /^[A-Za-z0-9_.-]+$/)!;
  const q = shellQuote;
  const exitlab = o.exitlab.map(q).join(' ');
  const runArgs = (o.runArgs ?? []).map(q).join(' ');
  const common = [
    ...(partition ? [`#SBATCH --partition=${partition}`] : []),
    ...(account ? [`#SBATCH --account=${account}`] : []),
    ...(qos ? [`#SBATCH --qos=${qos}`] : []),
  ];
  const throttle = o.maxParallel ? `%${o.maxParallel}` : '';
  const shards = [
    '#!/bin/bash',
    `# exitlab: ${o.shards} shards of "${o.experiment}", one array task each. Task i runs shard i/${o.shards} into`,
    `# ${o.out}/shard-i with --resume, so a requeued or preempted task continues where it stopped.`,
    `#SBATCH --job-name=${name}-shards`,
    `#SBATCH --array=0-${o.shards - 1}${throttle}`,
    `#SBATCH --output=${o.out}/logs/shard-%a.log`,
    '#SBATCH --open-mode=append',
    '#SBATCH --requeue',
    '#SBATCH --ntasks=1',
    ...(o.cpus ? [`#SBATCH --cpus-per-task=${o.cpus}`] : []),
    ...(time ? [`#SBATCH --time=${time}`] : []),
    ...(mem ? [`#SBATCH --mem=${mem}`] : []),
    ...common,
    'set -euo pipefail',
    `cd ${q(o.workdir)}`,
    `echo "exitlab shard $SLURM_ARRAY_TASK_ID/${o.shards} on $(hostname) at $(date -u +%FT%TZ) (restart count \${SLURM_RESTART_COUNT:-0})"`,
    `exec ${exitlab} run ${q(o.experiment)} ${runArgs ? runArgs + ' ' : ''}--shard "$SLURM_ARRAY_TASK_ID/${o.shards}" --out ${q(o.out)}/shard-"$SLURM_ARRAY_TASK_ID" --resume${o.cpus ? ` --workers ${o.cpus}` : ''}`,
    '',
  ].join('\n');
  const dirs = Array.from({ length: o.shards }, (_, i) => `${q(o.out)}/shard-${i}`).join(' \\\n  ');
  const merge = [
    '#!/bin/bash',
    `# exitlab: merge the ${o.shards} shards of "${o.experiment}" into ${o.out}/all and write its report.`,
    '# Submitted with --dependency=afterok:<array job id>, so it starts once every shard has finished.',
    `#SBATCH --job-name=${name}-merge`,
    `#SBATCH --output=${o.out}/logs/merge.log`,
    '#SBATCH --ntasks=1',
    '#SBATCH --cpus-per-task=1',
    ...(time ? [`#SBATCH --time=${time}`] : []),
    ...common,
    'set -euo pipefail',
    `cd ${q(o.workdir)}`,
    `exec ${exitlab} merge \\\n  ${dirs} \\\n  --out ${q(o.out)}/all`,
    '',
  ].join('\n');
  return { shards, merge };
}

/** What `writeSlurmJob` wrote and (with `submit`) what Slurm answered. */
export interface SlurmSubmission {
  /** Paths of the two scripts. */
  readonly files: { readonly shards: string; readonly merge: string };
  /** Job ids from `sbatch --parsable`, when submitted. */
  readonly jobIds?: { readonly shards: string; readonly merge: string };
}

/**
 * Write `out/slurm/{shards,merge}.sbatch` (and create `out/logs`), refusing to replace existing scripts unless
 * `force`; with `submit`, submit the array job and the merge job depending on it (`afterok`).
 */
export async function writeSlurmJob(o: SlurmJobOptions, opts: { submit?: boolean; force?: boolean; sbatch?: string } = {}): Promise<SlurmSubmission> {
  const { mkdirSync, existsSync, writeFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const scripts = slurmScripts(o);
  const dir = join(o.out, 'slurm');
  const files = { shards: join(dir, 'shards.sbatch'), merge: join(dir, 'merge.sbatch') };
  for (const f of Object.values(files)) {
    if (existsSync(f) && !opts.force) throw new InputError(f, '--out', 'a run directory without Slurm scripts (or --force to replace them)', 'an existing script');
  }
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(o.out, 'logs'), { recursive: true });
  writeFileSync(files.shards, scripts.shards, { mode: 0o755 });
  writeFileSync(files.merge, scripts.merge, { mode: 0o755 });
  if (!opts.submit) return { files };
  const sbatch = opts.sbatch ?? 'sbatch';
  const run = (args: string[]) => {
    try {
      return execFileSync(sbatch, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(';')[0];
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new InputError(sbatch, '--submit', 'a working `sbatch` (Slurm client) on PATH', (e.stderr ?? e.message).trim());
    }
  };
  const shards = run(['--parsable', files.shards]);
  const merge = run(['--parsable', `--dependency=afterok:${shards}`, '--kill-on-invalid-dep=yes', files.merge]);
  return { files, jobIds: { shards, merge } };
}
