import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  type AnalysisCache,
  analysisWeightsOf,
  applyLnToStack,
  resolveTargetLayer,
} from './apply-ln-to-stack.js';
import { type AxisSlice, sliceAxis } from './axis-slice.js';

/**
 * A stack of residual-stream components `[components, batch, (pos,) dModel]` and their labels.
 *
 * @example
 * ```ts
 * const [stack, labels] = cache.decomposeResid(undefined, { returnLabels: true });
 * ```
 */
export interface LabelledStack {
  /** `[components, batch, (pos,) dModel]`; the caller disposes it. */
  readonly stack: tf.Tensor;
  /** One label per component. */
  readonly labels: string[];
}

/**
 * Options of `ActivationCache.accumulatedResid`.
 *
 * @example
 * ```ts
 * cache.accumulatedResid(undefined, { applyLn: true, posSlice: -1, returnLabels: true });
 * ```
 */
export interface AccumulatedResidOptions {
  /** Also each earlier layer's `resid_mid` (default false). */
  readonly inclMid?: boolean;
  /**
   * Apply the final LayerNorm (with no layer or the last: recomputed per component, weight and
   * bias included — the logit lens; for a block: centre and divide by that block's cached ln1 scale).
   */
  readonly applyLn?: boolean;
  /** Position slice (`-1`: the last position, dropping the axis). */
  readonly posSlice?: AxisSlice;
  /** Return `[stack, labels]` instead of the stack. */
  readonly returnLabels?: boolean;
}

/**
 * Options of `ActivationCache.decomposeResid`.
 *
 * @example
 * ```ts
 * cache.decomposeResid(undefined, { mode: 'attn', posSlice: -1 });
 * ```
 */
export interface DecomposeResidOptions {
  /** `all` (default), `attn` or `mlp`: which block outputs. */
  readonly mode?: 'all' | 'attn' | 'mlp';
  /** Include `embed` and `pos_embed` (default true). */
  readonly inclEmbeds?: boolean;
  /** The input of `layer`'s MLP: also `{layer}_attn_out` (default false). */
  readonly mlpInput?: boolean;
  /** Centre each component and divide by the cached scale of the target LayerNorm. */
  readonly applyLn?: boolean;
  /** Position slice (`-1`: the last position, dropping the axis). */
  readonly posSlice?: AxisSlice;
  /** Return `[stack, labels]` instead of the stack. */
  readonly returnLabels?: boolean;
}

/**
 * Options of `ActivationCache.stackHeadResults`.
 *
 * @example
 * ```ts
 * cache.stackHeadResults(-1, { applyLn: true, posSlice: -1, returnLabels: true });
 * ```
 */
export interface StackHeadResultsOptions {
  /** Return `[stack, labels]` instead of the stack. */
  readonly returnLabels?: boolean;
  /** Add a last component `remainder`: the residual stream minus every head's output. */
  readonly inclRemainder?: boolean;
  /** Centre each component and divide by the cached scale of the target LayerNorm. */
  readonly applyLn?: boolean;
  /** Position slice (`-1`: the last position, dropping the axis). */
  readonly posSlice?: AxisSlice;
}

function stackOf(components: tf.Tensor[], where: string, posSlice: AxisSlice | undefined) {
  const sliced = components.map((component) =>
    sliceAxis(component, component.rank - 2, posSlice, `${where} (posSlice)`),
  );
  return tf.stack(sliced); // [components, batch, (pos,) dModel]
}

/**
 * TransformerLens `accumulated_resid`: the residual stream entering each block up to `layer`
 * (`{l}_pre`, with `inclMid` also `{l}_mid`), and with the unembedding as target the final
 * residual stream (`final_post`). The caller disposes the stack.
 */
export function accumulatedResid(
  cache: AnalysisCache,
  layer: number | undefined,
  options: AccumulatedResidOptions = {},
): LabelledStack {
  const where = 'ActivationCache.accumulatedResid';
  const target = resolveTargetLayer(cache, layer, where);
  const labels: string[] = [];
  const components: tf.Tensor[] = [];
  for (let l = 0; l <= target; l++) {
    if (l === cache.nLayers) {
      components.push(cache.get(`blocks.${cache.nLayers - 1}.hook_resid_post`));
      labels.push('final_post');
      continue;
    }
    components.push(cache.get(`blocks.${l}.hook_resid_pre`));
    labels.push(`${l}_pre`);
    if (options.inclMid && l < target) {
      components.push(cache.get(`blocks.${l}.hook_resid_mid`));
      labels.push(`${l}_mid`);
    }
  }
  const stack = tf.tidy(() => {
    const raw = stackOf(components, where, options.posSlice);
    if (!options.applyLn) return raw;
    return applyLnToStack(cache, raw, target, {
      ...(options.posSlice !== undefined ? { posSlice: options.posSlice } : {}),
      hasBatchDim: cache.hasBatchDim,
      recomputeLn: target === cache.nLayers,
    });
  });
  return { stack, labels };
}

/**
 * TransformerLens `decompose_resid`: the residual stream entering `layer` as the sum of its parts —
 * `embed`, `pos_embed`, then `{l}_attn_out` and `{l}_mlp_out` of every earlier block. The caller
 * disposes the stack.
 */
