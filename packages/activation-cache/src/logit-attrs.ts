import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type AnalysisCache, analysisWeightsOf, applyLnToStack } from './apply-ln-to-stack.js';
import type { AxisSlice } from './axis-slice.js';

/**
 * Options of `ActivationCache.logitAttrs`.
 *
 * @example
 * ```ts
 * cache.logitAttrs(stack, answers, wrong, { posSlice: -1 });
 * ```
 */
export interface LogitAttrsOptions {
  /** The position slice already applied to the stack (applied here to the cached scale). */
  readonly posSlice?: AxisSlice;
  /** A batch slice applied to the stack and the cached scale. */
  readonly batchSlice?: AxisSlice;
  /** Whether the stack has a batch axis (default true). */
  readonly hasBatchDim?: boolean;
}

/** Token ids as a list, checked against the vocabulary. */
function tokenList(tokens: number | readonly number[], name: string, dVocab: number): number[] {
  const list = typeof tokens === 'number' ? [tokens] : [...tokens];
  if (list.length === 0 || list.some((t) => !Number.isInteger(t) || t < 0 || t >= dVocab)) {
    throw new InvalidArgumentError(
      `ActivationCache.logitAttrs: ${name} must be a token id or a non-empty array of ids (one per prompt) in 0..${dVocab - 1}, got ${JSON.stringify(tokens)}.`,
    );
  }
  return list;
}

/**
 * TransformerLens `logit_attrs`: each component's direct contribution to the logit of `tokens`
 * (minus that of `incorrectTokens`): the stack centred and divided by the cached
 * `ln_final.hook_scale`, dotted with the unembedding columns `W_U[:, token]`. `b_U` is left out
 * (add `b_U[A] − b_U[B]` to compare the sum with a logit difference). Expects an already
 * position-sliced stack. The caller disposes the result `[components, batch, (pos)]`.
 */
export function logitAttrs(
  cache: AnalysisCache,
  stack: tf.Tensor,
  tokens: number | readonly number[],
  incorrectTokens: number | readonly number[] | undefined,
  options: LogitAttrsOptions = {},
): tf.Tensor {
  const { W_U } = analysisWeightsOf(cache, 'ActivationCache.logitAttrs');
  const dVocab = W_U.shape[1];
  const correct = tokenList(tokens, 'tokens', dVocab);
  const incorrect =
    incorrectTokens === undefined
      ? undefined
      : tokenList(incorrectTokens, 'incorrectTokens', dVocab);
  if (incorrect && incorrect.length !== correct.length) {
    throw new InvalidArgumentError(
      `ActivationCache.logitAttrs: tokens has ${correct.length} ids but incorrectTokens has ${incorrect.length}; give the same number.`,
    );
  }
  const single = typeof tokens === 'number';
  return tf.tidy(() => {
    const columns = (ids: number[]) => tf.transpose(tf.gather(W_U, tf.tensor1d(ids, 'int32'), 1)); // [ids, dModel]
    let directions: tf.Tensor = columns(correct);
    if (incorrect) directions = tf.sub(directions, columns(incorrect));
    const scaled = applyLnToStack(cache, stack, -1, {
      ...(options.posSlice !== undefined ? { posSlice: options.posSlice } : {}),
      ...(options.batchSlice !== undefined ? { batchSlice: options.batchSlice } : {}),
      hasBatchDim: options.hasBatchDim ?? true,
    }); // [components, batch, (pos,) dModel]
    if (!single && scaled.shape[1] !== correct.length) {
      throw new InvalidArgumentError(
        `ActivationCache.logitAttrs: ${correct.length} token ids for a stack with ${scaled.shape[1]} prompts [${scaled.shape}]; give one id for all or one per prompt.`,
      );
    }
    if (single) {
      directions = tf.reshape(directions, [directions.shape[1]!]); // [dModel]
    } else if (scaled.rank === 4) {
      directions = tf.expandDims(directions, 1); // [batch, 1, dModel]: one id per prompt, every position
    }
    return tf.sum(tf.mul(scaled, directions), -1); // [components, batch, (pos)]
  });
}
