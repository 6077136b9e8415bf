export type { IoiBatch, IoiTokenizer } from './ioi/ioi-batch.js';
export { buildIoiBatch, groupIoiPromptsByLength, ioiPromptTokens } from './ioi/ioi-batch.js';
export type {
  EvaluateSplitsOptions,
  IoiEvaluation,
  IoiScore,
  LastPositionLogits,
} from './ioi/ioi-evaluation.js';
export {
  evaluateIoi,
  evaluateIoiSplits,
  IOI_EVALUATION_SEED,
  ioiEvaluationPrompts,
} from './ioi/ioi-evaluation.js';
export type { IoiFilling, IoiOrder, IoiPrompt } from './ioi/ioi-prompt.js';
export { renderIoiPrompt } from './ioi/ioi-prompt.js';
export type { IoiNamePair, IoiSplit, IoiSplitOptions, IoiSplits } from './ioi/ioi-splits.js';
export { createIoiSplits, IOI_SPLIT_SEED, sampleIoiPrompts } from './ioi/ioi-splits.js';
export type { IoiTemplate } from './ioi/ioi-templates.js';
export { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from './ioi/ioi-templates.js';
export {
  IOI_OBJECTS,
  IOI_PLACES,
  IOI_TRAINING_NAMES,
  IOI_UNSEEN_NAMES,
} from './ioi/ioi-vocabulary.js';
export { SeededRandom } from './ioi/seeded-random.js';
