/**
 * `TestbedHost`: the testbed server in a worker thread of its own (experiments/testbed/host-thread.ts), driven
 * by messages from the thread that runs the load generator. Two threads give the server and the generator a
 * core each on a two-core machine, and the model stays loaded across cells, so "start the server" per cell
 * costs a listen, not a TF.js initialisation.
 *
 * Only registry policies cross the thread boundary (a name and raw parameters, created inside the thread with
 * the cell's seed): a policy object holds functions, which cannot be sent to another thread.
 */
import { Worker } from 'node:worker_threads';
import type { BackendInfo } from '../../lib/tensor.ts';
import type { TestbedFixture } from './inputs.ts';
import type { ProcessStats, ServiceTimeProfile } from './monitor.ts';
import type { ServerPolicySpec } from './policy.ts';
import type { ServerRecord, ServerStats } from './server.ts';
// Type-only, so that a build (tsconfig.build.json) compiles the thread's module next to this one.
import type {} from './host-thread.ts';

/** A request to the host thread. */
export type HostRequest =
  /** Load the fixture (once) and time `passes` full block-by-block passes after `warmup` untimed ones. */
  | { readonly op: 'calibrate'; readonly fixture: TestbedFixture; readonly dataDir?: string; readonly passes: number; readonly warmup: number }
  /** Create the policy (seeded, fitted on validation with these costs) and start a server. */
  | {
      readonly op: 'start'; readonly fixture: TestbedFixture; readonly dataDir?: string; readonly policy: ServerPolicySpec; readonly seed: number;
      readonly bufferCapacity: number; readonly costMs: readonly number[]; readonly budgetMs?: number; readonly port?: number;
    }
  /** Stop the server; its counters, records and what the thread measured while it ran. */
  | { readonly op: 'stop' };

/** The host thread's answers, by request. */
export type HostReply =
  | { readonly op: 'calibrate'; readonly profile: ServiceTimeProfile; readonly backend: BackendInfo; readonly inputSource: string }
  | { readonly op: 'start'; readonly url: string; readonly policyName: string }
  | {
      readonly op: 'stop'; readonly stats: ServerStats; readonly records: readonly ServerRecord[]; readonly process: ProcessStats;
      /** Set when a policy broke the contract and the worker stopped. */
      readonly error: string | undefined;
    };

type ReplyOf<O extends HostRequest['op']> = Extract<HostReply, { op: O }>;

/** A worker thread running testbed servers. */
export class TestbedHost {
  readonly #worker: Worker;
  #seq = 0;
  readonly #waiting = new Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void }>();
  #dead: Error | undefined;

  constructor() {
    // In a checkout (TypeScript through tsx) the thread registers tsx first (host-worker.mjs); compiled, the
    // thread's own module is JavaScript.
    const entry = import.meta.url.endsWith('.ts') ? './host-worker.mjs' : './host-thread.js';
    this.#worker = new Worker(new URL(entry, import.meta.url));
    this.#worker.on('message', (m: { seq: number; reply?: HostReply; error?: string }) => {
      const w = this.#waiting.get(m.seq);
      if (!w) return;
      this.#waiting.delete(m.seq);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (m.error !== undefined) w.reject(new Error(`testbed server thread: ${m.error}`));
      else w.resolve(m.reply!);
    });
    const fail = (err: Error): void => {
      this.#dead = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`testbed server thread exited (code ${code})`)));
    this.#worker.unref();
  }

  /** Send one request and wait for its answer. */
  request<R extends HostRequest>(req: R): Promise<ReplyOf<R['op']>> {
    if (this.#dead) return Promise.reject(this.#dead);
    const seq = ++this.#seq;
    this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve: resolve as (r: HostReply) => void, reject });
      this.#worker.postMessage({ ...req, seq });
    });
  }

  /** End the thread. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

let shared: TestbedHost | undefined;

/** One host per thread that asks, created on first use (a harness worker reuses it for all its cells). */
export function sharedHost(): TestbedHost {
  shared ??= new TestbedHost();
  return shared;
}
