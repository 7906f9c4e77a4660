/**
 * Experiments as typed data. An experiment module (`experiments/<id>.ts`) default-exports
 * `defineExperiment({...})`: the traces, the seeds, and one or more parts, each a workload (a kind of the
 * workload registry, `experiments/workloads/index.ts`) with its policies and sweep axes. The harness expands it
 * into cells — trace × axis values × policy × seed — each run independently and recorded as one JSON line, so a
 * sweep can be resumed, sharded over a cluster and merged, and gives the same records whatever the number of
 * workers.
 *
 * This file knows what every part has (a name, policies, baselines); what a part's workload options and axes
 * mean is its workload's business (`Workload.parse`, `dependsOn`, `quick`).
 */
import { InputError, describe } from '../../lib/errors.ts';
import type { AnyPolicySpec } from '../../lib/registry.ts';
import { getPolicySpec } from '../../policies/index.ts';
import { getWorkload, type PartDecl } from '../workloads/index.ts';
import type { AnyWorkload, AxisSet, Cell, ParsedPart, PolicyDecl, PolicyInfo, Where } from '../workloads/types.ts';

export type { Cell, PartDecl, PolicyDecl };

/** What `--quick` changes: fewer seeds, shorter axes, and what each workload reads (queue `jobs`, online `inputs`). */
export interface QuickOverrides {
  readonly seeds?: readonly number[];
  /** Per part name: replacement axes (only the keys given are replaced). */
  readonly axes?: Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;
  /** Workload options, read by the workloads that declare the key (`Workload.quickKeys`), e.g. `jobs: 3000`. */
  readonly [option: string]: unknown;
}

/** A declared experiment. */
export interface ExperimentDecl {
  /** Identifier: the module's file name without `.ts`. */
  readonly id: string;
  readonly description: string;
  /** Trace manifests, relative to the working directory of the CLI (the repository root inside a checkout). */
  readonly traces: readonly string[];
  /** Seeds: every cell runs once per seed. */
  readonly seeds: readonly number[];
  readonly parts: readonly PartDecl[];
  readonly quick?: QuickOverrides;
}

const SRC = (id: string) => `experiment "${id}"`;
const IDENT = /^[a-z0-9][a-z0-9-]*$/;

function nonEmptyArray(id: string, field: string, v: unknown, each: (x: unknown) => boolean, form: string): void {
  if (!Array.isArray(v) || v.length === 0) throw new InputError(SRC(id), field, `a non-empty array of ${form}`, describe(v));
  v.forEach((x, i) => {
    if (!each(x)) throw new InputError(SRC(id), `${field}[${i}]`, form, describe(x));
  });
}

/** Whether an object has the shape of a `PolicySpec` (what the harness calls on it). */
function isSpec(v: unknown): v is AnyPolicySpec {
  const s = v as Partial<AnyPolicySpec> | null;
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.parse === 'function' && typeof s.create === 'function' && typeof s.budgeted === 'boolean';
}

/** The spec of a policy entry: a registry name looked up, or a spec object checked. */
function specOf(source: string, field: string, policy: unknown): AnyPolicySpec {
  if (typeof policy === 'string') {
    try {
      return getPolicySpec(policy);
    } catch (err) {
      throw new InputError(source, field, (err as InputError).expected ?? 'a registered policy', describe(policy));
    }
  }
  if (isSpec(policy)) return policy;
  throw new InputError(source, field, 'a registered policy name or a PolicySpec object (name, budgeted, parse, create)', describe(policy));
}

/** A part, validated: its workload, parsed options and axes, and its policies. */
interface CheckedPart {
  readonly decl: PartDecl;
  readonly workload: AnyWorkload;
  readonly parsed: ParsedPart<Readonly<Record<string, unknown>>>;
  readonly policies: readonly PolicyInfo[];
}

