/**
 * The testbed's inference server: Node `http` on a loopback address, one model worker, a FIFO buffer of B
 * waiting requests, and an early-exit policy driven through the contract of lib/policy.ts — the same system
 * lib/queue.ts simulates (M/G/1/K with K = B + 1: the request in service holds no buffer place), but real.
 *
 * Protocol:
 * - `POST /infer`, body = one input as raw little-endian float32 (`inputSize` values, laid out as the model's
 *   input shape), optional header `x-request-id`. Answers 200 with JSON `InferResponse`, or 503 at once when
 *   the buffer is full (a loss), or 400 for a malformed body.
 * - `GET /stats`: `ServerStats` as JSON.
 *
 * Life of a request (mirrors the simulator so the two can be compared job for job):
 * - *arrival* = the moment its body is complete. The arrival-rate estimate is the mean of the last W
 *   inter-arrival times (W = max(B, 1), lost arrivals included), as in the simulator.
 * - If the worker is idle it starts at once; else it waits if fewer than B are waiting; else 503 and
 *   `onEvent({ kind: 'loss' })`.
 * - *start*: `commit(state)` with the real time, queue length (waiting requests, not counting this one), B and
 *   the rate estimate. Then exit by exit: run segment k (blocks/heads of experiments/testbed/blocks.ts), read
 *   its probabilities, and — unless an exit was committed — `decide(view)` on a view of the exits run so far.
 *   The view is a `TraceCursor` view (lib/policy.ts) over a one-request trace whose later exits are not yet
 *   computed, so the peeking guarantees are the library's own; scores come from lib/scores.ts' `computeScores`
 *   on that trace (every built-in score at exit k depends only on exits 0..k). The last exit always exits.
 *   Like the simulator, the server keeps one trace and one cursor and rewrites them per request (one request
 *   is in service at a time): building a cursor per exit cost about as much as a block of the NSL-KDD MLP.
 * - Between exits the worker yields to the event loop (`setImmediate`), so arrivals during a service are seen
 *   (and lost arrivals reach the policy) before the next exit, as the simulator's event order has it.
 * - *end*: the response is written, `observe(feedback)` with the measured service time, then the next waiting
 *   request starts; if none, `onEvent({ kind: 'idle' })`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError } from '../../lib/errors.ts';
import { ContractError, TraceCursor, type Policy, type SystemState } from '../../lib/policy.ts';
import { computeScores } from '../../lib/scores.ts';
import { ExitTrace } from '../../lib/trace.ts';
import type { BlockModel, ExitRunner } from './blocks.ts';

/** Addresses the server may bind: loopback only. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;

/** Options of `startServer`. */
export interface ServerOptions {
  /** The model, split into per-exit segments. */
  readonly model: BlockModel;
  /** The policy (created and, if it needs it, fitted beforehand). */
  readonly policy: Policy;
  /** Buffer places B (waiting requests, not counting the one in service), integer ≥ 0. */
  readonly bufferCapacity: number;
  /** Cumulative cost per exit, ms, length K: the one-request traces behind the views carry it (policies see costs through `ModelInfo`, not here). */
  readonly costMs: readonly number[];
  /** Loopback address to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Inter-arrival times averaged for the rate estimate. Default max(B, 1). */
  readonly rateWindow?: number;
  /** Per-request records kept (oldest first). Default 1,000,000. */
  readonly maxRecords?: number;
  /**
   * Start with the worker held: requests are buffered (or lost) but none is served until `resume()`. For tests
   * and for a warm start; default false.
   */
  readonly startPaused?: boolean;
}

