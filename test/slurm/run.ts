/**
 * `npm run test:slurm`: a sharded sweep under a real, single-node Slurm on this machine.
 *
 * 1. Installs Debian's `slurm-wlm` and `munge` if `sbatch`/`slurmd`/`munged` are missing (needs root and apt).
 * 2. Starts munged, slurmctld and slurmd with a minimal configuration written into a temporary directory (one
 *    node with this machine's cores, no cgroup plugins, no accounting): nothing under /etc is touched.
 * 3. Runs `queue-sweep --quick` unsharded, then through `exitlab slurm --shards 4 --submit`, waits for the array
 *    and merge jobs, and checks that the merged `cells.jsonl` equals the unsharded one byte for byte.
 * 4. Submits the sweep again, requeues one task (`scontrol requeue`) once it has recorded part of its shard, and
 *    checks that the requeued task resumed (its log shows the restart, its first run's records were kept) and
 *    that the merged records again equal the unsharded run's, with no duplicate key.
 * 5. Stops every daemon it started, by pid, whatever happened.
 * Prints the time of the unsharded run and of the 4-shard Slurm run (submit to merged).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const bin = join(root, 'experiments', 'exitlab.mjs');
const SHARDS = 4;

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Exit code for "this machine cannot run the test" (packages missing and not installable: not root, or apt
 * failed). `.ci/run` reports it loudly as a skip; any failure of the test itself exits 1.
 */
const CANNOT_RUN = 77;

function cannotRun(why: string): never {
  console.log(`slurm test NOT RUN: ${why}`);
  process.exit(CANNOT_RUN);
}

function installIfMissing(): void {
  if (has('sbatch') && has('slurmd') && has('slurmctld') && has('munged')) return;
  if (process.getuid?.() !== 0) cannotRun('slurm-wlm/munge are missing and this is not root: install them with apt-get install slurm-wlm munge');
  console.log('installing slurm-wlm and munge from Debian');
  try {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'slurm-wlm', 'munge'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    cannotRun(`apt-get could not install slurm-wlm and munge (${(err as Error).message.split('\n')[0]})`);
  }
}

interface Cluster {
  readonly env: NodeJS.ProcessEnv;
  readonly dir: string;
  readonly pidFiles: readonly string[];
}

async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'exitlab-slurm-'));
  for (const d of ['state', 'spool', 'log', 'munge']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'munge'), 0o700);
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7919 + 13) & 0xff)), { mode: 0o400 });
  const socket = join(dir, 'munge', 'munge.socket');
  const pid = (n: string) => join(dir, `${n}.pid`);
  // munged refuses world-writable parents (like /tmp) unless forced; the key is ours and only for this test.
  sh('munged', ['--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${pid('munged')}`, `--log-file=${join(dir, 'log', 'munged.log')}`, `--seed-file=${join(dir, 'munge', 'seed')}`]);
  const node = hostname().split('.')[0];
  const cpus = availableParallelism();
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=exitlab-test',
      `SlurmctldHost=${node}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${pid('slurmctld')}`,
      `SlurmdPidFile=${pid('slurmd')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'SwitchType=switch/none',
      'MpiDefault=none',
      'SchedulerType=sched/backfill',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'MinJobAge=3600',
      // Requeued jobs are held by default in some versions; release them at once.
      'JobRequeue=1',
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const cluster = { env, dir, pidFiles: [pid('slurmd'), pid('slurmctld'), pid('munged')] };
  try {
    sh('slurmctld', [], env);
    sh('slurmd', [], env);
    for (let i = 0; i < 100; i++) {
      const state = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', env }).stdout.trim();
      if (state === 'idle') return cluster;
      await sleep(200);
    }
    throw new Error(`slurmd did not become idle; logs in ${join(dir, 'log')}:\n${tailLogs(dir)}`);
  } catch (err) {
    await stopCluster(cluster);
    throw err;
  }
}

function tailLogs(dir: string): string {
  return ['slurmctld.log', 'slurmd.log', 'munged.log']
    .map((f) => join(dir, 'log', f))
    .filter(existsSync)
    .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
}

/** SIGTERM each daemon we started (by the pid its pid file holds), wait up to 15 s for it to exit, then SIGKILL. */
async function stopCluster(c: Cluster): Promise<void> {
  const pids: number[] = [];
  for (const f of c.pidFiles) {
    if (!existsSync(f)) continue;
    const pid = Number(readFileSync(f, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    pids.push(pid);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 75 && pids.some(alive); i++) await sleep(200);
  for (const pid of pids.filter(alive)) {
    console.log(`daemon ${pid} ignored SIGTERM for 15 s: SIGKILL`);
    process.kill(pid, 'SIGKILL');
  }
}

/** State of a job (or array task `id_i`) from scontrol; accounting is off, so MinJobAge keeps it visible. */
function jobStates(id: string, env: NodeJS.ProcessEnv): string[] {
  const out = spawnSync('scontrol', ['show', 'job', '-o', id], { encoding: 'utf8', env }).stdout;
  return [...out.matchAll(/JobState=(\S+)/g)].map((m) => m[1]);
}

async function waitFor(id: string, env: NodeJS.ProcessEnv, dir: string, timeoutMs = 20 * 60_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const states = jobStates(id, env);
    if (states.length > 0 && states.every((s) => s === 'COMPLETED')) return;
    const bad = states.find((s) => ['FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE'].includes(s));
    if (bad) throw new Error(`job ${id} ended ${bad}:\n${tailLogs(dir)}`);
    if (Date.now() - start > timeoutMs) throw new Error(`job ${id} still ${states.join(',')} after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

function exitlab(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`exitlab ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function submit(out: string, env: NodeJS.ProcessEnv): { shards: string; merge: string } {
  const text = exitlab(['slurm', 'queue-sweep', '--quick', '--shards', String(SHARDS), '--out', out, '--cpus', '1', '--submit'], env);
  const shards = /array job (\d+)/.exec(text)?.[1];
  const merge = /merge job (\d+)/.exec(text)?.[1];
  if (!shards || !merge) throw new Error(`could not read the job ids from exitlab slurm's output:\n${text}`);
  return { shards, merge };
}

function keys(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { key: string }).key);
}

