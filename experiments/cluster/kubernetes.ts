/**
 * The same sharded run as a Kubernetes Indexed Job (batch/v1, `completionMode: Indexed`): pod i gets
 * `JOB_COMPLETION_INDEX = i` and runs `exitlab run <experiment> --shard i/N --out <out>/shard-i --resume`, so a pod
 * restarted by `backoffLimitPerIndex` continues where it stopped. The run directory must be a volume every pod
 * mounts (a ReadWriteMany PersistentVolumeClaim); a second, plain Job merges the shards once the first completes
 * (`kubectl wait --for=condition=complete job/<name>-shards`, then `kubectl apply` the merge job). The manifest
 * is plain YAML written for a user to read and edit; it is not tested against a cluster here.
 */
import { InputError, describe } from '../../lib/errors.ts';

/** What the manifest needs. */
export interface IndexedJobOptions {
  /** Experiment id (built-in) or a path inside the image. */
  readonly experiment: string;
  /** Number of shards (completions), 1..10,000. */
  readonly shards: number;
  /** Container image that has exitlab installed (e.g. built from `npm pack`). */
  readonly image: string;
  /** Run directory inside the pods (absolute), on the shared volume. */
  readonly out: string;
  /** Name of the ReadWriteMany PersistentVolumeClaim mounted at `mountPath`. */
  readonly claim: string;
  /** Where the claim is mounted (absolute); `out` should lie inside it. */
  readonly mountPath: string;
  /** Pods at once (default: all shards). */
  readonly parallelism?: number;
  /** CPU request and limit per pod, in cores; also `--workers`. */
  readonly cpus?: number;
  /** Memory request and limit per pod, Kubernetes quantity (`4Gi`). */
  readonly memory?: string;
  /** Job name prefix (default `exitlab-<experiment id>`), a DNS label. */
  readonly name?: string;
  /** Extra `exitlab run` options for every shard (e.g. ['--quick']). */
  readonly runArgs?: readonly string[];
}

const SRC = 'exitlab kubernetes';

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
const y = (s: string) => JSON.stringify(s);

/** Validate the options and write the two Job manifests as one multi-document YAML text. */
export function indexedJobManifest(o: IndexedJobOptions): string {
  if (!Number.isSafeInteger(o.shards) || o.shards < 1 || o.shards > 10000) throw new InputError(SRC, '--shards', 'an integer in [1, 10000]', describe(o.shards));
  for (const [field, v] of [['--out', o.out], ['--mount-path', o.mountPath]] as const) {
    if (typeof v !== 'string' || !v.startsWith('/')) throw new InputError(SRC, field, 'an absolute path inside the pod', describe(v));
  }
  if (typeof o.image !== 'string' || o.image.length === 0) throw new InputError(SRC, '--image', 'a container image reference', describe(o.image));
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.claim)) throw new InputError(SRC, '--claim', 'a PersistentVolumeClaim name (DNS label)', describe(o.claim));
  const id = o.experiment.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, '');
  const name = o.name ?? `exitlab-${id.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+$/, '')}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 50) throw new InputError(SRC, '--name', 'a DNS label of at most 50 characters', describe(name));
  const parallelism = o.parallelism ?? o.shards;
  if (!Number.isSafeInteger(parallelism) || parallelism < 1) throw new InputError(SRC, '--parallelism', 'an integer ≥ 1', describe(parallelism));
  if (o.cpus !== undefined && (!Number.isSafeInteger(o.cpus) || o.cpus < 1)) throw new InputError(SRC, '--cpus', 'an integer ≥ 1', describe(o.cpus));
  const resources = o.cpus !== undefined || o.memory !== undefined
    ? [
        '          resources:',
        '            requests:',
        ...(o.cpus ? [`              cpu: "${o.cpus}"`] : []),
        ...(o.memory ? [`              memory: ${y(o.memory)}`] : []),
        '            limits:',
        ...(o.cpus ? [`              cpu: "${o.cpus}"`] : []),
        ...(o.memory ? [`              memory: ${y(o.memory)}`] : []),
      ]
    : [];
  const extra = (o.runArgs ?? []).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const shardCmd = `exec exitlab run '${o.experiment.replace(/'/g, `'\\''`)}' ${extra ? extra + ' ' : ''}--shard "$JOB_COMPLETION_INDEX/${o.shards}" --out "${o.out}/shard-$JOB_COMPLETION_INDEX" --resume${o.cpus ? ` --workers ${o.cpus}` : ''}`;
  const mergeDirs = Array.from({ length: o.shards }, (_, i) => `"${o.out}/shard-${i}"`).join(' ');
  const volume = [
    '          volumeMounts:',
    '            - name: runs',
    `              mountPath: ${y(o.mountPath)}`,
    '      volumes:',
    '        - name: runs',
    '          persistentVolumeClaim:',
    `            claimName: ${o.claim}`,
  ];
  return [
    `# exitlab: ${o.shards} shards of "${o.experiment}" as an Indexed Job; pod i runs shard i/${o.shards}.`,
    `# kubectl apply -f this file; kubectl wait --for=condition=complete job/${name}-shards --timeout=-1s;`,
    `# then the merge job below runs (it waits for every shard's records itself, see its command).`,
    'apiVersion: batch/v1',
    'kind: Job',
    'metadata:',
    `  name: ${name}-shards`,
    'spec:',
    '  completionMode: Indexed',
    `  completions: ${o.shards}`,
    `  parallelism: ${parallelism}`,
    // A failed pod is retried for its own index only; the retry resumes from the shard's records.
    '  backoffLimitPerIndex: 3',
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    '      containers:',
    '        - name: shard',
    `          image: ${y(o.image)}`,
    `          command: ["/bin/sh", "-c", ${y(shardCmd)}]`,
    ...resources,
    ...volume,
    '---',
    'apiVersion: batch/v1',
    'kind: Job',
    'metadata:',
    `  name: ${name}-merge`,
    'spec:',
    '  backoffLimit: 2',
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    '      containers:',
    '        - name: merge',
    `          image: ${y(o.image)}`,
    // Apply this document after the shards job completed (kubectl wait above); merge refuses missing cells.
    `          command: ["/bin/sh", "-c", ${y(`exec exitlab merge ${mergeDirs} --out "${o.out}/all"`)}]`,
    ...volume,
    '',
  ].join('\n');
}
