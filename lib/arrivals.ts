/**
 * Arrival processes for the queue simulator. Each is a generator of absolute arrival times in milliseconds,
 * non-decreasing, returning `Infinity` when exhausted (replay). Configured by plain validated data
 * (`ArrivalConfig`), so experiments can declare them in JSON.
 */
import { readFileSync } from 'node:fs';
import { InputError, describe } from './errors.ts';
import { parseNpy } from './npy.ts';
import type { Rng } from './random.ts';

/** A stream of arrival times, ms, non-decreasing. */
export interface ArrivalProcess {
  /** The next arrival time in ms (absolute), or Infinity when there are no more. */
  next(): number;
}

/** Declarative description of an arrival process. Rates are in jobs per millisecond. */
export type ArrivalConfig =
  /** Poisson arrivals (exponential inter-arrival times). */
  | { readonly kind: 'poisson'; readonly ratePerMs: number }
  /**
   * Two-state Markov-modulated Poisson process: in state i arrivals are Poisson with `ratesPerMs[i]`, and the
   * state switches to the other after an exponential time with mean `meanSojournMs[i]`. Starts in state 0.
   */
  | { readonly kind: 'mmpp2'; readonly ratesPerMs: readonly [number, number]; readonly meanSojournMs: readonly [number, number] }
  /**
   * Load steps: Poisson arrivals whose rate is piecewise constant in time — `ratesPerMs[0]` on [0, `atMs[0]`),
   * `ratesPerMs[i]` on [`atMs[i−1]`, `atMs[i]`), and the last rate from `atMs[n−2]` on (n rates, n − 1 increasing
   * step times). To measure how fast a controller adapts to a change of load (issue 17). A rate may be 0.
   */
  | { readonly kind: 'steps'; readonly ratesPerMs: readonly number[]; readonly atMs: readonly number[] }
  /** One arrival every `intervalMs`, the first at `intervalMs`. */
  | { readonly kind: 'deterministic'; readonly intervalMs: number }
  /** Replay of recorded timestamps (ms): given inline, or read from a text file (one per line) or a 1-D `.npy`. */
  | { readonly kind: 'replay'; readonly timesMs?: readonly number[]; readonly file?: string };

/**
 * A bursty MMPP2 with a given long-run mean rate: the busy state's rate is `peakRatio` times the calm state's,
 * the busy state holds `busyFraction` of the time, and a calm+busy cycle lasts `cycleMs` on average.
 * The defaults (5×, 20%, 200 mean inter-arrival times) give clearly visible bursts with the same mean load.
 */
export function burstyArrivals(meanRatePerMs: number, opts: { peakRatio?: number; busyFraction?: number; cycleMs?: number } = {}): ArrivalConfig {
  const { peakRatio = 5, busyFraction = 0.2, cycleMs = 200 / meanRatePerMs } = opts;
  if (!(meanRatePerMs > 0)) throw new InputError('burstyArrivals', 'meanRatePerMs', 'a positive rate', String(meanRatePerMs));
  if (!(peakRatio >= 1)) throw new InputError('burstyArrivals', 'peakRatio', 'a number ≥ 1', String(peakRatio));
  if (!(busyFraction > 0 && busyFraction < 1)) throw new InputError('burstyArrivals', 'busyFraction', 'a fraction in (0, 1)', String(busyFraction));
  // mean = calm·(1 − f) + peakRatio·calm·f
  const calm = meanRatePerMs / (1 - busyFraction + peakRatio * busyFraction);
  return { kind: 'mmpp2', ratesPerMs: [calm, calm * peakRatio], meanSojournMs: [cycleMs * (1 - busyFraction), cycleMs * busyFraction] };
}

/**
 * Load steps in units of a service rate: λ/μ = `loads[i]` (μ = `serviceRatePerMs`, e.g. 1 / the full network's
 * cost) during the i-th of equal phases of `phaseMs` each; the last load holds from then on.
 * Default loads 0.5 → 2 → 0.8: light, overload, back to moderate.
 */
