import { InvalidArgumentError, WeightMappingError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { GPT2Config } from './gpt2-config.js';
import type { GPT2BlockWeights, GPT2Weights, LayerNormWeights } from './gpt2-weights.js';

/**
 * Where a checkpoint tensor goes in {@link GPT2Weights}.
 *
 * @example
 * ```ts
 * GPT2_WEIGHT_TABLE.find((row) => row.slot === 'W_QKV')!.huggingFaceName; // 'h.{layer}.attn.c_attn.weight'
 * ```
 */
export type WeightSlot =
  | 'W_E'
  | 'W_pos'
  | 'ln1.w'
  | 'ln1.b'
  | 'W_QKV'
  | 'b_QKV'
  | 'W_O'
  | 'b_O'
  | 'ln2.w'
  | 'ln2.b'
  | 'W_in'
  | 'b_in'
  | 'W_out'
  | 'b_out'
  | 'ln_final.w'
  | 'ln_final.b'
  | 'W_U^T';

/**
 * One row of the declared Hugging Face -> PatchLens weight table.
 *
 * @example
 * ```ts
 * const row: WeightTableRow = GPT2_WEIGHT_TABLE[0]!; row.shape(config); // [dVocab, dModel]
 * ```
 */
export interface WeightTableRow {
  /** The Hugging Face tensor name, `{layer}` standing for the block index, without `transformer.`. */
  readonly huggingFaceName: string;
  /** The shape the tensor must have, from the config. */
  readonly shape: (config: GPT2Config) => readonly number[];
  /** Where it goes: a field of {@link GPT2Weights} (per block for `{layer}` rows); `W_U^T` = W_U transposed. */
  readonly slot: WeightSlot;
  /** A checkpoint may lack it (only `lm_head.weight`: GPT-2 ties the unembedding to `wte`). */
  readonly optional: boolean;
}

/**
 * The declared mapping from Hugging Face GPT-2 tensors to {@link GPT2Weights}: one row per
 * tensor, with the shape each must have. Every tensor is used as stored (Conv1D weights are
 * already `[in, out]`, and `c_attn`'s columns are q, k, v with heads in order, which is
 * `W_QKV`'s layout); only `lm_head.weight` is transposed, into W_U.
 *
 * @example
 * ```ts
 * for (const row of GPT2_WEIGHT_TABLE) console.log(row.huggingFaceName, row.shape(config), row.slot);
 * ```
 */
export const GPT2_WEIGHT_TABLE: readonly WeightTableRow[] = Object.freeze(
  (
    [
      { huggingFaceName: 'wte.weight', shape: (c) => [c.dVocab, c.dModel], slot: 'W_E' },
      { huggingFaceName: 'wpe.weight', shape: (c) => [c.nCtx, c.dModel], slot: 'W_pos' },
      { huggingFaceName: 'h.{layer}.ln_1.weight', shape: (c) => [c.dModel], slot: 'ln1.w' },
      { huggingFaceName: 'h.{layer}.ln_1.bias', shape: (c) => [c.dModel], slot: 'ln1.b' },
      {
        huggingFaceName: 'h.{layer}.attn.c_attn.weight',
        shape: (c) => [c.dModel, 3 * c.nHeads * c.dHead],
        slot: 'W_QKV',
      },
      {
        huggingFaceName: 'h.{layer}.attn.c_attn.bias',
        shape: (c) => [3 * c.nHeads * c.dHead],
        slot: 'b_QKV',
      },
      {
        huggingFaceName: 'h.{layer}.attn.c_proj.weight',
        shape: (c) => [c.nHeads * c.dHead, c.dModel],
        slot: 'W_O',
      },
      { huggingFaceName: 'h.{layer}.attn.c_proj.bias', shape: (c) => [c.dModel], slot: 'b_O' },
      { huggingFaceName: 'h.{layer}.ln_2.weight', shape: (c) => [c.dModel], slot: 'ln2.w' },
      { huggingFaceName: 'h.{layer}.ln_2.bias', shape: (c) => [c.dModel], slot: 'ln2.b' },
      {
        huggingFaceName: 'h.{layer}.mlp.c_fc.weight',
        shape: (c) => [c.dModel, c.dMlp],
        slot: 'W_in',
      },
      { huggingFaceName: 'h.{layer}.mlp.c_fc.bias', shape: (c) => [c.dMlp], slot: 'b_in' },
      {
        huggingFaceName: 'h.{layer}.mlp.c_proj.weight',
        shape: (c) => [c.dMlp, c.dModel],
        slot: 'W_out',
      },
      { huggingFaceName: 'h.{layer}.mlp.c_proj.bias', shape: (c) => [c.dModel], slot: 'b_out' },
      { huggingFaceName: 'ln_f.weight', shape: (c) => [c.dModel], slot: 'ln_final.w' },
      { huggingFaceName: 'ln_f.bias', shape: (c) => [c.dModel], slot: 'ln_final.b' },
      { huggingFaceName: 'lm_head.weight', shape: (c) => [c.dVocab, c.dModel], slot: 'W_U^T' },
    ] satisfies Omit<WeightTableRow, 'optional'>[]
  ).map((row): WeightTableRow => Object.freeze({ ...row, optional: row.slot === 'W_U^T' })),
);

/**
 * One tensor a checkpoint for a given config must (or may) contain.
 *
 * @example
 * ```ts
 * expectedTensors(config).find((entry) => entry.name === 'h.0.mlp.c_fc.bias')!.shape; // [dMlp]
 * ```
 */
export interface ExpectedTensor {
  /** Hugging Face name without the `transformer.` prefix (`h.3.attn.c_attn.weight`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly slot: WeightSlot;
  /** Block index for per-block tensors. */
  readonly layer: number | undefined;
  readonly optional: boolean;
}

/**
 * The weight table expanded for a config: every tensor name with its expected shape.
 *
 * @example
 * ```ts
 * expectedTensors(config).length; // 2 + 12 * nLayers + 2 + 1 (the optional lm_head.weight)
 * ```
 */
export function expectedTensors(config: GPT2Config): ExpectedTensor[] {
  const expanded: ExpectedTensor[] = [];
  for (const row of GPT2_WEIGHT_TABLE) {
    if (!row.huggingFaceName.includes('{layer}')) {
      expanded.push({
        name: row.huggingFaceName,
        shape: row.shape(config),
        slot: row.slot,
        layer: undefined,
        optional: row.optional,
      });
    }
  }
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const row of GPT2_WEIGHT_TABLE) {
      if (!row.huggingFaceName.includes('{layer}')) continue;
      expanded.push({
        name: row.huggingFaceName.replace('{layer}', String(layer)),
        shape: row.shape(config),
        slot: row.slot,
        layer,
        optional: row.optional,
      });
    }
  }
  return expanded;
}

