/**
 * `exitlab/experiments`: the harnesses that compare policies. Offline (fit on validation, evaluate on test,
 * budget sweeps, the oracle), the queue simulator with its arrival processes, and plain-text reports.
 */
export * from '../lib/offline.ts';
export * from '../lib/queue.ts';
export * from '../lib/arrivals.ts';
export * from '../lib/report.ts';
export * from '../lib/online.ts';
export * from './risk/study.ts';
