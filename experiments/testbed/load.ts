/**
 * Open-loop load generator for the testbed server. Request i is sent at its scheduled time a_i, drawn from the
 * simulator's own arrival processes (lib/arrivals.ts), whether or not earlier requests were answered: a closed
 * loop (N connections each waiting for its answer) slows down with the server and never shows overload, and
 * its latencies omit the waiting a real client sees — "coordinated omission" (G. Tene, "How NOT to measure
 * latency"). Response time is therefore measured from the *scheduled* send time, and how late each request
 * actually left is recorded separately (`lateMs`), so a generator that cannot keep up is visible, not hidden.
 *
 * Same streams as the simulator: with seed s the arrival times come from `workloadRng(s, 'arrivals')` and the
 * input of each request from `workloadRng(s, 'samples').intSampler(n)`, exactly as `simulate` draws them
 * (lib/queue.ts), so a real run and a simulated one with the same seed see the same arrivals carrying the same
 * inputs (a test compares them with the simulator's own records).
 *
 * Transport: Node's `http` with a keep-alive agent (connections are reused; a new one is opened only when every
 * open one has a request in flight, up to `maxConnections`); loopback addresses only. The run is bounded by
 * `maxRequests` and `timeLimitMs`: at the limit no more requests are sent, and requests still unanswered
 * `drainMs` later are aborted and counted as `timedOut`.
 */
import { Agent, request } from 'node:http';
import { makeArrivals, type ArrivalConfig } from '../../lib/arrivals.ts';
import { InputError } from '../../lib/errors.ts';
import { workloadRng } from '../../lib/random.ts';
import { inputRow, type TestInputs } from './inputs.ts';
import type { InferResponse } from './server.ts';

/** Options of `runLoad`. */
export interface LoadOptions {
  /** Server base URL; its host must be a loopback address. */
  readonly url: string;
  readonly arrivals: ArrivalConfig;
  /** Seed of the arrival and input streams (the simulator's `QueueConfig.seed`). */
  readonly seed: number;
  /** Requests to send at most. */
  readonly maxRequests: number;
  /** Stop sending after this much time, ms from the start of the schedule. */
  readonly timeLimitMs: number;
  /** How long to wait for outstanding responses after the last send, ms. Default 5,000. */
  readonly drainMs?: number;
  readonly inputs: TestInputs;
  /** Upper bound on open connections. Default 256. */
  readonly maxConnections?: number;
}

/** One request as the client saw it. Times in ms from the start of the schedule. */
export interface LoadRecord {
  /** Input index (into `inputs`) the request carried. */
  readonly input: number;
  /** Scheduled send time a_i. */
  readonly scheduledMs: number;
  /** Actual send time minus scheduled, ms (≥ 0). */
  readonly lateMs: number;
  /** Response received − scheduled send time, ms (NaN if none). */
  readonly responseMs: number;
  /** HTTP status (0: connection error or timed out). */
  readonly status: number;
  /** Exit, prediction, wait and service time from the server (200 only; −1/NaN otherwise). */
  readonly exit: number;
  readonly prediction: number;
  readonly waitMs: number;
  readonly serviceMs: number;
  /** The server's own synchronous work for this request, ms (`InferResponse.computeMs`). */
  readonly computeMs: number;
  /** Time inside the policy's commit/decide for this request, ms (`InferResponse.policyMs`). */
  readonly policyMs: number;
  /** 1 if served and the prediction equals the input's label. */
  readonly correct: number;
}

