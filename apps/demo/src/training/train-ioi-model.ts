import {
  createGPT2Config,
  type GPT2Config,
  gpt2Forward,
  weightsFromHuggingFace,
} from '@patchlens/models-gpt2';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type IoiTokenizer, ioiPromptTokens } from '../ioi/ioi-batch.js';
import { createIoiSplits, sampleIoiPrompts } from '../ioi/ioi-splits.js';
import { IOI_UNSEEN_NAMES } from '../ioi/ioi-vocabulary.js';
import { SeededRandom } from '../ioi/seeded-random.js';
import { AdamOptimizer } from './adam-optimizer.js';
import { initialWeightValues, type WeightValues } from './initial-weights.js';
import {
  IOI_TRAINING_DEFAULTS,
  type IoiTrainingOptions,
  learningRateAt,
} from './ioi-training-options.js';
import { pseudoNameTokens } from './pseudo-names.js';
import { type TrainingVocabulary, trainingVocabulary } from './training-vocabulary.js';
import { addWordNoise } from './word-noise.js';

/** Progress of training, averaged over the steps since the last report. */
export interface IoiTrainingProgress {
  /** 1-based step just finished. */
  readonly step: number;
  /** Mean cross-entropy of the answer at the last position (over the training vocabulary). */
  readonly loss: number;
  /** Fraction of training prompts with answer logit > wrong logit. */
  readonly accuracy: number;
  /** Mean `logit[answer] - logit[wrong]` on training prompts. */
  readonly meanLogitDifference: number;
  readonly learningRate: number;
  /** Seconds since training started. */
  readonly seconds: number;
}

/** What {@link trainIoiModel} returns; call `dispose()` when done. */
export interface IoiTrainingResult {
  /** The full model's config (GPT-2's 50257-token vocabulary). */
  readonly config: GPT2Config;
  /** The config training ran with: the same, but `dVocab` = the training vocabulary's size. */
  readonly trainingConfig: GPT2Config;
  readonly vocabulary: TrainingVocabulary;
  /** Trained weights by Hugging Face name; `wte.weight` has the training vocabulary's rows only. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** The initial full token embedding (`[dVocab, dModel]`): the rows training never touches. */
  readonly initialTokenEmbedding: WeightValues;
  readonly settings: IoiTrainingOptions;
  readonly history: readonly IoiTrainingProgress[];
  /** Wall-clock seconds of the training loop. */
  readonly seconds: number;
  dispose(): void;
}

let runCounter = 0;

/** Scale the gradients down when their global norm exceeds `maxNorm` (disposing the inputs then). */
function clipByGlobalNorm(
  gradients: Record<string, tf.Tensor>,
  maxNorm: number,
): Record<string, tf.Tensor> {
  const norm = tf.tidy(() =>
    tf.sqrt(tf.addN(Object.values(gradients).map((gradient) => tf.sum(tf.square(gradient))))),
  );
  const value = norm.dataSync()[0] as number;
  norm.dispose();
  if (!(value > maxNorm)) return gradients;
  const scaled = Object.fromEntries(
    Object.entries(gradients).map(([name, gradient]) => [name, tf.mul(gradient, maxNorm / value)]),
  );
  tf.dispose(Object.values(gradients));
  return scaled;
}

/** Rows `ids` of a `[rows, width]` matrix given as plain data. */
function selectRows(matrix: WeightValues, ids: readonly number[]): Float32Array {
  const width = matrix.shape[1] as number;
  const selected = new Float32Array(ids.length * width);
  ids.forEach((id, row) => {
    selected.set(matrix.values.subarray(id * width, (id + 1) * width), row * width);
  });
  return selected;
}

