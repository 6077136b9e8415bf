import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import { describe, expect, it } from 'vitest';
import {
  readSafetensors,
  readSafetensorsBlob,
  readSafetensorsHeader,
} from './safetensors-reader.js';
import type { SafetensorsFile } from './safetensors-types.js';
import { writeSafetensors } from './safetensors-writer.js';
import {
  buildFile,
  float32Bytes,
  float64Bytes,
  int16Bytes,
  int32Bytes,
  int64Bytes,
  uint16Bytes,
  uint32Bytes,
  uint64Bytes,
} from './test-support/raw-safetensors.js';

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('writeSafetensors -> readSafetensors round trip', () => {
  const values = [0, 1, -2, 0.5, 3.140625, -65504, 1e-3, 7];
  const integers = [0, 1, -1, 2147483647, -2147483648, 42, -7, 1000];

  it.each(['F32', 'F16', 'BF16'] as const)(
    '%s keeps values exactly representable in it',
    (dtype) => {
      const bytes = writeSafetensors({
        x: { dtype, shape: [2, 4], data: new Float32Array(values) },
      });
      const x = readSafetensors(bytes).tensors.get('x')!;
      expect(x.dtype).toBe(dtype);
      expect(x.shape).toEqual([2, 4]);
      expect(x.data).toBeInstanceOf(Float32Array);
      // 1e-3 is not exact in F16/BF16: compare with the precision of the format.
      const tolerance = { F32: 0, F16: 2 ** -11, BF16: 2 ** -8 }[dtype];
      values.forEach((value, index) => {
        const expected = Math.fround(value);
        expect(Math.abs(x.data[index]! - expected)).toBeLessThanOrEqual(
          Math.abs(expected) * tolerance,
        );
      });
    },
  );

  it.each(['I32', 'I64'] as const)('%s keeps int32 values', (dtype) => {
    const bytes = writeSafetensors({ ids: { dtype, shape: [8], data: new Int32Array(integers) } });
    const ids = readSafetensors(bytes).tensors.get('ids')!;
    expect(ids.dtype).toBe(dtype);
    expect(ids.data).toBeInstanceOf(Int32Array);
    expect([...ids.data]).toEqual(integers);
  });

  it('keeps several tensors, metadata, scalars and empty tensors', () => {
    const bytes = writeSafetensors(
      new Map([
        ['scalar', { shape: [], data: [2.5] }],
        ['empty', { shape: [0, 3], data: new Float32Array(0) }],
        [
          'tokens',
          { shape: [1, 3], data: new Int32Array([50256, 464, 3290]), dtype: 'I64' as const },
        ],
        ['h.0.attn.c_attn.weight', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
      ]),
      { metadata: { format: 'np', note: 'ünïcode ✓' } },
    );
    const file = readSafetensors(bytes);
    expect({ ...file.metadata }).toEqual({ format: 'np', note: 'ünïcode ✓' });
    expect([...file.tensors.keys()].sort()).toEqual([
      'empty',
      'h.0.attn.c_attn.weight',
      'scalar',
      'tokens',
    ]);
    expect(file.tensors.get('scalar')).toMatchObject({ shape: [], data: new Float32Array([2.5]) });
    expect(file.tensors.get('empty')).toMatchObject({ shape: [0, 3], data: new Float32Array(0) });
    expect([...file.tensors.get('tokens')!.data]).toEqual([50256, 464, 3290]);
    expect([...file.tensors.get('h.0.attn.c_attn.weight')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('returns copies, not views of the input bytes', () => {
    const bytes = writeSafetensors({ x: { shape: [2], data: new Float32Array([1, 2]) } });
    const x = readSafetensors(bytes).tensors.get('x')!;
    bytes.fill(0);
    expect([...x.data]).toEqual([1, 2]);
  });

  it('reads from an ArrayBuffer and from a misaligned Uint8Array view', () => {
    const bytes = writeSafetensors({ x: { shape: [3], data: new Float32Array([1, 2, 3]) } });
    expect([...readSafetensors(bytes.slice().buffer).tensors.get('x')!.data]).toEqual([1, 2, 3]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...readSafetensors(shifted.subarray(1)).tensors.get('x')!.data]).toEqual([1, 2, 3]);
  });
});

describe('reading every readable dtype (files built by hand)', () => {
  const file = readSafetensors(
    buildFile({
      f64: { dtype: 'F64', shape: [3], bytes: float64Bytes([0.1, -1e300, 2]) },
      f32: { dtype: 'F32', shape: [2], bytes: float32Bytes([1.5, -0]) },
      f16: { dtype: 'F16', shape: [4], bytes: uint16Bytes([0x3c00, 0xc000, 0x0001, 0x7c00]) },
      bf16: { dtype: 'BF16', shape: [3], bytes: uint16Bytes([0x3f80, 0xc000, 0x7fc0]) },
      i64: { dtype: 'I64', shape: [3], bytes: int64Bytes([-2147483648n, 2147483647n, -1n]) },
      u64: { dtype: 'U64', shape: [2], bytes: uint64Bytes([0n, 2147483647n]) },
      i32: { dtype: 'I32', shape: [2], bytes: int32Bytes([-5, 5]) },
      u32: { dtype: 'U32', shape: [2], bytes: uint32Bytes([0, 2147483647]) },
      i16: { dtype: 'I16', shape: [2], bytes: int16Bytes([-32768, 32767]) },
      u16: { dtype: 'U16', shape: [2], bytes: uint16Bytes([0, 65535]) },
      i8: { dtype: 'I8', shape: [3], bytes: new Uint8Array([0x80, 0x7f, 0xff]) },
      u8: { dtype: 'U8', shape: [2], bytes: new Uint8Array([0, 255]) },
      flags: { dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
    }),
  );
  const values = (name: string) => [...file.tensors.get(name)!.data];

  it('converts floats to Float32Array', () => {
    expect(values('f64')).toEqual([Math.fround(0.1), Number.NEGATIVE_INFINITY, 2]);
    expect(values('f32')).toEqual([1.5, -0]);
    expect(values('f16')).toEqual([1, -2, 2 ** -24, Number.POSITIVE_INFINITY]);
    expect(values('bf16').slice(0, 2)).toEqual([1, -2]);
    expect(values('bf16')[2]).toBeNaN();
    for (const name of ['f64', 'f32', 'f16', 'bf16']) {
      expect(file.tensors.get(name)!.data).toBeInstanceOf(Float32Array);
    }
  });

  it('converts integers and bools to Int32Array', () => {
    expect(values('i64')).toEqual([-2147483648, 2147483647, -1]);
    expect(values('u64')).toEqual([0, 2147483647]);
    expect(values('i32')).toEqual([-5, 5]);
    expect(values('u32')).toEqual([0, 2147483647]);
    expect(values('i16')).toEqual([-32768, 32767]);
    expect(values('u16')).toEqual([0, 65535]);
    expect(values('i8')).toEqual([-128, 127, -1]);
    expect(values('u8')).toEqual([0, 255]);
    expect(values('flags')).toEqual([1, 0, 1]);
    for (const name of ['i64', 'u64', 'i32', 'u32', 'i16', 'u16', 'i8', 'u8', 'flags']) {
      expect(file.tensors.get(name)!.data).toBeInstanceOf(Int32Array);
    }
  });

  it('reports the stored dtype', () => {
    expect(file.tensors.get('bf16')!.dtype).toBe('BF16');
    expect(file.tensors.get('flags')!.dtype).toBe('BOOL');
  });
});

describe('values that do not fit', () => {
  const cases: [string, Uint8Array, string][] = [
    ['I64', int64Bytes([1n, 2147483648n]), '2147483648 at flat index 1'],
    ['I64', int64Bytes([-2147483649n]), '-2147483649 at flat index 0'],
    ['I64', int64Bytes([0n, 9223372036854775807n]), '9223372036854775807 at flat index 1'],
    ['U64', uint64Bytes([18446744073709551615n]), '18446744073709551615 at flat index 0'],
    ['U32', uint32Bytes([7, 4294967295]), '4294967295 at flat index 1'],
  ];
  it.each(cases)(
    '%s out of int32 range throws, naming the tensor and value',
    (dtype, bytes, expected) => {
      const count = bytes.length / (dtype === 'U32' ? 4 : 8);
      const error = thrown(() =>
        readSafetensors(buildFile({ ids: { dtype, shape: [count], bytes } })),
      ) as SafetensorsFormatError;
      expect(error).toBeInstanceOf(SafetensorsFormatError);
      expect(error.tensorName).toBe('ids');
      expect(error.message).toContain('"ids"');
      expect(error.message).toContain(expected);
    },
  );

  it('BOOL bytes other than 0 and 1 throw', () => {
    const error = thrown(() =>
      readSafetensors(
        buildFile({ mask: { dtype: 'BOOL', shape: [2], bytes: new Uint8Array([1, 2]) } }),
      ),
    ) as SafetensorsFormatError;
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect(error.message).toMatch(/"mask".*byte 2 at flat index 1/);
  });

  it('8-bit float dtypes parse in the header but throw when decoded', () => {
    const bytes = buildFile({
      q: { dtype: 'F8_E4M3', shape: [2], bytes: new Uint8Array([1, 2]) },
      x: { dtype: 'F32', shape: [1], bytes: float32Bytes([3]) },
    });
    expect(readSafetensorsHeader(bytes).tensors.get('q')?.dtype).toBe('F8_E4M3');
    expect([...readSafetensors(bytes, { tensorNames: ['x'] }).tensors.get('x')!.data]).toEqual([3]);
    const error = thrown(() => readSafetensors(bytes)) as SafetensorsFormatError;
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect(error.tensorName).toBe('q');
    expect(error.message).toContain('F8_E4M3');
  });
});

describe('tensorNames and headers', () => {
  const bytes = writeSafetensors(
    {
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [1], data: new Int32Array([3]) },
      c: { shape: [1], data: new Float32Array([4]) },
    },
    { metadata: { k: 'v' } },
  );

  it('decodes only the named tensors', () => {
    const file = readSafetensors(bytes, { tensorNames: ['c', 'a', 'a'] });
    expect([...file.tensors.keys()].sort()).toEqual(['a', 'c']);
  });

  it('throws InvalidArgumentError for a name the file lacks, listing what it has', () => {
    const error = thrown(() => readSafetensors(bytes, { tensorNames: ['a', 'missing'] })) as Error;
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain('"missing"');
    expect(error.message).toContain('"a"');
  });

  it('reads only the header', () => {
    const header = readSafetensorsHeader(bytes);
    expect({ ...header.metadata }).toEqual({ k: 'v' });
    expect(header.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2], dataOffsets: [0, 8] });
    expect(header.dataStart % 8).toBe(0);
    expect(header.dataStart + header.dataByteLength).toBe(bytes.length);
  });

  it('rejects an input that is not bytes', () => {
    expect(() => readSafetensors('model.safetensors' as unknown as Uint8Array)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('readSafetensorsBlob', () => {
  it('gives the same result as readSafetensors, also for a subset', async () => {
    const bytes = buildFile(
      {
        h: { dtype: 'F16', shape: [2], bytes: uint16Bytes([0x3c00, 0x4000]) },
        ids: { dtype: 'I64', shape: [2], bytes: int64Bytes([5n, -5n]) },
      },
      { format: 'pt' },
    );
    const blob = new Blob([bytes]);
    const expected: SafetensorsFile = readSafetensors(bytes);
    expect(await readSafetensorsBlob(blob)).toEqual(expected);
    const subset = await readSafetensorsBlob(blob, { tensorNames: ['ids'] });
    expect([...subset.tensors.keys()]).toEqual(['ids']);
    expect([...subset.tensors.get('ids')!.data]).toEqual([5, -5]);
  });

  it('throws SafetensorsFormatError for a truncated blob', async () => {
    const bytes = writeSafetensors({ x: { shape: [4], data: new Float32Array(4) } });
    await expect(
      readSafetensorsBlob(new Blob([bytes.subarray(0, bytes.length - 1)])),
    ).rejects.toThrow(SafetensorsFormatError);
  });
});
