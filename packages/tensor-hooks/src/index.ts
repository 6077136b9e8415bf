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
export type { HookAxisName } from './hook-axes.js';
export { HOOK_AXES, hookAxes, positionAxes, queryPositionAxis } from './hook-axes.js';
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
  ModelWorkerSource,
  PastKeyValue,
  RunWithCacheOptions,
  UnembedSelection,
} from './hooked-model.js';
