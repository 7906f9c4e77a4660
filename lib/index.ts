/**
 * `exitlab`: the evaluation core. Traces and their files, utility scores, the policy contract and registry
 * types, the job driver (`drive.ts`), the online reward and contexts (`reward.ts`), calibration, the seeded
 * random generator, synthetic traces and the statistics for comparing policies (`stats.ts`: paired bootstrap,
 * McNemar, Holm, Wilson, budget curves). Policies are in `exitlab/policies`, the harnesses (offline, queue) in
 * `exitlab/experiments`, property-testing tools in `exitlab/testing`, and the TensorFlow.js backend picker in
 * `exitlab/tensor` (kept apart so importing the core never loads TensorFlow.js).
 */
export * from './errors.ts';
export * from './trace.ts';
export * from './npy.ts';
export * from './npz.ts';
export * from './zip.ts';
export * from './pth.ts';
export * from './io.ts';
export * from './scores.ts';
export * from './policy.ts';
export * from './registry.ts';
export * from './random.ts';
export * from './calibrate.ts';
export * from './risk.ts';
export * from './guarantee.ts';
export * from './synthetic.ts';
export * from './reward.ts';
export * from './drive.ts';
export * from './stats.ts';
