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
} from './errors.js';
