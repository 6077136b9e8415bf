// The TensorFlow.js conversions, on their own entry so that the main one needs no tensor library
// (`@tensorflow/tfjs-core` is an optional peer dependency, needed only here).
export type { FromTfTensorsOptions } from './tfjs-tensors.js';
export { fromTfTensors, toTfTensor, toTfTensors, writeTfTensors } from './tfjs-tensors.js';
