/**
 * `exitlab/experiments`: the harnesses that compare policies. Offline (fit on validation, evaluate on test,
 * budget sweeps, the oracle), the queue simulator with its arrival processes, and plain-text reports; and the
 * experiment harness: `defineExperiment` and its types, whose modules the CLI runs.
 */
export * from '../lib/offline.ts';
export * from '../lib/queue.ts';
export * from '../lib/arrivals.ts';
export * from '../lib/report.ts';
export * from '../lib/online.ts';
// Experiments as modules, run by the CLI (`npx exitlab run ./my-experiment.ts`). Only the declaration side is
// exported here: the runner and the report load worker pools, TensorFlow.js and Vega, which importing a policy's
// experiment file must not.
export { defineExperiment, expandCells, resolveExperiment } from './harness/experiment.ts';
export type { Cell, ExperimentDecl, OfflineAxes, OnlineAxes, PartDecl, PolicyDecl, QueueAxes, QuickOverrides } from './harness/experiment.ts';
export type { CellRecord } from './harness/cell.ts';
