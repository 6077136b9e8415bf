export {
  AbortError,
  InvalidArgumentError,
  MetricError,
  PatchLensError,
  SafetensorsFormatError,
  ShapeMismatchError,
  TokenizationError,
  UnknownHookError,
  WeightMappingError,
} from '@patchlens/errors';
export type { HookGradients } from './hook-gradients.js';
export { gradientsAtHooks } from './hook-gradients.js';
export type { BlockHookName, BlockHookSuffix, GlobalHookName, HookName } from './hook-names.js';
export {
  ACT_NAME_KINDS,
  actName,
  BLOCK_HOOK_SUFFIXES,
  closestNames,
  layerOfHook,
  listHookNames,
} from './hook-names.js';
export type {
  AddHookOptions,
  HookContext,
  HookFilter,
  HookFunction,
  HookHandle,
  HookSpec,
} from './hook-registry.js';
export { HookRegistry } from './hook-registry.js';
export type {
  ActivationCacheLike,
  AnalysisWeights,
  ForwardOptions,
  HookedModel,
  ModelCapabilities,
  ModelConfig,
  PastKeyValue,
  RunWithCacheOptions,
  UnembedSelection,
} from './hooked-model.js';
