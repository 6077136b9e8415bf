import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { buildIoiBatch, groupIoiPromptsByLength, type IoiTokenizer } from './ioi-batch.js';
import type { IoiPrompt } from './ioi-prompt.js';
import { type IoiSplits, sampleIoiPrompts } from './ioi-splits.js';

/** Logits at the last position, `[batch, dVocab]`, for int32 tokens `[batch, pos]`. */
export type LastPositionLogits = (tokens: tf.Tensor2D) => tf.Tensor2D;

/** Accuracy and logit difference of a set of prompts. */
export interface IoiScore {
  readonly count: number;
  /** Fraction of prompts whose answer logit exceeds the wrong logit. */
  readonly accuracy: number;
  /** Mean of `logit[answer] - logit[wrong]` at the last position. */
  readonly meanLogitDifference: number;
}

/** {@link IoiScore} overall and per template and name order. */
export interface IoiEvaluation extends IoiScore {
  readonly byTemplate: Readonly<Record<string, IoiScore>>;
  readonly byOrder: Readonly<Record<string, IoiScore>>;
  /** `logit[answer] - logit[wrong]` per prompt, in the order of the prompts given. */
  readonly logitDifferences: readonly number[];
}

function score(differences: readonly number[]): IoiScore {
  const count = differences.length;
  const correct = differences.filter((difference) => difference > 0).length;
  const sum = differences.reduce((total, difference) => total + difference, 0);
  return {
    count,
    accuracy: count === 0 ? 0 : correct / count,
    meanLogitDifference: count === 0 ? 0 : sum / count,
  };
}

function scoreBy(
  prompts: readonly IoiPrompt[],
  differences: readonly number[],
  key: (prompt: IoiPrompt) => string,
): Record<string, IoiScore> {
  const groups = new Map<string, number[]>();
  prompts.forEach((prompt, index) => {
    const group = groups.get(key(prompt)) ?? [];
    group.push(differences[index] as number);
    groups.set(key(prompt), group);
  });
  return Object.fromEntries([...groups].sort().map(([name, values]) => [name, score(values)]));
}

/**
 * Score a model on IOI prompts: the answer (indirect object) must out-score the wrong name
 * (subject) at the last position of the clean prompt, over the full vocabulary's logits.
 *
 * @param lastPositionLogits - the model: int32 tokens `[batch, pos]` -> logits `[batch, dVocab]`
 *   at the last position (e.g. `forward(tokens, { unembed: { positions: [-1] } })` reshaped).
 * @param prompts - the prompts (any templates: they are grouped by token length).
 * @param tokenizer - GPT-2's tokenizer (BOS prepended).
 * @param options.batchSize - prompts per forward pass; default 64.
 * @returns overall, per-template and per-order accuracy and mean logit difference.
 * @throws InvalidArgumentError when batchSize is not a positive integer or the model returns
 *   logits of another batch size.
 * @example
 * ```ts
 * const result = evaluateIoi(
 *   (tokens) => tf.squeeze(model.forward(tokens, { unembed: { positions: [-1] } }), [1]),
 *   sampleIoiPrompts(createIoiSplits().heldOut, 500, 1),
 *   model.tokenizer,
 * );
 * console.log(result.accuracy, result.meanLogitDifference);
 * ```
 */
