/**
 * The table log and exp of the score pass (lib/fastmath.ts) against `Math.log` / `Math.exp`: within 4 float64
 * ulps of them everywhere they are used (measured: 2), on every float32 mantissa of the probabilities' most
 * common octave, on every octave's edges, and on random arguments over the whole range.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expNonPositive, logFloat32Bits, logFloat64 } from '../lib/fastmath.ts';
import { Rng } from '../lib/random.ts';

const s = suite('fastmath');
const ULPS = 4;

/** The float64 ulp at |x| (the spacing of float64 numbers in x's octave). */
function ulp(x: number): number {
  const a = Math.abs(x);
  return a < 2 ** -1022 ? 2 ** -1074 : 2 ** (Math.floor(Math.log2(a)) - 52);
}

function assertClose(got: number, want: number, what: string): void {
  if (want === 0) {
    assert.is(got, 0, what);
    return;
  }
  const err = Math.abs(got - want) / ulp(want);
  assert.ok(err <= ULPS, `${what}: ${got} vs ${want} (${err} ulps)`);
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
const bitsOf = (x: number): number => ((f32[0] = x), i32[0]);
const floatOf = (b: number): number => ((i32[0] = b), f32[0]);

s('logFloat32Bits: every float32 in [0.5, 1], and log 1 = 0 exactly', () => {
  // [0.5, 1) is where the largest probabilities live; x just below 1 is where a reduction that cancels
  // e·ln 2 against log f would lose its relative accuracy.
  for (let m = 0; m < 1 << 23; m++) {
    const b = (126 << 23) | m;
    const got = logFloat32Bits(b);
    const want = Math.log(floatOf(b));
    if (Math.abs(got - want) > ULPS * ulp(want)) assert.unreachable(`log ${floatOf(b)}: ${got} vs ${want}`);
  }
  assert.is(logFloat32Bits(bitsOf(1)), 0);
});

s('logFloat32Bits: every octave of the normal float32 range, at its edges and at random', () => {
  const rng = new Rng(7);
  for (let e = 1; e < 255; e++) {
    for (const m of [0, 1, 2, 0x3504f2, 0x3504f3, 0x3504f4, 0x353fff, 0x354000, 0x7fbfff, 0x7fc000, 0x7ffffe, 0x7fffff]) {
      const b = (e << 23) | m;
      assertClose(logFloat32Bits(b), Math.log(floatOf(b)), `log ${floatOf(b)}`);
    }
    for (let i = 0; i < 2000; i++) {
      const b = (e << 23) | rng.int(1 << 23);
      assertClose(logFloat32Bits(b), Math.log(floatOf(b)), `log ${floatOf(b)}`);
    }
  }
  // The smallest normal float32.
  assertClose(logFloat32Bits(0x00800000), Math.log(2 ** -126), 'log 2⁻¹²⁶');
});

s('logFloat64: the row sums of the softmax (s ∈ [1, C]) and the whole normal range; the rest goes to Math.log', () => {
  const rng = new Rng(11);
  for (let i = 0; i < 200000; i++) {
    const x = 1 + rng.float() * 1000;
    assertClose(logFloat64(x), Math.log(x), `log ${x}`);
    const y = Math.exp((rng.float() - 0.5) * 1400);
    assertClose(logFloat64(y), Math.log(y), `log ${y}`);
  }
  for (const x of [1, 2, Math.SQRT2, 1 - 2 ** -53, 1 + 2 ** -52, 2 - 2 ** -52, 2 ** -1022, Number.MAX_VALUE, 10, 1000]) {
    assertClose(logFloat64(x), Math.log(x), `log ${x}`);
  }
  assert.is(logFloat64(1), 0);
  for (const x of [0, -0, -1, 5e-324, 2 ** -1030, Infinity, -Infinity, NaN]) assert.ok(Object.is(logFloat64(x), Math.log(x)), `log ${x}`);
});

s('expNonPositive: d ∈ [−746, 0] (subnormal results below −708), exactly 1 at 0, 0 below −745.14', () => {
  const rng = new Rng(13);
  for (let i = 0; i < 200000; i++) {
    for (const scale of [1e-6, 1, 40, 708]) {
      const d = -rng.float() * scale;
      assertClose(expNonPositive(d), Math.exp(d), `exp ${d}`);
    }
  }
  // The reduction's edges: k = round(d·256/ln 2) changing octave (multiples of ln 2) and half-steps.
  for (let q = 0; q <= 1021; q++) {
    for (const t of [0, 0.5, 1, 127.5, 255.5]) {
      const d = -((q * 256 + t) * Math.LN2) / 256;
      if (d >= -708) assertClose(expNonPositive(d), Math.exp(d), `exp ${d}`);
    }
  }
  assert.is(expNonPositive(0), 1);
  assert.is(expNonPositive(-0), 1);
  // Subnormal results (one rounding, within a subnormal ulp or two), and 0 from −745.14 on.
  for (let i = 0; i < 20000; i++) {
    const d = -708 - rng.float() * 37.1;
    assertClose(expNonPositive(d), Math.exp(d), `exp ${d}`);
  }
  for (const d of [-708.0000001, -720, -745.1, -745.2, -746, -1e300, -Infinity, NaN]) assert.ok(Object.is(expNonPositive(d), Math.exp(d)), `exp ${d}`);
});

s.run();
