/**
 * The built-in experiments, by id: what `exitlab list` lists and `exitlab run <id>` loads. A registry rather than
 * a scan of this folder, because the folder also holds scripts (benchmarks, the fixture builder) that do work when
 * imported, and because text searches for `defineExperiment(` found the CLI itself. A new experiment module is
 * one file plus one line here; test/cli.test.ts fails if a module default-exporting `defineExperiment(...)` in
 * this folder is missing from the list.
 *
 * The loaders are literal dynamic imports so that the build (tsconfig.build.json) compiles every module into
 * dist/ and rewrites `.ts` to `.js`, and so that `exitlab list` imports only experiment modules.
 */
import type { ExperimentDecl } from './harness/experiment.ts';

/** One built-in experiment: its id (the module's file name without extension) and how to load it. */
export interface BuiltinExperiment {
  readonly id: string;
  /** Import the module; its default export is the `defineExperiment(...)` value. */
  readonly load: () => Promise<{ readonly default: ExperimentDecl }>;
}

/** Every built-in experiment, sorted by id. */
export const BUILTIN_EXPERIMENTS: readonly BuiltinExperiment[] = [
  { id: 'compare', load: () => import('./compare.ts') },
  { id: 'dee-study', load: () => import('./dee-study.ts') },
  { id: 'eenet-sweep', load: () => import('./eenet-sweep.ts') },
  { id: 'queue-sweep', load: () => import('./queue-sweep.ts') },
];

/** The built-in experiment of that id, or undefined. */
export function builtinExperiment(id: string): BuiltinExperiment | undefined {
  return BUILTIN_EXPERIMENTS.find((e) => e.id === id);
}
