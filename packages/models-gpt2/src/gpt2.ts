import { type ActivationCache, captureActivations } from '@patchlens/activation-cache';
import {
  type AnalysisWeights,
  type ForwardOptions,
  type HookedModel,
  type HookName,
  HookRegistry,
  type HookSpec,
  InvalidArgumentError,
  listHookNames,
  type ModelCapabilities,
  type ModelWorkerSource,
  type RunWithCacheOptions,
  WeightMappingError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  type GPT2CheckpointSource,
  type ReadCheckpointOptions,
  readGPT2Checkpoint,
} from './checkpoint-reading.js';
import type { GPT2Config } from './gpt2-config.js';
import { planForward, runForward } from './gpt2-forward.js';
import { GPT2Tokenizer, type TokenIds, type ToTokensOptions } from './gpt2-tokenizer.js';
import {
  disposeWeights,
  type GPT2Weights,
  transformerLensStateDict,
  weightTensors,
} from './gpt2-weights.js';
import { gpt2WorkerSource } from './gpt2-worker-source.js';
import { type ProcessWeightsOptions, processWeights } from './process-weights.js';
import { weightsFromHuggingFace } from './weight-mapping.js';

/**
 * Options of the {@link GPT2} constructor.
 *
 * @example
 * ```ts
 * new GPT2(config, weights, { useAttnResult: true });
 * ```
 */
export interface GPT2ModelOptions {
  /** Expose `attn.hook_result` (per-head outputs; costs memory and time). Default false, like TransformerLens. */
  readonly useAttnResult?: boolean;
  /**
   * Expose per-head query/key/value inputs `blocks.{L}.hook_q_input` / `hook_k_input` /
   * `hook_v_input` `[batch, pos, head, dModel]` (TransformerLens's `use_split_qkv_input`; costs
   * memory). Default false. The same numbers as without it.
   */
  readonly useSplitQkvInput?: boolean;
}

/**
 * Options of {@link GPT2.fromWeights} (and of the loaders).
 *
 * @example
 * ```ts
 * GPT2.fromWeights(config, tensors, { processWeights: { foldValueBiases: false } });
 * ```
 */
export interface GPT2LoadOptions extends GPT2ModelOptions {
  /**
   * TransformerLens weight processing: true (default, `from_pretrained`: fold_ln,
   * center_writing_weights, center_unembed, fold_value_biases), false (`from_pretrained_no_processing`),
   * or a choice of steps.
   */
  readonly processWeights?: boolean | ProcessWeightsOptions;
}

/**
 * Options of {@link GPT2.fromPretrained}: processing, hooks and how to read.
 *
 * @example
 * ```ts
 * await GPT2.fromPretrained(url, { processWeights: false, onProgress: ({ loadedBytes }) => console.error(loadedBytes) });
 * ```
 */
export interface GPT2PretrainedOptions extends GPT2LoadOptions, ReadCheckpointOptions {}

/**
 * A tensor given as plain data (e.g. a decoded safetensors entry).
 *
 * @example
 * ```ts
 * const wpe: PlainTensorData = { shape: [1024, 768], data: new Float32Array(1024 * 768) };
 * ```
 */
export interface PlainTensorData {
  readonly shape: readonly number[];
  /** Float values (integer data is rejected: it cannot be a GPT-2 weight). */
  readonly data: Float32Array | Int32Array;
}

/**
 * Hugging Face tensors by name, as tf tensors or plain data.
 *
 * @example
 * ```ts
 * const tensors: HuggingFaceTensors = { 'wte.weight': tf.zeros([50257, 768]), 'wpe.weight': tf.zeros([1024, 768]) };
 * ```
 */
export type HuggingFaceTensors =
  | ReadonlyMap<string, tf.Tensor | PlainTensorData>
  | Readonly<Record<string, tf.Tensor | PlainTensorData>>;

function toTfTensors(tensors: HuggingFaceTensors, where: string): Map<string, tf.Tensor> {
  const entries =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, tf.Tensor | PlainTensorData>)]
      : Object.entries(tensors);
  const made = new Map<string, tf.Tensor>();
  for (const [name, value] of entries) {
    if (value instanceof tf.Tensor) {
      made.set(name, tf.clone(value));
    } else if (
      typeof value === 'object' &&
      value !== null &&
      value.data instanceof Float32Array &&
      Array.isArray(value.shape)
    ) {
      const size = value.shape.reduce((product: number, length: number) => product * length, 1);
      if (size !== value.data.length) {
        tf.dispose([...made.values()]);
        throw new WeightMappingError(
          `${where}: tensor "${name}" has shape [${value.shape.join(', ')}] (${size} values) but ${value.data.length} values.`,
        );
      }
      made.set(name, tf.tensor(value.data, [...value.shape], 'float32'));
    } else {
      tf.dispose([...made.values()]);
      throw new InvalidArgumentError(
        `${where}: tensor "${name}" is neither a float32 tf.Tensor nor { shape, data: Float32Array } (integer data cannot be a GPT-2 weight).`,
      );
    }
  }
  return made;
}

