import { useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  isWasmTransposedMatMulRegistered,
  registerWasmTransposedMatMul,
} from './wasm-transposed-matmul.js';

/** [batch, rows, columns] values as nested arrays, from a plain formula. */
function values(batch: number, rows: number, columns: number, salt: number): number[][][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: rows }, (_, r) =>
      Array.from({ length: columns }, (_, c) => Math.sin(salt + 7 * b + 3 * r + c)),
    ),
  );
}

/** Plain-loop product of op(a) and op(b) per batch entry. */
function reference(
  a: number[][][],
  b: number[][][],
  transposeA: boolean,
  transposeB: boolean,
): number[][][] {
  return a.map((matrixA, index) => {
    const matrixB = b[index]!;
    const left = transposeA ? matrixA[0]!.map((_, c) => matrixA.map((row) => row[c]!)) : matrixA;
    const right = transposeB ? matrixB[0]!.map((_, c) => matrixB.map((row) => row[c]!)) : matrixB;
    return left.map((row) =>
      right[0]!.map((_, column) =>
        row.reduce((sum, value, k) => sum + value * right[k]![column]!, 0),
      ),
    );
  });
}

describe('registerWasmTransposedMatMul (on wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    registerWasmTransposedMatMul();
    registerWasmTransposedMatMul(); // a second call keeps the one wrapper
  });

  it('is installed', () => {
    expect(isWasmTransposedMatMulRegistered()).toBe(true);
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('multiplies with transposeA=%s transposeB=%s like a plain loop', (transposeA, transposeB) => {
    const [m, k, n] = [3, 5, 4];
    const aValues = values(2, transposeA ? k : m, transposeA ? m : k, 1);
    const bValues = values(2, transposeB ? n : k, transposeB ? k : n, 2);
    const before = tf.memory().numTensors;
    const product = tf.tidy(() =>
      tf.matMul(tf.tensor3d(aValues), tf.tensor3d(bValues), transposeA, transposeB),
    );
    const expected = reference(aValues, bValues, transposeA, transposeB);
    expect(product.shape).toEqual([2, m, n]);
    const actual = product.arraySync() as number[][][];
    actual.flat(2).forEach((value, index) => {
      expect(value).toBeCloseTo(expected.flat(2)[index]!, 5);
    });
    product.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives matMul gradients equal to the plain-loop ones', () => {
    const a = tf.tensor2d(values(1, 3, 2, 3)[0]!);
    const b = tf.tensor2d(values(1, 2, 4, 4)[0]!);
    const [gradientA, gradientB] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.matMul(x, y)),
    )([a, b]);
    // d sum(AB)/dA[i][k] = sum_j B[k][j]; d/dB[k][j] = sum_i A[i][k]
    const aRows = a.arraySync();
    const bRows = b.arraySync();
    const expectedA = aRows.map(() => bRows.map((row) => row.reduce((s, v) => s + v, 0)));
    const expectedB = bRows.map((row, k) => row.map(() => aRows.reduce((s, r) => s + r[k]!, 0)));
    (gradientA!.arraySync() as number[][]).flat().forEach((value, index) => {
      expect(value).toBeCloseTo(expectedA.flat()[index]!, 5);
    });
    (gradientB!.arraySync() as number[][]).flat().forEach((value, index) => {
      expect(value).toBeCloseTo(expectedB.flat()[index]!, 5);
    });
    tf.dispose([a, b, gradientA!, gradientB!]);
  });
});