/** What a served request gets back. Times in ms on the server's clock (0 = server start). */
export interface InferResponse {
  readonly id: string;
  /** Predicted class (argmax at the exit taken). */
  readonly prediction: number;
  /** Exit taken, 0-based. */
  readonly exit: number;
  /** Class probabilities at that exit, length C. */
  readonly probs: number[];
  /** Time in the buffer, ms (start − arrival). */
  readonly waitMs: number;
  /** Service time, ms (end − start): the blocks run, the decisions, the yields between exits. */
  readonly serviceMs: number;
  /**
   * The part of `serviceMs` spent in this request's own synchronous work (segments, read-backs, scores and
   * policy calls), ms; the rest is the thread doing other things between its exits (reading other requests,
   * answering 503s, GC) or not running at all (preempted).
   */
  readonly computeMs: number;
  /** The part of `computeMs` spent inside the policy's `commit` and `decide` calls, ms. */
  readonly policyMs: number;
  readonly arrivalMs: number;
  /** Requests waiting in the buffer when this one arrived (not counting the one in service). */
  readonly queueAtArrival: number;
}

/** One request as the server saw it. Lost requests have start/end NaN and exit −1. */
export interface ServerRecord {
  readonly id: string;
  readonly arrivalMs: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly exit: number;
  readonly queueAtArrival: number;
  readonly lost: boolean;
}

/** Counters of a running server. */
export interface ServerStats {
  readonly policy: string;
  readonly bufferCapacity: number;
  readonly arrivals: number;
  readonly served: number;
  readonly lost: number;
  /** Malformed requests (400), not counted as arrivals. */
  readonly badRequests: number;
  /** Requests served per exit, length K. */
  readonly exitCounts: readonly number[];
  /** Requests waiting now. */
  readonly queueLength: number;
  /** Whether a request is in service now. */
  readonly busy: boolean;
  /** Sum of service times, ms. */
  readonly busyMs: number;
  /** Largest buffer occupancy seen. */
  readonly maxQueue: number;
}

/** A running server. */
export interface TestbedServer {
  readonly host: string;
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:34567. */
  readonly url: string;
  /** Release a worker started with `startPaused`. */
  resume(): void;
  stats(): ServerStats;
  /** The error that stopped the worker (a policy broke the contract), if any. */
  error(): Error | undefined;
  /** Per-request records so far, in arrival order. */
  records(): readonly ServerRecord[];
  /** Stop accepting, close idle connections; resolves when the listener is closed. */
  close(): Promise<void>;
}