/**
 * A GPT-2 family model on tfjs with every TransformerLens hook point: forward passes, scoped
 * hooks, activation caching, the GPT-2 tokenizer.
 *
 * Owns its weights: `dispose()` (or `using model = …`) frees them.
 *
 * @example
 * ```ts
 * import { GPT2 } from '@patchlens/models-gpt2';
 * const model = await GPT2.fromPretrained('https://huggingface.co/openai-community/gpt2/resolve/main');
 * const tokens = model.toTokens('When John and Mary went to the shops, John gave the bag to');
 * const { logits, cache } = model.runWithCache(tokens, { namesFilter: /hook_z$/ });
 * cache.dispose(); logits.dispose(); tokens.dispose(); model.dispose();
 * ```
 */
export class GPT2 implements HookedModel<ActivationCache> {
  /** Dimensions and settings (`normalizationType` says whether LayerNorms are folded). */
  readonly config: GPT2Config;
  /** The weights (owned by the model; do not dispose them yourself). */
  readonly weights: GPT2Weights;
  /** Every hook point, in forward order (`attn.hook_result` only with `useAttnResult`). */
  readonly hookNames: readonly HookName[];
  /** The hook points: `hooks.add`, `hooks.withHooks`, `hooks.reset`. */
  readonly hooks: HookRegistry;
  /** Everything the fast patching engine may use is supported. */
  readonly capabilities: ModelCapabilities = Object.freeze({
    startAtLayer: true,
    stopAtLayer: true,
    selectiveUnembed: true,
    startAtPosition: true,
  });
  /** The unembedding, final LayerNorm and W_O/b_O, for the cache's residual-stream analysis (owned by the model). */
  get analysisWeights(): AnalysisWeights {
    const { weights, config } = this;
    return {
      normalizationType: config.normalizationType,
      eps: config.eps,
      lnFinal: weights.ln_final,
      W_U: weights.W_U,
      b_U: weights.b_U,
      W_O: weights.blocks.map((block) => block.W_O),
      b_O: weights.blocks.map((block) => block.b_O),
    };
  }
  /** Whether `attn.hook_result` exists and attn_out is summed from it. */
  readonly useAttnResult: boolean;
  /** Whether each head has its own query/key/value input hook (`hook_q_input`, ...). */
  readonly useSplitQkvInput: boolean;
  /** GPT-2's tokenizer (r50k_base). */
  readonly tokenizer = new GPT2Tokenizer();
  private disposed = false;

  /**
   * A model over weights it takes ownership of (no processing; see {@link GPT2.fromWeights} for
   * Hugging Face tensors).
   *
   * @param config - the config the weights follow.
   * @param weights - the weights; the model disposes them.
   * @param options.useAttnResult - expose `attn.hook_result` (default false).
   * @param options.useSplitQkvInput - expose `hook_q_input` / `hook_k_input` / `hook_v_input` (default false).
   * @example
   * ```ts
   * const model = new GPT2(config, weightsFromHuggingFace(config, tensors));
   * ```
   */
  constructor(config: GPT2Config, weights: GPT2Weights, options: GPT2ModelOptions = {}) {
    if (weights.blocks.length !== config.nLayers) {
      throw new InvalidArgumentError(
        `GPT2: weights have ${weights.blocks.length} blocks but config.nLayers is ${config.nLayers}.`,
      );
    }
    this.config = config;
    this.weights = weights;
    this.useAttnResult = options.useAttnResult ?? false;
    this.useSplitQkvInput = options.useSplitQkvInput ?? false;
    this.hookNames = Object.freeze(
      listHookNames(config.nLayers, {
        useAttnResult: this.useAttnResult,
        useSplitQkvInput: this.useSplitQkvInput,
      }),
    );
    this.hooks = new HookRegistry(this.hookNames);
  }