async function main(): Promise<void> {
  installIfMissing();
  const work = mkdtempSync(join(tmpdir(), 'exitlab-slurm-runs-'));
  const t0 = Date.now();
  exitlab(['run', 'queue-sweep', '--quick', '--out', join(work, 'ref'), '--workers', '1'], process.env);
  const unshardedS = (Date.now() - t0) / 1000;
  // A run appends records in completion order; `merge` writes them sorted by key. The canonical form of the
  // unsharded run is therefore its merge on its own, and that is what the shards' merge must equal byte for byte.
  exitlab(['merge', join(work, 'ref'), '--out', join(work, 'ref-canonical')], process.env);
  const reference = readFileSync(join(work, 'ref-canonical', 'cells.jsonl'), 'utf8');
  let cluster: Cluster;
  try {
    cluster = await startCluster();
  } catch (err) {
    // The daemons' own error lines are in the message (tailLogs): this machine cannot run a local Slurm.
    cannotRun(`the local Slurm did not start: ${(err as Error).message}`);
  }
  let failed = 0;
  const check = (ok: boolean, what: string) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) failed++;
  };
  try {
    const t1 = Date.now();
    const a = submit(join(work, 'slurm'), cluster.env);
    await waitFor(a.shards, cluster.env, cluster.dir);
    await waitFor(a.merge, cluster.env, cluster.dir);
    const slurmS = (Date.now() - t1) / 1000;
    const merged = readFileSync(join(work, 'slurm', 'all', 'cells.jsonl'), 'utf8');
    check(merged === reference, `4-shard Slurm run: merged records equal the unsharded run's (merged alone) byte for byte (${keys(join(work, 'ref', 'cells.jsonl')).length} cells)`);
    check(existsSync(join(work, 'slurm', 'all', 'report.html')), 'the merge job wrote the report');
    console.log(`time: unsharded ${unshardedS.toFixed(1)} s (1 worker); 4-shard Slurm run ${slurmS.toFixed(1)} s from submit to merged report (${availableParallelism()} cores, 1 cpu per task)`);

    // Requeue one task midway: once shard 1 has some records but not all, requeue it; it must resume.
    const out2 = join(work, 'requeue');
    const b = submit(out2, cluster.env);
    const task = `${b.shards}_1`;
    const shardRecords = join(out2, 'shard-1', 'cells.jsonl');
    let before = 0;
    for (let i = 0; i < 6000; i++) {
      const n = existsSync(shardRecords) ? keys(shardRecords).length : 0;
      if (n > 0 && jobStates(task, cluster.env)[0] === 'RUNNING') {
        sh('scontrol', ['requeue', task], cluster.env);
        // Slurm makes a requeued job eligible only after a delay (its BeginTime moves about two minutes ahead);
        // a preempted task on a real cluster waits the same way, but the test need not.
        // While the killed run completes the update has no effect, so repeat it until the task runs again.
        for (let j = 0; j < 150 && !['RUNNING', 'COMPLETED'].includes(jobStates(task, cluster.env)[0] ?? ''); j++) {
          if (jobStates(task, cluster.env)[0] === 'PENDING') spawnSync('scontrol', ['update', `JobId=${task}`, 'StartTime=now'], { env: cluster.env });
          await sleep(200);
        }
        before = n;
        break;
      }
      await sleep(10);
    }
    check(before > 0, `requeued task ${task} after it had recorded ${before} cell(s) of its shard`);
    await waitFor(b.shards, cluster.env, cluster.dir);
    await waitFor(b.merge, cluster.env, cluster.dir);
    const log = readFileSync(join(out2, 'logs', 'shard-1.log'), 'utf8');
    check(/restart count [1-9]/.test(log), 'the requeued task ran again (its log shows a restart count ≥ 1)');
    const summaries = [...log.matchAll(/(\d+) cells run, (\d+) already recorded/g)];
    const skipped = summaries.length > 0 ? Number(summaries[summaries.length - 1][2]) : -1;
    check(skipped >= before, `the requeued run of the task skipped the ${skipped} cell(s) recorded before (≥ the ${before} seen at the requeue)`);
    const k = keys(shardRecords);
    check(new Set(k).size === k.length, `shard 1 has no duplicate key after the requeue (${k.length} records)`);
    check(readFileSync(join(out2, 'all', 'cells.jsonl'), 'utf8') === reference, 'after the requeue the merged records still equal the unsharded run byte for byte');
  } finally {
    await stopCluster(cluster);
  }
  if (failed === 0) for (const d of [work, cluster.dir]) rmSync(d, { recursive: true, force: true });
  console.log(`${failed === 0 ? 'slurm test passed' : `slurm test FAILED (${failed} checks)`}`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
