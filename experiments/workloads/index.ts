/**
 * The workload registry: kind → `Workload`. A new workload kind is one module exporting a `Workload` value plus
 * one line here; the harness core, the experiment types (`PartDecl`) and the report pick it up from this object.
 */
import { InputError } from '../../lib/errors.ts';
import { offline } from './offline.ts';
import { online } from './online.ts';
import { queue } from './queue.ts';
import type { AnyWorkload, PartDeclOf } from './types.ts';

/** Every workload kind, by kind (each key equals its workload's `kind`). */
export const WORKLOADS = {
  offline,
  queue,
  online,
} as const;

/** A registered workload kind. */
export type WorkloadKind = keyof typeof WORKLOADS;

/** The declaration of a part: one member per registered workload kind, discriminated by `workload.kind`. */
export type PartDecl = { [K in WorkloadKind]: PartDeclOf<(typeof WORKLOADS)[K]> }[WorkloadKind];

/** Kinds in registry order. */
export const workloadKinds = (): string[] => Object.keys(WORKLOADS);

/**
 * Look a workload kind up.
 * @throws InputError (naming `field` in `source`) listing the registered kinds when there is none of that kind.
 */
export function getWorkload(kind: unknown, source = 'workload registry', field = 'kind'): AnyWorkload {
  if (typeof kind === 'string' && Object.prototype.hasOwnProperty.call(WORKLOADS, kind)) return (WORKLOADS as Record<string, AnyWorkload>)[kind];
  const kinds = workloadKinds().map((k) => JSON.stringify(k));
  throw new InputError(source, field, `${kinds.slice(0, -1).join(', ')} or ${kinds[kinds.length - 1]}`, kind === undefined ? 'none' : JSON.stringify(kind));
}

export { offline, online, queue };
export type * from './types.ts';