function checkPart(id: string, part: PartDecl, i: number): CheckedPart {
  const where: Where = { source: SRC(id), at: `parts[${i}]` };
  const at = where.at;
  if (typeof part.name !== 'string' || !IDENT.test(part.name)) throw new InputError(SRC(id), `${at}.name`, 'a lower-case identifier', describe(part.name));
  const workload = getWorkload((part.workload as { kind?: unknown } | undefined)?.kind, SRC(id), `${at}.workload.kind`);
  const parsed = workload.parse(part.workload, (part as { axes?: unknown }).axes, where);
  nonEmptyArray(id, `${at}.policies`, part.policies, (x) => typeof x === 'object' && x !== null, 'policy declarations');
  const labels = new Set<string>();
  const references = new Set((workload.references ?? []).map((r) => r.label));
  const policies = part.policies.map((p, j): PolicyInfo => {
    const pat = `${at}.policies[${j}]`;
    if (typeof p.label !== 'string' || p.label.length === 0) throw new InputError(SRC(id), `${pat}.label`, 'a non-empty string', describe(p.label));
    if (labels.has(p.label)) throw new InputError(SRC(id), `${pat}.label`, 'a label unique within the part', JSON.stringify(p.label));
    if (references.has(p.label)) throw new InputError(SRC(id), `${pat}.label`, `a label other than ${[...references].map((r) => `"${r}"`).join(', ')} (a ${workload.kind} part adds that row itself)`, JSON.stringify(p.label));
    labels.add(p.label);
    const spec = specOf(SRC(id), `${pat}.policy`, p.policy);
    try {
      spec.parse(p.params ?? {});
    } catch (err) {
      throw new InputError(SRC(id), `${pat}.params`, `parameters valid for "${spec.name}" (${(err as Error).message})`);
    }
    if (p.budgetFraction !== undefined && !(typeof p.budgetFraction === 'number' && p.budgetFraction >= 0 && p.budgetFraction <= 1)) {
      throw new InputError(SRC(id), `${pat}.budgetFraction`, 'a fraction in [0, 1]', describe(p.budgetFraction));
    }
    return { label: p.label, name: spec.name, spec, budgeted: spec.budgeted, budgetFraction: p.budgetFraction, params: p.params ?? {} };
  });
  workload.checkPolicies?.(parsed, policies, where);
  if (part.baselines !== undefined) {
    nonEmptyArray(id, `${at}.baselines`, part.baselines, (x) => typeof x === 'string' && labels.has(x), `labels of this part's policies (${[...labels].join(', ')})`);
  }
  for (const [group, members] of Object.entries(part.baselineGroups ?? {})) {
    nonEmptyArray(id, `${at}.baselineGroups.${group}`, members, (x) => typeof x === 'string' && labels.has(x), `labels of this part's policies (${[...labels].join(', ')})`);
  }
  return { decl: part, workload, parsed, policies };
}

function checkAll(decl: ExperimentDecl): CheckedPart[] {
  if (typeof decl !== 'object' || decl === null) throw new InputError('experiment', '(root)', 'an object', describe(decl));
  const id = decl.id;
  if (typeof id !== 'string' || !IDENT.test(id)) throw new InputError('experiment', 'id', 'a lower-case identifier like "my-sweep"', describe(id));
  if (typeof decl.description !== 'string') throw new InputError(SRC(id), 'description', 'a string', describe(decl.description));
  nonEmptyArray(id, 'traces', decl.traces, (x) => typeof x === 'string' && x.endsWith('.json'), 'manifest paths (.json)');
  nonEmptyArray(id, 'seeds', decl.seeds, (x) => Number.isSafeInteger(x), 'integer seeds');
  if (new Set(decl.seeds).size !== decl.seeds.length) throw new InputError(SRC(id), 'seeds', 'distinct seeds', `[${decl.seeds.join(', ')}]`);
  nonEmptyArray(id, 'parts', decl.parts, (x) => typeof x === 'object' && x !== null, 'parts');
  const names = new Set<string>();
  const parts = decl.parts.map((part, i) => {
    const checked = checkPart(id, part, i);
    if (names.has(part.name)) throw new InputError(SRC(id), `parts[${i}].name`, 'a name unique among the parts', JSON.stringify(part.name));
    names.add(part.name);
    return checked;
  });
  const q = decl.quick;
  if (q !== undefined) {
    if (typeof q !== 'object' || q === null) throw new InputError(SRC(id), 'quick', 'an object', describe(q));
    if (q.seeds !== undefined) nonEmptyArray(id, 'quick.seeds', q.seeds, (x) => Number.isSafeInteger(x), 'integer seeds');
    for (const name of Object.keys(q.axes ?? {})) if (!names.has(name)) throw new InputError(SRC(id), `quick.axes.${name}`, `a part name (${[...names].join(', ')})`, 'an unknown part');
    const read = new Set(parts.flatMap((p) => p.workload.quickKeys));
    for (const key of Object.keys(q)) {
      if (key !== 'seeds' && key !== 'axes' && !read.has(key)) throw new InputError(SRC(id), `quick.${key}`, `seeds, axes${[...read].map((k) => `, ${k}`).join('')} (what this experiment's workloads read)`, 'an unknown key');
    }
    for (const p of parts) p.workload.quick(p.decl.workload, q, { source: SRC(id) });
  }
  return parts;
}

