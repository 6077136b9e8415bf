// Run by webgpu-node.test.ts in a child process (Dawn needs its environment at process start):
//   node --import tsx --conditions=source webgpu-child.ts ops|throw
// `ops`: auto's choice, then webgpu by name: the adapter, a matmul and a softmax, tensor counts,
// and whether the device is destroyed when the script ends. `throw`: an uncaught error after wasm starts.
import * as tf from '@tensorflow/tfjs-core';
import { activeWebGPUAdapter } from '../index.js';
import { initNodeBackend } from '../node.js';

const mode = process.argv[2];
if (mode === 'throw') {
  await initNodeBackend('wasm');
  throw new Error('the user script failed here');
}

const auto = await initNodeBackend('auto');
const backend = await initNodeBackend('webgpu');
const adapter = activeWebGPUAdapter();
const before = tf.memory().numTensors;
const a = [1.5, -2, 0.25, 3, 4, -1]; // [2, 3]
const b = [2, 0.5, -1, 1, 0, -3]; // [3, 2]
const [matMul, softmax] = tf.tidy(() => {
  const product = tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])); // [2, 2]
  return [product, tf.softmax(product)];
});
const result = {
  matMul: Array.from(await matMul!.data()),
  softmax: Array.from(await softmax!.data()),
};
tf.dispose([matMul!, softmax!]);
const leaked = tf.memory().numTensors - before;
const device = (tf.backend() as unknown as { device: { lost: Promise<{ reason: string }> } })
  .device;
void device.lost.then((info) => console.log(`device lost: ${info.reason}`));
console.log(JSON.stringify({ auto, backend, adapter, result, leaked }));
