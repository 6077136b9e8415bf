import { type ActivationCache, captureActivations } from '@patchlens/activation-cache';
import {
  type ForwardOptions,
  type HookedModel,
  type HookName,
  HookRegistry,
  type HookSpec,
  InvalidArgumentError,
  type ModelCapabilities,
  type RunWithCacheOptions,
  TokenizationError,
  WeightMappingError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { DecoderConfig } from './decoder-config.js';
import type { DecoderFamily } from './decoder-family.js';
import { runDecoder } from './decoder-forward.js';
import { decoderHookNames } from './decoder-hook-names.js';
import { type DecoderWeights, disposeDecoderWeights } from './decoder-weights.js';
import { planForward } from './forward-plan.js';
import type { HuggingFaceTokenizer, TokenIds, ToTokensOptions } from './huggingface-tokenizer.js';
import { type DecoderProcessOptions, processDecoderWeights } from './process-weights.js';
import { checkModelFits } from './size-limits.js';
import { decoderWeightsFromTable } from './weight-table.js';

/**
 * A tensor given as plain data (e.g. a decoded safetensors entry).
 *
 * @example
 * ```ts
 * const norm: PlainTensor = { shape: [32], data: new Float32Array(32).fill(1) };
 * ```
 */
export interface PlainTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/**
 * Options of {@link DecoderModel.fromHuggingFace}.
 *
 * @example
 * ```ts
 * DecoderModel.fromHuggingFace(LLAMA_FAMILY, json, tensors, { processWeights: false });
 * ```
 */
export interface DecoderLoadOptions {
  /**
   * TransformerLens weight processing: true (default, `from_pretrained`: fold_ln,
   * center_writing_weights where there is LayerNorm, center_unembed, fold_value_biases), false
   * (`from_pretrained_no_processing`), or a choice of steps.
   */
  readonly processWeights?: boolean | DecoderProcessOptions;
  /** Expose `attn.hook_result` (default false). */
  readonly useAttnResult?: boolean;
  /** Expose per-head `hook_q_input` / `hook_k_input` / `hook_v_input` (TransformerLens `use_split_qkv_input`; default false). */
  readonly useSplitQkvInput?: boolean;
  /** The checkpoint's tokenizer (for texts); without it only token ids are accepted. */
  readonly tokenizer?: HuggingFaceTokenizer;
}

/**
 * A decoder-only transformer (Llama architecture, GPT-NeoX, … through a {@link DecoderFamily})
 * with every TransformerLens hook point, implementing `HookedModel` with every fast-engine
 * capability (startAtLayer, stopAtLayer, selective unembedding, startAtPosition).
 *
 * Owns its weights: `dispose()` (or `using model = …`) frees them.
 *
 * @example
 * ```ts
 * const model = DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, tensors);
 * const { logits, cache } = model.runWithCache(tokens);
 * cache.get('blocks.0.attn.hook_rot_q'); // [batch, pos, nHeads, dHead]
 * ```
 */
export class DecoderModel implements HookedModel<ActivationCache> {
  readonly config: DecoderConfig;
  readonly weights: DecoderWeights;
  readonly hookNames: readonly HookName[];
  readonly hooks: HookRegistry;
  readonly capabilities: ModelCapabilities = Object.freeze({
    startAtLayer: true,
    stopAtLayer: true,
    selectiveUnembed: true,
    startAtPosition: true,
  });
  readonly useAttnResult: boolean;
  /** Whether each head has its own query/key/value input hook. */
  readonly useSplitQkvInput: boolean;
  /** The tokenizer, when one was given. */
  readonly tokenizer: HuggingFaceTokenizer | undefined;
  private disposed = false;

  /**
   * A model over weights it takes ownership of (no processing).
   *
   * @example
   * ```ts
   * const model = new DecoderModel(config, weights);
   * ```
   */
  constructor(
    config: DecoderConfig,
    weights: DecoderWeights,
    options: {
      useAttnResult?: boolean;
      useSplitQkvInput?: boolean;
      tokenizer?: HuggingFaceTokenizer;
    } = {},
  ) {
    if (weights.blocks.length !== config.nLayers) {
      throw new InvalidArgumentError(
        `DecoderModel: weights have ${weights.blocks.length} blocks but config.nLayers is ${config.nLayers}.`,
      );
    }
    this.config = config;
    this.weights = weights;
    this.useAttnResult = options.useAttnResult ?? false;
    this.useSplitQkvInput = options.useSplitQkvInput ?? false;
    this.tokenizer = options.tokenizer;
    this.hookNames = Object.freeze(
      decoderHookNames(config, {
        useAttnResult: this.useAttnResult,
        useSplitQkvInput: this.useSplitQkvInput,
      }),
    );
    this.hooks = new HookRegistry(this.hookNames);
  }

  /**
   * A model from a family's Hugging Face config.json and tensors: config read and checked, the
   * size checked against the backend (before allocating), names and shapes checked against the
   * family's weight table, then processed as TransformerLens's `from_pretrained` unless
   * `processWeights: false`. tf tensors passed in are cloned (the caller keeps its own).
   *
   * @throws InvalidArgumentError for an unsupported config field (named) or a model too large for wasm;
   *   WeightMappingError for missing, mis-shaped or unknown tensors. Nothing leaks.
   * @example
   * ```ts
   * const model = DecoderModel.fromHuggingFace(NEOX_FAMILY, configJson, safetensors.tensors);
   * ```
   */
  static fromHuggingFace(
    family: DecoderFamily,
    configJson: unknown,
    tensors: ReadonlyMap<string, tf.Tensor | PlainTensor>,
    options: DecoderLoadOptions = {},
  ): DecoderModel {
    const where = `DecoderModel.fromHuggingFace(${family.name})`;
    const tableOptions = family.readConfig(configJson);
    checkModelFits(tableOptions.config, {
      tiedEmbeddings: tableOptions.tiedEmbeddings,
      backend: tf.getBackend(),
      where,
    });
    const owned = new Map<string, tf.Tensor>();
    try {
      for (const [name, value] of tensors) {
        if (value instanceof tf.Tensor) {
          owned.set(name, tf.clone(value));
        } else if (value && value.data instanceof Float32Array && Array.isArray(value.shape)) {
          owned.set(name, tf.tensor(value.data, [...value.shape], 'float32'));
        } else {
          throw new WeightMappingError(
            `${where}: tensor "${name}" is not float data (got ${value?.data?.constructor?.name ?? typeof value}); weights must be F32, F16 or BF16.`,
          );
        }
      }
    } catch (error) {
      tf.dispose([...owned.values()]);
      throw error;
    }
    const weights = decoderWeightsFromTable(
      family.weightTable,
      tableOptions,
      owned,
      family.ignoredTensors,
      where,
    );
    const modelOptions = {
      useAttnResult: options.useAttnResult ?? false,
      useSplitQkvInput: options.useSplitQkvInput ?? false,
      tokenizer: options.tokenizer,
    };
    const process = options.processWeights ?? true;
    if (process === false) return new DecoderModel(tableOptions.config, weights, modelOptions);
    let processed: ReturnType<typeof processDecoderWeights>;
    try {
      processed = processDecoderWeights(
        tableOptions.config,
        weights,
        process === true ? {} : process,
      );
    } catch (error) {
      disposeDecoderWeights(weights);
      throw error;
    }
    disposeDecoderWeights(weights, { keep: processed.weights });
    return new DecoderModel(processed.config, processed.weights, modelOptions);
  }

  /**
   * Logits `[batch, pos, dVocab]` for int32 tokens `[batch, pos]` (or a text / texts, with the
   * tokenizer), running the attached hooks. See `ForwardOptions` for startAtLayer, stopAtLayer,
   * unembed, startAtPosition and pastKeyValues (`[batch, p, keyValueHeads, dHead]`, the `hook_k`
   * layout: keys before rotation). The caller owns the result.
   *
   * @throws InvalidArgumentError / ShapeMismatchError for bad input (nothing allocated).
   * @example
   * ```ts
   * const last = model.forward(tokens, { unembed: { positions: [-1] } }); // [batch, 1, dVocab]
   * ```
   */
  forward(input: tf.Tensor | string | readonly string[], options: ForwardOptions = {}): tf.Tensor {
    this.assertAlive('forward');
    if (
      typeof input === 'string' ||
      (Array.isArray(input) && input.every((entry) => typeof entry === 'string'))
    ) {
      const tokens = this.toTokens(input as string | readonly string[]);
      try {
        return this.forward(tokens, options);
      } finally {
        tokens.dispose();
      }
    }
    const plan = planForward(this.config, input, options, 'DecoderModel.forward');
    return runDecoder(
      this.config,
      this.weights,
      input as tf.Tensor,
      {
        ...options,
        hooks: this.hooks,
        useAttnResult: this.useAttnResult,
        useSplitQkvInput: this.useSplitQkvInput,
      },
      plan,
    );
  }

  /**
   * `forward` with extra hooks for this call only (removed afterwards, also on error).
   *
   * @example
   * ```ts
   * model.runWithHooks(tokens, [['blocks.0.attn.hook_rot_k', (k) => k]]);
   * ```
   */
  runWithHooks(
    input: tf.Tensor | string | readonly string[],
    hooks: readonly HookSpec[],
    options: ForwardOptions = {},
  ): tf.Tensor {
    this.assertAlive('runWithHooks');
    return this.hooks.withHooks(hooks, () => this.forward(input, options));
  }

  /**
   * `forward` that also returns the activations at the selected hook points (TransformerLens
   * `run_with_cache`). The caller owns both.
   *
   * @example
   * ```ts
   * const { logits, cache } = model.runWithCache(tokens, { namesFilter: /hook_pattern$/ });
   * ```
   */
  runWithCache(
    input: tf.Tensor | string | readonly string[],
    options: RunWithCacheOptions = {},
  ): { logits: tf.Tensor; cache: ActivationCache } {
    this.assertAlive('runWithCache');
    const { namesFilter, ...forwardOptions } = options;
    const { result, cache } = captureActivations(this.hooks, namesFilter, () =>
      this.forward(input, forwardOptions),
    );
    return { logits: result, cache };
  }

  /**
   * Tokens `[batch, pos]` (int32); BOS first when `prependBos` (default: the family's, as
   * TransformerLens's `default_prepend_bos`: Llama true, Pythia false).
   *
   * @throws TokenizationError when the model has no tokenizer.
   * @example
   * ```ts
   * model.toTokens('Hello world');
   * ```
   */
  toTokens(text: string | readonly string[], options: ToTokensOptions = {}): tf.Tensor2D {
    return this.requireTokenizer('toTokens').toTokens(text, options);
  }

  /** Text of token ids (see {@link HuggingFaceTokenizer.toStr}). */
  toStr(tokens: TokenIds): string | string[] {
    return this.requireTokenizer('toStr').toStr(tokens);
  }

  /** Each token's text (see {@link HuggingFaceTokenizer.toStrTokens}). */
  toStrTokens(input: string | TokenIds, options: ToTokensOptions = {}): string[] {
    return this.requireTokenizer('toStrTokens').toStrTokens(input, options);
  }

  /** The id of a text that is exactly one token. */
  toSingleToken(text: string): number {
    return this.requireTokenizer('toSingleToken').toSingleToken(text);
  }

  /** Frees the weights and removes every hook. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.hooks.reset({ includePermanent: true });
    disposeDecoderWeights(this.weights);
  }

  /** Same as {@link DecoderModel.dispose}, for `using model = …`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  private requireTokenizer(what: string): HuggingFaceTokenizer {
    if (!this.tokenizer) {
      throw new TokenizationError(
        `DecoderModel.${what}: this model has no tokenizer (the checkpoint folder has no tokenizer.json); pass token ids, or load a folder with tokenizer.json.`,
      );
    }
    return this.tokenizer;
  }

  private assertAlive(what: string): void {
    if (this.disposed)
      throw new InvalidArgumentError(`DecoderModel.${what}: the model has been disposed.`);
  }
}
