import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * What makes two `patchlens patch` runs the same run (so their shards may be merged, or a checkpoint
 * resumed): the checkpoint, how its weights were loaded, the prompts, the metric and the sweeps, and
 * the PatchLens version. The backend and engine are not part of it (they agree to 1e-5).
 */
export interface RunIdentity {
  /** `sha256:<hex>` of a local checkpoint folder's files, else the `--model` value as given. */
  readonly checkpoint: string;
  readonly processWeights: boolean;
  readonly tokens: { readonly clean: number[][]; readonly corrupted: number[][] };
  /** The first clean prompt's tokens as text (labels for heatmaps drawn from merged shards). */
  readonly tokenStrings: string[];
  /** Metric name and its answer/wrong token ids. */
  readonly metric: { readonly name: string; readonly answers: number[]; readonly wrong: number[] };
  /** The sweeps, in order (CLI names). */
  readonly sweeps: string[];
  /** The `@patchlens/cli` version. */
  readonly patchlens: string;
}

/** The `@patchlens/cli` package version (src/ and dist/ both sit one level below package.json). */
export const PATCHLENS_VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;

/** Files of a checkpoint folder that determine the model. */
function isCheckpointFile(name: string): boolean {
  return name === 'config.json' || /\.safetensors(\.index\.json)?$/.test(name);
}

/**
 * Identifies a checkpoint: for a local folder, `sha256:` of its config.json and safetensors files
 * (names and bytes, in name order), so the same weights copied to another machine's volume hash the
 * same; otherwise (a URL or a Hugging Face id) the value as given — pin a revision to make it exact.
 *
 * @example
 * ```ts
 * await checkpointIdentity('models/gpt2'); // 'sha256:9f86d0…'
 * ```
 */
export async function checkpointIdentity(source: string): Promise<string> {
  let isFolder = false;
  try {
    isFolder = (await stat(source)).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) return source;
  const hash = createHash('sha256');
  const names = (await readdir(source)).filter(isCheckpointFile).sort();
  for (const name of names) {
    hash.update(`${name}\n`);
    for await (const chunk of createReadStream(join(source, name))) hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The first field in which two identities differ (`checkpoint`, `tokens`, `metric`, …), or
 * undefined when they are the same run.
 */
export function identityDifference(a: RunIdentity, b: RunIdentity): string | undefined {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof RunIdentity>;
  for (const key of keys) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  }
  return undefined;
}
