/**
 * An independent GPT-2 forward pass in plain TypeScript (loops over Float32Array, no tfjs), for
 * tests only. It reads Hugging Face-named tensors directly (Conv1D weights `[in, out]`, c_attn
 * split into q, k, v along its last axis, then into heads) and records every hook point of the
 * spec in the spec's shapes.
 */

/** A plain tensor: row-major values and a shape. */
export interface PlainTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

/** The dimensions the reference needs. */
export interface ReferenceConfig {
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dModel: number;
  readonly dMlp: number;
  readonly dVocab: number;
  readonly nCtx: number;
  readonly eps: number;
  readonly actFn: 'gelu_new' | 'gelu';
}

function gelu(x: number, actFn: 'gelu_new' | 'gelu'): number {
  if (actFn === 'gelu_new') {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-12 (series for small |x|, continued fraction otherwise). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    let sum = 0;
    let term = a;
    for (let n = 0; n < 200; n++) {
      const next = term / (2 * n + 1);
      sum += next;
      term *= (-a * a) / (n + 1);
      if (Math.abs(next) < 1e-17) break;
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc continued fraction (Lentz)
  let f = a;
  let c = a;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = a + an * d;
    d = 1 / d;
    c = a + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return sign * (1 - erfc);
}

/**
 * The reference forward pass: every hook point of the spec (`attn.hook_result` included) and
 * the logits, all in float64 arithmetic stored as float32.
 */
export function referenceForward(
  config: ReferenceConfig,
  tensors: ReadonlyMap<string, PlainTensor>,
  tokens: readonly (readonly number[])[],
): { hooks: Map<string, PlainTensor>; logits: PlainTensor } {
  const { nLayers, nHeads: H, dModel: D, dMlp: M, dVocab: V, eps, actFn } = config;
  const Dh = D / H;
  const B = tokens.length;
  const P = tokens[0]!.length;
  const get = (name: string) => {
    const tensor = tensors.get(name) ?? tensors.get(`transformer.${name}`);
    if (!tensor) throw new Error(`reference: missing ${name}`);
    return tensor.data;
  };
  const hooks = new Map<string, PlainTensor>();
  const record = (name: string, shape: number[], values: Float64Array) => {
    hooks.set(name, { shape, data: Float32Array.from(values) });
  };

  // residual stream as float64 [B*P*D]
  const wte = get('wte.weight');
  const wpe = get('wpe.weight');
  const embed = new Float64Array(B * P * D);
  const posEmbed = new Float64Array(B * P * D);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      const token = tokens[b]![p]!;
      for (let d = 0; d < D; d++) {
        embed[(b * P + p) * D + d] = wte[token * D + d]!;
        posEmbed[(b * P + p) * D + d] = wpe[p * D + d]!;
      }
    }
  }
  record('hook_embed', [B, P, D], embed);
  record('hook_pos_embed', [B, P, D], posEmbed);
  let residual = embed.map((value, index) => value + posEmbed[index]!);

  const layerNorm = (
    x: Float64Array,
    weight: Float32Array | undefined,
    bias: Float32Array | undefined,
    prefix: string,
  ): Float64Array => {
    const out = new Float64Array(x.length);
    const scales = new Float64Array(B * P);
    const normalized = new Float64Array(x.length);
    for (let row = 0; row < B * P; row++) {
      let mean = 0;
      for (let d = 0; d < D; d++) mean += x[row * D + d]!;
      mean /= D;
      let variance = 0;
      for (let d = 0; d < D; d++) variance += (x[row * D + d]! - mean) ** 2;
      variance /= D;
      const scale = Math.sqrt(variance + eps);
      scales[row] = scale;
      for (let d = 0; d < D; d++) {
        const n = (x[row * D + d]! - mean) / scale;
        normalized[row * D + d] = n;
        out[row * D + d] = weight && bias ? n * weight[d]! + bias[d]! : n;
      }
    }
    record(`${prefix}.hook_scale`, [B, P, 1], scales);
    // TransformerLens >= 3.0 (PR #770): hook_normalized is (x - mean) / scale, before weight and bias.
    record(`${prefix}.hook_normalized`, [B, P, D], normalized);
    return out;
  };

  /** x [rows, inDim] @ W [inDim, outDim] + bias, W given with a column offset/stride. */
  const linear = (
    x: Float64Array,
    rows: number,
    inDim: number,
    weight: Float32Array,
    weightCols: number,
    colStart: number,
    outDim: number,
    bias: Float32Array,
  ): Float64Array => {
    const out = new Float64Array(rows * outDim);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outDim; o++) {
        let sum = bias[colStart + o]!;
        for (let i = 0; i < inDim; i++)
          sum += x[r * inDim + i]! * weight[i * weightCols + colStart + o]!;
        out[r * outDim + o] = sum;
      }
    }
    return out;
  };

  for (let layer = 0; layer < nLayers; layer++) {
    const p = `h.${layer}`;
    const hp = `blocks.${layer}`;
    record(`${hp}.hook_resid_pre`, [B, P, D], residual);
    const ln1 = layerNorm(residual, get(`${p}.ln_1.weight`), get(`${p}.ln_1.bias`), `${hp}.ln1`);
    const cAttnW = get(`${p}.attn.c_attn.weight`);
    const cAttnB = get(`${p}.attn.c_attn.bias`);
    // [B*P, D] for each of q, k, v, laid out [b, p, h, dh]
    const q = linear(ln1, B * P, D, cAttnW, 3 * D, 0, D, cAttnB);
    const k = linear(ln1, B * P, D, cAttnW, 3 * D, D, D, cAttnB);
    const v = linear(ln1, B * P, D, cAttnW, 3 * D, 2 * D, D, cAttnB);
    record(`${hp}.attn.hook_q`, [B, P, H, Dh], q);
    record(`${hp}.attn.hook_k`, [B, P, H, Dh], k);
    record(`${hp}.attn.hook_v`, [B, P, H, Dh], v);
    const scores = new Float64Array(B * H * P * P);
    const pattern = new Float64Array(B * H * P * P);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let qi = 0; qi < P; qi++) {
          const base = ((b * H + h) * P + qi) * P;
          let max = -Infinity;
          for (let ki = 0; ki < P; ki++) {
            if (ki > qi) {
              scores[base + ki] = -Infinity;
              continue;
            }
            let dot = 0;
            for (let d = 0; d < Dh; d++) {
              dot += q[(b * P + qi) * D + h * Dh + d]! * k[(b * P + ki) * D + h * Dh + d]!;
            }
            const score = dot / Math.sqrt(Dh);
            scores[base + ki] = score;
            max = Math.max(max, score);
          }
          let total = 0;
          for (let ki = 0; ki <= qi; ki++) total += Math.exp(scores[base + ki]! - max);
          for (let ki = 0; ki < P; ki++) {
            pattern[base + ki] = ki > qi ? 0 : Math.exp(scores[base + ki]! - max) / total;
          }
        }
      }
    }
    record(`${hp}.attn.hook_attn_scores`, [B, H, P, P], scores);
    record(`${hp}.attn.hook_pattern`, [B, H, P, P], pattern);
    const z = new Float64Array(B * P * D); // [b, p, h, dh]
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let qi = 0; qi < P; qi++) {
          for (let d = 0; d < Dh; d++) {
            let sum = 0;
            for (let ki = 0; ki <= qi; ki++) {
              sum += pattern[((b * H + h) * P + qi) * P + ki]! * v[(b * P + ki) * D + h * Dh + d]!;
            }
            z[(b * P + qi) * D + h * Dh + d] = sum;
          }
        }
      }
    }
    record(`${hp}.attn.hook_z`, [B, P, H, Dh], z);
    const cProjW = get(`${p}.attn.c_proj.weight`);
    const cProjB = get(`${p}.attn.c_proj.bias`);
    const result = new Float64Array(B * P * H * D); // [b, p, h, d_model]
    for (let row = 0; row < B * P; row++) {
      for (let h = 0; h < H; h++) {
        for (let o = 0; o < D; o++) {
          let sum = 0;
          for (let d = 0; d < Dh; d++)
            sum += z[row * D + h * Dh + d]! * cProjW[(h * Dh + d) * D + o]!;
          result[(row * H + h) * D + o] = sum;
        }
      }
    }
    record(`${hp}.attn.hook_result`, [B, P, H, D], result);
    const attnOut = new Float64Array(B * P * D);
    for (let row = 0; row < B * P; row++) {
      for (let o = 0; o < D; o++) {
        let sum = cProjB[o]!;
        for (let h = 0; h < H; h++) sum += result[(row * H + h) * D + o]!;
        attnOut[row * D + o] = sum;
      }
    }
    record(`${hp}.hook_attn_out`, [B, P, D], attnOut);
    const residMid = residual.map((value, index) => value + attnOut[index]!);
    record(`${hp}.hook_resid_mid`, [B, P, D], residMid);
    const ln2 = layerNorm(residMid, get(`${p}.ln_2.weight`), get(`${p}.ln_2.bias`), `${hp}.ln2`);
    const pre = linear(
      ln2,
      B * P,
      D,
      get(`${p}.mlp.c_fc.weight`),
      M,
      0,
      M,
      get(`${p}.mlp.c_fc.bias`),
    );
    record(`${hp}.mlp.hook_pre`, [B, P, M], pre);
    const post = pre.map((value) => gelu(value, actFn));
    record(`${hp}.mlp.hook_post`, [B, P, M], post);
    const mlpOut = linear(
      post,
      B * P,
      M,
      get(`${p}.mlp.c_proj.weight`),
      D,
      0,
      D,
      get(`${p}.mlp.c_proj.bias`),
    );
    record(`${hp}.hook_mlp_out`, [B, P, D], mlpOut);
    residual = residMid.map((value, index) => value + mlpOut[index]!);
    record(`${hp}.hook_resid_post`, [B, P, D], residual);
  }
  const final = layerNorm(residual, get('ln_f.weight'), get('ln_f.bias'), 'ln_final');
  record('unembed.hook_in', [B, P, D], final);
  const unembedding = tensors.get('lm_head.weight')?.data ?? get('wte.weight'); // [V, D]
  const logits = new Float64Array(B * P * V);
  for (let row = 0; row < B * P; row++) {
    for (let t = 0; t < V; t++) {
      let sum = 0;
      for (let d = 0; d < D; d++) sum += final[row * D + d]! * unembedding[t * D + d]!;
      logits[row * V + t] = sum;
    }
  }
  record('unembed.hook_out', [B, P, V], logits);
  return { hooks, logits: hooks.get('unembed.hook_out')! };
}
