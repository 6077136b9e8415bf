import {
  type ForwardOptions,
  InvalidArgumentError,
  type PastKeyValue,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, keyValueHeads } from './decoder-config.js';

/** Backends whose tensors live in host memory, where reading token ids back costs nothing. */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/** What a validated call will do. */
export interface ForwardPlan {
  readonly batch: number;
  /** Positions computed (the input's length): all, or those from `startPosition` on. */
  readonly positions: number;
  /** The first computed position (`startAtPosition`, default 0); earlier ones come from `pastKeyValues`. */
  readonly startPosition: number;
  /** Keys/values of positions before `startPosition` per block index (checked), when it is > 0. */
  readonly pastKeyValues: readonly (PastKeyValue | undefined)[] | undefined;
  readonly startAtLayer: number;
  /** Exclusive end block; return the residual instead of logits when `returnResidual`. */
  readonly stopAtLayer: number;
  readonly returnResidual: boolean;
  readonly unembedPositions: number[] | undefined;
  readonly unembedTokens: number[] | undefined;
}

function resolveLayer(where: string, option: string, value: unknown, nLayers: number): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < -nLayers ||
    value > nLayers
  ) {
    throw new InvalidArgumentError(
      `${where}: ${option} is ${JSON.stringify(value)}; accepted: integers ${-nLayers}..${nLayers} (negative counts from the end, nLayers = ${nLayers}).`,
    );
  }
  return value < 0 ? value + nLayers : value;
}

function describeTensor(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape}]`;
  if (Array.isArray(value)) return 'an array (make a tensor: tf.tensor2d(ids, undefined, "int32"))';
  return value === null ? 'null' : typeof value;
}

/**
 * Checks the input and options of a forward pass before any work (so errors leak no tensors).
 * Token ids are read back synchronously to check the vocabulary range.
 */
export function planForward(
  config: DecoderConfig,
  input: unknown,
  options: ForwardOptions,
  where: string,
): ForwardPlan {
  const { nLayers, dModel, nCtx, dVocab } = config;
  const startAtLayer =
    options.startAtLayer === undefined
      ? 0
      : resolveLayer(where, 'startAtLayer', options.startAtLayer, nLayers);
  const stopAtLayer =
    options.stopAtLayer === undefined
      ? nLayers
      : resolveLayer(where, 'stopAtLayer', options.stopAtLayer, nLayers);
  if (stopAtLayer < startAtLayer) {
    throw new InvalidArgumentError(
      `${where}: stopAtLayer (${stopAtLayer}) is before startAtLayer (${startAtLayer}); accepted: stopAtLayer >= startAtLayer.`,
    );
  }
  const returnResidual = options.stopAtLayer !== undefined;
  if (returnResidual && options.unembed !== undefined) {
    throw new InvalidArgumentError(
      `${where}: unembed is given with stopAtLayer; a pass that stops at a layer returns the residual stream and computes no logits. Drop one of them.`,
    );
  }
  if (!(input instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${where}: input is ${describeTensor(input)}; expected a tf.Tensor (int32 tokens [batch, pos], or the residual stream [batch, pos, dModel] with startAtLayer).`,
    );
  }
  if (input.isDisposed) {
    throw new InvalidArgumentError(`${where}: the input tensor has been disposed.`);
  }
  let batch: number;
  let positions: number;
  if (startAtLayer === 0 && options.startAtLayer === undefined) {
    if (input.dtype !== 'int32') {
      throw new InvalidArgumentError(
        `${where}: tokens have dtype ${input.dtype}; expected int32 token ids (tf.tensor2d(ids, [batch, pos], 'int32') or model.toTokens(text)).`,
      );
    }
    if (input.rank !== 2) {
      throw new ShapeMismatchError(
        `${where}: tokens have shape [${input.shape}] (rank ${input.rank}); expected rank 2 [batch, pos]${input.rank === 1 ? ' (add a batch axis: tf.expandDims(tokens, 0))' : ''}.`,
        { expected: [null, null], actual: input.shape },
      );
    }
    [batch, positions] = input.shape as [number, number];
  } else {
    if (input.dtype !== 'float32') {
      throw new InvalidArgumentError(
        `${where}: with startAtLayer the input is the residual stream; got dtype ${input.dtype}, expected float32.`,
      );
    }
    if (input.rank !== 3 || input.shape[2] !== dModel) {
      throw new ShapeMismatchError(
        `${where}: with startAtLayer the input is the residual stream [batch, pos, ${dModel}]; got shape [${input.shape}].`,
        { expected: [null, null, dModel], actual: input.shape },
      );
    }
    [batch, positions] = input.shape as [number, number, number];
  }
  if (batch === 0 || positions === 0) {
    throw new ShapeMismatchError(
      `${where}: the input is empty (shape [${input.shape}]); expected at least one sequence of at least one position.`,
      { expected: [null, null], actual: input.shape },
    );
  }
  const startPosition = checkStartPosition(config, options, where);
  const totalPositions = startPosition + positions;
  if (totalPositions > nCtx) {
    throw new ShapeMismatchError(
      `${where}: the sequence has ${totalPositions} positions${startPosition > 0 ? ` (startAtPosition ${startPosition} + ${positions} computed)` : ''}, more than the model's context of nCtx = ${nCtx} positions (n_positions or max_position_embeddings in config.json); shorten the prompt.`,
      { expected: [batch, nCtx], actual: input.shape },
    );
  }
  const pastKeyValues =
    startPosition > 0
      ? checkPastKeyValues(config, options, where, batch, startPosition, startAtLayer, stopAtLayer)
      : undefined;
  // Reading the ids back is free where tensors live in host memory; on webgl/webgpu it would stall
  // the GPU on every forward pass, so there the range check is skipped (see Limitations).
  if (input.dtype === 'int32' && HOST_MEMORY_BACKENDS.has(tf.getBackend())) {
    const ids = input.dataSync() as Int32Array;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index]!;
      if (id < 0 || id >= dVocab) {
        const row = Math.floor(index / positions);
        throw new InvalidArgumentError(
          `${where}: token id ${id} at [${row}, ${index % positions}] is outside the vocabulary; accepted: 0..${dVocab - 1} (dVocab = ${dVocab}).`,
        );
      }
    }
  }
  let unembedPositions: number[] | undefined;
  let unembedTokens: number[] | undefined;
  const selection = options.unembed;
  if (selection !== undefined) {
    if (typeof selection !== 'object' || selection === null) {
      throw new InvalidArgumentError(
        `${where}: unembed is ${selection === null ? 'null' : typeof selection}; expected { positions?: number[], tokens?: number[] }.`,
      );
    }
    if (selection.positions !== undefined) {
      unembedPositions = checkIndices(
        where,
        'unembed.positions',
        selection.positions,
        totalPositions,
        true,
      ).map((position) => {
        if (position < startPosition) {
          throw new InvalidArgumentError(
            `${where}: unembed.positions contains ${position}, before startAtPosition ${startPosition}; a pass that starts at a position computes no logits for earlier ones. Accepted: ${startPosition}..${totalPositions - 1} (or negative from the end).`,
          );
        }
        return position - startPosition;
      });
    }
    if (selection.tokens !== undefined) {
      unembedTokens = checkIndices(where, 'unembed.tokens', selection.tokens, dVocab, false);
    }
  }
  return {
    batch,
    positions,
    startPosition,
    pastKeyValues,
    startAtLayer,
    stopAtLayer,
    returnResidual,
    unembedPositions,
    unembedTokens,
  };
}

