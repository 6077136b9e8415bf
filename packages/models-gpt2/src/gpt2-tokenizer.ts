import { InvalidArgumentError, TokenizationError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { decode, EndOfText, encode } from 'gpt-tokenizer/encoding/r50k_base';

/**
 * GPT-2's `<|endoftext|>` id, used as BOS (and EOS).
 *
 * @example
 * ```ts
 * tf.tensor2d([[GPT2_BOS_TOKEN_ID, 5335]], [1, 2], 'int32');
 * ```
 */
export const GPT2_BOS_TOKEN_ID = 50256;

const ALLOWED_SPECIAL = new Set([EndOfText]);

/**
 * Options of {@link GPT2Tokenizer.toTokens} and {@link GPT2Tokenizer.toStrTokens}.
 *
 * @example
 * ```ts
 * tokenizer.toTokens(' Mary', { prependBos: false }); // [[5335]]
 * ```
 */
export interface ToTokensOptions {
  /** Put `<|endoftext|>` (50256) first, as TransformerLens does (default true). */
  readonly prependBos?: boolean;
}

/**
 * Token ids as a tensor (rank 1 or 2), a plain array or a typed array.
 *
 * @example
 * ```ts
 * const ids: TokenIds = [50256, 5335];
 * ```
 */
export type TokenIds = tf.Tensor | readonly number[] | Int32Array;

function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * GPT-2's byte-pair tokenizer (tiktoken's `r50k_base`), with TransformerLens's helpers.
 *
 * `<|endoftext|>` inside a text becomes token 50256, as with Hugging Face's GPT-2 tokenizer.
 *
 * @example
 * ```ts
 * const tokenizer = new GPT2Tokenizer();
 * const tokens = tokenizer.toTokens('When John and Mary went to the shops'); // [1, 9] int32, BOS first
 * tokenizer.toSingleToken(' Mary'); // 5335
 * ```
 */
export class GPT2Tokenizer {
  /** The BOS token id (`<|endoftext|>`). */
  readonly bosTokenId = GPT2_BOS_TOKEN_ID;
  /** Number of token ids (50257). */
  readonly vocabularySize = 50257;

