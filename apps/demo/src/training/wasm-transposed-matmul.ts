import * as tf from '@tensorflow/tfjs-core';

const WRAPPED = Symbol.for('patchlens.demo.wasmTransposedMatMul');

/** The part of the wasm backend object used here. */
interface WasmBackendLike {
  disposeData(dataId: tf.DataId): boolean;
}

type KernelArguments = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

/**
 * True when {@link registerWasmTransposedMatMul} has replaced the wasm `BatchMatMul` kernel.
 *
 * @example
 * ```ts
 * registerWasmTransposedMatMul();
 * isWasmTransposedMatMulRegistered(); // true
 * ```
 */
export function isWasmTransposedMatMulRegistered(): boolean {
  const kernel = tf.getKernel(tf.BatchMatMul, 'wasm') as unknown as
    | Record<symbol, boolean>
    | undefined;
  return kernel?.[WRAPPED] === true;
}

/**
 * Make the wasm backend's `BatchMatMul` transpose its operands explicitly before multiplying.
 *
 * tfjs-backend-wasm 4.22 multiplies 10-30x slower when `transposeA` or `transposeB` is set
 * (measured on [64, 64] x [64, 50257]-sized products: 300-900 ms instead of 30-70 ms), and the
 * gradient of every `matMul` uses those flags. Transposing first with the wasm `Transpose` kernel
 * and then multiplying plainly gives the same products. Does nothing when the backend has no
 * `BatchMatMul` kernel or the wrapper is already installed.
 *
 * @example
 * ```ts
 * await initNodeBackend('wasm');
 * registerWasmTransposedMatMul();
 * tf.matMul(a, b, false, true); // now as fast as tf.matMul(a, tf.transpose(b))
 * ```
 *
 * Limitations: replaces the kernel for the whole process (call it in scripts, not libraries); the
 * transposed copies cost memory the size of the transposed operand for the duration of the call.
 */
export function registerWasmTransposedMatMul(): void {
  const original = tf.getKernel(tf.BatchMatMul, 'wasm');
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (!original || !transpose || isWasmTransposedMatMulRegistered()) return;
  const kernelFunc = ({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo => {
    const transposeA = attrs?.['transposeA'] === true;
    const transposeB = attrs?.['transposeB'] === true;
    if (!transposeA && !transposeB) {
      return original.kernelFunc({
        inputs,
        backend,
        attrs,
      } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const temporaries: tf.TensorInfo[] = [];
    const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
      const rank = x.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2]; // [..., n, m]
      const swapped = transpose.kernelFunc({
        inputs: { x },
        backend,
        attrs: { perm },
      } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      temporaries.push(swapped);
      return swapped;
    };
    const a = transposeA ? swapLastTwo(inputs['a'] as tf.TensorInfo) : inputs['a'];
    const b = transposeB ? swapLastTwo(inputs['b'] as tf.TensorInfo) : inputs['b'];
    try {
      return original.kernelFunc({
        inputs: { ...inputs, a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    } finally {
      for (const temporary of temporaries) {
        (backend as WasmBackendLike).disposeData(temporary.dataId);
      }
    }
  };
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    [WRAPPED]: true,
  } as tf.KernelConfig);
}