export function loadSteps(serviceRatePerMs: number, phaseMs: number, loads: readonly number[] = [0.5, 2, 0.8]): ArrivalConfig {
  if (!(serviceRatePerMs > 0 && Number.isFinite(serviceRatePerMs))) throw new InputError('loadSteps', 'serviceRatePerMs', 'a positive finite rate (jobs/ms)', String(serviceRatePerMs));
  if (!(phaseMs > 0 && Number.isFinite(phaseMs))) throw new InputError('loadSteps', 'phaseMs', 'a positive finite phase length (ms)', String(phaseMs));
  if (loads.length === 0 || !loads.every((l) => l >= 0 && Number.isFinite(l))) throw new InputError('loadSteps', 'loads', 'a non-empty list of finite loads λ/μ ≥ 0', `[${loads.join(', ')}]`);
  return { kind: 'steps', ratesPerMs: loads.map((l) => l * serviceRatePerMs), atMs: loads.slice(1).map((_, i) => (i + 1) * phaseMs) };
}

/** Long-run mean arrival rate of a config, jobs/ms (replay: count over the span of the timestamps). */
export function meanRate(config: ArrivalConfig): number {
  switch (config.kind) {
    case 'poisson':
      return config.ratePerMs;
    case 'mmpp2': {
      const [a, b] = config.meanSojournMs;
      return (config.ratesPerMs[0] * a + config.ratesPerMs[1] * b) / (a + b);
    }
    case 'steps':
      // The last rate holds forever, so it is the long-run rate.
      return config.ratesPerMs[config.ratesPerMs.length - 1];
    case 'deterministic':
      return 1 / config.intervalMs;
    case 'replay': {
      const t = replayTimes(config);
      return t.length < 2 ? NaN : (t.length - 1) / (t[t.length - 1] - t[0]);
    }
  }
}

const positive = (source: string, field: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InputError(source, field, 'a positive finite number', describe(v));
  return v;
};

/**
 * Build an arrival process from its config.
 * @param rng the process's own random stream (unused by deterministic and replay).
 * @throws InputError naming the bad field.
 */
export function makeArrivals(config: ArrivalConfig, rng: Rng): ArrivalProcess {
  const src = `arrivals (${(config as { kind?: unknown })?.kind ?? '?'})`;
  switch (config?.kind) {
    case 'poisson': {
      const rate = positive(src, 'ratePerMs', config.ratePerMs);
      let t = 0;
      return { next: () => (t += -Math.log(1 - rng.float()) / rate) };
    }
    case 'mmpp2': {
      if (!Array.isArray(config.ratesPerMs) || config.ratesPerMs.length !== 2) throw new InputError(src, 'ratesPerMs', 'two rates [calm, busy]', describe(config.ratesPerMs));
      if (!Array.isArray(config.meanSojournMs) || config.meanSojournMs.length !== 2) throw new InputError(src, 'meanSojournMs', 'two mean sojourn times', describe(config.meanSojournMs));
      const rates = [0, 1].map((i) => {
        const r = config.ratesPerMs[i];
        if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) throw new InputError(src, `ratesPerMs[${i}]`, 'a non-negative finite rate', describe(r));
        return r;
      });
      if (rates[0] + rates[1] === 0) throw new InputError(src, 'ratesPerMs', 'at least one positive rate', '[0, 0]');
      const leave = [0, 1].map((i) => 1 / positive(src, `meanSojournMs[${i}]`, config.meanSojournMs[i]));
      let t = 0;
      let state = 0;
      // Competing exponentials: in the current state, the next event is an arrival (rate λ_i) or a switch
      // (rate 1/sojourn_i); both are memoryless, so redrawing after a switch is exact.
      return {
        next: () => {
          for (;;) {
            const total = rates[state] + leave[state];
            t += -Math.log(1 - rng.float()) / total;
            if (rng.float() * total < rates[state]) return t;
            state = 1 - state;
          }
        },
      };
    }
    case 'steps': {
      const { ratesPerMs, atMs } = config;
      if (!Array.isArray(ratesPerMs) || ratesPerMs.length === 0) throw new InputError(src, 'ratesPerMs', 'a non-empty array of rates (jobs/ms)', describe(ratesPerMs));
      if (!Array.isArray(atMs) || atMs.length !== ratesPerMs.length - 1) throw new InputError(src, 'atMs', `${ratesPerMs.length - 1} step times (one fewer than the rates)`, describe(atMs));
      const rates = ratesPerMs.map((r, i) => {
        if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) throw new InputError(src, `ratesPerMs[${i}]`, 'a non-negative finite rate', describe(r));
        return r;
      });
      if (rates[rates.length - 1] === 0) throw new InputError(src, `ratesPerMs[${rates.length - 1}]`, 'a positive last rate (it holds forever)', '0');
      const ends = atMs.map((t, i) => {
        if (typeof t !== 'number' || !Number.isFinite(t) || t <= (i === 0 ? 0 : atMs[i - 1])) throw new InputError(src, `atMs[${i}]`, `a finite time > ${i === 0 ? 0 : atMs[i - 1]} ms (step times increase)`, describe(t));
        return t;
      });
      ends.push(Infinity);
      let t = 0;
      let seg = 0;
      // Exponential gaps at the current segment's rate; a gap that crosses the segment's end is discarded and
      // redrawn from the boundary at the next rate — exact, because the exponential is memoryless.
      return {
        next: () => {
          for (;;) {
            const r = rates[seg];
            const candidate = r > 0 ? t + -Math.log(1 - rng.float()) / r : Infinity;
            if (candidate < ends[seg]) return (t = candidate);
            t = ends[seg];
            seg++;
          }
        },
      };
    }
    case 'deterministic': {
      const dt = positive(src, 'intervalMs', config.intervalMs);
      let i = 0;
      return { next: () => ++i * dt };
    }
    case 'replay': {
      const times = replayTimes(config);
      let i = 0;
      return { next: () => (i < times.length ? times[i++] : Infinity) };
    }
    default:
      throw new InputError('arrivals', 'kind', '"poisson", "mmpp2", "steps", "deterministic" or "replay"', describe((config as { kind?: unknown })?.kind));
  }
}