export function evaluateIoi(
  lastPositionLogits: LastPositionLogits,
  prompts: readonly IoiPrompt[],
  tokenizer: IoiTokenizer,
  options: { readonly batchSize?: number } = {},
): IoiEvaluation {
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(
      `evaluateIoi: options.batchSize must be a positive integer; received ${batchSize}.`,
    );
  }
  const differenceOf = new Map<IoiPrompt, number>();
  for (const group of groupIoiPromptsByLength(prompts, tokenizer)) {
    for (let start = 0; start < group.prompts.length; start += batchSize) {
      const batch = buildIoiBatch(group.prompts.slice(start, start + batchSize), tokenizer);
      const rows = batch.clean.length;
      const differences = tf.tidy(() => {
        const tokens = tf.tensor2d(batch.clean.flat(), [rows, group.length], 'int32');
        const logits = lastPositionLogits(tokens); // [batch, dVocab]
        if (logits.shape[0] !== rows) {
          throw new InvalidArgumentError(
            `evaluateIoi: the model returned logits of shape [${logits.shape.join(', ')}] for ${rows} prompts; expected [${rows}, dVocab].`,
          );
        }
        const rowIds = batch.answerTokens.map((_, row) => row);
        const answer = tf.gatherND(
          logits,
          rowIds.map((row) => [row, batch.answerTokens[row]!]),
        );
        const wrong = tf.gatherND(
          logits,
          rowIds.map((row) => [row, batch.wrongTokens[row]!]),
        );
        return tf.sub(answer, wrong); // [batch]
      });
      const values = differences.dataSync();
      differences.dispose();
      batch.prompts.forEach((prompt, row) => {
        differenceOf.set(prompt, values[row] as number);
      });
    }
  }
  const logitDifferences = prompts.map((prompt) => differenceOf.get(prompt) as number);
  return {
    ...score(logitDifferences),
    byTemplate: scoreBy(prompts, logitDifferences, (prompt) => prompt.templateId),
    byOrder: scoreBy(prompts, logitDifferences, (prompt) => prompt.order),
    logitDifferences,
  };
}

/** The seed of the evaluation prompts in the bundled model's card and quality test. */
export const IOI_EVALUATION_SEED = 12345;

const SPLIT_ORDER: readonly (keyof IoiSplits)[] = [
  'train',
  'heldOut',
  'heldOutTemplates',
  'heldOutPairs',
  'unseenNames',
  'mixedNames',
  'unseenNamesTrainingTemplates',
];

/**
 * The evaluation prompts of one split, as the bundled model's card and quality test use them:
 * `count` prompts sampled with seed `seed + i`, i being the split's place in train, heldOut,
 * heldOutTemplates, heldOutPairs, unseenNames, mixedNames, unseenNamesTrainingTemplates.
 *
 * @param splits - from `createIoiSplits()`.
 * @param name - the split.
 * @param count - default 1000.
 * @param seed - default {@link IOI_EVALUATION_SEED}.
 * @example
 * ```ts
 * const prompts = ioiEvaluationPrompts(createIoiSplits(), 'heldOut');
 * ```
 */
export function ioiEvaluationPrompts(
  splits: IoiSplits,
  name: keyof IoiSplits,
  count = 1000,
  seed = IOI_EVALUATION_SEED,
): IoiPrompt[] {
  return sampleIoiPrompts(splits[name], count, seed + SPLIT_ORDER.indexOf(name));
}

/** Options of {@link evaluateIoiSplits}. */
export interface EvaluateSplitsOptions {
  /** Prompts per split; default 1000. */
  readonly count?: number;
  /** Seed of the prompts (see {@link ioiEvaluationPrompts}); default {@link IOI_EVALUATION_SEED}. */
  readonly seed?: number;
  /** Prompts per forward pass; default 64. */
  readonly batchSize?: number;
}

/**
 * {@link evaluateIoi} on the {@link ioiEvaluationPrompts} of every split of {@link IoiSplits}.
 *
 * @param lastPositionLogits - the model (see {@link LastPositionLogits}).
 * @param splits - from `createIoiSplits()`.
 * @param tokenizer - GPT-2's tokenizer.
 * @param options - count (1000), seed ({@link IOI_EVALUATION_SEED}), batchSize (64).
 * @returns one evaluation per split name.
 * @example
 * ```ts
 * const results = evaluateIoiSplits(logitsOf(model), createIoiSplits(), model.tokenizer);
 * results.heldOut.accuracy;
 * ```
 */
export function evaluateIoiSplits(
  lastPositionLogits: LastPositionLogits,
  splits: IoiSplits,
  tokenizer: IoiTokenizer,
  options: EvaluateSplitsOptions = {},
): Record<keyof IoiSplits, IoiEvaluation> {
  const { count = 1000, seed = IOI_EVALUATION_SEED, batchSize = 64 } = options;
  const entries = SPLIT_ORDER.map((name) => {
    const prompts = ioiEvaluationPrompts(splits, name, count, seed);
    return [name, evaluateIoi(lastPositionLogits, prompts, tokenizer, { batchSize })] as const;
  });
  return Object.fromEntries(entries) as Record<keyof IoiSplits, IoiEvaluation>;
}
