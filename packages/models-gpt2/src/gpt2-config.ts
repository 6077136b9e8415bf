import { InvalidArgumentError, type ModelConfig } from '@patchlens/tensor-hooks';

/**
 * The MLP activations GPT-2 checkpoints use: `gelu_new` (tanh approximation) and `gelu` (exact, erf).
 *
 * @example
 * ```ts
 * const actFn: GPT2ActivationFunction = 'gelu_new';
 * ```
 */
export type GPT2ActivationFunction = 'gelu_new' | 'gelu';

/**
 * GPT-2 model dimensions and settings, with TransformerLens's config names in camelCase.
 *
 * @example
 * ```ts
 * const config = createGPT2Config({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 });
 * config.dHead; // 4
 * ```
 */
export interface GPT2Config extends ModelConfig {
  /** GPT-2 gives every head its own keys and values. */
  readonly nKeyValueHeads: null;
  /** LayerNorm epsilon (Hugging Face `layer_norm_epsilon`). */
  readonly eps: number;
  /** MLP activation (Hugging Face `activation_function`, TransformerLens `act_fn`). */
  readonly actFn: GPT2ActivationFunction;
  /**
   * `LN` while the LayerNorms have their own weight and bias; `LNPre` once they are folded into the
   * following weights (TransformerLens `normalization_type`; set by `processWeights`).
   */
  readonly normalizationType: 'LN' | 'LNPre';
  /** A name for reports (preset name or the checkpoint's `_name_or_path`), when known. */
  readonly modelName?: string;
}

/**
 * The fields {@link createGPT2Config} needs; the rest default as in GPT-2.
 *
 * @example
 * ```ts
 * const input: GPT2ConfigInput = { nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 };
 * ```
 */
export interface GPT2ConfigInput {
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dModel: number;
  /** Default 50257 (GPT-2's vocabulary). */
  readonly dVocab?: number;
  /** Default 1024. */
  readonly nCtx?: number;
  /** Default `4 * dModel`. */
  readonly dMlp?: number;
  /** Default 1e-5. */
  readonly eps?: number;
  /** Default `gelu_new`. */
  readonly actFn?: GPT2ActivationFunction;
  /** Default `LN`. */
  readonly normalizationType?: 'LN' | 'LNPre';
  readonly modelName?: string;
}

