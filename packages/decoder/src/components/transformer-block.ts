import * as tf from '@tensorflow/tfjs-core';
import { keyValueHeads } from '../decoder-config.js';
import { blockHookNames } from '../decoder-hook-names.js';
import type { DecoderBlockWeights } from '../decoder-weights.js';
import { type AttentionContext, type AttentionInput, attention } from './attention.js';
import { mlp } from './mlp.js';
import { normalize } from './norm.js';

/**
 * One block, as TransformerLens's `TransformerBlock`. Sequential: `resid_mid = resid_pre +
 * attn(ln1(resid_pre))`, `resid_post = resid_mid + mlp(ln2(resid_mid))`. Parallel (GPT-NeoX):
 * `resid_post = resid_pre + attn(ln1(resid_pre)) + mlp(ln2(resid_pre))`, no `hook_resid_mid`.
 */
export function transformerBlock(
  residual: tf.Tensor3D,
  layer: number,
  block: DecoderBlockWeights,
  context: AttentionContext,
): tf.Tensor3D {
  const { hooks, config } = context;
  const names = blockHookNames(layer);
  const type = config.normalizationType;
  const residPre = hooks.run(names.residPre, residual); // [B, P, D]
  const ln1 = <T extends tf.Tensor>(x: T) =>
    normalize(x, type, block.ln1, config.eps, hooks, names.ln1Scale, names.ln1Normalized);
  let attnIn: AttentionInput;
  if (context.useSplitQkvInput) {
    // TransformerLens use_split_qkv_input: every head gets its own copy of resid_pre (keys and
    // values: one per key/value head), hooked, then normalised per head.
    const [B, P, D] = residPre.shape;
    const perHead = (heads: number) =>
      tf.broadcastTo(tf.reshape(residPre, [B, P, 1, D]), [B, P, heads, D]) as tf.Tensor4D; // [B, P, heads, D]
    const kvHeads = keyValueHeads(config);
    attnIn = [
      ln1(hooks.run(names.qInput, perHead(config.nHeads))),
      ln1(hooks.run(names.kInput, perHead(kvHeads))),
      ln1(hooks.run(names.vInput, perHead(kvHeads))),
    ];
  } else {
    attnIn = ln1(residPre); // [B, P, D]
  }
  const attnOut = attention(attnIn, layer, block, names, context); // [B, P, D]
  if (config.parallelAttnMlp) {
    const mlpIn = normalize(
      residPre,
      type,
      block.ln2,
      config.eps,
      hooks,
      names.ln2Scale,
      names.ln2Normalized,
    );
    const mlpOut = mlp(mlpIn, block, names, config, hooks); // [B, P, D]
    return hooks.run(names.residPost, tf.add<tf.Tensor3D>(tf.add(residPre, attnOut), mlpOut));
  }
  const residMid = hooks.run(names.residMid, tf.add<tf.Tensor3D>(residPre, attnOut)); // [B, P, D]
  const mlpIn = normalize(
    residMid,
    type,
    block.ln2,
    config.eps,
    hooks,
    names.ln2Scale,
    names.ln2Normalized,
  );
  const mlpOut = mlp(mlpIn, block, names, config, hooks); // [B, P, D]
  return hooks.run(names.residPost, tf.add<tf.Tensor3D>(residMid, mlpOut));
}
