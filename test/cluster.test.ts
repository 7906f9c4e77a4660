import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError } from '../lib/errors.ts';
import { shellQuote, slurmScripts, type SlurmJobOptions } from '../experiments/cluster/slurm.ts';
import { indexedJobManifest } from '../experiments/cluster/kubernetes.ts';

const s = suite('cluster');

const base: SlurmJobOptions = { experiment: 'queue-sweep', shards: 4, out: '/runs/q', exitlab: ['/usr/bin/node', '/opt/exitlab/experiments/exitlab.mjs'], workdir: '/home/me/proj' };

s('slurm: every option maps to its #SBATCH line; tasks run their shard with --resume; merge lists every shard', () => {
  const { shards, merge } = slurmScripts({ ...base, partition: 'short', time: '2:00:00', cpus: 4, mem: '8G', account: 'lab1', qos: 'normal', maxParallel: 2, runArgs: ['--quick', '--seeds', '1,2'] });
  for (const line of ['#SBATCH --array=0-3%2', '#SBATCH --partition=short', '#SBATCH --time=2:00:00', '#SBATCH --cpus-per-task=4', '#SBATCH --mem=8G', '#SBATCH --account=lab1', '#SBATCH --qos=normal', '#SBATCH --requeue', '#SBATCH --job-name=exitlab-queue-sweep-shards']) {
    assert.ok(shards.split('\n').includes(line), `missing ${line}`);
  }
  assert.match(shards, /exec \/usr\/bin\/node \/opt\/exitlab\/experiments\/exitlab\.mjs run queue-sweep --quick --seeds 1,2 --shard "\$SLURM_ARRAY_TASK_ID\/4" --out \/runs\/q\/shard-"\$SLURM_ARRAY_TASK_ID" --resume --workers 4$/m);
  assert.match(shards, /^cd \/home\/me\/proj$/m);
  for (let i = 0; i < 4; i++) assert.ok(merge.includes(`/runs/q/shard-${i}`));
  assert.match(merge, /--out \/runs\/q\/all$/m);
  assert.not.match(merge, /--array/);
  // No option, no line: nothing hidden.
  const plain = slurmScripts(base).shards;
  assert.not.match(plain, /--partition|--time|--mem|--account|--qos|--cpus-per-task/);
});

s('slurm: bad options are errors naming the option; words are shell-quoted', () => {
  const bad: [Partial<SlurmJobOptions>, RegExp][] = [
    [{ shards: 0 }, /--shards: expected an integer in \[1, 10000\]/],
    [{ out: 'relative/dir' }, /--out: expected an absolute directory path/],
    [{ partition: 'a b' }, /--partition: expected a partition name/],
    [{ partition: 'x\n#SBATCH --uid=0' }, /--partition/],
    [{ time: 'soon' }, /--time: expected a Slurm time/],
    [{ mem: '8 GB' }, /--mem: expected a Slurm memory size/],
    [{ cpus: 0 }, /--cpus: expected an integer in \[1, 4096\]/],
  ];
  for (const [patch, re] of bad) {
    assert.throws(() => slurmScripts({ ...base, ...patch }), (e: unknown) => e instanceof InputError && re.test((e as Error).message), JSON.stringify(patch));
  }
  assert.is(shellQuote('plain-word_1.ts'), 'plain-word_1.ts');
  assert.is(shellQuote("it's here"), `'it'\\''s here'`);
  assert.match(slurmScripts({ ...base, experiment: '/home/me/my exp.ts' }).shards, / run '\/home\/me\/my exp\.ts' /);
});

s('kubernetes: an Indexed Job whose pods take JOB_COMPLETION_INDEX as their shard, and a merge Job; bad names rejected', () => {
  const yaml = indexedJobManifest({ experiment: 'queue-sweep', shards: 8, image: 'ghcr.io/me/exitlab:1', out: '/runs/q', claim: 'runs', mountPath: '/runs', cpus: 2, memory: '4Gi', runArgs: ['--quick'] });
  const docs = yaml.split('\n---\n');
  assert.is(docs.length, 2);
  assert.match(docs[0], /completionMode: Indexed/);
  assert.match(docs[0], /completions: 8/);
  assert.match(docs[0], /parallelism: 8/);
  assert.ok(docs[0].includes('--shard \\"$JOB_COMPLETION_INDEX/8\\" --out \\"/runs/q/shard-$JOB_COMPLETION_INDEX\\" --resume --workers 2'), docs[0]);
  assert.match(docs[0], /claimName: runs/);
  assert.match(docs[0], /cpu: "2"/);
  for (let i = 0; i < 8; i++) assert.ok(docs[1].includes(`/runs/q/shard-${i}`));
  assert.throws(() => indexedJobManifest({ experiment: 'q', shards: 2, image: 'i', out: '/r', claim: 'Bad_Name', mountPath: '/r' }), (e: unknown) => e instanceof InputError && /--claim/.test((e as Error).message));
  assert.throws(() => indexedJobManifest({ experiment: 'q', shards: 2, image: 'i', out: 'r', claim: 'ok', mountPath: '/r' }), (e: unknown) => e instanceof InputError && /--out/.test((e as Error).message));
});

s('the CLI: exitlab slurm writes both scripts (and refuses to replace them without --force); exitlab kubernetes prints the YAML', () => {
  const root = resolve(import.meta.dirname, '..');
  const bin = join(root, 'experiments', 'exitlab.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'exitlab-cluster-'));
  try {
    const out = join(dir, 'run');
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });
    const r = cli('slurm', 'queue-sweep', '--quick', '--shards', '3', '--out', out, '--time', '10');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /submit with: jid=\$\(sbatch --parsable /);
    const shards = readFileSync(join(out, 'slurm', 'shards.sbatch'), 'utf8');
    assert.match(shards, /#SBATCH --array=0-2/);
    assert.match(shards, / run queue-sweep --quick --shard "\$SLURM_ARRAY_TASK_ID\/3" /);
    assert.ok(existsSync(join(out, 'slurm', 'merge.sbatch')) && existsSync(join(out, 'logs')));
    const again = cli('slurm', 'queue-sweep', '--shards', '3', '--out', out);
    assert.is(again.status, 3, 'an existing script is not replaced without --force');
    assert.match(again.stderr, /shards\.sbatch.*--force/);
    assert.is(cli('slurm', 'queue-sweep', '--shards', '3', '--out', out, '--force').status, 0);
    assert.is(cli('slurm', 'queue-swep', '--shards', '3', '--out', out).status, 2);
    const k = cli('kubernetes', 'queue-sweep', '--shards', '2', '--image', 'exitlab:1', '--claim', 'runs');
    assert.is(k.status, 0, k.stderr);
    assert.match(k.stdout, /completionMode: Indexed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
