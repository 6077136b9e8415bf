import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationCache } from './activation-cache.js';
import { analysisWeightsOf } from './apply-ln-to-stack.js';
import { accumulatedResid } from './residual-stack.js';

/**
 * Options of {@link logitLens}.
 *
 * @example
 * ```ts
 * const options: LogitLensOptions = { tokens: 5335, wrong: 1757, position: -1, topK: 5 };
 * ```
 */
export interface LogitLensOptions {
  /** The answer token id: one for every prompt or one per prompt. */
  readonly tokens: number | readonly number[];
  /** A wrong token id (one, or one per prompt): adds the logit difference per layer. */
  readonly wrong?: number | readonly number[];
  /** The position read (default -1, the last). */
  readonly position?: number;
  /** How many top tokens to list per layer and prompt (default 5). */
  readonly topK?: number;
}

/**
 * One row of the logit lens: the residual stream at one depth read through the final LayerNorm
 * and the unembedding.
 *
 * @example
 * ```ts
 * const row: LogitLensLayer = lens[0]!; row.label; // '0_pre'
 * ```
 */
export interface LogitLensLayer {
  /** `{l}_pre` for the stream entering block l, `final_post` for the last. */
  readonly label: string;
  /** The answer's logit, per prompt. */
  readonly answerLogit: number[];
  /** The answer's rank (0 = the top token), per prompt. */
  readonly answerRank: number[];
  /** Answer logit minus wrong logit, per prompt (only with `wrong`). */
  readonly logitDiff?: number[];
  /** The top-k tokens with their logits, per prompt. */
  readonly top: { token: number; logit: number }[][];
}

function ids(value: number | readonly number[], batch: number, name: string, dVocab: number) {
  const list = typeof value === 'number' ? [value] : [...value];
  if (
    (list.length !== 1 && list.length !== batch) ||
    list.some((t) => !Number.isInteger(t) || t < 0 || t >= dVocab)
  ) {
    throw new InvalidArgumentError(
      `logitLens: ${name} must be one token id in 0..${dVocab - 1} or one per prompt (${batch}), got ${JSON.stringify(value)}.`,
    );
  }
  return Array.from({ length: batch }, (_, b) => list[list.length === 1 ? 0 : b]!);
}

/**
 * The logit lens (nostalgebraist; TransformerLens's `accumulated_resid(apply_ln=True)` then the
 * unembedding): per layer, the residual stream at `position` through the final LayerNorm
 * (recomputed per layer) and `W_U` + `b_U`; the answer's logit and rank and the top-k tokens.
 * The last row (`final_post`) equals the model's logits.
 *
 * @param cache - a cache from `model.runWithCache` (with a batch axis) holding every `resid_pre`
 *   and the last `resid_post`.
 * @throws InvalidArgumentError for token ids outside the vocabulary or a cache without a model.
 * @example
 * ```ts
 * const { logits, cache } = model.runWithCache(tokens);
 * const lens = await logitLens(cache, { tokens: 5335, wrong: 1757 });
 * lens.map((row) => row.logitDiff![0]);
 * ```
 */
export async function logitLens(
  cache: ActivationCache,
  options: LogitLensOptions,
): Promise<LogitLensLayer[]> {
  const { W_U, b_U } = analysisWeightsOf(cache, 'logitLens');
  const dVocab = W_U.shape[1];
  const topK = options.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1 || topK > dVocab) {
    throw new InvalidArgumentError(
      `logitLens: topK must be an integer in 1..${dVocab}, got ${topK}.`,
    );
  }
  if (!cache.hasBatchDim) {
    throw new InvalidArgumentError(
      'logitLens: the cache has no batch axis (removeBatchDim was called); use a cache with one.',
    );
  }
  const batch = cache.get('blocks.0.hook_resid_pre').shape[0]!;
  const answers = ids(options.tokens, batch, 'tokens', dVocab);
  const wrong =
    options.wrong === undefined ? undefined : ids(options.wrong, batch, 'wrong', dVocab);
  const { stack, labels } = accumulatedResid(cache, undefined, {
    applyLn: true,
    posSlice: options.position ?? -1,
  }); // [layers + 1, batch, dModel]
  const logits = tf.tidy(() => {
    const depth = stack.shape[0]!;
    const flat = tf.reshape(stack, [depth * batch, stack.shape[2]!]); // [(layers + 1) * batch, dModel]
    return tf.reshape(tf.add(tf.matMul(flat, W_U), b_U), [depth, batch, dVocab]); // [layers + 1, batch, dVocab]
  });
  stack.dispose();
  const top = tf.tidy(() => tf.topk(logits, topK));
  try {
    const values = await logits.data();
    const topValues = await top.values.data();
    const topIndices = await top.indices.data();
    return labels.map((label, layer) => {
      const answerLogit: number[] = [];
      const answerRank: number[] = [];
      const logitDiff: number[] = [];
      const topTokens: { token: number; logit: number }[][] = [];
      for (let b = 0; b < batch; b++) {
        const base = (layer * batch + b) * dVocab;
        const answer = values[base + answers[b]!]!;
        let rank = 0;
        for (let v = 0; v < dVocab; v++) if (values[base + v]! > answer) rank++;
        answerLogit.push(answer);
        answerRank.push(rank);
        if (wrong) logitDiff.push(answer - values[base + wrong[b]!]!);
        const row: { token: number; logit: number }[] = [];
        for (let k = 0; k < topK; k++) {
          const at = (layer * batch + b) * topK + k;
          row.push({ token: topIndices[at]!, logit: topValues[at]! });
        }
        topTokens.push(row);
      }
      return { label, answerLogit, answerRank, ...(wrong ? { logitDiff } : {}), top: topTokens };
    });
  } finally {
    tf.dispose([logits, top.values, top.indices]);
  }
}
