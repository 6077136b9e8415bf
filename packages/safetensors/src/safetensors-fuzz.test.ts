import { SafetensorsFormatError } from '@patchlens/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsBlob } from './safetensors-reader.js';
import type { SafetensorsFile } from './safetensors-types.js';
import { writeSafetensors } from './safetensors-writer.js';
import {
  buildFile,
  buildRawSafetensors,
  float64Bytes,
  int16Bytes,
  uint32Bytes,
} from './test-support/raw-safetensors.js';

// Valid seed files covering every decoding path; the fuzzer mutates them.
const seeds: Uint8Array<ArrayBuffer>[] = [
  writeSafetensors(
    {
      weight: { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-3, 7]) },
      half: { dtype: 'F16', shape: [3], data: [1, -2, 0.5] },
      brain: { dtype: 'BF16', shape: [2, 1], data: [3, -4] },
      ids: { dtype: 'I64', shape: [2], data: new Int32Array([50256, -1]) },
      count: { shape: [], data: new Int32Array([9]) },
    },
    { metadata: { format: 'pt', note: 'seed' } },
  ),
  buildFile({
    mask: { dtype: 'BOOL', shape: [4], bytes: new Uint8Array([0, 1, 1, 0]) },
    bytes: { dtype: 'U8', shape: [2, 2], bytes: new Uint8Array([0, 9, 200, 255]) },
    short: { dtype: 'I16', shape: [2], bytes: int16Bytes([-3, 300]) },
    wide: { dtype: 'U32', shape: [1], bytes: uint32Bytes([70000]) },
    double: { dtype: 'F64', shape: [2], bytes: float64Bytes([0.25, -8]) },
  }),
  writeSafetensors({ empty: { shape: [0, 4], data: [] }, one: { shape: [1], data: [1] } }),
];

