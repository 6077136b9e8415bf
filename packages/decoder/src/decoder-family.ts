import type { DecoderWeightRow, WeightTableOptions } from './weight-table.js';

/**
 * What a model family reads from a Hugging Face `config.json`: the decoder config and the
 * per-checkpoint choices its weight table depends on.
 *
 * @example
 * ```ts
 * const { config, tiedEmbeddings } = LLAMA_FAMILY.readConfig(json);
 * ```
 */
export interface FamilyConfig extends WeightTableOptions {
  /** `bos_token_id` of config.json (undefined when absent). */
  readonly bosTokenId: number | undefined;
}

/**
 * One model family on the shared decoder: which checkpoints it reads (`architectures` /
 * `model_type` of config.json), how (`readConfig`), and its declared weight table. No forward
 * pass: every family runs the same decoder.
 *
 * @example
 * ```ts
 * const model = DecoderModel.fromHuggingFace(LLAMA_FAMILY, configJson, tensors);
 * ```
 */
export interface DecoderFamily {
  /** Short name for messages (`llama`, `gpt-neox`). */
  readonly name: string;
  /** `architectures[0]` values of config.json this family reads. */
  readonly architectures: readonly string[];
  /** `model_type` values of config.json this family reads. */
  readonly modelTypes: readonly string[];
  /**
   * config.json (parsed or text) -> decoder config and table options.
   * @throws InvalidArgumentError naming the config field for anything unsupported.
   */
  readConfig(json: unknown): FamilyConfig;
  readonly weightTable: readonly DecoderWeightRow[];
  /** Stored names that are buffers, not weights (e.g. `rotary_emb.inv_freq`): skipped. */
  readonly ignoredTensors: readonly RegExp[];
}
