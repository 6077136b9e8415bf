import { InvalidArgumentError, ShapeMismatchError } from '@patchlens/errors';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from './safetensors-reader.js';
import { type SafetensorsTensorInput, writeSafetensors } from './safetensors-writer.js';
import { concatBytes, float32Bytes } from './test-support/raw-safetensors.js';

/** The 8-byte little-endian length followed by `json` (already padded by the caller). */
function expectedFile(json: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(text.length), true);
  return concatBytes(prefix, text, data);
}

/** Parses a file's header with plain DataView/JSON code (not the package's reader). */
function rawHeader(bytes: Uint8Array): {
  length: number;
  json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
} {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) };
}

describe('byte layout matches the reference implementation', () => {
  // Byte strings from the reference writer's own tests (huggingface/safetensors, tensor.rs).
  it('one F32 tensor', () => {
    const bytes = writeSafetensors({
      'attn.0': { shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(bytes).toEqual(expectedFile(json, float32Bytes([0, 1, 2, 3, 4, 5])));
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const bytes = writeSafetensors({
      attn0: { shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    expect(json.length).toBe(72);
    expect(bytes).toEqual(expectedFile(json, float32Bytes([0, 1, 2, 3, 4, 5])));
  });

  it('an empty file, with and without metadata', () => {
    expect(writeSafetensors({})).toEqual(expectedFile('{}      '));
    expect(writeSafetensors({}, { metadata: { framework: 'pt' } })).toEqual(
      expectedFile('{"__metadata__":{"framework":"pt"}}     '),
    );
  });
});

describe('layout', () => {
  const tensors: Record<string, SafetensorsTensorInput> = {
    b16: { dtype: 'F16', shape: [3], data: [1, 2, 3] },
    a32: { shape: [1], data: new Float32Array([1]) },
    z64: { dtype: 'I64', shape: [1], data: new Int32Array([1]) },
    a16: { dtype: 'BF16', shape: [1], data: [1] },
    c32: { shape: [2], data: new Int32Array([1, 2]) },
  };
  const bytes = writeSafetensors(tensors);
  const { length, json } = rawHeader(bytes);

  it('orders tensors by element size (largest first), then name, contiguously', () => {
    const order = Object.entries(json).sort(
      ([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0],
    );
    expect(order.map(([name]) => name)).toEqual(['z64', 'a32', 'c32', 'a16', 'b16']);
    let end = 0;
    for (const [, info] of order) {
      expect(info.data_offsets[0]).toBe(end);
      end = info.data_offsets[1];
    }
    expect(8 + length + end).toBe(bytes.length);
  });

  it('aligns every tensor to its element size', () => {
    expect(length % 8).toBe(0);
    const sizes: Record<string, number> = { I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2 };
    for (const info of Object.values(json))
      expect(info.data_offsets[0] % sizes[info.dtype]!).toBe(0);
  });

  it('stores the default dtypes: F32 for floats and arrays, I32 for Int32Array', () => {
    expect(json['a32']!.dtype).toBe('F32');
    expect(json['c32']!.dtype).toBe('I32');
  });

  it('writes I64 as sign-extended little-endian words, from number[] beyond int32 too', () => {
    const file = writeSafetensors({
      ids: { dtype: 'I64', shape: [4], data: [-1, 2 ** 40, -(2 ** 40) - 3, 2 ** 53] },
    });
    const start = 8 + rawHeader(file).length;
    const view = new DataView(file.buffer, start);
    expect([0, 1, 2, 3].map((index) => view.getBigInt64(index * 8, true))).toEqual([
      -1n,
      2n ** 40n,
      -(2n ** 40n) - 3n,
      2n ** 53n,
    ]);
  });

  it('writes F16 infinities and NaN as given', () => {
    const file = writeSafetensors({
      x: {
        dtype: 'F16',
        shape: [3],
        data: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN],
      },
    });
    const data = readSafetensors(file).tensors.get('x')!.data;
    expect([data[0], data[1]]).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(data[2]).toBeNaN();
  });
});

describe('invalid input', () => {
  const write = (tensors: unknown, metadata?: unknown) => () =>
    writeSafetensors(tensors as Record<string, SafetensorsTensorInput>, {
      metadata: metadata as Record<string, string>,
    });

  it('data length not matching the shape', () => {
    const error = (() => {
      try {
        write({ x: { shape: [2, 3], data: new Float32Array(5) } })();
      } catch (caught) {
        return caught as ShapeMismatchError;
      }
    })();
    expect(error).toBeInstanceOf(ShapeMismatchError);
    expect(error?.expected).toEqual([6]);
    expect(error?.actual).toEqual([5]);
    expect(error?.message).toContain('"x"');
  });

  it.each([
    [
      'a negative shape entry',
      { x: { shape: [-1], data: [] } },
      /shape entries must be non-negative integers/,
    ],
    ['a missing shape', { x: { data: [1] } }, /shape undefined/],
    [
      'data of the wrong kind',
      { x: { shape: [1], data: new Float64Array(1) } },
      /data a Float64Array/,
    ],
    [
      'a dtype the writer cannot store',
      { x: { shape: [1], data: [1], dtype: 'U8' } },
      /dtype "U8"; the writer stores F32, F16, BF16, I32, I64/,
    ],
    [
      'a non-integer for I32',
      { x: { shape: [2], data: [1, 1.5], dtype: 'I32' } },
      /1.5 at flat index 1/,
    ],
    [
      'an int32 overflow',
      { x: { shape: [1], data: [2 ** 31], dtype: 'I32' } },
      /2147483648 at flat index 0/,
    ],
    [
      'an int64 overflow',
      { x: { shape: [1], data: [2 ** 63], dtype: 'I64' } },
      /9223372036854776000 at flat index 0/,
    ],
    [
      'an F16 overflow',
      { x: { shape: [2], data: [1, 70000], dtype: 'F16' } },
      /70000 at flat index 1, outside the finite range of F16/,
    ],
    [
      'a non-number value',
      { x: { shape: [1], data: ['1'] } },
      /has "1" at flat index 0 of its data; expected numbers/,
    ],
    ['a reserved name', { __metadata__: { shape: [1], data: [1] } }, /"__metadata__" is reserved/],
    ['a tensor that is not an object', { x: 3 }, /"x" is 3/],
  ])('%s', (_, tensors, message) => {
    expect(write(tensors)).toThrow(InvalidArgumentError);
    expect(write(tensors)).toThrow(message);
  });

  it('metadata values that are not strings', () => {
    expect(write({}, { epoch: 3 })).toThrow(/options.metadata\["epoch"\] is 3/);
    expect(write({}, 'text')).toThrow(InvalidArgumentError);
  });
});