function bytesOf(data: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Either a consistent file or a SafetensorsFormatError, and the same from the Blob reader. */
async function checkReaders(bytes: Uint8Array<ArrayBuffer>): Promise<'parsed' | 'rejected'> {
  let file: SafetensorsFile | undefined;
  let error: unknown;
  try {
    file = readSafetensors(bytes);
  } catch (caught) {
    error = caught;
  }
  let blobFile: SafetensorsFile | undefined;
  let blobError: unknown;
  try {
    blobFile = await readSafetensorsBlob(new Blob([bytes]));
  } catch (caught) {
    blobError = caught;
  }
  if (file === undefined) {
    if (!(error instanceof SafetensorsFormatError)) throw error;
    expect(blobError).toBeInstanceOf(SafetensorsFormatError);
    outcomes.rejected++;
    return 'rejected';
  }
  if (blobError !== undefined) throw blobError;
  for (const [name, tensor] of file.tensors) {
    const elements = tensor.shape.reduce((product, size) => product * size, 1);
    expect(tensor.data.length).toBe(elements);
    const isFloat = ['F64', 'F32', 'F16', 'BF16'].includes(tensor.dtype);
    expect(tensor.data).toBeInstanceOf(isFloat ? Float32Array : Int32Array);
    const other = blobFile!.tensors.get(name)!;
    expect(other.shape).toEqual(tensor.shape);
    expect(bytesOf(other.data)).toEqual(bytesOf(tensor.data));
  }
  expect([...blobFile!.tensors.keys()]).toEqual([...file.tensors.keys()]);
  expect({ ...blobFile!.metadata }).toEqual({ ...file.metadata });
  for (const value of Object.values(file.metadata)) expect(typeof value).toBe('string');
  outcomes.parsed++;
  return 'parsed';
}

/** How many inputs each outcome had, so the test can check the fuzzer reaches both. */
const outcomes = { parsed: 0, rejected: 0 };

const seedIndex = fc.nat({ max: seeds.length - 1 });

// Values are cloned where used: a shared [] or {} could otherwise be edited into a cycle.
const strange: fc.Arbitrary<unknown> = fc.constantFrom(
  -1,
  0,
  1,
  2,
  3,
  4,
  8,
  1.5,
  2 ** 31,
  2 ** 53,
  2 ** 64,
  1e300,
  -0,
  '3',
  '',
  null,
  true,
  [],
  {},
  [0],
  [0, 0],
  [0, 4],
  [4, 0],
  [0, 1e20],
  [-1, 3],
  [1, 2, 3],
  [2 ** 53, 2 ** 53],
  'F32',
  'F16',
  'BF16',
  'F64',
  'I64',
  'U64',
  'I32',
  'U32',
  'I16',
  'U16',
  'I8',
  'U8',
  'BOOL',
  'F8_E4M3',
  'F4',
  'F6_E2M3',
  'C64',
  'F33',
  'f32',
);

type Header = Record<string, unknown>;

const headerEdit: fc.Arbitrary<(header: Header) => void> = fc.oneof(
  // Replace one field of one tensor (or the tensor itself, or metadata) with something odd.
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('dtype', 'shape', 'data_offsets', '*', 'extra'),
      strange,
      fc.nat(),
      fc.integer({ min: -3, max: 3 }),
    )
    .map(([pick, field, value, axis, delta]) => (header: Header) => {
      const names = Object.keys(header);
      if (names.length === 0) return;
      const name = names[pick % names.length]!;
      const entry = header[name];
      if (field === '*' || typeof entry !== 'object' || entry === null) {
        header[name] = structuredClone(value);
        return;
      }
      const target = entry as Record<string, unknown>;
      const current = target[field];
      // Half the time nudge a number inside an array instead of replacing the field.
      if (
        Array.isArray(current) &&
        current.length > 0 &&
        typeof value === 'number' &&
        delta !== 0
      ) {
        const copy = [...current];
        copy[axis % copy.length] = (copy[axis % copy.length] as number) + delta;
        target[field] = copy;
      } else {
        target[field] = structuredClone(value);
      }
    }),
  // Delete a tensor or a field.
  fc
    .tuple(fc.nat(), fc.constantFrom('dtype', 'shape', 'data_offsets', '*'))
    .map(([pick, field]) => (header: Header) => {
      const names = Object.keys(header);
      if (names.length === 0) return;
      const name = names[pick % names.length]!;
      const entry = header[name];
      if (field === '*' || typeof entry !== 'object' || entry === null) delete header[name];
      else delete (entry as Record<string, unknown>)[field];
    }),
  // Add a tensor.
  fc
    .tuple(fc.string({ maxLength: 6 }), strange, strange, strange)
    .map(([name, dtype, shape, offsets]) => (header: Header) => {
      header[name] = structuredClone({ dtype, shape, data_offsets: offsets });
    }),
);

function readHeader(bytes: Uint8Array): { header: Header; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Header;
  return { header, data: bytes.subarray(8 + length) };
}

describe('hostile files (property-based)', () => {
  it('byte flips give a consistent file or SafetensorsFormatError', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedIndex,
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (index, flips, inData) => {
          const bytes = seeds[index]!.slice();
          // Half the runs flip only data bytes (values change, the header stays valid).
          const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
          const [from, span] = inData ? [dataStart, bytes.length - dataStart] : [0, bytes.length];
          for (const [position, value] of flips) bytes[from + (position % span)] = value;
          await checkReaders(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('truncated and extended files', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedIndex,
        fc.nat(),
        fc.uint8Array({ maxLength: 16 }),
        async (index, cut, extra) => {
          const seed = seeds[index]!;
          const truncated = seed.subarray(0, cut % seed.length);
          await checkReaders(truncated);
          const extended = new Uint8Array(seed.length + extra.length);
          extended.set(seed);
          extended.set(extra, seed.length);
          await checkReaders(extended);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('header edits (with honest or dishonest length prefixes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedIndex,
        fc.array(headerEdit, { minLength: 1, maxLength: 3 }),
        fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { freq: 4 }),
        fc.boolean(),
        async (index, edits, length, pad) => {
          const { header, data } = readHeader(seeds[index]!);
          for (const edit of edits) edit(header);
          const options = length === null ? { pad } : { pad, headerLength: length };
          await checkReaders(buildRawSafetensors(header, data, options));
        },
      ),
      { numRuns: 4000 },
    );
  });

  it('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        await checkReaders(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('reached both outcomes many times', () => {
    expect(outcomes.parsed).toBeGreaterThan(500);
    expect(outcomes.rejected).toBeGreaterThan(500);
  });
});
