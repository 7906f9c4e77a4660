/**
 * What the testbed measures about the serving process itself, besides its requests: garbage-collection pauses
 * (PerformanceObserver 'gc' entries: every pause V8 reports, with its duration) and event-loop delay
 * (`perf_hooks.monitorEventLoopDelay`, a histogram of how late the loop's timer fired, i.e. how long
 * synchronous work held the thread), plus the per-exit service-time distribution measured by running the model
 * block by block on the server's own thread.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import type { BlockModel } from './blocks.ts';

/** Summary of a sample of durations, milliseconds. */
export interface DurationSummary {
  readonly n: number;
  readonly meanMs: number;
  /** Standard deviation (population), ms. */
  readonly sdMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Summarise durations (ms). All NaN when empty. */
export function summarise(xs: ArrayLike<number>): DurationSummary {
  const n = xs.length;
  if (n === 0) return { n, meanMs: NaN, sdMs: NaN, p50Ms: NaN, p95Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const s = Float64Array.from(xs).sort();
  let sum = 0;
  for (const v of s) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of s) sq += (v - mean) * (v - mean);
  // Nearest-rank quantiles: the reported value is one that was observed.
  const q = (p: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  return { n, meanMs: mean, sdMs: Math.sqrt(sq / n), p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99), maxMs: s[n - 1] };
}

/** GC pauses and event-loop delay over a monitoring window. */
export interface ProcessStats {
  /** GC pauses reported in the window. */
  readonly gcCount: number;
  /** Sum of their durations, ms. */
  readonly gcTotalMs: number;
  /** Longest pause, ms (0 if none). */
  readonly gcMaxMs: number;
  /**
   * Event-loop delay percentiles, ms (resolution `ELD_RESOLUTION_MS`); NaN when the loop never turned in the
   * window (a synchronous measurement loop holds it throughout).
   */
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Wall time of the window, ms. */
  readonly windowMs: number;
  /**
   * CPU time this thread got in the window (user + system), ms, from /proc/thread-self/stat (Linux; clock
   * ticks, usually 10 ms); NaN elsewhere. cpuMs / windowMs is the share of a core the thread received: on a
   * shared machine, how much of its time the server was runnable but not running.
   */
  readonly cpuMs: number;
}

/** CPU time of the calling thread, ms (NaN where /proc/thread-self is not available). */
export function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): utime and stime are fields 14 and
    // 15 of the whole line, i.e. 12 and 13 after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    // USER_HZ is 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)).
    return Number.isFinite(ticks) ? ticks * 10 : NaN;
  } catch {
    return NaN;
  }
}

/** Sampling resolution of the event-loop delay histogram, ms (Node's minimum is 1). */
export const ELD_RESOLUTION_MS = 1;

/** Watches GC pauses and event-loop delay from `start()` until `stop()`. */
export class ProcessMonitor {
  #gc: number[] = [];
  #obs: PerformanceObserver | undefined;
  #eld: IntervalHistogram | undefined;
  #t0 = 0;
  #cpu0 = NaN;

  /** Start (or restart) a window. */
  start(): void {
    this.stopObservers();
    this.#gc = [];
    this.#obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#gc.push(e.duration);
    });
    this.#obs.observe({ entryTypes: ['gc'] });
    this.#eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    this.#eld.enable();
    this.#t0 = performance.now();
    this.#cpu0 = threadCpuMs();
  }

  private stopObservers(): void {
    this.#obs?.disconnect();
    this.#eld?.disable();
  }

  /**
   * End the window and summarise it. GC entries are delivered asynchronously, so await one turn of the event
   * loop before reading them.
   */
  async stop(): Promise<ProcessStats> {
    await new Promise((r) => setImmediate(r));
    const windowMs = performance.now() - this.#t0;
    const cpuMs = threadCpuMs() - this.#cpu0;
    const h = this.#eld;
    this.stopObservers();
    const ns = 1e6;
    const gc = this.#gc;
    return {
      gcCount: gc.length,
      gcTotalMs: gc.reduce((a, b) => a + b, 0),
      gcMaxMs: gc.reduce((a, b) => Math.max(a, b), 0),
      loopDelayP50Ms: h && h.count > 0 ? h.percentile(50) / ns : NaN,
      loopDelayP99Ms: h && h.count > 0 ? h.percentile(99) / ns : NaN,
      loopDelayMaxMs: h && h.count > 0 ? h.max / ns : NaN,
      windowMs,
      cpuMs,
    };
  }
}

/** The per-exit service-time distribution measured on the server. */
export interface ServiceTimeProfile {
  /** Cumulative time from job start to each exit's probabilities being read back, per exit (length K). */
  readonly perExit: readonly DurationSummary[];
  /** Mean cumulative time per exit, ms, length K (what the simulator is given as costMs). */
  readonly meanMs: readonly number[];
  /**
   * Coefficient of variation of a job's time around its exit's mean, pooled over exits (√ mean of (t/mean_k − 1)²):
   * the per-job spread the simulator models as a lognormal factor with this CV.
   */
  readonly cv: number;
  /** GC and loop delay during the measurement. */
  readonly process: ProcessStats;
  /** Untimed warm-up passes before the timed ones. */
  readonly warmup: number;
}

/**
 * Time `n` full passes (every exit in turn, block by block, as a request that continues to the end) over the
 * inputs `order` picks, on the calling thread. Cumulative per-exit times include each exit's read-back, the same
 * work a served request does (a request that stops at k pays the time to k).
 * @param input returns input i (cycled over `order`).
 */
export async function measureServiceTimes(model: BlockModel, input: (i: number) => Float32Array, n: number, warmup = 50): Promise<ServiceTimeProfile> {
  const K = model.nExits;
  for (let i = 0; i < warmup; i++) {
    const r = model.start(input(i));
    for (let k = 0; k < K; k++) r.step();
    r.dispose();
  }
  const mon = new ProcessMonitor();
  mon.start();
  const times = Array.from({ length: K }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const r = model.start(input(warmup + i));
    const t0 = performance.now();
    for (let k = 0; k < K; k++) {
      r.step();
      times[k][i] = performance.now() - t0;
    }
    r.dispose();
  }
  const process = await mon.stop();
  const perExit = times.map((t) => summarise(t));
  const meanMs = perExit.map((s) => s.meanMs);
  let sq = 0;
  for (let k = 0; k < K; k++) for (let i = 0; i < n; i++) sq += (times[k][i] / meanMs[k] - 1) ** 2;
  return { perExit, meanMs, cv: Math.sqrt(sq / (K * n)), process, warmup };
}