function positiveInteger(where: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `${where}: ${field} must be a positive integer, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/**
 * A validated GPT-2 config from its dimensions (`dHead = dModel / nHeads`).
 *
 * @param input - `nLayers`, `nHeads`, `dModel` and optional `dVocab` (50257), `nCtx` (1024),
 *   `dMlp` (4 * dModel), `eps` (1e-5), `actFn` ('gelu_new'), `normalizationType` ('LN'), `modelName`.
 * @throws InvalidArgumentError when a dimension is not a positive integer, `dModel` is not
 *   divisible by `nHeads`, or `actFn` is not `gelu_new`/`gelu`.
 * @example
 * ```ts
 * const tiny = createGPT2Config({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 });
 * ```
 */
export function createGPT2Config(input: GPT2ConfigInput): GPT2Config {
  const where = 'createGPT2Config';
  const nLayers = positiveInteger(where, 'nLayers', input.nLayers);
  const nHeads = positiveInteger(where, 'nHeads', input.nHeads);
  const dModel = positiveInteger(where, 'dModel', input.dModel);
  const dVocab = positiveInteger(where, 'dVocab', input.dVocab ?? 50257);
  const nCtx = positiveInteger(where, 'nCtx', input.nCtx ?? 1024);
  const dMlp = positiveInteger(where, 'dMlp', input.dMlp ?? 4 * dModel);
  if (dModel % nHeads !== 0) {
    throw new InvalidArgumentError(
      `${where}: dModel (${dModel}) must be divisible by nHeads (${nHeads}); ${dModel} / ${nHeads} = ${dModel / nHeads} is not a whole head width.`,
    );
  }
  const eps = input.eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new InvalidArgumentError(
      `${where}: eps must be a positive finite number, got ${JSON.stringify(eps)}.`,
    );
  }
  const actFn = input.actFn ?? 'gelu_new';
  if (actFn !== 'gelu_new' && actFn !== 'gelu') {
    throw new InvalidArgumentError(
      `${where}: actFn ${JSON.stringify(actFn)} is not supported; accepted: "gelu_new", "gelu".`,
    );
  }
  const normalizationType = input.normalizationType ?? 'LN';
  if (normalizationType !== 'LN' && normalizationType !== 'LNPre') {
    throw new InvalidArgumentError(
      `${where}: normalizationType ${JSON.stringify(normalizationType)} is not supported; accepted: "LN", "LNPre".`,
    );
  }
  const config: GPT2Config = {
    nLayers,
    nHeads,
    nKeyValueHeads: null,
    dModel,
    dHead: dModel / nHeads,
    dMlp,
    dVocab,
    nCtx,
    eps,
    actFn,
    normalizationType,
    ...(input.modelName === undefined ? {} : { modelName: input.modelName }),
  };
  return Object.freeze(config);
}

/**
 * Names of the GPT-2 family presets.
 *
 * @example
 * ```ts
 * const name: GPT2PresetName = 'gpt2-medium'; GPT2_PRESETS[name].nLayers; // 24
 * ```
 */
export type GPT2PresetName = 'gpt2' | 'gpt2-medium' | 'gpt2-large' | 'gpt2-xl' | 'distilgpt2';

/**
 * The shapes of the published GPT-2 family checkpoints (random weights only: load the checkpoint
 * for real ones).
 *
 * @example
 * ```ts
 * GPT2_PRESETS['gpt2'].nLayers; // 12
 * ```
 */
export const GPT2_PRESETS: Readonly<Record<GPT2PresetName, GPT2Config>> = Object.freeze({
  gpt2: createGPT2Config({ nLayers: 12, nHeads: 12, dModel: 768, modelName: 'gpt2' }),
  'gpt2-medium': createGPT2Config({
    nLayers: 24,
    nHeads: 16,
    dModel: 1024,
    modelName: 'gpt2-medium',
  }),
  'gpt2-large': createGPT2Config({
    nLayers: 36,
    nHeads: 20,
    dModel: 1280,
    modelName: 'gpt2-large',
  }),
  'gpt2-xl': createGPT2Config({ nLayers: 48, nHeads: 25, dModel: 1600, modelName: 'gpt2-xl' }),
  distilgpt2: createGPT2Config({ nLayers: 6, nHeads: 12, dModel: 768, modelName: 'distilgpt2' }),
});

function field(json: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) {
    if (json[name] !== undefined && json[name] !== null) return json[name];
  }
  return undefined;
}

/**
 * A GPT-2 config from a Hugging Face `config.json` (parsed object or JSON text).
 *
 * Reads `n_layer`, `n_head`, `n_embd`, `vocab_size`, `n_positions` (or `n_ctx`), `n_inner`
 * (default 4 * n_embd), `layer_norm_epsilon` (default 1e-5) and `activation_function`
 * (default `gelu_new`).
 *
 * @throws InvalidArgumentError for a missing dimension, an unsupported activation (only
 *   `gelu_new` and `gelu`), a `model_type` other than `gpt2`, or a setting that changes the
 *   computation in a way this package does not implement (`scale_attn_weights: false`,
 *   `scale_attn_by_inverse_layer_idx: true`, `add_cross_attention: true`).
 * @example
 * ```ts
 * const config = gpt2ConfigFromHuggingFace(await (await fetch(`${base}/config.json`)).json());
 * ```
 */
export function gpt2ConfigFromHuggingFace(json: unknown): GPT2Config {
  const where = 'gpt2ConfigFromHuggingFace';
  let parsed = json;
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch (error) {
      throw new InvalidArgumentError(`${where}: config.json is not valid JSON.`, {
        cause: error,
      });
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(
      `${where}: expected the parsed config.json object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}.`,
    );
  }
  const config = parsed as Record<string, unknown>;
  const modelType = config['model_type'];
  if (modelType !== undefined && modelType !== 'gpt2') {
    throw new InvalidArgumentError(
      `${where}: model_type is ${JSON.stringify(modelType)}; this loader reads GPT-2 checkpoints (model_type "gpt2") only.`,
    );
  }
  const required = (names: string[]): unknown => {
    const value = field(config, ...names);
    if (value === undefined) {
      throw new InvalidArgumentError(
        `${where}: config.json has no ${names.map((name) => `"${name}"`).join(' or ')}; a GPT-2 config needs it.`,
      );
    }
    return value;
  };
  const actFn = field(config, 'activation_function') ?? 'gelu_new';
  if (actFn !== 'gelu_new' && actFn !== 'gelu') {
    throw new InvalidArgumentError(
      `${where}: activation_function ${JSON.stringify(actFn)} is not supported; accepted: "gelu_new", "gelu".`,
    );
  }
  if (config['scale_attn_weights'] === false) {
    throw new InvalidArgumentError(
      `${where}: scale_attn_weights is false; only the standard scaling by 1/sqrt(d_head) is implemented.`,
    );
  }
  if (config['scale_attn_by_inverse_layer_idx'] === true) {
    throw new InvalidArgumentError(
      `${where}: scale_attn_by_inverse_layer_idx is true; this is not implemented (accepted: false).`,
    );
  }
  if (config['add_cross_attention'] === true) {
    throw new InvalidArgumentError(
      `${where}: add_cross_attention is true; cross-attention is not implemented (accepted: false).`,
    );
  }
  const name = field(config, '_name_or_path');
  const [embedding, heads] = [
    field(config, 'n_embd', 'hidden_size'),
    field(config, 'n_head', 'num_attention_heads'),
  ];
  if (
    Number.isInteger(embedding) &&
    Number.isInteger(heads) &&
    (heads as number) > 0 &&
    (embedding as number) % (heads as number) !== 0
  ) {
    throw new InvalidArgumentError(
      `${where}: config.json's n_embd (${embedding}) must be divisible by n_head (${heads}): each head gets n_embd / n_head dimensions; check that config.json belongs to these weights.`,
    );
  }
  return createGPT2Config({
    nLayers: required(['n_layer', 'num_hidden_layers']) as number,
    nHeads: required(['n_head', 'num_attention_heads']) as number,
    dModel: required(['n_embd', 'hidden_size']) as number,
    dVocab: required(['vocab_size']) as number,
    nCtx: required(['n_positions', 'n_ctx', 'max_position_embeddings']) as number,
    ...(field(config, 'n_inner') === undefined ? {} : { dMlp: field(config, 'n_inner') as number }),
    eps: (field(config, 'layer_norm_epsilon') ?? 1e-5) as number,
    actFn,
    ...(typeof name === 'string' && name !== '' ? { modelName: name } : {}),
  });
}

