import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in Node.js…" (advice to
 * install tfjs-node) on its first tensor, once per process: in a test run, once per test file.
 * PatchLens has chosen the backend by then (and `auto` takes tfjs-node when it is installed), so
 * the advice is noise: mark the cpu backend as already used. tfjs-backend-webgpu hands small ops to
 * the cpu backend, so this runs whatever backend was started.
 */
export function quietCpuGreeting(): void {
  if (!tf.findBackendFactory('cpu')) return;
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}
