/**
 * Running one cell: load (and cache) the trace, hand the cell to its workload, and return a flat record. Used
 * inline and by the pool's workers alike; the record depends only on the cell (its seed included), never on
 * which worker ran it or when.
 */
import { resolve } from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { loadTrace } from '../../lib/io.ts';
import { modelInfo } from '../../lib/policy.ts';
import { loadPolicy } from '../../lib/registry.ts';
import { scoreTrace, type ScoredTrace } from '../../lib/scores.ts';
import { initBackend } from '../../lib/tensor.ts';
import { getPolicySpec } from '../../policies/index.ts';
import { getWorkload } from '../workloads/index.ts';
import type { Cell, CellRecord } from '../workloads/types.ts';

export type { CellRecord };

const traces = new Map<string, { validation: ScoredTrace; test: ScoredTrace }>();

/**
 * The validation and test splits of a manifest, loaded, validated and scored once per thread (the run loads
 * every trace this way before it writes anything, so a bad trace is found before the first cell).
 */
export function loadSplits(path: string): { validation: ScoredTrace; test: ScoredTrace } {
  const abs = resolve(path);
  let t = traces.get(abs);
  if (!t) {
    t = { validation: scoreTrace(loadTrace(abs, 'validation')), test: scoreTrace(loadTrace(abs, 'test')) };
    const a = t.validation.trace;
    const b = t.test.trace;
    if (a.nExits !== b.nExits || a.nClasses !== b.nClasses || a.costMs.some((c, k) => c !== b.costMs[k])) {
      throw new InputError(path, 'validation/test', 'two splits of the same model (same K, C and per-exit costs)', `${a.toString()} vs ${b.toString()}`);
    }
    traces.set(abs, t);
  }
  return t;
}

/** Forget this thread's loaded traces (the main thread, once it has checked them and hands cells to workers). */
export function dropTraceCache(): void {
  traces.clear();
}

/** Run one cell. Async because policies trained with TensorFlow.js need the backend initialised first. */
export async function runCell(cell: Cell): Promise<CellRecord> {
  await initBackend();
  const { validation, test } = loadSplits(cell.trace);
  const model = modelInfo(validation);
  const cost = model.costMs;
  const K = cost.length;
  const budgetMs = cell.budgetFraction === undefined ? undefined : cost[0] + cell.budgetFraction * (cost[K - 1] - cost[0]);
  const spec = cell.reference ? undefined : (cell.spec ?? getPolicySpec(cell.policy));
  // Heavy dependencies (TF.js for EENet's fit) load on first use only.
  if (spec) await loadPolicy(spec);
  const out = await getWorkload(cell.kind).run(cell, { validation, test, model, spec, budgetMs });
  return {
    key: cell.key,
    part: cell.part,
    kind: cell.kind,
    trace: cell.trace,
    model: test.trace.provenance.model,
    label: cell.label,
    policy: cell.policy,
    axes: cell.axes,
    seed: cell.seed,
    budgetMs: budgetMs ?? null,
    metrics: out.metrics,
    exitShares: out.exitShares,
    ...(out.series ? { series: out.series } : {}),
    ...(out.exits !== undefined ? { exits: out.exits } : {}),
  };
}