export function decomposeResid(
  cache: AnalysisCache,
  layer: number | undefined,
  options: DecomposeResidOptions = {},
): LabelledStack {
  const where = 'ActivationCache.decomposeResid';
  const target = resolveTargetLayer(cache, layer, where);
  const mode = options.mode ?? 'all';
  if (mode !== 'all' && mode !== 'attn' && mode !== 'mlp') {
    throw new InvalidArgumentError(
      `${where}: mode must be "all", "attn" or "mlp", got ${JSON.stringify(mode)}.`,
    );
  }
  const labels: string[] = [];
  const components: tf.Tensor[] = [];
  if (options.inclEmbeds ?? true) {
    for (const [name, label] of [
      ['hook_embed', 'embed'],
      ['hook_pos_embed', 'pos_embed'],
    ] as const) {
      if (cache.has(name)) {
        components.push(cache.get(name));
        labels.push(label);
      }
    }
  }
  const add = (kind: 'attn_out' | 'mlp_out', l: number) => {
    components.push(cache.get(`blocks.${l}.hook_${kind}`));
    labels.push(`${l}_${kind}`);
  };
  for (let l = 0; l < target; l++) {
    if (mode !== 'mlp') add('attn_out', l);
    if (mode !== 'attn') add('mlp_out', l);
  }
  if (options.mlpInput && mode !== 'mlp' && target < cache.nLayers) add('attn_out', target);
  if (components.length === 0) {
    throw new InvalidArgumentError(
      `${where}: nothing to stack (layer ${target}, mode "${mode}", inclEmbeds false); include the embeddings or a later layer.`,
    );
  }
  const stack = tf.tidy(() => {
    const raw = stackOf(components, where, options.posSlice);
    if (!options.applyLn) return raw;
    return applyLnToStack(cache, raw, target, {
      ...(options.posSlice !== undefined ? { posSlice: options.posSlice } : {}),
      hasBatchDim: cache.hasBatchDim,
      ...(options.mlpInput ? { mlpInput: true } : {}),
    });
  });
  return { stack, labels };
}

/**
 * TransformerLens `stack_head_results`: each head's output into the residual stream (`L{l}H{h}`)
 * for every block before `layer`, from `attn.hook_result` when cached, else from `hook_z` and
 * W_O (`result[..., h, :] = z[..., h, :] @ W_O[h]`). `[layer * nHeads (+1), batch, (pos,) dModel]`;
 * the caller disposes it.
 */
export function stackHeadResults(
  cache: AnalysisCache,
  layer: number | undefined,
  options: StackHeadResultsOptions = {},
): LabelledStack {
  const where = 'ActivationCache.stackHeadResults';
  const target = resolveTargetLayer(cache, layer, where);
  const labels: string[] = [];
  const stack = tf.tidy(() => {
    const perLayer: tf.Tensor[] = []; // each [..., head, dModel]
    for (let l = 0; l < target; l++) {
      const resultName = `blocks.${l}.attn.hook_result`;
      let result: tf.Tensor;
      if (cache.has(resultName)) {
        result = cache.get(resultName); // [batch, pos, head, dModel]
      } else {
        const z = cache.get(`blocks.${l}.attn.hook_z`); // [batch, pos, head, dHead]
        const W_O = analysisWeightsOf(cache, where).W_O[l]!; // [head * dHead, dModel]
        const [heads, dHead] = z.shape.slice(-2) as [number, number];
        const dModel = W_O.shape[1];
        const rows = z.size / (heads * dHead);
        const byHead = tf.transpose(tf.reshape(z, [rows, heads, dHead]), [1, 0, 2]); // [head, rows, dHead]
        const perHead = tf.matMul(byHead, tf.reshape(W_O, [heads, dHead, dModel])); // [head, rows, dModel]
        result = tf.reshape(tf.transpose(perHead, [1, 0, 2]), [
          ...z.shape.slice(0, -2),
          heads,
          dModel,
        ]); // [batch, pos, head, dModel]
      }
      const sliced = sliceAxis(result, result.rank - 3, options.posSlice, `${where} (posSlice)`);
      perLayer.push(sliced);
      for (let h = 0; h < result.shape[result.rank - 2]!; h++) labels.push(`L${l}H${h}`);
    }
    const base =
      target >= 1
        ? cache.get(`blocks.${target - 1}.hook_resid_post`)
        : cache.get('blocks.0.hook_resid_pre');
    const residual = sliceAxis(base, base.rank - 2, options.posSlice, `${where} (posSlice)`); // [batch, (pos,) dModel]
    let components: tf.Tensor;
    if (perLayer.length > 0) {
      const joined = tf.concat(perLayer, -2); // [..., layer * head, dModel]
      const headAxis = joined.rank - 2;
      const order = [headAxis, ...joined.shape.map((_, a) => a).filter((a) => a !== headAxis)];
      components = tf.transpose(joined, order); // [layer * head, ..., dModel]
    } else {
      components = tf.zeros([0, ...residual.shape]);
    }
    if (options.inclRemainder) {
      const remainder = tf.sub(residual, tf.sum(components, 0)); // [..., dModel]
      components = tf.concat([components, tf.expandDims(remainder, 0)], 0);
      labels.push('remainder');
    }
    if (!options.applyLn) return components;
    return applyLnToStack(cache, components, target, {
      ...(options.posSlice !== undefined ? { posSlice: options.posSlice } : {}),
      hasBatchDim: cache.hasBatchDim,
    });
  });
  return { stack, labels };
}