  /**
   * A model from Hugging Face GPT-2 tensors (names with or without `transformer.`), processed
   * like TransformerLens's `from_pretrained` unless `processWeights: false`.
   *
   * The model keeps its own copies (tf tensors are cloned, which shares memory), so the caller
   * still owns and disposes what it passed.
   *
   * @param config - the model's config (e.g. `gpt2ConfigFromHuggingFace(json)` or a preset).
   * @param tensors - Hugging Face tensors by name (tf tensors or `{ shape, data }`).
   * @param options.processWeights - true (default), false, or a choice of steps.
   * @param options.useAttnResult - expose `attn.hook_result` (default false).
   * @throws WeightMappingError for a missing, mis-shaped or unknown tensor; nothing leaks.
   * @example
   * ```ts
   * const model = GPT2.fromWeights(config, tensorsByName, { processWeights: false });
   * ```
   */
  static fromWeights(
    config: GPT2Config,
    tensors: HuggingFaceTensors,
    options: GPT2LoadOptions = {},
  ): GPT2 {
    const where = 'GPT2.fromWeights';
    if (config.normalizationType !== 'LN') {
      throw new InvalidArgumentError(
        `${where}: config.normalizationType is "LNPre"; Hugging Face tensors have LayerNorm weights, so pass the checkpoint's own config ("LN").`,
      );
    }
    const owned = toTfTensors(tensors, where);
    let weights: GPT2Weights;
    try {
      weights = weightsFromHuggingFace(config, owned);
    } catch (error) {
      tf.dispose([...owned.values()]);
      throw error;
    }
    const used = new Set(weightTensors(weights));
    tf.dispose([...owned.values()].filter((tensor) => !used.has(tensor)));
    const process = options.processWeights ?? true;
    if (process === false) return new GPT2(config, weights, options);
    const processed = processWeights(config, weights, process === true ? {} : process);
    disposeWeights(weights, { keep: processed.weights });
    return new GPT2(processed.config, processed.weights, options);
  }

  /**
   * Loads a Hugging Face GPT-2 checkpoint from a folder URL or user-picked files (browser and
   * Node; for a folder on disk use `loadGPT2FromFolder` from `@patchlens/models-gpt2/node`),
   * processed like TransformerLens's `from_pretrained` unless `processWeights: false`.
   *
   * @param source - folder URL with `config.json` and `model.safetensors` (or a sharded index), a
   *   TransformerLens name (`'gpt2'`, `'gpt2-medium'`, `'distilgpt2'`, ...) or Hugging Face id
   *   (`'user/repo'`, `'user/repo@revision'`), or `File[]` / `FileList` / blobs by file name.
   * @param options.processWeights - true (default), false (`from_pretrained_no_processing`) or a choice of steps.
   * @param options.useAttnResult - expose `attn.hook_result` (default false).
   * @param options.onProgress - `{ loadedBytes, totalBytes, file }` as weights arrive.
   * @param options.fetch - fetch implementation (default `globalThis.fetch`); `requestInit`, `signal`.
   * @throws WeightMappingError for missing or mis-shaped tensors (named, with expected and found shapes).
   * @example
   * ```ts
   * const model = await GPT2.fromPretrained('https://huggingface.co/openai-community/gpt2/resolve/main', {
   *   onProgress: ({ loadedBytes, totalBytes }) => console.log(loadedBytes, totalBytes),
   * });
   * ```
   */
  static async fromPretrained(
    source: GPT2CheckpointSource,
    options: GPT2PretrainedOptions = {},
  ): Promise<GPT2> {
    const { config, tensors } = await readGPT2Checkpoint(source, options);
    return GPT2.fromWeights(config, tensors, options);
  }