/**
 * Validate an experiment declaration (throws `InputError` naming the field) and return it unchanged.
 * Policy names and parameters are checked against their specs here, and each part by its workload, before any
 * cell runs.
 */
export function defineExperiment(decl: ExperimentDecl): ExperimentDecl {
  checkAll(decl);
  return decl;
}

/**
 * The declaration as run: quick overrides, a seed override and a trace override (`--trace`: run the experiment on
 * other models' manifests) applied, validated again.
 */
export function resolveExperiment(decl: ExperimentDecl, opts: { quick?: boolean; seeds?: readonly number[]; traces?: readonly string[] } = {}): ExperimentDecl {
  let d: ExperimentDecl = decl;
  if (opts.quick && decl.quick) {
    const q = decl.quick;
    d = {
      ...d,
      seeds: q.seeds ?? d.seeds,
      parts: d.parts.map((p): PartDecl => {
        const axes = q.axes?.[p.name];
        const withAxes = axes ? { ...p, axes: { ...((p as { axes?: object }).axes ?? {}), ...axes } } : p;
        return { ...withAxes, workload: getWorkload(p.workload.kind).quick(p.workload, q, { source: SRC(d.id) }) } as PartDecl;
      }),
    };
  }
  if (opts.seeds) d = { ...d, seeds: opts.seeds };
  if (opts.traces) d = { ...d, traces: opts.traces };
  const { quick: _quick, ...rest } = d;
  return defineExperiment(rest);
}

/** The parsed axes and plots of a part, for the report (no policy is looked up). */
export function parsePart(id: string, part: PartDecl, i: number): { workload: AnyWorkload; parsed: ParsedPart<Readonly<Record<string, unknown>>> } {
  const workload = getWorkload(part.workload?.kind, SRC(id), `parts[${i}].workload.kind`);
  return { workload, parsed: workload.parse(part.workload, (part as { axes?: unknown }).axes, { source: SRC(id), at: `parts[${i}]` }) };
}

const axisKey = (axes: AxisSet) =>
  Object.entries(axes)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/**
 * Every cell of a resolved experiment, in a fixed order: parts, traces, the workload's references, then axis
 * sets (the product of the axes, outermost first), policies, seeds. A policy gets a cell only for the axes it
 * depends on (`Workload.dependsOn`), so it runs once per distinct set of those, not once per axis set.
 */
export function expandCells(decl: ExperimentDecl): Cell[] {
  const cells: Cell[] = [];
  for (const { decl: part, workload, parsed, policies } of checkAll(decl)) {
    let sets: AxisSet[] = [{}];
    for (const a of parsed.axes) sets = sets.flatMap((s) => a.values.map((v) => ({ ...s, [a.name]: v })));
    const options = parsed.options;
    for (const trace of decl.traces) {
      for (const ref of workload.references ?? []) {
        const seed = decl.seeds[0];
        cells.push({ key: `${part.name}|${trace}|${ref.label}||seed=${seed}`, part: part.name, kind: workload.kind, trace, label: ref.label, policy: ref.name, reference: true, params: {}, budgetFraction: undefined, axes: {}, seed, options });
      }
      const seen = new Set<string>();
      for (const set of sets) {
        for (let j = 0; j < policies.length; j++) {
          const p = policies[j];
          const axes: AxisSet = Object.fromEntries(Object.entries(set).filter(([name]) => workload.dependsOn(name, p)));
          const key = `${part.name}|${trace}|${p.label}|${axisKey(axes)}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const budgetFraction = workload.budgetFraction(p, axes);
          const declared = part.policies[j].policy;
          for (const seed of decl.seeds) {
            cells.push({
              key: `${key}|seed=${seed}`,
              part: part.name,
              kind: workload.kind,
              trace,
              label: p.label,
              policy: p.name,
              ...(typeof declared === 'string' ? {} : { spec: declared }),
              params: p.params,
              budgetFraction,
              axes,
              seed,
              options,
            });
          }
        }
      }
    }
  }
  return cells;
}

/** Parse "--shard i/n" (0-based i < n). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new InputError('--shard', 'shard', '"i/n" with 0 ≤ i < n, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)', JSON.stringify(text));
  return { index, count };
}