/** `startAtPosition` checked (0 when absent); it needs `startAtLayer`. */
function checkStartPosition(config: DecoderConfig, options: ForwardOptions, where: string): number {
  const value = options.startAtPosition;
  if (value === undefined) {
    if (options.pastKeyValues !== undefined) {
      throw new InvalidArgumentError(
        `${where}: pastKeyValues is given without startAtPosition; pass startAtPosition (the number of positions the keys/values cover) with it, or drop it.`,
      );
    }
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= config.nCtx) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition is ${JSON.stringify(value)}; accepted: integers 0..${config.nCtx - 1} (nCtx = ${config.nCtx}).`,
    );
  }
  if (options.startAtLayer === undefined) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition (${value}) needs startAtLayer: the input must be the residual stream of positions >= ${value} entering that block (position embeddings are added at block 0 from the tokens).`,
    );
  }
  return value;
}

/** `pastKeyValues` checked: an entry `[batch, p, keyValueHeads, dHead]` for every block the pass runs. */
function checkPastKeyValues(
  config: DecoderConfig,
  options: ForwardOptions,
  where: string,
  batch: number,
  startPosition: number,
  startAtLayer: number,
  stopAtLayer: number,
): readonly (PastKeyValue | undefined)[] {
  const past = options.pastKeyValues;
  if (!Array.isArray(past)) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition is ${startPosition} but pastKeyValues is ${past === undefined ? 'missing' : describeTensor(past)}; expected an array indexed by block of { key, value } tensors [batch, ${startPosition}, ${keyValueHeads(config)}, ${config.dHead}] (the keys/values of the earlier positions).`,
    );
  }
  const expected = [batch, startPosition, keyValueHeads(config), config.dHead];
  for (let layer = startAtLayer; layer < stopAtLayer; layer++) {
    const entry = past[layer] as PastKeyValue | undefined;
    if (typeof entry !== 'object' || entry === null) {
      throw new InvalidArgumentError(
        `${where}: pastKeyValues[${layer}] is ${entry === null ? 'null' : typeof entry}; a pass from block ${startAtLayer} to ${stopAtLayer} needs { key, value } for every block it runs.`,
      );
    }
    for (const part of ['key', 'value'] as const) {
      const tensor: unknown = entry[part];
      if (!(tensor instanceof tf.Tensor) || tensor.isDisposed || tensor.dtype !== 'float32') {
        throw new InvalidArgumentError(
          `${where}: pastKeyValues[${layer}].${part} is ${tensor instanceof tf.Tensor && tensor.isDisposed ? 'a disposed tensor' : describeTensor(tensor)}; expected a float32 tensor [${expected}].`,
        );
      }
      if (!tf.util.arraysEqual(tensor.shape, expected)) {
        throw new ShapeMismatchError(
          `${where}: pastKeyValues[${layer}].${part} has shape [${tensor.shape}]; expected [${expected}] ([batch, startAtPosition, keyValueHeads, dHead]).`,
          { expected, actual: tensor.shape },
        );
      }
    }
  }
  return past;
}

function checkIndices(
  where: string,
  option: string,
  values: unknown,
  size: number,
  allowNegative: boolean,
): number[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new InvalidArgumentError(
      `${where}: ${option} must be a non-empty array of integers, got ${Array.isArray(values) ? 'an empty array' : JSON.stringify(values)}.`,
    );
  }
  const low = allowNegative ? -size : 0;
  return values.map((value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value >= size) {
      throw new InvalidArgumentError(
        `${where}: ${option} contains ${JSON.stringify(value)}; accepted: integers ${low}..${size - 1}${allowNegative ? ' (negative counts from the end)' : ''}.`,
      );
    }
    return value < 0 ? value + size : value;
  });
}
