// Conversions between float32 and the two 16-bit float formats of safetensors files:
// IEEE 754 binary16 (`F16`: 1 sign, 5 exponent, 10 mantissa bits) and bfloat16
// (`BF16`: the upper 16 bits of a float32). All bit patterns are little-endian u16 values.

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** The number a binary16 bit pattern encodes (exact: every binary16 value is a float32). */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

let float16Table: Float32Array | undefined;

/** A table of all 65536 binary16 values, built on first use (256 KiB). */
export function float16Table65536(): Float32Array {
  if (float16Table === undefined) {
    const table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = float16BitsToNumber(bits);
    float16Table = table;
  }
  return float16Table;
}

/**
 * The binary16 bit pattern nearest to `value` (first rounded to float32), ties to even.
 * Values too large for binary16 become ±Infinity (the caller decides whether that is an error);
 * NaN becomes a quiet NaN.
 */
export function numberToFloat16Bits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Result is subnormal (or zero): value = significand × 2^(exponent − 150), and the
    // binary16 subnormal unit is 2^−24, so shift the 24-bit significand right by 14 − halfExponent.
    if (halfExponent < -10) return sign; // below half of the smallest subnormal
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let halfMantissa = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1)) halfMantissa++;
    return sign | halfMantissa; // a carry to 0x400 is exactly the smallest normal
  }
  let result = sign | (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (result & 1) === 1)) result++; // may carry to Infinity
  return result;
}

/** The number a bfloat16 bit pattern encodes (exact). */
export function bfloat16BitsToNumber(bits: number): number {
  scratchBits[0] = (bits & 0xffff) << 16;
  return scratchFloat[0]!;
}

/**
 * The bfloat16 bit pattern nearest to `value` (first rounded to float32), ties to even.
 * Finite values past the bfloat16 range become ±Infinity; NaN becomes a quiet NaN.
 */
export function numberToBfloat16Bits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return ((bits >>> 16) & 0x8000) | 0x7fc0;
  }
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}
