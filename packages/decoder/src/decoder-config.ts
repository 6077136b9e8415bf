import { InvalidArgumentError, type ModelConfig } from '@patchlens/tensor-hooks';

/**
 * Normalisation of a block's inputs, TransformerLens's `normalization_type`: `LN` (LayerNorm with
 * weight and bias), `RMS` (RMSNorm with weight), or their folded forms `LNPre` / `RMSPre` (centre
 * and/or scale only, after `fold_ln` moved the weights into the next linear map).
 */
export type NormalizationType = 'LN' | 'LNPre' | 'RMS' | 'RMSPre';

/** Activation functions of the MLP, by TransformerLens's `act_fn` names. */
export type DecoderActivationFunction = 'gelu' | 'gelu_new' | 'silu' | 'relu';

/**
 * The configuration of one decoder-only transformer: dimensions plus the choices that tell the
 * model families apart, with TransformerLens's `HookedTransformerConfig` names in camelCase.
 *
 * @example
 * ```ts
 * const llamaLike: DecoderConfig = createDecoderConfig({ nLayers: 2, nHeads: 4, nKeyValueHeads: 2, dModel: 32,
 *   dMlp: 64, dVocab: 300, nCtx: 64, normalizationType: 'RMS', positionalEmbeddingType: 'rotary',
 *   gatedMlp: true, actFn: 'silu' });
 * ```
 */
export interface DecoderConfig extends ModelConfig {
  /** Epsilon inside the norms' square root. */
  readonly eps: number;
  readonly actFn: DecoderActivationFunction;
  readonly normalizationType: NormalizationType;
  /** `standard`: learned absolute position embeddings `W_pos`; `rotary`: RoPE on queries and keys. */
  readonly positionalEmbeddingType: 'standard' | 'rotary';
  /** Rotated dimensions of each head (rotary only; even, at most dHead). */
  readonly rotaryDim: number;
  /** RoPE base (`rope_theta`, `rotary_emb_base`). */
  readonly rotaryBase: number;
  /** `act(x W_gate) * (x W_in)` instead of `act(x W_in + b_in)`. */
  readonly gatedMlp: boolean;
  /** Attention and MLP both read `resid_pre` and add to it (GPT-NeoX, GPT-J); no `hook_resid_mid`. */
  readonly parallelAttnMlp: boolean;
  /** Hugging Face architecture the weights came from (e.g. `LlamaForCausalLM`). */
  readonly originalArchitecture: string;
  /** Whether `toTokens` puts BOS first by default (TransformerLens's `default_prepend_bos`). */
  readonly defaultPrependBos: boolean;
}

/** Fields of {@link createDecoderConfig}: dimensions required, the rest defaulted. */
export type DecoderConfigInput = Omit<ModelConfig, 'nKeyValueHeads' | 'dHead'> &
  Partial<Omit<DecoderConfig, keyof Omit<ModelConfig, 'nKeyValueHeads' | 'dHead'>>>;

const ACTIVATIONS: readonly DecoderActivationFunction[] = ['gelu', 'gelu_new', 'silu', 'relu'];
const NORMS: readonly NormalizationType[] = ['LN', 'LNPre', 'RMS', 'RMSPre'];

function positiveInteger(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `${where}: ${name} is ${JSON.stringify(value)}; expected an integer >= 1.`,
    );
  }
  return value;
}

/**
 * A checked, frozen {@link DecoderConfig}: defaults `dHead = dModel / nHeads`, `nKeyValueHeads`
 * null, `eps` 1e-5, `actFn` gelu_new, `LN`, standard positions, `rotaryDim = dHead`, base 10000,
 * plain sequential MLP, `defaultPrependBos` true.
 *
 * @throws InvalidArgumentError naming the field for a non-integer dimension, heads that do not
 *   divide, an odd or too large rotaryDim, or an unknown activation / normalisation.
 * @example
 * ```ts
 * createDecoderConfig({ nLayers: 1, nHeads: 2, dModel: 8, dMlp: 16, dVocab: 10, nCtx: 8 }).dHead; // 4
 * ```
 */
export function createDecoderConfig(input: DecoderConfigInput): DecoderConfig {
  const where = 'createDecoderConfig';
  for (const name of ['nLayers', 'nHeads', 'dModel', 'dMlp', 'dVocab', 'nCtx'] as const) {
    positiveInteger(where, name, input[name]);
  }
  const dHead = input.dHead ?? input.dModel / input.nHeads;
  positiveInteger(where, 'dHead', dHead);
  const nKeyValueHeads = input.nKeyValueHeads ?? null;
  if (nKeyValueHeads !== null) {
    positiveInteger(where, 'nKeyValueHeads', nKeyValueHeads);
    if (input.nHeads % nKeyValueHeads !== 0) {
      throw new InvalidArgumentError(
        `${where}: nKeyValueHeads (${nKeyValueHeads}) must divide nHeads (${input.nHeads}).`,
      );
    }
  }
  const actFn = input.actFn ?? 'gelu_new';
  if (!ACTIVATIONS.includes(actFn)) {
    throw new InvalidArgumentError(
      `${where}: actFn is ${JSON.stringify(actFn)}; accepted: ${ACTIVATIONS.join(', ')}.`,
    );
  }
  const normalizationType = input.normalizationType ?? 'LN';
  if (!NORMS.includes(normalizationType)) {
    throw new InvalidArgumentError(
      `${where}: normalizationType is ${JSON.stringify(normalizationType)}; accepted: ${NORMS.join(', ')}.`,
    );
  }
  const positionalEmbeddingType = input.positionalEmbeddingType ?? 'standard';
  if (positionalEmbeddingType !== 'standard' && positionalEmbeddingType !== 'rotary') {
    throw new InvalidArgumentError(
      `${where}: positionalEmbeddingType is ${JSON.stringify(positionalEmbeddingType)}; accepted: standard, rotary.`,
    );
  }
  const rotaryDim = input.rotaryDim ?? dHead;
  if (!Number.isInteger(rotaryDim) || rotaryDim < 2 || rotaryDim % 2 !== 0 || rotaryDim > dHead) {
    throw new InvalidArgumentError(
      `${where}: rotaryDim is ${rotaryDim}; accepted: an even integer 2..dHead (${dHead}).`,
    );
  }
  const eps = input.eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps >= 0)) {
    throw new InvalidArgumentError(`${where}: eps is ${eps}; expected a number >= 0.`);
  }
  return Object.freeze({
    nLayers: input.nLayers,
    nHeads: input.nHeads,
    nKeyValueHeads,
    dModel: input.dModel,
    dHead,
    dMlp: input.dMlp,
    dVocab: input.dVocab,
    nCtx: input.nCtx,
    eps,
    actFn,
    normalizationType,
    positionalEmbeddingType,
    rotaryDim,
    rotaryBase: input.rotaryBase ?? 10000,
    gatedMlp: input.gatedMlp ?? false,
    parallelAttnMlp: input.parallelAttnMlp ?? false,
    originalArchitecture: input.originalArchitecture ?? 'custom',
    defaultPrependBos: input.defaultPrependBos ?? true,
  });
}

/** The number of key/value heads (`nKeyValueHeads`, or `nHeads` when every head has its own). */
export function keyValueHeads(config: ModelConfig): number {
  return config.nKeyValueHeads ?? config.nHeads;
}
