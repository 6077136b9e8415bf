import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidArgumentError, TokenizationError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Options of `toTokens` / `toStrTokens`.
 *
 * @example
 * ```ts
 * tokenizer.toTokens('Hello', { prependBos: false });
 * ```
 */
export interface ToTokensOptions {
  /** Put BOS first (default: the tokenizer's `defaultPrependBos`, TransformerLens's `default_prepend_bos`). */
  readonly prependBos?: boolean;
}

/**
 * Token ids as a tensor (rank 1 or 2), a plain array or a typed array.
 *
 * @example
 * ```ts
 * const ids: TokenIds = [1, 15043];
 * ```
 */
export type TokenIds = tf.Tensor | readonly number[] | Int32Array;

/**
 * Options of {@link HuggingFaceTokenizer.fromJson}.
 *
 * @example
 * ```ts
 * HuggingFaceTokenizer.fromJson(tokenizerJson, { bosTokenId: 1, defaultPrependBos: true });
 * ```
 */
export interface HuggingFaceTokenizerOptions {
  /** `tokenizer_config.json`, parsed (optional: special tokens, clean-up of spaces). */
  readonly tokenizerConfig?: Record<string, unknown>;
  /** The BOS id (config.json's `bos_token_id`); default: tokenizer_config's `bos_token`, looked up. */
  readonly bosTokenId?: number;
  /** Whether `toTokens` prepends BOS by default (Llama true, Pythia false). Default true. */
  readonly defaultPrependBos?: boolean;
}

const quote = (text: string) => JSON.stringify(text);

/**
 * A checkpoint's own tokenizer from its `tokenizer.json`, run by Hugging Face's
 * `@huggingface/tokenizers` (pure JS), with TransformerLens's helpers (`toTokens`, `toStr`,
 * `toStrTokens`, `toSingleToken`). Texts are encoded without the tokenizer's own special tokens;
 * BOS is prepended by id, as TransformerLens does (`default_prepend_bos` per family).
 *
 * Limitations: a batch of texts must tokenise to equal lengths (no padding).
 *
 * @example
 * ```ts
 * const tokenizer = HuggingFaceTokenizer.fromJson(JSON.parse(text), { bosTokenId: 1 });
 * tokenizer.toTokens('Hello world'); // [[1, ...]]
 * ```
 */
export class HuggingFaceTokenizer {
  /** The BOS id (undefined when the checkpoint names none: then `prependBos` is an error). */
  readonly bosTokenId: number | undefined;
  readonly defaultPrependBos: boolean;
  private readonly tokenizer: Tokenizer;

  private constructor(
    tokenizer: Tokenizer,
    bosTokenId: number | undefined,
    defaultPrependBos: boolean,
  ) {
    this.tokenizer = tokenizer;
    this.bosTokenId = bosTokenId;
    this.defaultPrependBos = defaultPrependBos;
  }

  /**
   * A tokenizer from `tokenizer.json` (text or parsed).
   *
   * @throws TokenizationError when the JSON is not a tokenizer the library reads.
   * @example
   * ```ts
   * HuggingFaceTokenizer.fromJson(await (await fetch(url)).json(), { defaultPrependBos: false });
   * ```
   */
  static fromJson(json: unknown, options: HuggingFaceTokenizerOptions = {}): HuggingFaceTokenizer {
    let parsed = json;
    try {
      if (typeof json === 'string') parsed = JSON.parse(json);
    } catch (error) {
      throw new TokenizationError(
        `HuggingFaceTokenizer.fromJson: tokenizer.json is not valid JSON (${(error as Error).message}).`,
        { cause: error },
      );
    }
    if (typeof parsed !== 'object' || parsed === null || !('model' in parsed)) {
      throw new TokenizationError(
        'HuggingFaceTokenizer.fromJson: tokenizer.json must be a JSON object with a "model" (the Hugging Face tokenizers format).',
      );
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(parsed, options.tokenizerConfig ?? {});
    } catch (error) {
      throw new TokenizationError(
        `HuggingFaceTokenizer.fromJson: @huggingface/tokenizers cannot read this tokenizer.json (${(error as Error).message}).`,
        { cause: error },
      );
    }
    let bos = options.bosTokenId;
    if (bos === undefined) {
      const bosToken = options.tokenizerConfig?.bos_token;
      const content =
        typeof bosToken === 'string'
          ? bosToken
          : (bosToken as { content?: string } | undefined)?.content;
      if (typeof content === 'string') bos = tokenizer.token_to_id(content);
    }
    return new HuggingFaceTokenizer(tokenizer, bos, options.defaultPrependBos ?? true);
  }

