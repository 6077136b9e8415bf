export type { ActivationArray, ActivationCacheOptions } from './activation-cache.js';
export { ActivationCache } from './activation-cache.js';
export type { AnalysisCache, ApplyLnOptions } from './apply-ln-to-stack.js';
export type { AxisSlice } from './axis-slice.js';
export { captureActivations } from './capture-activations.js';
export type { LogitAttrsOptions } from './logit-attrs.js';
export type { LogitLensLayer, LogitLensOptions } from './logit-lens.js';
export { logitLens } from './logit-lens.js';
export type {
  AccumulatedResidOptions,
  DecomposeResidOptions,
  LabelledStack,
  StackHeadResultsOptions,
} from './residual-stack.js';
