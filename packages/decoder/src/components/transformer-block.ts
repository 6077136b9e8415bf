import * as tf from '@tensorflow/tfjs-core';
import { blockHookNames } from '../decoder-hook-names.js';
import type { DecoderBlockWeights } from '../decoder-weights.js';
import { type AttentionContext, attention } from './attention.js';
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
  const attnIn = normalize(
    residPre,
    type,
    block.ln1,
    config.eps,
    hooks,
    names.ln1Scale,
    names.ln1Normalized,
  );
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