  /**
   * The ids of a text (no BOS).
   *
   * @example
   * ```ts
   * tokenizer.encode(' Mary'); // [5335]
   * ```
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(
        `GPT2Tokenizer.encode: text is ${typeof text}; expected a string.`,
      );
    }
    return encode(text, { allowedSpecial: ALLOWED_SPECIAL });
  }

  /**
   * Tokens `[batch, pos]` (int32) for one text or a batch of texts, BOS first by default.
   *
   * @param text - a string or an array of strings that tokenise to the same length.
   * @param options.prependBos - prepend `<|endoftext|>` (default true).
   * @throws TokenizationError when the texts of a batch tokenise to different lengths (padding is
   *   not supported: it would need an attention mask), or a text is empty without BOS.
   * @example
   * ```ts
   * const tokens = tokenizer.toTokens(['When John and Mary', 'When Mary and John']); // [2, 5]
   * ```
   */
  toTokens(text: string | readonly string[], options: ToTokensOptions = {}): tf.Tensor2D {
    const where = 'toTokens';
    const prependBos = options.prependBos ?? true;
    const texts = typeof text === 'string' ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0) {
      throw new InvalidArgumentError(
        `${where}: text must be a string or a non-empty array of strings, got ${Array.isArray(texts) ? 'an empty array' : typeof text}.`,
      );
    }
    const rows = texts.map((entry: unknown, index) => {
      if (typeof entry !== 'string') {
        throw new InvalidArgumentError(
          `${where}: text[${index}] is ${typeof entry}; expected a string.`,
        );
      }
      const ids = this.encode(entry);
      return prependBos ? [GPT2_BOS_TOKEN_ID, ...ids] : ids;
    });
    const lengths = rows.map((row) => row.length);
    if (lengths.some((length) => length !== lengths[0])) {
      const listed = texts
        .map((entry, index) => `${quote(entry)} -> ${lengths[index]}`)
        .slice(0, 6)
        .join(', ');
      throw new TokenizationError(
        `${where}: the texts tokenise to different lengths (${listed}); a batch needs equal lengths (padding is not supported). Tokenise them separately or rephrase to equal length.`,
      );
    }
    if (lengths[0] === 0) {
      throw new TokenizationError(
        `${where}: the text is empty and prependBos is false, so there are no tokens.`,
      );
    }
    return tf.tensor2d(rows.flat(), [rows.length, lengths[0]!], 'int32');
  }

  /**
   * The text of token ids: a string for rank 1 (or a plain array), one string per row for rank 2.
   *
   * @example
   * ```ts
   * tokenizer.toStr([50256, 5335]); // '<|endoftext|> Mary'
   * ```
   */
  toStr(tokens: TokenIds): string | string[] {
    const rows = this.idRows(tokens, 'toStr');
    if (rows.rank2) return rows.ids.map((row) => decode(row));
    return decode(rows.ids[0]!);
  }

  /**
   * Each token's text, TransformerLens `to_str_tokens`: for a string, BOS first by default.
   *
   * @param input - a text, or token ids (rank 1, or rank 2 with one row).
   * @param options.prependBos - for a text input: prepend BOS (default true).
   * @throws InvalidArgumentError for a rank-2 tensor with more than one row.
   * @example
   * ```ts
   * tokenizer.toStrTokens('Hello world'); // ['<|endoftext|>', 'Hello', ' world']
   * ```
   */
  toStrTokens(input: string | TokenIds, options: ToTokensOptions = {}): string[] {
    let ids: number[];
    if (typeof input === 'string') {
      ids = this.encode(input);
      if (options.prependBos ?? true) ids.unshift(GPT2_BOS_TOKEN_ID);
    } else {
      const rows = this.idRows(input, 'toStrTokens');
      if (rows.ids.length !== 1) {
        throw new InvalidArgumentError(
          `toStrTokens: got ${rows.ids.length} rows of tokens; pass one sequence (rank 1, or rank 2 with batch 1).`,
        );
      }
      ids = rows.ids[0]!;
    }
    return ids.map((id) => decode([id]));
  }

  /**
   * The id of a text that is exactly one token (e.g. an answer for a logit-difference metric).
   *
   * @throws TokenizationError when the text is not exactly one token, naming how it tokenises.
   * @example
   * ```ts
   * tokenizer.toSingleToken(' Mary'); // 5335
   * tokenizer.toSingleToken('Mary'); // throws: 'Mary' is 2 tokens ...
   * ```
   */
  toSingleToken(text: string): number {
    const ids = this.encode(text);
    if (ids.length !== 1) {
      const pieces = ids.map((id) => `${quote(decode([id]))}=${id}`).join(', ');
      throw new TokenizationError(
        `toSingleToken: ${quote(text)} is ${ids.length} tokens${ids.length ? ` (${pieces})` : ''}; expected exactly one. Mind the leading space: " Mary" is one token, "Mary" is not.`,
      );
    }
    return ids[0]!;
  }

  private idRows(tokens: TokenIds, where: string): { ids: number[][]; rank2: boolean } {
    if (tokens instanceof tf.Tensor) {
      if (tokens.rank !== 1 && tokens.rank !== 2) {
        throw new InvalidArgumentError(
          `${where}: tokens have shape [${tokens.shape}]; expected rank 1 [pos] or rank 2 [batch, pos].`,
        );
      }
      const values = Array.from(tokens.dataSync());
      let ids: number[][] = [values];
      if (tokens.rank === 2) {
        const [batch, width] = tokens.shape as [number, number];
        ids = Array.from({ length: batch }, (_, row) =>
          values.slice(row * width, (row + 1) * width),
        );
      }
      this.checkIds(ids, where);
      return { ids, rank2: tokens.rank === 2 };
    }
    if (Array.isArray(tokens) || tokens instanceof Int32Array) {
      const ids = [Array.from(tokens as ArrayLike<number>)];
      this.checkIds(ids, where);
      return { ids, rank2: false };
    }
    throw new InvalidArgumentError(
      `${where}: tokens are ${typeof tokens}; expected a tf.Tensor, a number array or an Int32Array.`,
    );
  }

  private checkIds(rows: number[][], where: string): void {
    for (const row of rows) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabularySize) {
          throw new InvalidArgumentError(
            `${where}: token id ${id} is outside GPT-2's vocabulary; accepted: integers 0..${this.vocabularySize - 1}.`,
          );
        }
      }
    }
  }
}
