/**
 * `exitlab/experiments`: experiments as typed data and the harness that runs them, plus the lower-level
 * harnesses they are built on.
 * - `defineExperiment` and the experiment types: declare traces, seeds and parts; a part's `workload.kind` is a
 *   key of the workload registry `WORKLOADS` (offline, queue, online); a policy entry's `policy` is a registry
 *   name or your own `PolicySpec` object.
 * - The workload interface (`Workload`, its metric and plot declarations) and the registry.
 * - The harness functions: `resolveExperiment`, `expandCells`, `runCell` (one cell into a `CellRecord`),
 *   `summarize`, `writeReport`, `mergeRuns`.
 * - The offline harness (fit on validation, evaluate on test, budget sweeps, the oracle), the queue simulator
 *   with its arrival processes, the online stream harness, and plain-text reports.
 */
export * from '../lib/offline.ts';
export * from '../lib/queue.ts';
export * from '../lib/arrivals.ts';
export * from '../lib/report.ts';
export * from '../lib/online.ts';
export { defineExperiment, expandCells, parseShard, resolveExperiment, type ExperimentDecl, type QuickOverrides } from './harness/experiment.ts';
export { runCell } from './harness/cell.ts';
export { mergeRuns, stat, summarize, summaryCsv, summaryMarkdown, writeReport, type Stat, type SummaryRow } from './harness/report.ts';
export { WORKLOADS, getWorkload, workloadKinds, offline as offlineWorkload, queue as queueWorkload, online as onlineWorkload, type PartDecl, type WorkloadKind } from './workloads/index.ts';
export { learnsReward, type OnlineAxes, type OnlineWorkloadDecl, type StreamName } from './workloads/online.ts';
export type { OfflineAxes, OfflineWorkloadDecl } from './workloads/offline.ts';
export type { QueueAxes, QueueWorkloadDecl } from './workloads/queue.ts';
export type * from './workloads/types.ts';
export { runExperiment, readRecords, type RunOptions, type RunResult } from './harness/run.ts';
