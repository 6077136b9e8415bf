// Run by webgpu-parity.test.ts in a child process (Dawn needs its environment at process start):
//   node --import tsx --conditions=source webgpu-parity-child.ts MODEL_FOLDER PROMPTS
// The bundled model's forward and the fast engine's resid_pre and attn_head_out_all_pos on wasm,
// then on webgpu; prints one JSON line with both runs' values and webgpu's tensor counts.
import { activeWebGPUAdapter } from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { getActPatchAttnHeadOutAllPos, getActPatchResidPre, logitDiff } from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { heldOutIoiBatch } from '../demo/demo-prompts.js';

const [folder, promptCount] = process.argv.slice(2);

const t0 = performance.now();
const mark = (what: string) =>
  console.error(`${((performance.now() - t0) / 1000).toFixed(1)}s ${what}`);
async function run(backend: 'wasm' | 'webgpu') {
  await initNodeBackend(backend);
  const model = await loadGPT2FromFolder(folder!);
  const batch = heldOutIoiBatch(model.tokenizer, Number(promptCount));
  const metric = logitDiff({ answers: [...batch.answerTokens], wrong: [...batch.wrongTokens] });
  const shape: [number, number] = [batch.clean.length, batch.clean[0]!.length];
  const clean = tf.tensor2d(batch.clean.flat(), shape, 'int32'); // [batch, pos]
  const corrupted = tf.tensor2d(batch.corrupted.flat(), shape, 'int32'); // [batch, pos]
  const leaks: Record<string, number> = {};
  /** Runs `call`, recording how many tensors it left behind besides what it returns. */
  async function counted<T>(name: string, call: () => Promise<T> | T, kept = 0): Promise<T> {
    const before = tf.memory().numTensors;
    const result = await call();
    leaks[name] = tf.memory().numTensors - before - kept;
    return result;
  }
  mark(`${backend} loaded`);
  // The last position's logits over the whole vocabulary (what IOI reads; all positions would
  // make SwiftShader multiply [batch * pos, d_model] by [d_model, 50257] for minutes on a loaded machine).
  const logits = await counted(
    'forward',
    () => model.forward(clean, { unembed: { positions: [-1] } }),
    1,
  ); // [batch, 1, d_vocab]
  const forward = Array.from(await logits.data());
  logits.dispose();
  mark('forward');
  const { logits: cleanLogits, cache } = model.runWithCache(clean);
  cleanLogits.dispose();
  mark('cache');
  const residPre = await counted('resid_pre', () =>
    getActPatchResidPre(model, corrupted, cache, metric),
  );
  mark('resid_pre');
  const heads = await counted('attn_head_out_all_pos', () =>
    getActPatchAttnHeadOutAllPos(model, corrupted, cache, metric),
  );
  mark('heads');
  cache.dispose();
  tf.dispose([clean, corrupted]);
  model.dispose();
  return {
    backend: tf.getBackend(),
    adapter: activeWebGPUAdapter(),
    forward,
    resid_pre: Array.from(residPre.values),
    attn_head_out_all_pos: Array.from(heads.values),
    leaks,
  };
}

const wasm = await run('wasm');
const webgpu = await run('webgpu');
console.log(JSON.stringify({ wasm, webgpu }));
