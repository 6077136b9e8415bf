import * as tf from '@tensorflow/tfjs-core';

/**
 * cos and sin of RoPE angles for the absolute positions `start..start+count-1`, `[count, 1, rotaryDim]`
 * each (broadcast over heads), with Hugging Face's rotate-half layout (TransformerLens
 * `rotary_adjacent_pairs` false): dimension `i` and `i + rotaryDim/2` share the frequency
 * `base^(-2i/rotaryDim)`. Frequencies and angles are rounded to float32 as TransformerLens computes them.
 */
export function rotaryTables(
  start: number,
  count: number,
  rotaryDim: number,
  base: number,
): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
  const half = rotaryDim / 2;
  const cos = new Float32Array(count * rotaryDim);
  const sin = new Float32Array(count * rotaryDim);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < half; i++) {
      // As TransformerLens computes them in float32: freq = base^(i / half), angle = pos / freq.
      const frequency = Math.fround(base ** Math.fround(i / half));
      const angle = Math.fround((start + p) / frequency);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * rotaryDim + i] = c;
      cos[p * rotaryDim + i + half] = c;
      sin[p * rotaryDim + i] = s;
      sin[p * rotaryDim + i + half] = s;
    }
  }
  return {
    cos: tf.tensor3d(cos, [count, 1, rotaryDim]),
    sin: tf.tensor3d(sin, [count, 1, rotaryDim]),
  };
}

/**
 * RoPE on `[B, P, heads, dHead]` queries or keys: the first `rotaryDim` dimensions become
 * `x * cos + rotateHalf(x) * sin` with `rotateHalf([x1, x2]) = [-x2, x1]`; the rest pass through
 * (GPT-NeoX's `rotary_pct`).
 */
export function applyRotary(
  x: tf.Tensor4D,
  tables: { cos: tf.Tensor3D; sin: tf.Tensor3D },
): tf.Tensor4D {
  const [B, P, H, Dh] = x.shape;
  const rotaryDim = tables.cos.shape[2];
  const half = rotaryDim / 2;
  const rotated = rotaryDim === Dh ? x : tf.slice(x, [0, 0, 0, 0], [B, P, H, rotaryDim]); // [B, P, H, r]
  const first = tf.slice(rotated, [0, 0, 0, 0], [B, P, H, half]); // [B, P, H, r/2]
  const second = tf.slice(rotated, [0, 0, 0, half], [B, P, H, half]); // [B, P, H, r/2]
  const flipped = tf.concat([tf.neg(second), first], 3); // [B, P, H, r]
  const result = tf.add<tf.Tensor4D>(tf.mul(rotated, tables.cos), tf.mul(flipped, tables.sin)); // [B, P, H, r]
  if (rotaryDim === Dh) return result;
  const passed = tf.slice(x, [0, 0, 0, rotaryDim], [B, P, H, Dh - rotaryDim]); // [B, P, H, Dh - r]
  return tf.concat([result, passed], 3); // [B, P, H, Dh]
}
