import { WeightMappingError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { DecoderConfig } from './decoder-config.js';
import type { DecoderBlockWeights, DecoderWeights, NormWeights } from './decoder-weights.js';

/**
 * A place in {@link DecoderWeights}: per block for rows whose name holds `{layer}`.
 *
 * @example
 * ```ts
 * const slot: DecoderWeightSlot = 'W_Q';
 * ```
 */
export type DecoderWeightSlot =
  | 'W_E'
  | 'W_pos'
  | 'ln1.w'
  | 'ln1.b'
  | 'W_Q'
  | 'b_Q'
  | 'W_K'
  | 'b_K'
  | 'W_V'
  | 'b_V'
  | 'W_O'
  | 'b_O'
  | 'ln2.w'
  | 'ln2.b'
  | 'W_in'
  | 'b_in'
  | 'W_gate'
  | 'W_out'
  | 'b_out'
  | 'ln_final.w'
  | 'ln_final.b'
  | 'W_U'
  | 'b_U';

/**
 * One row of a family's declared Hugging Face -> decoder weight table.
 *
 * @example
 * ```ts
 * const row: DecoderWeightRow = { huggingFaceName: 'model.layers.{layer}.self_attn.q_proj.weight',
 *   shape: (c) => [c.nHeads * c.dHead, c.dModel], slots: ['W_Q'], convert: 'transpose' };
 * ```
 */
export interface DecoderWeightRow {
  /** The stored name, `{layer}` standing for the block index. */
  readonly huggingFaceName: string;
  /** The shape the stored tensor must have. */
  readonly shape: (config: DecoderConfig) => readonly number[];
  /** Where the converted tensor(s) go. */
  readonly slots: readonly DecoderWeightSlot[];
  /**
   * How the stored tensor becomes the slots' tensors: used as stored (default), `transpose`d
   * (PyTorch `nn.Linear` weights are `[out, in]`), or a named function returning one tensor per slot.
   */
  readonly convert?:
    | 'transpose'
    | {
        readonly name: string;
        readonly apply: (tensor: tf.Tensor, config: DecoderConfig) => tf.Tensor[];
      };
  /** The row applies only when this holds (e.g. q/k/v biases of Qwen2). Default: always. */
  readonly when?: (options: WeightTableOptions) => boolean;
}

/** Per-checkpoint choices the table depends on. */
export interface WeightTableOptions {
  readonly config: DecoderConfig;
  /** The unembedding is the transposed token embedding (`tie_word_embeddings`). */
  readonly tiedEmbeddings: boolean;
  /** The attention projections have biases (Qwen2, `attention_bias`). */
  readonly attentionBias: boolean;
}

/** One stored tensor a checkpoint must hold, with its expected shape. */
export interface ExpectedDecoderTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly row: DecoderWeightRow;
  readonly layer: number | undefined;
}

/**
 * The table expanded for a checkpoint: every stored name (rows applying to it) with its shape.
 *
 * @example
 * ```ts
 * expectedDecoderTensors(LLAMA_WEIGHT_TABLE, options).map((entry) => entry.name);
 * ```
 */
export function expectedDecoderTensors(
  table: readonly DecoderWeightRow[],
  options: WeightTableOptions,
): ExpectedDecoderTensor[] {
  const expanded: ExpectedDecoderTensor[] = [];
  for (const row of table) {
    if (row.when && !row.when(options)) continue;
    const shape = row.shape(options.config);
    if (!row.huggingFaceName.includes('{layer}')) {
      expanded.push({ name: row.huggingFaceName, shape, row, layer: undefined });
      continue;
    }
    for (let layer = 0; layer < options.config.nLayers; layer++) {
      expanded.push({
        name: row.huggingFaceName.replaceAll('{layer}', String(layer)),
        shape,
        row,
        layer,
      });
    }
  }
  return expanded;
}

/**
 * Checks stored names and shapes against the table (before any tensor is made): missing and
 * mis-shaped tensors, and names the table does not know (unless `ignored` matches them).
 *
 * @throws WeightMappingError naming the tensors, their expected and found shapes.
 * @example
 * ```ts
 * checkDecoderTensorNames(table, options, new Map([['model.norm.weight', [32]]]), []);
 * ```
 */
export function checkDecoderTensorNames(
  table: readonly DecoderWeightRow[],
  options: WeightTableOptions,
  stored: ReadonlyMap<string, readonly number[] | undefined>,
  ignored: readonly RegExp[],
  where: string,
): ExpectedDecoderTensor[] {
  const expected = expectedDecoderTensors(table, options);
  const known = new Set(expected.map((entry) => entry.name));
  const problems: string[] = [];
  const missing = expected.filter((entry) => !stored.has(entry.name)).map((entry) => entry.name);
  if (missing.length > 0) {
    const tiedHint =
      !options.tiedEmbeddings &&
      missing.some((name) =>
        table.some((row) => row.huggingFaceName === name && row.slots.includes('W_U')),
      )
        ? ' (config.json says tie_word_embeddings is false, so the checkpoint must store the unembedding; set it to true if the unembedding is the token embedding)'
        : '';
    problems.push(
      `missing ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''}${tiedHint}`,
    );
  }
  for (const entry of expected) {
    const shape = stored.get(entry.name);
    if (shape !== undefined && !tf.util.arraysEqual([...shape], [...entry.shape])) {
      problems.push(`"${entry.name}" has shape [${shape}], expected [${entry.shape}]`);
    }
  }
  const unknown = [...stored.keys()].filter(
    (name) =>
      !known.has(name) &&
      !ignored.some((pattern) => pattern.test(name)) &&
      !isOptionalTied(table, options, name),
  );
  if (unknown.length > 0) {
    problems.push(
      `unknown ${unknown.slice(0, 8).join(', ')}${unknown.length > 8 ? ` and ${unknown.length - 8} more` : ''}`,
    );
  }
  if (problems.length > 0) {
    throw new WeightMappingError(
      `${where}: the checkpoint does not match ${options.config.originalArchitecture} with this config.json: ${problems.join('; ')}.`,
    );
  }
  return expected;
}