const TRANSFORMER_PREFIX = 'transformer.';
/** Causal-mask buffers some checkpoints store; they are not weights. */
const MASK_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * How a checkpoint's tensor names line up with the weight table.
 *
 * @example
 * ```ts
 * const { stored, skipped }: CheckpointNameMap = matchCheckpointNames(config, shapes);
 * ```
 */
export interface CheckpointNameMap {
  /** Table name -> the name as stored in the checkpoint (with or without `transformer.`). */
  readonly stored: ReadonlyMap<string, string>;
  /** Stored names skipped on purpose (the `attn.bias` / `attn.masked_bias` mask buffers). */
  readonly skipped: readonly string[];
}

function formatShape(shape: readonly number[] | undefined): string {
  return shape === undefined ? 'absent' : `[${shape.join(', ')}]`;
}

/**
 * Matches a checkpoint's tensor names (and shapes, when given) against the weight table before
 * any data is read: accepts names with or without the `transformer.` prefix and skips the mask
 * buffers.
 *
 * @param config - the model's config.
 * @param shapes - stored tensor name -> shape (shape checks are skipped for names mapped to undefined).
 * @throws WeightMappingError naming the first missing tensor (with its expected shape), a tensor
 *   whose shape differs (expected and found), a name stored twice (with and without the prefix),
 *   or tensors the table does not know.
 * @example
 * ```ts
 * const { stored } = matchCheckpointNames(config, new Map([['wte.weight', [50257, 768]], ...]));
 * ```
 */
