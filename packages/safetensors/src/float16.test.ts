import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToNumber,
  float16BitsToNumber,
  float16Table65536,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from './float16.js';

// Expected values are worked out by hand from the bit layouts:
// binary16 = sign | 5-bit exponent (bias 15) | 10-bit mantissa; bfloat16 = upper half of float32.
const float16Cases: [number, number][] = [
  [0x0000, 0],
  [0x3c00, 1], // exponent 15 -> 2^0
  [0xbc00, -1],
  [0xc000, -2], // sign, exponent 16
  [0x3800, 0.5],
  [0x3555, 0.333251953125], // (1 + 341/1024) * 2^-2
  [0x4248, 3.140625], // (1 + 584/1024) * 2^1
  [0x7bff, 65504], // (1 + 1023/1024) * 2^15, the largest finite value
  [0x0400, 2 ** -14], // smallest normal
  [0x03ff, 1023 * 2 ** -24], // largest subnormal
  [0x0001, 2 ** -24], // smallest subnormal, 5.960464477539063e-8
  [0x8001, -(2 ** -24)],
  [0x7c00, Number.POSITIVE_INFINITY],
  [0xfc00, Number.NEGATIVE_INFINITY],
];

describe('binary16 (F16)', () => {
  it.each(float16Cases)('decodes 0x%s', (bits, expected) => {
    expect(float16BitsToNumber(bits)).toBe(expected);
    expect(float16Table65536()[bits]).toBe(expected);
  });

  it('decodes negative zero and NaN', () => {
    expect(Object.is(float16BitsToNumber(0x8000), -0)).toBe(true);
    expect(float16BitsToNumber(0x7e00)).toBeNaN();
    expect(float16BitsToNumber(0xfc01)).toBeNaN();
  });

  it.each(float16Cases)('encodes back to 0x%s', (bits, value) => {
    expect(numberToFloat16Bits(value)).toBe(bits);
  });

  it('rounds to nearest, ties to even', () => {
    expect(numberToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 .. 1+2^-10 -> even (1)
    expect(numberToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01 .. 0x3c02 -> even
    expect(numberToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above halfway
    expect(numberToFloat16Bits(65519)).toBe(0x7bff); // below halfway to 2^16
    expect(numberToFloat16Bits(65520)).toBe(0x7c00); // halfway, ties away to Infinity (even)
    expect(numberToFloat16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal -> even (0)
    expect(numberToFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(numberToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units -> even (2)
    expect(numberToFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // carries into the smallest normal
    expect(numberToFloat16Bits(2 ** -30)).toBe(0x0000);
    expect(numberToFloat16Bits(-(2 ** -30))).toBe(0x8000);
    expect(numberToFloat16Bits(-0)).toBe(0x8000);
    expect(numberToFloat16Bits(1e6)).toBe(0x7c00);
    const nan = numberToFloat16Bits(Number.NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it('round-trips every non-NaN bit pattern (exhaustive)', () => {
    let mismatches = 0;
    for (let bits = 0; bits < 65536; bits++) {
      const isNotANumber = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (!isNotANumber && numberToFloat16Bits(float16BitsToNumber(bits)) !== bits) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('decodes monotonically over positive patterns', () => {
    let violations = 0;
    for (let bits = 1; bits < 0x7c00; bits++) {
      if (!(float16BitsToNumber(bits) > float16BitsToNumber(bits - 1))) violations++;
    }
    expect(violations).toBe(0);
  });
});

const bfloat16Cases: [number, number][] = [
  [0x0000, 0],
  [0x3f80, 1], // float32 0x3f800000
  [0xc000, -2], // float32 0xc0000000
  [0x4049, 3.140625], // float32 0x40490000
  [0x3f00, 0.5],
  [0x7f7f, 3.3895313892515355e38], // largest finite: (2 - 2^-7) * 2^127
  [0x0080, 2 ** -126], // smallest normal
  [0x0001, 2 ** -133], // smallest subnormal
  [0x7f80, Number.POSITIVE_INFINITY],
  [0xff80, Number.NEGATIVE_INFINITY],
];

describe('bfloat16 (BF16)', () => {
  it.each(bfloat16Cases)('decodes 0x%s', (bits, expected) => {
    expect(bfloat16BitsToNumber(bits)).toBe(expected);
  });

  it('decodes negative zero and NaN', () => {
    expect(Object.is(bfloat16BitsToNumber(0x8000), -0)).toBe(true);
    expect(bfloat16BitsToNumber(0x7fc0)).toBeNaN();
  });

  it.each(bfloat16Cases)('encodes back to 0x%s', (bits, value) => {
    expect(numberToBfloat16Bits(value)).toBe(bits);
  });

  it('keeps the upper 16 bits, rounding ties to even', () => {
    expect(numberToBfloat16Bits(Math.PI)).toBe(0x4049); // float32 0x40490fdb, lower half < 0x8000
    expect(numberToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // float32 0x3f808000, tie -> even
    expect(numberToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // float32 0x3f818000, tie -> even
    expect(numberToBfloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(numberToBfloat16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest finite
    const nan = numberToBfloat16Bits(Number.NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });
});
