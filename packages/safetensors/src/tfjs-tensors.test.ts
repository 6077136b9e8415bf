import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError, ShapeMismatchError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from './safetensors-reader.js';
import type { SafetensorsTensor } from './safetensors-types.js';
import { writeSafetensors } from './safetensors-writer.js';
import { fromTfTensors, toTfTensor, toTfTensors, writeTfTensors } from './tfjs-tensors.js';

describe.each(TEST_BACKENDS)('tfjs helpers on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  const file = readSafetensors(
    writeSafetensors({
      weight: { shape: [2, 3], data: new Float32Array([1, -2, 3, 0.5, 5, 6]), dtype: 'BF16' },
      ids: { shape: [3], data: new Int32Array([7, -8, 9]), dtype: 'I64' },
      scalar: { shape: [], data: [4.25] },
    }),
  );

  it('toTfTensor keeps shape, dtype and values', async () => {
    const before = tf.memory().numTensors;
    const weight = toTfTensor(file.tensors.get('weight')!);
    const ids = toTfTensor(file.tensors.get('ids')!);
    expect(weight.shape).toEqual([2, 3]);
    expect(weight.dtype).toBe('float32');
    expect([...(await weight.data())]).toEqual([1, -2, 3, 0.5, 5, 6]);
    expect(ids.dtype).toBe('int32');
    expect([...(await ids.data())]).toEqual([7, -8, 9]);
    weight.dispose();
    ids.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('toTfTensors converts a whole file and leaks nothing after disposal', () => {
    const before = tf.memory().numTensors;
    const tensors = toTfTensors(file);
    expect([...tensors.keys()]).toEqual([...file.tensors.keys()]);
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect(tf.memory().numTensors).toBe(before + 3);
    for (const tensor of tensors.values()) tensor.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('toTfTensors leaves nothing allocated when a tensor is invalid', () => {
    const before = tf.memory().numTensors;
    const bad: SafetensorsTensor = { dtype: 'F32', shape: [4], data: new Float32Array(3) };
    const tensors = new Map([...file.tensors, ['bad', bad] as const]);
    expect(() => toTfTensors(tensors)).toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writeTfTensors round-trips values and creates no tensors', async () => {
    const weight = tf.tensor2d([
      [1, 2],
      [3, 4.5],
    ]);
    const ids = tf.tensor1d([5, -6], 'int32');
    const before = tf.memory().numTensors;
    const bytes = await writeTfTensors(
      { weight, ids },
      { metadata: { model: 'test' }, floatDtype: 'F16', integerDtype: 'I64' },
    );
    expect(tf.memory().numTensors).toBe(before);
    const back = readSafetensors(bytes);
    expect(back.metadata['model']).toBe('test');
    expect(back.tensors.get('weight')).toMatchObject({ dtype: 'F16', shape: [2, 2] });
    expect([...back.tensors.get('weight')!.data]).toEqual([1, 2, 3, 4.5]);
    expect(back.tensors.get('ids')).toMatchObject({ dtype: 'I64', shape: [2] });
    expect([...back.tensors.get('ids')!.data]).toEqual([5, -6]);
    expect(weight.isDisposed).toBe(false);
    weight.dispose();
    ids.dispose();
  });

  it('fromTfTensors rejects disposed and non-numeric tensors without leaking', async () => {
    const flags = tf.tensor1d([1, 0], 'bool');
    const gone = tf.scalar(1);
    gone.dispose();
    const before = tf.memory().numTensors;
    await expect(fromTfTensors({ flags })).rejects.toThrow(/dtype bool/);
    await expect(fromTfTensors({ gone })).rejects.toThrow(InvalidArgumentError);
    await expect(fromTfTensors({ x: [1, 2] as unknown as tf.Tensor })).rejects.toThrow(
      /not a tfjs tensor/,
    );
    expect(tf.memory().numTensors).toBe(before);
    flags.dispose();
  });
});
