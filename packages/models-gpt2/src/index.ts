export type {
  GPT2Checkpoint,
  GPT2CheckpointSource,
  GPT2LoadProgress,
  GPT2LoadProgressCallback,
  ReadCheckpointOptions,
} from './checkpoint-reading.js';
export { readGPT2Checkpoint } from './checkpoint-reading.js';
export type {
  GPT2LoadOptions,
  GPT2ModelOptions,
  GPT2PretrainedOptions,
  HuggingFaceTensors,
  PlainTensorData,
} from './gpt2.js';
export { GPT2 } from './gpt2.js';
export type {
  GPT2ActivationFunction,
  GPT2Config,
  GPT2ConfigInput,
  GPT2PresetName,
} from './gpt2-config.js';
export {
  createGPT2Config,
  GPT2_PRESETS,
  gpt2ConfigFromHuggingFace,
  gpt2ConfigToHuggingFace,
} from './gpt2-config.js';
export type { GPT2ForwardOptions } from './gpt2-forward.js';
export { gpt2Forward } from './gpt2-forward.js';
export type { TokenIds, ToTokensOptions } from './gpt2-tokenizer.js';
export { GPT2_BOS_TOKEN_ID, GPT2Tokenizer } from './gpt2-tokenizer.js';
export type { GPT2BlockWeights, GPT2Weights, LayerNormWeights } from './gpt2-weights.js';
export { disposeWeights, transformerLensStateDict, weightTensors } from './gpt2-weights.js';
export type { PretrainedLocation } from './pretrained-names.js';
export { GPT2_PRETRAINED_NAMES, resolvePretrainedName } from './pretrained-names.js';
export type { ProcessWeightsOptions } from './process-weights.js';
export { processWeights } from './process-weights.js';
export type { RandomCheckpointOptions, RandomTensor } from './random-checkpoint.js';
export { randomGPT2Checkpoint, randomGPT2CheckpointFiles } from './random-checkpoint.js';
export type {
  CheckpointNameMap,
  ExpectedTensor,
  ToHuggingFaceOptions,
  WeightSlot,
  WeightTableRow,
} from './weight-mapping.js';
export {
  expectedTensors,
  GPT2_WEIGHT_TABLE,
  matchCheckpointNames,
  toHuggingFaceTensors,
  weightsFromHuggingFace,
} from './weight-mapping.js';