/** The validated timestamps of a replay config. */
function replayTimes(config: Extract<ArrivalConfig, { kind: 'replay' }>): Float64Array {
  let times: ArrayLike<number>;
  let source = 'arrivals (replay)';
  let lineOf = (i: number) => `timesMs[${i}]`;
  if (config.timesMs !== undefined) {
    if (!Array.isArray(config.timesMs)) throw new InputError(source, 'timesMs', 'an array of timestamps in ms', describe(config.timesMs));
    times = config.timesMs;
  } else if (typeof config.file === 'string') {
    source = config.file;
    let bytes: Buffer;
    try {
      bytes = readFileSync(config.file);
    } catch (err) {
      throw new InputError(config.file, 'file', 'a readable timestamp file', (err as NodeJS.ErrnoException).code ?? String(err));
    }
    if (config.file.endsWith('.npy')) {
      const arr = parseNpy(new Uint8Array(bytes), config.file);
      if (arr.shape.length !== 1) throw new InputError(config.file, 'shape', 'one axis of timestamps in ms', `(${arr.shape.join(', ')})`);
      times = arr.data;
    } else {
      const lines = bytes.toString('utf8').split(/\r?\n/);
      const vals: number[] = [];
      const lineNo: number[] = [];
      lines.forEach((line, i) => {
        const s = line.trim();
        if (s === '' || s.startsWith('#')) return;
        const v = Number(s);
        if (!Number.isFinite(v)) throw new InputError(config.file!, `line ${i + 1}`, 'one timestamp in ms per line (a finite number)', JSON.stringify(s));
        vals.push(v);
        lineNo.push(i + 1);
      });
      times = vals;
      lineOf = (i) => `line ${lineNo[i]}`;
    }
  } else {
    throw new InputError(source, 'timesMs/file', 'inline timesMs or a file path', 'neither');
  }
  const out = Float64Array.from(times);
  if (out.length === 0) throw new InputError(source, 'timestamps', 'at least one timestamp', 'none');
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]) || out[i] < 0) throw new InputError(source, lineOf(i), 'a finite, non-negative time in ms', String(out[i]));
    if (i > 0 && out[i] < out[i - 1]) throw new InputError(source, lineOf(i), `a time ≥ the previous one (${out[i - 1]} ms): timestamps must be sorted`, String(out[i]));
  }
  return out;
}