export function matchCheckpointNames(
  config: GPT2Config,
  shapes: ReadonlyMap<string, readonly number[] | undefined>,
): CheckpointNameMap {
  const where = 'matchCheckpointNames';
  const expected = expectedTensors(config);
  const known = new Set(expected.map((entry) => entry.name));
  const stored = new Map<string, string>();
  const skipped: string[] = [];
  const unknown: string[] = [];
  for (const storedName of shapes.keys()) {
    const name = storedName.startsWith(TRANSFORMER_PREFIX)
      ? storedName.slice(TRANSFORMER_PREFIX.length)
      : storedName;
    if (MASK_BUFFER.test(name)) {
      skipped.push(storedName);
      continue;
    }
    if (!known.has(name)) {
      unknown.push(storedName);
      continue;
    }
    const previous = stored.get(name);
    if (previous !== undefined) {
      throw new WeightMappingError(
        `${where}: the checkpoint stores "${name}" twice ("${previous}" and "${storedName}"); keep one.`,
      );
    }
    stored.set(name, storedName);
  }
  for (const entry of expected) {
    const storedName = stored.get(entry.name);
    if (storedName === undefined) {
      if (entry.optional) continue;
      throw new WeightMappingError(
        `${where}: the checkpoint has no tensor "${entry.name}" (expected shape ${formatShape(entry.shape)}, found absent); a GPT-2 checkpoint with nLayers=${config.nLayers} needs it.`,
      );
    }
    const shape = shapes.get(storedName);
    if (shape !== undefined && !tf.util.arraysEqual([...shape], [...entry.shape])) {
      throw new WeightMappingError(
        `${where}: tensor "${storedName}" has shape ${formatShape(shape)}, expected ${formatShape(entry.shape)} (nLayers=${config.nLayers}, nHeads=${config.nHeads}, dModel=${config.dModel}, dMlp=${config.dMlp}, dVocab=${config.dVocab}, nCtx=${config.nCtx}).`,
      );
    }
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 6).map((name) => `"${name}"`);
    const more = unknown.length > shown.length ? `, ... (${unknown.length} in all)` : '';
    throw new WeightMappingError(
      `${where}: the checkpoint has tensors that are not GPT-2 weights for nLayers=${config.nLayers}: ${shown.join(', ')}${more}. Is config.json the one that belongs to these weights?`,
    );
  }
  return { stored, skipped };
}

type TensorLookup = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

function toMap(tensors: TensorLookup): Map<string, tf.Tensor> {
  if (tensors instanceof Map) return new Map(tensors);
  if (typeof tensors !== 'object' || tensors === null) {
    throw new InvalidArgumentError(
      `weightsFromHuggingFace: tensors must be a Map or an object of tf.Tensor by Hugging Face name, got ${tensors === null ? 'null' : typeof tensors}.`,
    );
  }
  return new Map(Object.entries(tensors));
}

/**
 * {@link GPT2Weights} from Hugging Face GPT-2 tensors (names with or without `transformer.`),
 * following {@link GPT2_WEIGHT_TABLE} with a shape check per tensor.
 *
 * The result shares the input tensors (no copy) except `W_U` (`wte.weight` transposed, or
 * `lm_head.weight` transposed when present) and `b_U` (zeros), which are new. It is made of tfjs
 * ops only, so a training loop can keep Hugging Face-layout variables and call this inside the
 * function it differentiates: the gradients reach the variables, tied embedding included.
 *
 * @param config - the model's config (its `normalizationType` must be `LN`).
 * @param tensors - float32 tensors by Hugging Face name (`wte.weight`, `h.0.attn.c_attn.weight`, ...).
 * @throws WeightMappingError for a missing, mis-shaped or unknown tensor (names, expected and found shapes).
 * @example
 * ```ts
 * const loss = () => tf.tidy(() => lossFn(gpt2Forward(config, weightsFromHuggingFace(config, variables), tokens)));
 * ```
 */
