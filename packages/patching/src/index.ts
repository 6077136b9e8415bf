export type { ActivationPatchFunction } from './activation-patch-functions.js';
export {
  getActPatchAttnHeadKAllPos,
  getActPatchAttnHeadKByPos,
  getActPatchAttnHeadOutAllPos,
  getActPatchAttnHeadOutByPos,
  getActPatchAttnHeadPatternAllPos,
  getActPatchAttnHeadPatternByPos,
  getActPatchAttnHeadPatternDestSrcPos,
  getActPatchAttnHeadQAllPos,
  getActPatchAttnHeadQByPos,
  getActPatchAttnHeadVAllPos,
  getActPatchAttnHeadVByPos,
  getActPatchAttnOut,
  getActPatchMlpOut,
  getActPatchResidMid,
  getActPatchResidPre,
} from './activation-patch-functions.js';
export type { AttributionPatchOptions, AttributionPatchResult } from './attribution-patch.js';
export { attributionPatch, resolveAttributionKinds } from './attribution-patch.js';
export type {
  DirectPathAllSourcesOptions,
  DirectPathComponent,
  DirectPathOptions,
} from './direct-path-patching.js';
export {
  getActPatchDirectPath,
  getActPatchDirectPathAllSources,
} from './direct-path-patching.js';
export type {
  ActivationPatchOptions,
  GenericActivationPatchOptions,
  PatchResultWithIndexTable,
} from './generic-activation-patch.js';
export { genericActivationPatch } from './generic-activation-patch.js';
export type { IndexAxisName } from './index-axes.js';
export { INDEX_AXIS_NAMES } from './index-axes.js';
export { makeIndexTable } from './index-table.js';
export type {
  ArrowExportOptions,
  PatchResultInit,
  PatchResultJson,
  PatchTableOptions,
} from './patch-result.js';
export {
  PatchResult,
  patchResultsTable,
  patchResultsToArrow,
  patchResultsToCSV,
} from './patch-result.js';
export type { PatchRun, PatchRunJson } from './patch-run-json.js';
export { patchRunJson } from './patch-run-json.js';
export type {
  CoordinatePatchSetter,
  PatchSetter,
  PatchSetterFunction,
} from './patch-setters.js';
export {
  layerHeadDestSrcPosPatternPatchSetter,
  layerHeadPatternPatchSetter,
  layerHeadPosPatternPatchSetter,
  layerHeadVectorPatchSetter,
  layerPosHeadVectorPatchSetter,
  layerPosPatchSetter,
} from './patch-setters.js';
export type {
  LogitDiffOptions,
  Metric,
  MetricFunction,
  PatchingMetric,
} from './patching-metric.js';
export { logitDiff, normalizedMetric } from './patching-metric.js';
export type { PatchingFunctionName } from './patching-registry.js';
export {
  PATCHING_FUNCTION_NAMES,
  PATCHING_FUNCTIONS,
  resolvePatchingNames,
} from './patching-registry.js';
export type {
  HeadRef,
  PathPatchOptions,
  PathPatchResult,
  ReceiverHead,
} from './path-patching.js';
export { pathPatch } from './path-patching.js';
export type { PreparedPatching } from './prepare-patching.js';
export { evaluateMetric, PATCHED_ACTIVATIONS, preparePatching } from './prepare-patching.js';
export type { SweepOptions } from './run-patch-jobs.js';
export type { StackedPatchFunction } from './stacked-patch-functions.js';
export {
  getActPatchAttnHeadAllPosEvery,
  getActPatchAttnHeadByPosEvery,
  getActPatchBlockEvery,
} from './stacked-patch-functions.js';
export type { StackedSweepName, StackedSweepSpec, SweepName, SweepSpec } from './sweeps.js';
export { STACKED_SWEEPS, SWEEP_NAMES, SWEEPS } from './sweeps.js';