interface Job {
  readonly id: string;
  readonly arrivalMs: number;
  readonly input: Float32Array;
  readonly res: ServerResponse;
  readonly record: number;
  readonly queueAtArrival: number;
  startMs: number;
  computeMs: number;
  policyMs: number;
  committed: number;
  runner: ExitRunner | undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Start the server; resolves once it listens.
 * @throws InputError for a non-loopback host, a bad B, or costs that do not match the model's K.
 */
export async function startServer(opts: ServerOptions): Promise<TestbedServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!(LOOPBACK_HOSTS as readonly string[]).includes(host)) throw new InputError('testbed server', 'host', `a loopback address (${LOOPBACK_HOSTS.join(', ')})`, JSON.stringify(host));
  const B = opts.bufferCapacity;
  if (!Number.isSafeInteger(B) || B < 0) throw new InputError('testbed server', 'bufferCapacity', 'an integer ≥ 0', String(B));
  const { model, policy } = opts;
  const K = model.nExits;
  const C = model.nClasses;
  if (opts.costMs.length !== K) throw new InputError('testbed server', 'costMs', `${K} cumulative costs (one per exit)`, `${opts.costMs.length}`);
  const W = opts.rateWindow ?? Math.max(B, 1);
  const maxRecords = opts.maxRecords ?? 1_000_000;
  const bodyBytes = model.inputSize * 4;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;

  const queue: Job[] = [];
  let current: Job | undefined;
  let paused = opts.startPaused ?? false;
  let scheduled = false;
  let wasBusy = false;
  const gaps = new Float64Array(W);
  let gapCount = 0;
  let gapSum = 0;
  let lastArrival = NaN;
  let arrivals = 0;
  let served = 0;
  let lost = 0;
  let badRequests = 0;
  let busyMs = 0;
  let maxQueue = 0;
  let nextId = 0;
  const exitCounts = new Array<number>(K).fill(0);
  const records: ServerRecord[] = [];
  const uniform = new Float32Array(C).fill(1 / C);

  // The request in service as a one-sample trace: exits not yet run hold a uniform placeholder that no view can
  // reach (the cursor is moved to the exit just run, and TraceCursor refuses later exits). Its label is a
  // placeholder too: the server is label-free, and views expose no correctness.
  const live = new ExitTrace({ nSamples: 1, nExits: K, nClasses: C, probs: new Float32Array(K * C).fill(1 / C), labels: new Int32Array(1), costMs: opts.costMs, provenance: { model: 'testbed', dataset: 'live', split: 'request' } });
  const liveScores = computeScores(live);
  const cursor = new TraceCursor({ trace: live, scores: liveScores });
  /** Recompute the live scores with lib/scores.ts and copy them into the arrays the cursor reads. */
  const rescore = (): void => {
    const fresh = computeScores(live);
    liveScores.predicted.set(fresh.predicted);
    for (const name of fresh.names) liveScores.get(name).set(fresh.get(name));
  };

  const schedule = (): void => {
    if (scheduled || paused) return;
    scheduled = true;
    setImmediate(work);
  };

  const record = (r: ServerRecord): number => {
    if (records.length >= maxRecords) return -1;
    records.push(r);
    return records.length - 1;
  };

  /**
   * A broken contract stops the worker: the request in service and every waiting one get 500 with the error,
   * later ones too, and `error()` returns it (a harness must fail the run, not report numbers from it).
   */
  let fatal: Error | undefined;
  function work(): void {
    try {
      step();
    } catch (err) {
      fatal = err instanceof Error ? err : new Error(String(err));
      paused = true;
      for (const j of current ? [current, ...queue] : queue) {
        j.runner?.dispose();
        sendJson(j.res, 500, { id: j.id, error: fatal.message });
      }
      current = undefined;
      queue.length = 0;
    }
  }

  /** One unit of the worker's work: start a job, or run its next exit, or finish it. */
  function step(): void {
    scheduled = false;
    if (paused) return;
    const tStep = performance.now();
    if (!current) {
      const job = queue.shift();
      if (!job) {
        if (wasBusy && typeof policy.onEvent === 'function') policy.onEvent({ kind: 'idle', timeMs: now() });
        wasBusy = false;
        return;
      }
      wasBusy = true;
      current = job;
      job.startMs = tStep - t0;
      if (typeof policy.commit === 'function') {
        const state: SystemState = { timeMs: job.startMs, queueLength: queue.length, bufferCapacity: B, arrivalRatePerMs: gapCount > 0 ? gapCount / gapSum : undefined };
        const tp = performance.now();
        const c = policy.commit(state);
        job.policyMs += performance.now() - tp;
        if (c !== undefined) {
          if (!Number.isInteger(c) || c < 0 || c >= K) throw new ContractError(`${policy.name}: commit() returned ${String(c)}; expected an exit index in [0, ${K - 1}] or undefined`);
          job.committed = c;
        }
      }
      if (job.committed < 0 && typeof policy.decide !== 'function') throw new ContractError(`${policy.name}: commit() returned undefined and the policy has no decide()`);
      job.runner = model.start(job.input);
      for (let e = 0; e < K; e++) live.probs.set(uniform, e * C);
    }
    const job = current;
    const runner = job.runner!;
    const k = runner.next;
    live.probs.set(runner.step(), k * C);
    rescore();
    cursor.moveTo(0, k);
    let leave = k === K - 1 || k === job.committed;
    if (!leave && job.committed < 0) {
      const tp = performance.now();
      const d = policy.decide!(cursor.view);
      job.policyMs += performance.now() - tp;
      if (d !== 'exit' && d !== 'continue') throw new ContractError(`${policy.name}: decide() returned ${JSON.stringify(d)}; expected 'exit' or 'continue'`);
      leave = d === 'exit';
    }
    if (!leave) {
      job.computeMs += performance.now() - tStep;
      schedule();
      return;
    }
    const tEnd = performance.now();
    job.computeMs += tEnd - tStep;
    const endMs = tEnd - t0;
    const serviceMs = endMs - job.startMs;
    const prediction = liveScores.predicted[k];
    sendJson(job.res, 200, {
      id: job.id, prediction, exit: k, probs: Array.from(live.probs.subarray(k * C, (k + 1) * C)),
      waitMs: job.startMs - job.arrivalMs, serviceMs, computeMs: job.computeMs, policyMs: job.policyMs, arrivalMs: job.arrivalMs, queueAtArrival: job.queueAtArrival,
    } satisfies InferResponse);
    runner.dispose();
    served++;
    busyMs += serviceMs;
    exitCounts[k]++;
    if (job.record >= 0) records[job.record] = { ...records[job.record], startMs: job.startMs, endMs, exit: k };
    current = undefined;
    if (typeof policy.observe === 'function') {
      cursor.moveTo(0, k);
      policy.observe({ exit: k, costMs: serviceMs, committed: job.committed >= 0, view: cursor.view });
    }
    schedule();
  }

  const arrive = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const t = now();
    if (fatal) {
      sendJson(res, 500, { error: fatal.message });
      return;
    }
    if (body.length !== bodyBytes) {
      badRequests++;
      sendJson(res, 400, { error: new InputError('POST /infer', 'body', `${bodyBytes} bytes (${model.inputSize} little-endian float32 values)`, `${body.length} bytes`).message });
      return;
    }
    arrivals++;
    if (!Number.isNaN(lastArrival)) {
      const slot = (arrivals - 2) % W;
      if (gapCount === W) gapSum -= gaps[slot];
      else gapCount++;
      gaps[slot] = t - lastArrival;
      gapSum += gaps[slot];
    }
    lastArrival = t;
    const header = req.headers['x-request-id'];
    const id = typeof header === 'string' && header.length > 0 && header.length <= 64 ? header : String(nextId);
    nextId++;
    const queueAtArrival = queue.length;
    if (current !== undefined || queue.length > 0 || paused) {
      if (queue.length >= B) {
        lost++;
        record({ id, arrivalMs: t, startMs: NaN, endMs: NaN, exit: -1, queueAtArrival, lost: true });
        sendJson(res, 503, { id, error: 'buffer full', queueLength: queue.length, bufferCapacity: B });
        if (typeof policy.onEvent === 'function') policy.onEvent({ kind: 'loss', timeMs: t, queueLength: queue.length });
        return;
      }
    }
    // Copy into an aligned Float32Array (a Buffer's offset in its pool need not be a multiple of 4).
    const input = new Float32Array(model.inputSize);
    new Uint8Array(input.buffer).set(body);
    const rec = record({ id, arrivalMs: t, startMs: NaN, endMs: NaN, exit: -1, queueAtArrival, lost: false });
    queue.push({ id, arrivalMs: t, input, res, record: rec, queueAtArrival, startMs: NaN, computeMs: 0, policyMs: 0, committed: -1, runner: undefined });
    if (queue.length > maxQueue) maxQueue = queue.length;
    schedule();
  };

  const stats = (): ServerStats => ({
    policy: policy.name, bufferCapacity: B, arrivals, served, lost, badRequests, exitCounts: [...exitCounts],
    queueLength: queue.length, busy: current !== undefined, busyMs, maxQueue,
  });

  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      sendJson(res, 200, stats());
      req.resume();
      return;
    }
    if (req.method !== 'POST' || req.url !== '/infer') {
      sendJson(res, 404, { error: 'POST /infer or GET /stats' });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Keep at most one byte more than an input: enough to reject an oversize body without buffering it.
      if (size <= bodyBytes + 1) chunks.push(c);
    });
    req.on('end', () => arrive(req, res, Buffer.concat(chunks, Math.min(size, bodyBytes + 1))));
  });
  // Nagle off on every connection: responses are small and latency is what we measure.
  server.on('connection', (s) => s.setNoDelay(true));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    resume: () => {
      if (fatal) return;
      paused = false;
      schedule();
    },
    stats,
    error: () => fatal,
    records: () => records,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      }),
  };
}