export function weightsFromHuggingFace(config: GPT2Config, tensors: TensorLookup): GPT2Weights {
  const byName = toMap(tensors);
  for (const [name, tensor] of byName) {
    if (!(tensor instanceof tf.Tensor)) {
      throw new InvalidArgumentError(
        `weightsFromHuggingFace: "${name}" is ${typeof tensor}, expected a tf.Tensor.`,
      );
    }
    if (tensor.dtype !== 'float32') {
      throw new WeightMappingError(
        `weightsFromHuggingFace: tensor "${name}" has dtype ${tensor.dtype}, expected float32.`,
      );
    }
  }
  const shapes = new Map([...byName].map(([name, tensor]) => [name, tensor.shape] as const));
  const { stored } = matchCheckpointNames(config, shapes);
  const get = (name: string): tf.Tensor | undefined => {
    const storedName = stored.get(name);
    return storedName === undefined ? undefined : byName.get(storedName);
  };
  const top = new Map<WeightSlot, tf.Tensor>();
  const blocks = Array.from({ length: config.nLayers }, () => new Map<WeightSlot, tf.Tensor>());
  for (const entry of expectedTensors(config)) {
    const tensor = get(entry.name);
    if (tensor === undefined) continue;
    (entry.layer === undefined ? top : blocks[entry.layer]!).set(entry.slot, tensor);
  }
  const need = (slots: Map<WeightSlot, tf.Tensor>, slot: WeightSlot) => slots.get(slot)!;
  const lmHead = top.get('W_U^T');
  const W_E = need(top, 'W_E') as tf.Tensor2D;
  return {
    W_E,
    W_pos: need(top, 'W_pos') as tf.Tensor2D,
    blocks: blocks.map(
      (slots): GPT2BlockWeights => ({
        ln1: layerNorm(need(slots, 'ln1.w'), need(slots, 'ln1.b')),
        W_QKV: need(slots, 'W_QKV') as tf.Tensor2D,
        b_QKV: need(slots, 'b_QKV') as tf.Tensor1D,
        W_O: need(slots, 'W_O') as tf.Tensor2D,
        b_O: need(slots, 'b_O') as tf.Tensor1D,
        ln2: layerNorm(need(slots, 'ln2.w'), need(slots, 'ln2.b')),
        W_in: need(slots, 'W_in') as tf.Tensor2D,
        b_in: need(slots, 'b_in') as tf.Tensor1D,
        W_out: need(slots, 'W_out') as tf.Tensor2D,
        b_out: need(slots, 'b_out') as tf.Tensor1D,
      }),
    ),
    ln_final: layerNorm(need(top, 'ln_final.w'), need(top, 'ln_final.b')),
    W_U: tf.transpose(lmHead ?? W_E) as tf.Tensor2D, // [dModel, dVocab]
    b_U: tf.zeros([config.dVocab]) as tf.Tensor1D,
  };
}

function layerNorm(w: tf.Tensor, b: tf.Tensor): LayerNormWeights {
  return { w: w as tf.Tensor1D, b: b as tf.Tensor1D };
}

/**
 * Options of {@link toHuggingFaceTensors}.
 *
 * @example
 * ```ts
 * toHuggingFaceTensors(weights, { tieWordEmbeddings: false }); // writes lm_head.weight
 * ```
 */
export interface ToHuggingFaceOptions {
  /**
   * Write no `lm_head.weight` because W_U is W_E transposed (default true, as GPT-2). The function
   * checks that they are equal; with false, W_U is written as `lm_head.weight` (transposed).
   */
  readonly tieWordEmbeddings?: boolean;
}