/**
 * The Hugging Face `config.json` object for a GPT-2 config (for writing a checkpoint that
 * `transformers.GPT2LMHeadModel.from_pretrained` and this package both load).
 *
 * @throws InvalidArgumentError for a config whose LayerNorms are folded (`LNPre`): such weights
 *   are not a Hugging Face checkpoint.
 * @example
 * ```ts
 * await writeFile('model/config.json', JSON.stringify(gpt2ConfigToHuggingFace(config), null, 2));
 * ```
 */
export function gpt2ConfigToHuggingFace(config: GPT2Config): Record<string, unknown> {
  if (config.normalizationType !== 'LN') {
    throw new InvalidArgumentError(
      'gpt2ConfigToHuggingFace: config.normalizationType is "LNPre" (folded LayerNorms); only unprocessed ("LN") weights form a Hugging Face checkpoint.',
    );
  }
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: config.actFn,
    n_layer: config.nLayers,
    n_head: config.nHeads,
    n_embd: config.dModel,
    n_inner: config.dMlp === 4 * config.dModel ? null : config.dMlp,
    n_positions: config.nCtx,
    n_ctx: config.nCtx,
    vocab_size: config.dVocab,
    layer_norm_epsilon: config.eps,
    bos_token_id: 50256,
    eos_token_id: 50256,
    attn_pdrop: 0,
    embd_pdrop: 0,
    resid_pdrop: 0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    tie_word_embeddings: true,
  };
}