/** A tied checkpoint may still store the (equal) unembedding; it is not used. */
function isOptionalTied(
  table: readonly DecoderWeightRow[],
  options: WeightTableOptions,
  name: string,
): boolean {
  return (
    options.tiedEmbeddings &&
    table.some((row) => row.huggingFaceName === name && row.slots.includes('W_U'))
  );
}

/**
 * Builds {@link DecoderWeights} from stored tensors by the table (names and shapes checked first).
 * Takes ownership of `tensors`: those converted are disposed after conversion, the unused ones too.
 * With tied embeddings, `W_U` is `W_E` transposed.
 *
 * @throws WeightMappingError for missing, mis-shaped or unknown tensors (nothing leaks).
 * @example
 * ```ts
 * const weights = decoderWeightsFromTable(LLAMA_WEIGHT_TABLE, options, tensors, [/rotary_emb\.inv_freq$/]);
 * ```
 */
export function decoderWeightsFromTable(
  table: readonly DecoderWeightRow[],
  options: WeightTableOptions,
  tensors: Map<string, tf.Tensor>,
  ignored: readonly RegExp[],
  where: string,
): DecoderWeights {
  const { config } = options;
  let expected: ExpectedDecoderTensor[];
  try {
    expected = checkDecoderTensorNames(
      table,
      options,
      new Map([...tensors].map(([name, tensor]) => [name, tensor.shape])),
      ignored,
      where,
    );
  } catch (error) {
    tf.dispose([...tensors.values()]);
    throw error;
  }
  const global = new Map<DecoderWeightSlot, tf.Tensor>();
  const perBlock: Map<DecoderWeightSlot, tf.Tensor>[] = Array.from(
    { length: config.nLayers },
    () => new Map(),
  );
  for (const entry of expected) {
    const stored = tensors.get(entry.name)!;
    const convert = entry.row.convert;
    const made =
      convert === undefined
        ? [stored]
        : convert === 'transpose'
          ? [tf.transpose(stored)]
          : convert.apply(stored, config);
    if (made.length !== entry.row.slots.length) {
      tf.dispose(made.filter((tensor) => tensor !== stored));
      throw new WeightMappingError(
        `${where}: converting "${entry.name}" made ${made.length} tensors for ${entry.row.slots.length} slots.`,
      );
    }
    const into = entry.layer === undefined ? global : perBlock[entry.layer]!;
    entry.row.slots.forEach((slot, index) => {
      into.set(slot, made[index]!);
    });
    if (!made.includes(stored)) stored.dispose();
    tensors.delete(entry.name);
  }
  tf.dispose([...tensors.values()]);
  tensors.clear();
  const norm = (
    from: Map<DecoderWeightSlot, tf.Tensor>,
    w: DecoderWeightSlot,
    b: DecoderWeightSlot,
  ): NormWeights | null => {
    const weight = from.get(w) as tf.Tensor1D | undefined;
    return weight ? { w: weight, b: (from.get(b) as tf.Tensor1D | undefined) ?? null } : null;
  };
  const optional = <T extends tf.Tensor>(
    from: Map<DecoderWeightSlot, tf.Tensor>,
    slot: DecoderWeightSlot,
  ) => (from.get(slot) as T | undefined) ?? null;
  const blocks = perBlock.map(
    (slots): DecoderBlockWeights => ({
      ln1: norm(slots, 'ln1.w', 'ln1.b'),
      ln2: norm(slots, 'ln2.w', 'ln2.b'),
      W_Q: slots.get('W_Q') as tf.Tensor2D,
      b_Q: optional(slots, 'b_Q'),
      W_K: slots.get('W_K') as tf.Tensor2D,
      b_K: optional(slots, 'b_K'),
      W_V: slots.get('W_V') as tf.Tensor2D,
      b_V: optional(slots, 'b_V'),
      W_O: slots.get('W_O') as tf.Tensor2D,
      b_O: optional(slots, 'b_O'),
      W_in: slots.get('W_in') as tf.Tensor2D,
      b_in: optional(slots, 'b_in'),
      W_gate: optional(slots, 'W_gate'),
      W_out: slots.get('W_out') as tf.Tensor2D,
      b_out: optional(slots, 'b_out'),
    }),
  );
  const W_E = global.get('W_E') as tf.Tensor2D;
  return {
    W_E,
    W_pos: optional(global, 'W_pos'),
    blocks,
    ln_final: norm(global, 'ln_final.w', 'ln_final.b'),
    W_U: options.tiedEmbeddings ? tf.transpose(W_E) : (global.get('W_U') as tf.Tensor2D),
    b_U: optional(global, 'b_U'),
  };
}
