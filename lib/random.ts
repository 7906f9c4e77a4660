/**
 * Seeded, forkable pseudo-random numbers. Every random choice in `lib/` and `policies/` goes through an `Rng`
 * passed in explicitly; `Math.random` is never used (a test greps for it), so the same seed reproduces a run
 * bit for bit on every machine.
 *
 * The generator is xoshiro128** (Blackman & Vigna, 2018): 128 bits of state, 32-bit outputs, fast in
 * JavaScript because it only needs 32-bit integer ops. Seeds are expanded with splitmix32 so that nearby seeds
 * (0, 1, 2, ...) give unrelated streams.
 */

/** One step of splitmix32: a good 32-bit mixer used to expand seeds and derive fork seeds. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash a string (a fork label) to 32 bits with FNV-1a, so forks can be named rather than numbered. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A seeded xoshiro128** generator.
 *
 * `fork(label)` derives an independent child stream from this generator's *seed* and the label, without
 * advancing this generator: a policy, a seed replicate or a worker can each get its own stream, and adding a
 * new fork never changes the numbers an existing one produces.
 */
export class Rng {
  /** The seed this generator was created with (an unsigned 32-bit integer). */
  readonly seed: number;
  // State in an Int32Array: object fields holding values ≥ 2^31 would be boxed doubles, which made each draw
  // several times slower; typed-array elements are always raw 32-bit integers.
  private readonly s = new Int32Array(4);
  private spareNormal: number | undefined;

  /**
   * @param seed any finite integer; it is reduced to 32 bits. Non-integers are rejected rather than truncated
   *   silently, because a seed of 1.5 is almost always a bug in the caller.
   */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`Rng: seed must be an integer, got ${seed}`);
    }
    this.seed = seed >>> 0;
    let x = this.seed;
    const s = this.s;
    s[0] = x = splitmix32(x);
    s[1] = x = splitmix32(x);
    s[2] = x = splitmix32(x);
    s[3] = splitmix32(x);
    // An all-zero state would make xoshiro emit zeros forever; splitmix32 cannot produce four zeros in a row
    // from a single seed, but guard anyway because the cost is one comparison.
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  }

  /** Next unsigned 32-bit integer, uniform on [0, 2^32). */
  nextUint32(): number {
    return this.nextInt32() >>> 0;
  }

  /** Next 32 random bits as a signed int32 (the raw generator step; avoids a conversion in hot paths). */
  private nextInt32(): number {
    const s = this.s;
    const s0 = s[0];
    const s1 = s[1];
    const s2 = s[2] ^ s0;
    const s3 = s[3] ^ s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** Uniform float on [0, 1) with 53 random bits (two 32-bit draws). */
  float(): number {
    const hi = this.nextInt32() >>> 5; // 27 bits
    const lo = this.nextInt32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform integer on [0, n). Uses rejection so the result is exactly uniform (no modulo bias).
   * @param n exclusive upper bound, an integer in [1, 2^32].
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    if (n === 1) return 0;
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do {
      x = this.nextUint32();
    } while (x >= limit);
    return x % n;
  }

  /**
   * A sampler of uniform integers on [0, n) for a fixed n: the argument check and the rejection limit are
   * computed once, which matters in per-job hot loops. Draws from this generator (same stream as `int(n)`).
   */
  intSampler(n: number): () => number {
    this.int(n); // validates n (and consumes one draw, so a sampler never aliases a plain int() sequence)
    if (n === 1) return () => 0;
    const limit = 4294967296 - (4294967296 % n);
    return () => {
      let x: number;
      do {
        x = this.nextInt32() >>> 0;
      } while (x >= limit);
      return x % n;
    };
  }

  /** Standard normal draw (Marsaglia polar method; caches the second value of each pair). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = this.float() * 2 - 1;
      v = this.float() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }

  /** Exponential draw with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw new RangeError(`Rng.exponential: rate must be a positive finite number, got ${rate}`);
    }
    // 1 - float() is in (0, 1], so the log is finite.
    return -Math.log(1 - this.float()) / rate;
  }

  /** Fisher–Yates shuffle of `array` in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * An independent generator derived from this one's seed and `label` (a string or a non-negative integer).
   * Does not consume numbers from this generator, so forks are stable however they are interleaved.
   */
  fork(label: string | number): Rng {
    const tag = typeof label === 'number' ? splitmix32(label >>> 0) : hashLabel(label);
    return new Rng(splitmix32(this.seed ^ splitmix32(tag)) ^ tag);
  }
}

/**
 * Canonical JSON of a parameter value: object keys sorted, no whitespace, and the numbers JSON cannot spell kept
 * distinct (`Infinity`, `-Infinity`, `NaN`, `-0`), so two parameter sets that parse to the same values give the
 * same text and two that differ give different texts. `undefined` object members are dropped, as JSON does.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    return Number.isFinite(value) ? JSON.stringify(value) : String(value);
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return canonicalJson(Array.from(value as unknown as ArrayLike<number>));
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
}

// The two roots every stream of a run hangs from. A policy stream is forked from POLICY_ROOT and a workload
// stream from WORKLOAD_ROOT, so they never share a derivation path: no policy name or parameter set can
// reproduce the arrivals, samples, jitter or stream order of a workload (short of a 32-bit hash collision).
const POLICY_ROOT = 'exitlab:policy';
const WORKLOAD_ROOT = 'exitlab:workload';

/**
 * The random stream of a policy in a run: derived from the run's seed, the policy's registry name and the
 * canonical JSON (`canonicalJson`) of its *parsed* parameters, and from nothing else. A display label, the
 * order of the policies in a comparison or the other policies in it cannot change a policy's draws; two entries
 * with the same name and parameters get the same stream (they are the same policy).
 * @param seed the run's seed (any integer; reduced to 32 bits).
 * @param policy registry name, e.g. "random-exit".
 * @param params parsed (validated, defaults filled) parameters.
 */
export function policyRng(seed: number, policy: string, params: object): Rng {
  return new Rng(seed).fork(POLICY_ROOT).fork(`${policy}\u0000${canonicalJson(params)}`);
}

/**
 * A workload's random stream in a run: `stream` names what it drives ("arrivals", "samples", "jitter",
 * "online-stream", ...). Separate root from `policyRng`, so a workload stream never equals a policy stream and
 * adding a policy never changes the workload.
 */
export function workloadRng(seed: number, stream: string): Rng {
  return new Rng(seed).fork(WORKLOAD_ROOT).fork(stream);
}