/**
 * Train a small GPT-2 on IOI prompts (the `train` split of `createIoiSplits`).
 *
 * The loss is the cross-entropy of the indirect object at the last position, over the training
 * vocabulary (every token the training prompts can contain: 236 words and names, plus the name
 * stand-ins): training runs on a model whose embedding has just those rows, and
 * {@link ioiCheckpointTensors} puts them back at their GPT-2 ids; all other rows keep their random
 * initialisation. This is what full-vocabulary training with gradients restricted to those rows
 * would give, without 50257-wide softmaxes and Adam updates (which are most of the cost and, with
 * tied embeddings, would push every unused row away from the residual stream). Word noise and
 * name stand-ins (see {@link IoiTrainingOptions}) help it generalise to new templates and names.
 * AdamW with warm-up and cosine decay, global-norm clipping. Deterministic given the seeds (on one
 * backend).
 *
 * @param options - see {@link IoiTrainingOptions}; missing fields take {@link IOI_TRAINING_DEFAULTS}.
 * @param tokenizer - GPT-2's tokenizer (`new GPT2Tokenizer()`).
 * @param onProgress - called every `logEvery` steps and after the last one.
 * @returns configs, trained variables, the initial embedding and the progress history.
 * @throws InvalidArgumentError when steps, batchSize or logEvery is not a positive integer.
 * @example
 * ```ts
 * await initNodeBackend('wasm');
 * registerWasmTransposedMatMul();
 * const result = trainIoiModel({ steps: 20 }, new GPT2Tokenizer(), (p) => console.log(p.loss));
 * const tensors = ioiCheckpointTensors(result);
 * ```
 *
 * Limitations: one thread; the backend needs gradients of every op the forward pass uses.
 */