  /**
   * The ids of a text (no special tokens added).
   *
   * @example
   * ```ts
   * tokenizer.encode('Hello'); // [15043]
   * ```
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(
        `HuggingFaceTokenizer.encode: text is ${typeof text}; expected a string.`,
      );
    }
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Tokens `[batch, pos]` (int32) for one text or texts of equal token length.
   *
   * @throws TokenizationError for texts of different token lengths, an empty result, or BOS asked
   *   for without a known BOS id.
   * @example
   * ```ts
   * tokenizer.toTokens(['a b', 'c d']); // [2, n]
   * ```
   */
  toTokens(text: string | readonly string[], options: ToTokensOptions = {}): tf.Tensor2D {
    const texts = typeof text === 'string' ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0) {
      throw new InvalidArgumentError(
        'toTokens: text must be a string or a non-empty array of strings.',
      );
    }
    const rows = texts.map((entry) => this.idsOf(entry, options, 'toTokens'));
    const lengths = rows.map((row) => row.length);
    if (lengths.some((length) => length !== lengths[0])) {
      const listed = texts
        .map((entry, index) => `${quote(entry)} -> ${lengths[index]}`)
        .slice(0, 6)
        .join(', ');
      throw new TokenizationError(
        `toTokens: the texts tokenise to different lengths (${listed}); a batch needs equal lengths (padding is not supported).`,
      );
    }
    if (lengths[0] === 0) {
      throw new TokenizationError(
        'toTokens: the text is empty and no BOS is prepended, so there are no tokens.',
      );
    }
    return tf.tensor2d(rows.flat(), [rows.length, lengths[0]!], 'int32');
  }

  /**
   * The text of token ids: a string for rank 1, one per row for rank 2.
   *
   * @example
   * ```ts
   * tokenizer.toStr([15043]); // 'Hello'
   * ```
   */
  toStr(tokens: TokenIds): string | string[] {
    const { rows, rank2 } = idRows(tokens, 'toStr');
    const texts = rows.map((row) => this.tokenizer.decode(row));
    return rank2 ? texts : texts[0]!;
  }

  /**
   * Each token's text (TransformerLens `to_str_tokens`); a text gets BOS as in `toTokens`.
   *
   * @example
   * ```ts
   * tokenizer.toStrTokens('Hello world'); // ['<s>', 'Hello', ' world']
   * ```
   */
  toStrTokens(input: string | TokenIds, options: ToTokensOptions = {}): string[] {
    let ids: number[];
    if (typeof input === 'string') {
      ids = this.idsOf(input, options, 'toStrTokens');
    } else {
      const { rows } = idRows(input, 'toStrTokens');
      if (rows.length !== 1) {
        throw new InvalidArgumentError(
          `toStrTokens: got ${rows.length} rows of tokens; pass one sequence.`,
        );
      }
      ids = rows[0]!;
    }
    return ids.map((id) => this.tokenizer.decode([id]));
  }

  /**
   * The id of a text that is exactly one token.
   *
   * @throws TokenizationError naming how the text tokenises when it is not one token.
   * @example
   * ```ts
   * tokenizer.toSingleToken(' Mary');
   * ```
   */
  toSingleToken(text: string): number {
    const ids = this.encode(text);
    if (ids.length !== 1) {
      const pieces = ids.map((id) => `${quote(this.tokenizer.decode([id]))}=${id}`).join(', ');
      throw new TokenizationError(
        `toSingleToken: ${quote(text)} is ${ids.length} tokens${ids.length ? ` (${pieces})` : ''}; expected exactly one.`,
      );
    }
    return ids[0]!;
  }

  private idsOf(text: unknown, options: ToTokensOptions, where: string): number[] {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(`${where}: text is ${typeof text}; expected a string.`);
    }
    const ids = this.encode(text);
    if (options.prependBos ?? this.defaultPrependBos) {
      if (this.bosTokenId === undefined) {
        throw new TokenizationError(
          `${where}: prependBos is true but the checkpoint names no BOS token (config.json bos_token_id / tokenizer_config.json bos_token); pass prependBos: false.`,
        );
      }
      ids.unshift(this.bosTokenId);
    }
    return ids;
  }
}

function idRows(tokens: TokenIds, where: string): { rows: number[][]; rank2: boolean } {
  if (tokens instanceof tf.Tensor) {
    if (tokens.rank !== 1 && tokens.rank !== 2) {
      throw new InvalidArgumentError(
        `${where}: tokens have shape [${tokens.shape}]; expected rank 1 or 2.`,
      );
    }
    const values = Array.from(tokens.dataSync());
    if (tokens.rank === 1) return { rows: [values], rank2: false };
    const [batch, width] = tokens.shape as [number, number];
    return {
      rows: Array.from({ length: batch }, (_, row) => values.slice(row * width, (row + 1) * width)),
      rank2: true,
    };
  }
  if (Array.isArray(tokens) || tokens instanceof Int32Array) {
    return { rows: [Array.from(tokens as ArrayLike<number>)], rank2: false };
  }
  throw new InvalidArgumentError(
    `${where}: tokens are ${typeof tokens}; expected a tf.Tensor, a number array or an Int32Array.`,
  );
}
