/**
 * Table-driven `log` and `exp` for the score pass (lib/scores.ts). That pass takes one logarithm (entropy from
 * probabilities) or one exponential (softmax from logits) per class, N·K·C of them (8 × 10⁷ for a million
 * samples, 8 exits, 10 classes), and V8's `Math.log` / `Math.exp` (fdlibm, called out of line, with the loop's
 * registers spilled around each call) cost most of its time. Each function here is a table lookup plus a short
 * polynomial that TurboFan inlines into the loop.
 *
 * Why this is exact enough: the polynomials are truncated where the first omitted term is below a quarter of a
 * float64 ulp, the tables are `Math.log` / `Math.pow` of exactly representable arguments, and the argument
 * reductions are exact, so what is left is the rounding of a handful of float64 operations: a few ulps, a relative
 * error of about 10⁻¹⁵ (test/fastmath.test.ts checks it against `Math.log` / `Math.exp`, over every float32
 * mantissa for the log). That is far below the float32 rounding of the stored outputs themselves (6 × 10⁻⁸) and
 * below the 10⁻¹⁴ to which the scores must agree with the `Math.log` / `Math.exp` formulas. The results are not bit
 * for bit those of `Math.log` / `Math.exp` (neither is correctly rounded), so a score can differ in its last bits.
 *
 * Internal to the score pass: not exported from the package.
 */

/** 2⁸ subintervals of the mantissa: the log tables have 257 entries (j = 0..256), 4 KiB together. */
const LOG_BITS = 8;
const LOG_N = 1 << LOG_BITS;
/**
 * The mantissa m ∈ [1, 2) is rounded to f = 1 + j/256. From j = 107 on (f > √2, since 107/256 > √2 − 1 > 106/256)
 * the reduction uses f/2 and exponent e + 1 instead, so that the reduced value lies in [√2/2, √2] and log x never
 * comes from cancelling e·ln 2 against log f (x just below 1 would otherwise lose ~log₂(1/(1 − x)) bits).
 * LOG_F[j] = log f or log(f/2), INV_F[j] = 1/f (the same for both: r is relative). The arguments (256 + j)/256 and
 * (256 + j)/512 are exact; Math.log is within 1 ulp.
 */
const LOG_F = new Float64Array(LOG_N + 1);
const INV_F = new Float64Array(LOG_N + 1);
const SQRT2_J = 107;
for (let j = 0; j <= LOG_N; j++) {
  LOG_F[j] = Math.log((LOG_N + j) / (j >= SQRT2_J ? 2 * LOG_N : LOG_N));
  INV_F[j] = LOG_N / (LOG_N + j);
}
/** The exponent adjustment, 1 from j = 107 on, without a branch: (j + 149) >> 8. */
const ADJ_ADD = LOG_N - SQRT2_J;
const LN2 = Math.LN2;
/** The float32 mantissa has 23 bits; its top 8 (rounded) select the table entry, the low 15 are the remainder. */
const SHIFT32 = 23 - LOG_BITS;
const HALF32 = 1 << (SHIFT32 - 1);

/**
 * log x of a positive normal float32 x, given its bit pattern `b` (x ≥ 2⁻¹²⁶, i.e. 0x00800000 ≤ b < 0x7f800000;
 * b is what an Int32Array view of the Float32Array holds). Callers route 0, subnormals, negatives and
 * non-finite values to `Math.log`.
 *
 * x = 2^e · m, m = 1 + M/2²³ (M the 23 mantissa bits). Round M to the nearest multiple of 2¹⁵: f = 1 + j/256,
 * j ∈ [0, 256]; m = f·(1 + r) with r = (M − j·2¹⁵)·2⁻²³ / f exact up to the rounding of the product, |r| ≤ 2⁻⁹, and
 *   log x = (e + a)·ln 2 + log(f/2^a) + log1p(r),   a = [j ≥ 107].
 * log1p(r) by its Taylor series to r⁶: the first omitted term, r⁷/7, is relative to log1p(r) ≈ r at most
 * 2⁻⁵⁴/7 ≈ 8 × 10⁻¹⁸, under a tenth of an ulp.
 */
export function logFloat32Bits(b: number): number {
  const mant = b & 0x7fffff;
  const j = (mant + HALF32) >> SHIFT32;
  const r = (mant - (j << SHIFT32)) * 2 ** -23 * INV_F[j];
  // log1p(r) = r − r²/2 + r³/3 − r⁴/4 + r⁵/5 − r⁶/6 (Horner).
  const l1p = r * (1 + r * (-0.5 + r * (1 / 3 + r * (-0.25 + r * (0.2 + r * (-1 / 6))))));
  return ((b >> 23) - 127 + ((j + ADJ_ADD) >> LOG_BITS)) * LN2 + LOG_F[j] + l1p;
}