  /**
   * Logits `[batch, pos, dVocab]` for int32 tokens `[batch, pos]` (or a text, tokenised with BOS),
   * running the hooks attached to `hooks`. The caller owns the result.
   *
   * @param input - tokens, a text or texts of equal token length, or with `startAtLayer` the
   *   residual stream `[batch, pos, dModel]`.
   * @param options.startAtLayer - start at this block; the input is the residual stream entering it.
   * @param options.stopAtLayer - return the residual stream entering this block instead of logits.
   * @param options.unembed - only these positions / token ids: logits `[batch, positions, tokens]`.
   * @param options.startAtPosition - with `startAtLayer` and `pastKeyValues`: compute only positions
   *   `>= p` from their residual stream `[batch, pos - p, dModel]` (hooks see those positions only).
   * @param options.pastKeyValues - `{ key, value }` `[batch, p, nHeads, dHead]` per block index.
   * @throws InvalidArgumentError / ShapeMismatchError for bad input (see `gpt2Forward`; token ids
   *   are range-checked on cpu, wasm and tensorflow only).
   * @example
   * ```ts
   * const logits = model.forward(tokens, { unembed: { positions: [-1] } }); // [batch, 1, dVocab]
   * ```
   */
  forward(input: tf.Tensor | string | readonly string[], options: ForwardOptions = {}): tf.Tensor {
    this.assertAlive('forward');
    const isText =
      typeof input === 'string' ||
      (Array.isArray(input) &&
        input.length > 0 &&
        input.every((entry) => typeof entry === 'string'));
    if (isText) {
      const tokens = this.tokenizer.toTokens(input as string | readonly string[]);
      try {
        return this.forward(tokens, options);
      } finally {
        tokens.dispose();
      }
    }
    const plan = planForward(this.config, input, options, 'GPT2.forward');
    return runForward(
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
   * `forward` with extra hooks for this call only (removed afterwards, also on error), like
   * TransformerLens's `run_with_hooks(fwd_hooks=...)`.
   *
   * @example
   * ```ts
   * const logits = model.runWithHooks(tokens, [['blocks.0.attn.hook_z', (z) => tf.zerosLike(z)]]);
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
   * `run_with_cache`). The caller owns both `logits` and `cache` (dispose both).
   *
   * @param options.namesFilter - which hook points to keep (default all).
   * @example
   * ```ts
   * const { logits, cache } = model.runWithCache(tokens, { namesFilter: (name) => name.endsWith('hook_pattern') });
   * cache.get('pattern', 0); // [batch, head, query, key]
   * ```
   */
  runWithCache(
    input: tf.Tensor | string | readonly string[],
    options: RunWithCacheOptions = {},
  ): { logits: tf.Tensor; cache: ActivationCache } {
    this.assertAlive('runWithCache');
    const { namesFilter, ...forwardOptions } = options;
    const { result, cache } = captureActivations(
      this.hooks,
      namesFilter,
      () => this.forward(input, forwardOptions),
      { model: this },
    );
    return { logits: result, cache };
  }

  /**
   * Tokens `[batch, pos]` (int32), BOS first by default; see {@link GPT2Tokenizer.toTokens}.
   *
   * @example
   * ```ts
   * const tokens = model.toTokens('When John and Mary went to the shops');
   * ```
   */
  toTokens(text: string | readonly string[], options: ToTokensOptions = {}): tf.Tensor2D {
    return this.tokenizer.toTokens(text, options);
  }

  /**
   * Text of token ids; see {@link GPT2Tokenizer.toStr}.
   *
   * @example
   * ```ts
   * model.toStr([50256, 5335]); // '<|endoftext|> Mary'
   * ```
   */
  toStr(tokens: TokenIds): string | string[] {
    return this.tokenizer.toStr(tokens);
  }

  /**
   * Each token's text; see {@link GPT2Tokenizer.toStrTokens}.
   *
   * @example
   * ```ts
   * model.toStrTokens('Hello world'); // ['<|endoftext|>', 'Hello', ' world']
   * ```
   */
  toStrTokens(input: string | TokenIds, options: ToTokensOptions = {}): string[] {
    return this.tokenizer.toStrTokens(input, options);
  }

  /**
   * The id of a text that is exactly one token; see {@link GPT2Tokenizer.toSingleToken}.
   *
   * @example
   * ```ts
   * model.toSingleToken(' Mary'); // 5335
   * ```
   */
  toSingleToken(text: string): number {
    return this.tokenizer.toSingleToken(text);
  }

  /**
   * The weights under TransformerLens's state-dict names and shapes (`blocks.0.attn.W_Q`
   * `[H, D, Dh]`, ...), as new tensors the caller disposes.
   *
   * @example
   * ```ts
   * const stateDict = model.stateDict();
   * stateDict.get('unembed.W_U')!.shape; // [dModel, dVocab]
   * tf.dispose([...stateDict.values()]);
   * ```
   */
  stateDict(): Map<string, tf.Tensor> {
    this.assertAlive('stateDict');
    return transformerLensStateDict(this.config, this.weights);
  }

  /**
   * How a worker thread builds a copy of this model (the same weights over shared memory, the
   * same options); used by the patching engine's worker threads.
   *
   * @example
   * ```ts
   * const { module, exportName, argument } = model.workerSource();
   * ```
   */
  workerSource(): ModelWorkerSource {
    return gpt2WorkerSource(this);
  }

  /** Frees the weights and removes every hook. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.hooks.reset({ includePermanent: true });
    disposeWeights(this.weights);
  }

  /** Same as {@link GPT2.dispose}, for `using model = …`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  private assertAlive(what: string): void {
    if (this.disposed) {
      throw new InvalidArgumentError(`GPT2.${what}: the model has been disposed.`);
    }
  }
}