/**
 * The Hugging Face tensors (names and shapes of {@link GPT2_WEIGHT_TABLE}, no `transformer.`
 * prefix) for unprocessed weights, as new tensors the caller owns: ready for a safetensors writer.
 *
 * @param weights - unprocessed weights (LayerNorms present, b_U zero).
 * @param options.tieWordEmbeddings - omit `lm_head.weight` (default true; checked: W_U must equal W_E transposed).
 * @throws WeightMappingError for folded LayerNorms, a non-zero b_U, or (when tied) a W_U that is
 *   not W_E transposed.
 * @example
 * ```ts
 * const tensors = toHuggingFaceTensors(weights);
 * // write with @patchlens/safetensors, then dispose: tf.dispose([...tensors.values()])
 * ```
 */
export function toHuggingFaceTensors(
  weights: GPT2Weights,
  options: ToHuggingFaceOptions = {},
): Map<string, tf.Tensor> {
  const where = 'toHuggingFaceTensors';
  const tie = options.tieWordEmbeddings ?? true;
  if (!weights.ln_final || weights.blocks.some((block) => !block.ln1 || !block.ln2)) {
    throw new WeightMappingError(
      `${where}: the weights have folded LayerNorms (processed, "LNPre"); only unprocessed weights form a Hugging Face checkpoint. Load with { processWeights: false }.`,
    );
  }
  const checks = tf.tidy(() => {
    const biasMax = tf.max(tf.abs(weights.b_U)).dataSync()[0]!;
    const tiedGap = tie
      ? tf.max(tf.abs(tf.sub(tf.transpose(weights.W_U), weights.W_E))).dataSync()[0]!
      : 0;
    return { biasMax, tiedGap };
  });
  if (checks.biasMax !== 0) {
    throw new WeightMappingError(
      `${where}: b_U is not zero (max |b_U| = ${checks.biasMax}); GPT-2 checkpoints have no unembedding bias.`,
    );
  }
  if (checks.tiedGap !== 0) {
    throw new WeightMappingError(
      `${where}: W_U is not W_E transposed (max difference ${checks.tiedGap}); pass { tieWordEmbeddings: false } to write lm_head.weight.`,
    );
  }
  const entries = tf.tidy(() => {
    const entries: [string, tf.Tensor][] = [
      ['wte.weight', tf.clone(weights.W_E)],
      ['wpe.weight', tf.clone(weights.W_pos)],
    ];
    weights.blocks.forEach((block, layer) => {
      const prefix = `h.${layer}`;
      entries.push(
        [`${prefix}.ln_1.weight`, tf.clone(block.ln1!.w)],
        [`${prefix}.ln_1.bias`, tf.clone(block.ln1!.b)],
        [`${prefix}.attn.c_attn.weight`, tf.clone(block.W_QKV)],
        [`${prefix}.attn.c_attn.bias`, tf.clone(block.b_QKV)],
        [`${prefix}.attn.c_proj.weight`, tf.clone(block.W_O)],
        [`${prefix}.attn.c_proj.bias`, tf.clone(block.b_O)],
        [`${prefix}.ln_2.weight`, tf.clone(block.ln2!.w)],
        [`${prefix}.ln_2.bias`, tf.clone(block.ln2!.b)],
        [`${prefix}.mlp.c_fc.weight`, tf.clone(block.W_in)],
        [`${prefix}.mlp.c_fc.bias`, tf.clone(block.b_in)],
        [`${prefix}.mlp.c_proj.weight`, tf.clone(block.W_out)],
        [`${prefix}.mlp.c_proj.bias`, tf.clone(block.b_out)],
      );
    });
    entries.push(
      ['ln_f.weight', tf.clone(weights.ln_final!.w)],
      ['ln_f.bias', tf.clone(weights.ln_final!.b)],
    );
    if (!tie) entries.push(['lm_head.weight', tf.transpose(weights.W_U)]); // [dVocab, dModel]
    return entries;
  });
  return new Map(entries);
}