/** Scratch for reading a float64's bit pattern: its high and low 32-bit words, in host byte order. */
const F64 = new Float64Array(1);
const WORDS = new Int32Array(F64.buffer);
const HI = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;
/** The float64 mantissa has 52 bits, 20 in the high word: its top 8 select the entry. */
const SHIFT64 = 20 - LOG_BITS;
const HALF64 = 1 << (SHIFT64 - 1);

/**
 * log x of a float64 x by the same tables as `logFloat32Bits`. The remainder (M − j·2⁴⁴)·2⁻⁵² (M the 52 mantissa
 * bits) is computed exactly: its high-word part is a multiple of 2⁻²⁰ of magnitude ≤ 2⁻⁹, its low word a multiple
 * of 2⁻⁵² below 2⁻²⁰, so the sum spans 44 bits. Zero, negatives, subnormals, ∞ and NaN go to `Math.log`.
 */
export function logFloat64(x: number): number {
  F64[0] = x;
  const hi = WORDS[HI];
  if (hi < 0x00100000 || hi >= 0x7ff00000) return Math.log(x);
  const mh = hi & 0xfffff;
  const j = (mh + HALF64) >> SHIFT64;
  const r = ((mh - (j << SHIFT64)) * 2 ** -20 + (WORDS[LO] >>> 0) * 2 ** -52) * INV_F[j];
  const l1p = r * (1 + r * (-0.5 + r * (1 / 3 + r * (-0.25 + r * (0.2 + r * (-1 / 6))))));
  return ((hi >> 20) - 1023 + ((j + ADJ_ADD) >> LOG_BITS)) * LN2 + LOG_F[j] + l1p;
}

/** 2⁸ steps per octave: EXP_T[i] = 2^(i/256), i = 0..255 (Math.pow of an exact i/256, within 1 ulp). */
const EXP_BITS = 8;
const EXP_N = 1 << EXP_BITS;
const EXP_T = new Float64Array(EXP_N);
for (let i = 0; i < EXP_N; i++) EXP_T[i] = Math.pow(2, i / EXP_N);
/** 2^−q for q = 0..1022 (exact powers of two, all normal). */
const POW2_NEG = new Float64Array(1023);
for (let q = 0; q < POW2_NEG.length; q++) POW2_NEG[q] = 2 ** -q;
/**
 * 256/ln 2, and ln 2/256 split Cody–Waite style into fdlibm's ln2_hi/256 + ln2_lo/256: ln2_hi has 32 significant
 * bits, so k·STEP_HI is exact for |k| < 2²¹ (here |k| ≤ 746·256/ln 2 < 2¹⁹).
 */
const INV_STEP = EXP_N / Math.LN2;
const STEP_HI = 6.93147180369123816490e-1 / EXP_N;
const STEP_LO = 1.90821492927058770002e-10 / EXP_N;
/** e^−746 < 2⁻¹⁰⁷⁶, which rounds to 0 (as Math.exp gives); below this (and at −∞) the answer is 0. */
const EXP_ZERO = -746;

/**
 * e^d for d ≤ 0 (the softmax's z_c − max z): exactly 1 at d = 0, so the row sum s = Σ e^{z_c − m} is ≥ 1 and
 * maxprob = 1/s ≤ 1 as with `Math.exp`. NaN gives NaN; positive d is outside the contract.
 *
 * k = round(d·256/ln 2), r = d − k·ln 2/256 with |r| ≤ ln 2/512 ≈ 1.35 × 10⁻³ (d − k·STEP_HI is exact by Sterbenz's
 * lemma, so r carries only the rounding of k·STEP_LO), and
 *   e^d = 2^⌊k/256⌋ · 2^((k mod 256)/256) · e^r,
 * e^r by its Taylor series to r⁴: the first omitted term, r⁵/120 ≤ 3.8 × 10⁻¹⁷, is a third of an ulp. The power of
 * two scales exactly while the result is normal (d ≥ −708), so the error is that of T·e^r: two or three ulps.
 * Below, the scaling goes in two steps, 2⁻¹⁰⁰⁰ (exact) and then the rest, so that only the last multiplication
 * rounds, into the subnormal range. No call to Math.exp on any path, so the loop this inlines into has no call.
 */
export function expNonPositive(d: number): number {
  if (d < EXP_ZERO) return 0;
  // Truncation toward zero of x − ½ for x ≤ 0 is ⌈x − ½⌉: a nearest integer, so |x − k| ≤ ½.
  const k = (d * INV_STEP - 0.5) | 0;
  const r = d - k * STEP_HI - k * STEP_LO;
  const er = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24))));
  const q = -(k >> EXP_BITS);
  const t = EXP_T[k & (EXP_N - 1)] * er;
  return q <= 1022 ? t * POW2_NEG[q] : t * 2 ** -1000 * POW2_NEG[q - 1000];
}
