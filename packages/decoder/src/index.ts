export type { DecoderCheckpointSource, LoadDecoderOptions } from './checkpoint-loading.js';
export { loadDecoder } from './checkpoint-loading.js';
export { ConfigFields, pickFamily } from './config-fields.js';
export type {
  DecoderActivationFunction,
  DecoderConfig,
  DecoderConfigInput,
  NormalizationType,
} from './decoder-config.js';
export { createDecoderConfig, keyValueHeads } from './decoder-config.js';
export type { DecoderFamily, FamilyConfig } from './decoder-family.js';
export type { DecoderForwardOptions } from './decoder-forward.js';
export { decoderForward, runDecoder } from './decoder-forward.js';
export { blockHookSuffixes, decoderHookNames } from './decoder-hook-names.js';
export type { DecoderLoadOptions, PlainTensor } from './decoder-model.js';
export { DecoderModel } from './decoder-model.js';
export type {
  DecoderBlockWeights,
  DecoderWeights,
  FusedQKVWeights,
  NormWeights,
  SeparateQKVWeights,
} from './decoder-weights.js';
export { decoderWeightTensors, disposeDecoderWeights } from './decoder-weights.js';
export type { ForwardPlan } from './forward-plan.js';
export { planForward as planDecoderForward } from './forward-plan.js';
export type {
  HuggingFaceTokenizerOptions,
  TokenIds,
  ToTokensOptions,
} from './huggingface-tokenizer.js';
export { HuggingFaceTokenizer } from './huggingface-tokenizer.js';
export type { DecoderProcessOptions } from './process-weights.js';
export { processDecoderWeights } from './process-weights.js';
export { checkModelFits, parameterCount, WASM_MEMORY_BYTES } from './size-limits.js';
export type {
  DecoderWeightRow,
  DecoderWeightSlot,
  ExpectedDecoderTensor,
  WeightTableOptions,
} from './weight-table.js';
export {
  checkDecoderTensorNames,
  decoderWeightsFromTable,
  expectedDecoderTensors,
} from './weight-table.js';