export function trainIoiModel(
  options: Partial<IoiTrainingOptions>,
  tokenizer: IoiTokenizer & {
    readonly vocabularySize: number;
    toStr(tokens: readonly number[]): string | string[];
  },
  onProgress: (progress: IoiTrainingProgress) => void = () => {},
): IoiTrainingResult {
  const settings: IoiTrainingOptions = { ...IOI_TRAINING_DEFAULTS, ...options };
  for (const field of ['steps', 'batchSize', 'logEvery'] as const) {
    const value = settings[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(
        `trainIoiModel: options.${field} must be a positive integer; received ${value}.`,
      );
    }
  }
  const dimensions = {
    nLayers: settings.nLayers,
    nHeads: settings.nHeads,
    dModel: settings.dModel,
    nCtx: settings.nCtx,
  };
  const config = createGPT2Config({
    ...dimensions,
    dVocab: tokenizer.vocabularySize,
    modelName: 'patchlens-ioi',
  });
  const split = createIoiSplits({ seed: settings.splitSeed }).train;
  let pseudoNames: number[] = [];
  if (settings.pseudoNameCount > 0) {
    const plain = trainingVocabulary(split, tokenizer);
    const excluded = new Set([
      ...plain.tokenIds,
      ...IOI_UNSEEN_NAMES.map((name) => tokenizer.toSingleToken(` ${name}`)),
    ]);
    pseudoNames = pseudoNameTokens(
      tokenizer,
      tokenizer.vocabularySize,
      settings.pseudoNameCount,
      settings.dataSeed,
      excluded,
    );
  }
  const vocabulary = trainingVocabulary(split, tokenizer, pseudoNames);
  const vocabularySize = vocabulary.tokenIds.length;
  const trainingConfig = createGPT2Config({ ...dimensions, dVocab: vocabularySize });
  const initial = initialWeightValues(config, settings.initSeed, {
    tokenEmbeddingStd: settings.tokenEmbeddingStd,
  });
  const initialTokenEmbedding = initial.get('wte.weight') as WeightValues;

  runCounter += 1;
  const prefix = `ioi-training-${runCounter}/`;
  const variables = new Map<string, tf.Variable>();
  for (const [name, weight] of initial) {
    const isEmbedding = name === 'wte.weight';
    const values = isEmbedding ? selectRows(weight, vocabulary.tokenIds) : weight.values;
    const shape = isEmbedding ? [vocabularySize, config.dModel] : [...weight.shape];
    const initialTensor = tf.tensor(values, shape);
    variables.set(name, tf.variable(initialTensor, true, prefix + name));
    initialTensor.dispose();
  }
  const trainable = [...variables.values()];
  const frozenRows = [
    ...vocabulary.pseudoNameIds,
    ...(settings.freezeNameEmbeddings ? vocabulary.nameIds : []),
  ];
  const embeddingMask =
    frozenRows.length > 0
      ? tf.tidy(() => {
          const keep = new Float32Array(vocabularySize).fill(1);
          for (const id of frozenRows) keep[id] = 0;
          return tf.tensor2d(keep, [vocabularySize, 1]); // [vocab, 1]
        })
      : undefined;
  const optimizer = new AdamOptimizer(variables, {
    weightDecay: settings.weightDecay,
    decays: (name) => /\.(c_attn|c_proj|c_fc)\.weight$/.test(name),
  });
  const compact = (id: number) => vocabulary.compactIdOf.get(id) as number;
  const names = new Set([...vocabulary.nameIds, ...vocabulary.pseudoNameIds]);
  const bos = compact(tokenizer.bosTokenId);
  const noiseWords = vocabulary.tokenIds
    .map((_, compactId) => compactId)
    .filter((compactId) => !names.has(compactId) && compactId !== bos);
  const dataRandom = new SeededRandom(settings.dataSeed);
  const history: IoiTrainingProgress[] = [];
  const started = performance.now();
  let window = { loss: 0, correct: 0, difference: 0, prompts: 0, steps: 0 };
  try {
    for (let step = 0; step < settings.steps; step++) {
      const prompts = sampleIoiPrompts(split, settings.batchSize, dataRandom);
      const batch = tf.tidy(() => {
        // Right-pad every prompt with BOS to the longest one; causal attention keeps the padding
        // from changing earlier positions, and the loss reads each prompt at its own last token.
        const answers: number[] = [];
        const wrongs: number[] = [];
        const rows = prompts.map((prompt) => {
          let row = ioiPromptTokens(tokenizer, prompt.clean).map(compact);
          let answer = compact(tokenizer.toSingleToken(prompt.answer));
          let wrong = compact(tokenizer.toSingleToken(prompt.wrong));
          const stand = vocabulary.pseudoNameIds;
          if (stand.length > 1 && dataRandom.next() < settings.pseudoNameRate) {
            const first = dataRandom.pick(stand);
            let second = dataRandom.pick(stand);
            while (second === first) second = dataRandom.pick(stand);
            const [from, to] = [
              [answer, wrong],
              [first, second],
            ] as const;
            row = row.map((id) => (id === from[0] ? to[0] : id === from[1] ? to[1] : id));
            [answer, wrong] = to;
          }
          answers.push(answer);
          wrongs.push(wrong);
          return addWordNoise(row, names, noiseWords, settings.wordNoise, dataRandom);
        });
        const width = Math.max(...rows.map((row) => row.length));
        const tokens = rows.flatMap((row) => [
          ...row,
          ...new Array<number>(width - row.length).fill(bos),
        ]);
        const lastPositions = rows.map((row) => row.length - 1);
        return {
          tokens: tf.tensor2d(tokens, [rows.length, width], 'int32'),
          lastPosition: tf.expandDims(
            tf.oneHot(tf.tensor1d(lastPositions, 'int32'), width),
            2,
          ) as tf.Tensor3D, // [batch, pos, 1]
          answers: tf.oneHot(tf.tensor1d(answers, 'int32'), vocabularySize) as tf.Tensor2D,
          wrongs: tf.oneHot(tf.tensor1d(wrongs, 'int32'), vocabularySize) as tf.Tensor2D,
        };
      });
      let differences: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const weights = weightsFromHuggingFace(
          trainingConfig,
          new Map([...variables].map(([name, variable]) => [name, variable as tf.Tensor])),
        );
        const logits = gpt2Forward(trainingConfig, weights, batch.tokens); // [batch, pos, vocab]
        const last = tf.sum(tf.mul(logits, batch.lastPosition), 1) as tf.Tensor2D; // [batch, vocab]
        differences = tf.keep(tf.sum(tf.mul(last, tf.sub(batch.answers, batch.wrongs)), 1)); // [batch]
        const logProbabilities = tf.logSoftmax(last); // [batch, vocab]
        return tf.neg(
          tf.div(tf.sum(tf.mul(logProbabilities, batch.answers)), prompts.length),
        ) as tf.Scalar;
      }, trainable);
      let named: Record<string, tf.Tensor> = Object.fromEntries(
        Object.entries(grads).map(([name, gradient]) => [name.slice(prefix.length), gradient]),
      );
      if (embeddingMask) {
        const embeddingGradient = named['wte.weight'] as tf.Tensor;
        named['wte.weight'] = tf.mul(embeddingGradient, embeddingMask);
        embeddingGradient.dispose();
      }
      named = clipByGlobalNorm(named, settings.gradientClipNorm);
      const learningRate = learningRateAt(settings, step);
      optimizer.step(named, learningRate);
      const differenceValues = differences ? Array.from(differences.dataSync()) : [];
      window.loss += value.dataSync()[0] as number;
      window.steps += 1;
      window.prompts += differenceValues.length;
      window.correct += differenceValues.filter((difference) => difference > 0).length;
      window.difference += differenceValues.reduce((sum, difference) => sum + difference, 0);
      tf.dispose([value, ...Object.values(named), ...(differences ? [differences] : [])]);
      tf.dispose([batch.tokens, batch.lastPosition, batch.answers, batch.wrongs]);
      if ((step + 1) % settings.logEvery === 0 || step + 1 === settings.steps) {
        const progress: IoiTrainingProgress = {
          step: step + 1,
          loss: window.loss / window.steps,
          accuracy: window.correct / window.prompts,
          meanLogitDifference: window.difference / window.prompts,
          learningRate,
          seconds: (performance.now() - started) / 1000,
        };
        history.push(progress);
        onProgress(progress);
        window = { loss: 0, correct: 0, difference: 0, prompts: 0, steps: 0 };
      }
    }
  } catch (error) {
    tf.dispose(trainable);
    throw error;
  } finally {
    optimizer.dispose();
    embeddingMask?.dispose();
  }
  return {
    config,
    trainingConfig,
    vocabulary,
    variables,
    initialTokenEmbedding,
    settings,
    history,
    seconds: (performance.now() - started) / 1000,
    dispose: () => tf.dispose(trainable),
  };
}

