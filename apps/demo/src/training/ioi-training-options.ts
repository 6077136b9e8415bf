import { IOI_SPLIT_SEED } from '../ioi/ioi-splits.js';

/** Hyper-parameters and seeds of {@link trainIoiModel}. */
export interface IoiTrainingOptions {
  /** Transformer blocks. */
  readonly nLayers: number;
  /** Attention heads per block. */
  readonly nHeads: number;
  /** Residual stream width (the tied 50257 x dModel embedding dominates the checkpoint size). */
  readonly dModel: number;
  /** Context length (position embeddings); the longest IOI prompt is 22 tokens with BOS (24 allowed by a test). */
  readonly nCtx: number;
  /** Optimiser steps. */
  readonly steps: number;
  /** Prompts per step. */
  readonly batchSize: number;
  /** Peak learning rate (after warm-up). */
  readonly learningRate: number;
  /** Linear warm-up steps from 0 to the peak learning rate. */
  readonly warmupSteps: number;
  /** The cosine decay ends at this fraction of the peak learning rate. */
  readonly finalLearningRateFraction: number;
  /** AdamW decoupled weight decay of the matrices (`c_attn`, `c_proj`, `c_fc`); not embeddings. */
  readonly weightDecay: number;
  /** Gradients are scaled down when their global norm exceeds this. */
  readonly gradientClipNorm: number;
  /** Standard deviation of the initial token embedding (GPT-2: 0.02). */
  readonly tokenEmbeddingStd: number;
  /**
   * Keep the names' embedding rows at their random initialisation (they are still read and
   * unembedded through them), so the model has to learn a copy mechanism that works for any
   * random name vector, including names it never saw.
   */
  readonly freezeNameEmbeddings: boolean;
  /**
   * Probability that a template word of a training prompt (not BOS, a name or the last token) is
   * replaced by a random non-name word of the training vocabulary, so the model cannot lean on the
   * exact wording of the training templates.
   */
  readonly wordNoise: number;
  /**
   * Number of extra name stand-ins (capitalised single-token words, see `pseudoNameTokens`) whose
   * embeddings stay at their initialisation; 0 = none.
   */
  readonly pseudoNameCount: number;
  /** Share of training prompts whose two names are replaced by two stand-ins. */
  readonly pseudoNameRate: number;
  /** Seed of the weight initialisation. */
  readonly initSeed: number;
  /** Seed of the training prompt stream. */
  readonly dataSeed: number;
  /** Seed of the held-out pair choice (see `createIoiSplits`). */
  readonly splitSeed: number;
  /** Report progress every this many steps. */
  readonly logEvery: number;
}

/**
 * The hyper-parameters the bundled IOI model was trained with.
 *
 * @example
 * ```ts
 * const result = trainIoiModel({ ...IOI_TRAINING_DEFAULTS, steps: 10 });
 * ```
 */
export const IOI_TRAINING_DEFAULTS: IoiTrainingOptions = Object.freeze({
  nLayers: 2,
  nHeads: 4,
  dModel: 64,
  nCtx: 32,
  steps: 1500,
  batchSize: 64,
  learningRate: 3e-3,
  warmupSteps: 100,
  finalLearningRateFraction: 0.1,
  weightDecay: 0.01,
  gradientClipNorm: 1,
  tokenEmbeddingStd: 0.1,
  freezeNameEmbeddings: false,
  wordNoise: 0.1,
  pseudoNameCount: 300,
  pseudoNameRate: 0.3,
  initSeed: 1,
  dataSeed: 2,
  splitSeed: IOI_SPLIT_SEED,
  logEvery: 50,
});

/**
 * The learning rate at a step: linear warm-up, then cosine decay to
 * `finalLearningRateFraction * learningRate` at the last step.
 *
 * @param options - `learningRate`, `warmupSteps`, `steps`, `finalLearningRateFraction`.
 * @param step - 0-based step index.
 * @example
 * ```ts
 * learningRateAt(IOI_TRAINING_DEFAULTS, 0); // learningRate / warmupSteps
 * ```
 */
export function learningRateAt(
  options: Pick<
    IoiTrainingOptions,
    'learningRate' | 'warmupSteps' | 'steps' | 'finalLearningRateFraction'
  >,
  step: number,
): number {
  const { learningRate, warmupSteps, steps, finalLearningRateFraction } = options;
  if (step < warmupSteps) return (learningRate * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, steps - 1 - warmupSteps));
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  return learningRate * (finalLearningRateFraction + (1 - finalLearningRateFraction) * cosine);
}