/** What a load run did. */
export interface LoadResult {
  readonly records: readonly LoadRecord[];
  /** Requests sent. */
  readonly sent: number;
  readonly ok: number;
  /** 503 answers (losses). */
  readonly rejected: number;
  /** Other statuses and connection errors. */
  readonly errors: number;
  /** Aborted after the drain time. */
  readonly timedOut: number;
  /** Whether the time limit stopped the schedule before `maxRequests`. */
  readonly stoppedByTimeLimit: boolean;
  /** Wall time from the first scheduled send to the last answer, ms. */
  readonly elapsedMs: number;
  /** Connections opened. */
  readonly connections: number;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * The first `maxRequests` arrival times (ms) of a process with seed `seed`, or fewer if it runs out (replay) or
 * passes `horizonMs`.
 */
export function scheduleTimes(arrivals: ArrivalConfig, seed: number, maxRequests: number, horizonMs = Infinity): Float64Array {
  const proc = makeArrivals(arrivals, workloadRng(seed, 'arrivals'));
  const out: number[] = [];
  for (let i = 0; i < maxRequests; i++) {
    const t = proc.next();
    if (!(t <= horizonMs)) break;
    out.push(t);
  }
  return Float64Array.from(out);
}

/** The input index of each of `n` requests with seed `seed` (the simulator's uniform sampling). */
export function scheduleInputs(nInputs: number, seed: number, n: number): Int32Array {
  const draw = workloadRng(seed, 'samples').intSampler(nInputs);
  return Int32Array.from({ length: n }, () => draw());
}

/**
 * Run an open-loop load against a testbed server.
 * @throws InputError for a non-loopback URL or bad bounds.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let url: URL;
  try {
    url = new URL('/infer', opts.url);
  } catch {
    throw new InputError('load generator', 'url', 'an http URL such as http://127.0.0.1:8080', JSON.stringify(opts.url));
  }
  if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) throw new InputError('load generator', 'url', 'an http:// URL on a loopback address (127.0.0.1, [::1], localhost)', JSON.stringify(opts.url));
  if (!Number.isSafeInteger(opts.maxRequests) || opts.maxRequests < 1) throw new InputError('load generator', 'maxRequests', 'an integer ≥ 1', String(opts.maxRequests));
  if (!(opts.timeLimitMs > 0 && Number.isFinite(opts.timeLimitMs))) throw new InputError('load generator', 'timeLimitMs', 'a positive finite time in ms', String(opts.timeLimitMs));
  const drainMs = opts.drainMs ?? 5000;
  const times = scheduleTimes(opts.arrivals, opts.seed, opts.maxRequests, opts.timeLimitMs);
  const n = times.length;
  // Did the time limit cut the schedule (rather than maxRequests, or a replay running out)?
  const cut = n < opts.maxRequests && Number.isFinite(scheduleTimes(opts.arrivals, opts.seed, n + 1)[n] ?? Infinity);
  const which = scheduleInputs(opts.inputs.n, opts.seed, n);
  const bodies = new Map<number, Buffer>();
  const body = (i: number): Buffer => {
    let b = bodies.get(i);
    if (!b) {
      const row = inputRow(opts.inputs, i);
      b = Buffer.from(row.buffer, row.byteOffset, row.byteLength);
      bodies.set(i, b);
    }
    return b;
  };
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxConnections ?? 256, scheduling: 'fifo' });
  let connections = 0;
  const seen = new WeakSet<object>();
  const late = new Float64Array(n);
  const resp = new Float64Array(n).fill(NaN);
  const status = new Int32Array(n);
  const exit = new Int32Array(n).fill(-1);
  const pred = new Int32Array(n).fill(-1);
  const wait = new Float64Array(n).fill(NaN);
  const serv = new Float64Array(n).fill(NaN);
  const errored = new Uint8Array(n);
  const comp = new Float64Array(n).fill(NaN);
  const pol = new Float64Array(n).fill(NaN);
  let pending = 0;
  let sent = 0;
  const inflight = new Set<ReturnType<typeof request>>();
  let allSent!: () => void;
  let allDone: (() => void) | undefined;
  const sentPromise = new Promise<void>((r) => (allSent = r));
  const t0 = performance.now() + 5;
  const clock = (): number => performance.now() - t0;
  let lastAnswer = 0;

  const finish = (i: number, code: number, text: string | undefined): void => {
    const t = clock();
    lastAnswer = Math.max(lastAnswer, t);
    status[i] = code;
    if (code !== 0) resp[i] = t - times[i];
    if (code === 200 && text !== undefined) {
      const r = JSON.parse(text) as InferResponse;
      exit[i] = r.exit;
      pred[i] = r.prediction;
      wait[i] = r.waitMs;
      serv[i] = r.serviceMs;
      comp[i] = r.computeMs;
      pol[i] = r.policyMs;
    }
    pending--;
    if (pending === 0 && sent === n) allDone?.();
  };

  const send = (i: number): void => {
    const b = body(which[i]);
    late[i] = clock() - times[i];
    pending++;
    sent++;
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': b.length, 'x-request-id': String(i) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        inflight.delete(req);
        finish(i, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
      });
    });
    req.on('socket', (s) => {
      if (seen.has(s)) return;
      seen.add(s);
      connections++;
      s.setNoDelay(true);
    });
    req.on('error', () => {
      if (inflight.delete(req)) {
        errored[i] = 1;
        finish(i, 0, undefined);
      }
    });
    inflight.add(req);
    req.end(b);
  };

  // Sender: at each wake-up send every request whose time has come. Sub-millisecond gaps are below timer
  // resolution, so when the next one is due within 1 ms the loop yields with setImmediate (answers are still
  // read in between); otherwise it sleeps with setTimeout until just before it.
  let next = 0;
  const pump = (): void => {
    const now = clock();
    while (next < n && times[next] <= now) send(next++);
    if (next >= n) {
      allSent();
      return;
    }
    const dt = times[next] - clock();
    if (dt > 1.5) setTimeout(pump, dt - 1);
    else setImmediate(pump);
  };
  const wait0 = t0 - performance.now();
  setTimeout(pump, Math.max(0, wait0));
  await sentPromise;
  if (pending > 0) {
    await new Promise<void>((r) => {
      allDone = r;
      const timer = setTimeout(r, drainMs);
      timer.unref();
    });
  }
  const timedOut = inflight.size;
  for (const req of [...inflight]) {
    inflight.delete(req);
    req.destroy();
  }
  const abandoned = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (status[i] === 0 && Number.isNaN(resp[i]) && !errored[i]) abandoned[i] = 1;
  agent.destroy();
  const records: LoadRecord[] = [];
  let ok = 0;
  let rejected = 0;
  let errors = 0;
  for (let i = 0; i < n; i++) {
    if (status[i] === 200) ok++;
    else if (status[i] === 503) rejected++;
    else if (!abandoned[i]) errors++;
    const input = which[i];
    records.push({
      input, scheduledMs: times[i], lateMs: late[i], responseMs: resp[i], status: status[i], exit: exit[i], prediction: pred[i],
      waitMs: wait[i], serviceMs: serv[i], computeMs: comp[i], policyMs: pol[i], correct: status[i] === 200 && pred[i] === opts.inputs.labels[input] ? 1 : 0,
    });
  }
  return {
    records, sent, ok, rejected, errors, timedOut, stoppedByTimeLimit: cut,
    elapsedMs: lastAnswer - (n > 0 ? times[0] : 0), connections,
  };
}