/**
 * The trained model as Hugging Face GPT-2 tensors with the full vocabulary: `wte.weight`
 * `[50257, dModel]` holds the trained rows at their GPT-2 ids and the initial values elsewhere;
 * every other tensor is a copy of its variable. The caller disposes the tensors.
 *
 * @param result - what {@link trainIoiModel} returned.
 * @example
 * ```ts
 * const tensors = ioiCheckpointTensors(result);
 * const bytes = await writeTfTensors(tensors, { floatDtype: 'F16' });
 * tf.dispose([...tensors.values()]);
 * ```
 */
export function ioiCheckpointTensors(result: IoiTrainingResult): Map<string, tf.Tensor> {
  const { config, vocabulary, initialTokenEmbedding } = result;
  const width = config.dModel;
  const embedding = Float32Array.from(initialTokenEmbedding.values);
  const trained = (result.variables.get('wte.weight') as tf.Variable).dataSync();
  vocabulary.tokenIds.forEach((id, row) => {
    embedding.set(trained.subarray(row * width, (row + 1) * width), id * width);
  });
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, variable] of result.variables) {
    tensors.set(
      name,
      name === 'wte.weight' ? tf.tensor2d(embedding, [config.dVocab, width]) : tf.clone(variable),
    );
  }
  return tensors;
}
