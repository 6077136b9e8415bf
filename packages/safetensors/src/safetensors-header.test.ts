import { SafetensorsFormatError } from '@patchlens/errors';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsBlob } from './safetensors-reader.js';
import { buildRawSafetensors, float32Bytes } from './test-support/raw-safetensors.js';

/** Reads `bytes` both in memory and as a Blob; both must throw the same SafetensorsFormatError. */
async function formatError(bytes: Uint8Array<ArrayBuffer>): Promise<SafetensorsFormatError> {
  let memoryError: unknown;
  try {
    readSafetensors(bytes);
  } catch (error) {
    memoryError = error;
  }
  expect(memoryError).toBeInstanceOf(SafetensorsFormatError);
  const blobError = await readSafetensorsBlob(new Blob([bytes])).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(blobError).toBeInstanceOf(SafetensorsFormatError);
  expect((blobError as SafetensorsFormatError).tensorName).toBe(
    (memoryError as SafetensorsFormatError).tensorName,
  );
  return memoryError as SafetensorsFormatError;
}

const f32 = (shape: unknown, offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });

describe('files too short for their header', () => {
  it.each([0, 1, 7])('a %i-byte file', async (length) => {
    const error = await formatError(new Uint8Array(length));
    expect(error.message).toContain(`${length} bytes long`);
  });

  it('a header length past the end of the file', async () => {
    const bytes = buildRawSafetensors({}, new Uint8Array(0), { headerLength: 1000n });
    expect((await formatError(bytes)).message).toMatch(
      /header length is 1000 bytes, but the file has only 8 bytes/,
    );
  });

  it.each([
    [100_000_001n, '100000001'],
    [2n ** 40n, '1099511627776'],
    [2n ** 64n - 1n, '18446744073709551615'],
  ])('a huge header length (%s) is refused before allocating', async (length, shown) => {
    const bytes = buildRawSafetensors({}, new Uint8Array(0), { headerLength: length });
    const error = await formatError(bytes);
    expect(error.message).toContain(shown);
    expect(error.message).toContain('100000000-byte limit');
  });
});

describe('headers that are not a JSON object', () => {
  it('invalid UTF-8', async () => {
    const bytes = buildRawSafetensors('{}      ');
    bytes[9] = 0xff;
    expect((await formatError(bytes)).message).toContain('not valid UTF-8');
  });

  it.each(['{not json', '', '{"a": 1,}'])('not JSON: %j', async (text) => {
    expect((await formatError(buildRawSafetensors(text))).message).toContain('not JSON');
  });

  it.each(['[1, 2]', 'null', '42', '"text"'])('not an object: %s', async (text) => {
    expect((await formatError(buildRawSafetensors(text))).message).toMatch(
      /header is .*; it must be a JSON object/,
    );
  });

  it('__metadata__ that is not a string map', async () => {
    expect((await formatError(buildRawSafetensors({ __metadata__: [1] }))).message).toContain(
      '"__metadata__" is an array',
    );
    const error = await formatError(buildRawSafetensors({ __metadata__: { epoch: 3 } }));
    expect(error.message).toContain('"__metadata__" entry "epoch" is 3');
  });
});

describe('bad tensor descriptions name the tensor', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'F32', /is described by "F32"/],
    [
      'an unknown dtype',
      { dtype: 'F33', shape: [1], data_offsets: [0, 4] },
      /dtype "F33", which is not a safetensors dtype/,
    ],
    ['a missing dtype', { shape: [1], data_offsets: [0, 4] }, /dtype undefined/],
    ['a negative shape entry', f32([2, -1], [0, 4]), /entry 1 is -1/],
    ['a fractional shape entry', f32([1.5], [0, 4]), /entry 0 is 1.5/],
    ['a string shape entry', f32(['2'], [0, 4]), /entry 0 is "2"/],
    ['a shape that is not an array', f32(4, [0, 4]), /shape 4; expected an array/],
    ['data_offsets that are not a pair', f32([1], [0, 4, 8]), /data_offsets \[0, 4, 8\]/],
    ['negative data_offsets', f32([1], [-4, 0]), /data_offsets \[-4, 0\]/],
    ['data_offsets ending before they begin', f32([1], [4, 0]), /end before they begin/],
    [
      'a byte length not matching dtype x shape',
      f32([1], [0, 8]),
      /need 4 bytes, but its data_offsets \[0, 8\] span 8/,
    ],
    ['more elements than bytes', f32([3], [0, 8]), /shape \[3\], which need more than the 8 bytes/],
    [
      'a shape whose element count overflows',
      f32([2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1], [0, 8]),
      /need more than the 8 bytes/,
    ],
    ['a huge shape', f32([1e15], [0, 8]), /need more than the 8 bytes/],
  ];
  it.each(cases)('%s', async (_, description, message) => {
    const data = new Uint8Array(16);
    const bytes = buildRawSafetensors({ 'h.0.mlp.W_in': description, ok: f32([2], [8, 16]) }, data);
    // The tensor being checked may be the first or the second described; both must be named.
    const error = await formatError(bytes);
    expect(error.tensorName).toBe('h.0.mlp.W_in');
    expect(error.message).toContain('"h.0.mlp.W_in"');
    expect(error.message).toMatch(message);
  });
});

describe('data_offsets must tile the data section', () => {
  const data = new Uint8Array(16);
  it('overlapping tensors', async () => {
    const error = await formatError(
      buildRawSafetensors(
        { a: f32([2], [0, 8]), b: f32([2], [4, 12]), c: f32([1], [12, 16]) },
        data,
      ),
    );
    expect(error.tensorName).toBe('b');
    expect(error.message).toMatch(
      /"b" has data_offsets \[4, 12\], which overlap "a", which ends at 8/,
    );
  });

  it('a gap between tensors', async () => {
    const error = await formatError(
      buildRawSafetensors({ a: f32([1], [0, 4]), b: f32([2], [8, 16]) }, data),
    );
    expect(error.tensorName).toBe('b');
    expect(error.message).toMatch(/leave a gap after "a"/);
  });

  it('a first tensor not at 0', async () => {
    const error = await formatError(buildRawSafetensors({ a: f32([3], [4, 16]) }, data));
    expect(error.message).toMatch(/leave bytes \[0, 4\) unused/);
  });

  it('offsets past the end of the file', async () => {
    const error = await formatError(
      buildRawSafetensors({ a: f32([2], [0, 8]), b: f32([4], [8, 24]) }, data),
    );
    expect(error.tensorName).toBe('b');
    expect(error.message).toMatch(/past the end of the data section \(16 bytes\)/);
  });

  it('bytes after the last tensor', async () => {
    const error = await formatError(buildRawSafetensors({ a: f32([2], [0, 8]) }, data));
    expect(error.message).toMatch(/8 bytes after the end of the last tensor/);
  });

  it('accepts zero-sized tensors anywhere, and a tensor named __proto__', () => {
    const bytes = buildRawSafetensors(
      JSON.parse(
        '{"__proto__": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "e": {"dtype":"I64","shape":[0,5],"data_offsets":[4,4]}, "f": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
      ),
      float32Bytes([1, 2]),
    );
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(['__proto__', 'e', 'f']);
    expect([...file.tensors.get('__proto__')!.data]).toEqual([1]);
    expect(file.tensors.get('e')!.shape).toEqual([0, 5]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});
