import { GPT2, type GPT2ConfigInput, randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';

/**
 * A seeded random GPT-2 written as a real checkpoint (`config.json` + `model.safetensors` via
 * `@patchlens/safetensors`) and loaded back with `GPT2.fromPretrained`.
 *
 * @param processWeights - TransformerLens processing on load (default true, like `from_pretrained`).
 */
export async function loadTinyGPT2(
  input: GPT2ConfigInput,
  seed: number,
  processWeights = true,
): Promise<GPT2> {
  const files = randomGPT2CheckpointFiles(input, { seed });
  const blobs = Object.fromEntries([...files].map(([name, bytes]) => [name, new Blob([bytes])]));
  return GPT2.fromPretrained(blobs, { processWeights });
}
