/**
 * The element types a `.safetensors` header may name (the `dtype` field of each tensor).
 *
 * Readable (decoded to `Float32Array`): `F64` (rounded), `F32`, `F16`, `BF16`.
 * Readable (decoded to `Int32Array`): `I64`, `U64`, `U32` (values must fit in int32),
 * `I32`, `I16`, `U16`, `I8`, `U8`, `BOOL` (bytes must be 0 or 1).
 * Recognised but not decodable: `F8_E5M2`, `F8_E4M3`, `F8_E8M0`, `F6_E2M3`, `F6_E3M2`, `F4`, `C64`
 * (their headers parse, decoding such a tensor throws `SafetensorsFormatError`).
 *
 * @example
 * ```ts
 * const dtype: SafetensorsDtype = 'BF16';
 * ```
 */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'F8_E8M0'
  | 'F6_E2M3'
  | 'F6_E3M2'
  | 'F4'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64'
  | 'C64';

/**
 * The element types {@link writeSafetensors} can write.
 *
 * `F32`, `F16` and `BF16` are written from float data (rounded to nearest, ties to even);
 * `I32` and `I64` from integer data.
 *
 * @example
 * ```ts
 * const dtype: WritableSafetensorsDtype = 'F16';
 * ```
 */
export type WritableSafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

/** Bits per element of every dtype the format defines. */
const DTYPE_BITS: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F6_E2M3: 6,
  F6_E3M2: 6,
  F4: 4,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
  C64: 64,
};

/** The writable dtypes, for membership tests and messages. */
export const WRITABLE_DTYPES: readonly WritableSafetensorsDtype[] = [
  'F32',
  'F16',
  'BF16',
  'I32',
  'I64',
];

/** True when `value` is a dtype name the safetensors format defines. */
export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BITS, value);
}

/** True when `value` is a dtype {@link writeSafetensors} can write. */
export function isWritableDtype(value: unknown): value is WritableSafetensorsDtype {
  return typeof value === 'string' && (WRITABLE_DTYPES as readonly string[]).includes(value);
}

/** Bits per element of `dtype`. */
export function dtypeBits(dtype: SafetensorsDtype): number {
  return DTYPE_BITS[dtype];
}

/** Every dtype name the format defines, for messages. */
export function knownDtypeNames(): string {
  return Object.keys(DTYPE_BITS).join(', ');
}
