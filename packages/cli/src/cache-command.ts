import type { SafetensorsTensorInput } from '@patchlens/safetensors';
import { writeSafetensorsFile } from '@patchlens/safetensors/node';
import { actName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  backendPreference,
  COMMON_OPTIONS,
  COMMON_USAGE,
  parseCommandLine,
  parseIdList,
  requireModel,
} from './command-line.js';
import { checkOutputFile, writeAtomically } from './output-paths.js';
import type { CommandIO } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

const CACHE_OPTIONS = {
  ...COMMON_OPTIONS,
  text: { type: 'string', multiple: true },
  ids: { type: 'string', multiple: true },
  'no-prepend-bos': { type: 'boolean', default: false },
  names: { type: 'string' },
  'names-regex': { type: 'string' },
  out: { type: 'string' },
} as const;

/** Usage text of `patchlens cache`. */
export const CACHE_USAGE = `patchlens cache --model M (--text TEXT | --ids 5,17,42)...
  [--names NAME,...|--names-regex RE] [--no-prepend-bos] --out FILE.safetensors
${COMMON_USAGE}

  --names: full hook names (blocks.0.hook_resid_pre) or short forms (z1, pattern0, k6);
  default every activation. The logits are always written, as "logits".`;

function namesFilter(
  names: string | undefined,
  regex: string | undefined,
): string[] | RegExp | undefined {
  if (names !== undefined && regex !== undefined) {
    throw new UsageError('patchlens cache: give --names or --names-regex, not both.');
  }
  if (names !== undefined) {
    const entries = names.split(',').map((name) => name.trim());
    if (entries.some((name) => name.length === 0)) {
      throw new UsageError(
        `patchlens cache: --names "${names}" has an empty entry; give comma-separated hook names.`,
      );
    }
    return entries.map((name) => actName(name));
  }
  if (regex === undefined) return undefined;
  try {
    return new RegExp(regex);
  } catch (error) {
    throw new UsageError(
      `patchlens cache: --names-regex "${regex}" is not a valid regular expression (${(error as Error).message}).`,
    );
  }
}

/**
 * `patchlens cache`: runs the model once and writes the selected activations (default all) and
 * `logits`, as F32 tensors named by hook name, to a .safetensors file (whole or not at all).
 */
export async function cacheCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const values = parseCommandLine('cache', argv, CACHE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${CACHE_USAGE}\n`);
    return;
  }
  const source = requireModel('cache', values.model);
  const backend = backendPreference('cache', values.backend);
  const out = values.out;
  if (!out || !out.toLowerCase().endsWith('.safetensors')) {
    throw new UsageError(
      `patchlens cache: --out FILE.safetensors is required (got ${out === undefined ? 'none' : `"${out}"`}).`,
    );
  }
  if ((values.text === undefined) === (values.ids === undefined)) {
    throw new UsageError(
      'patchlens cache: give the prompts either as --text TEXT or as --ids 5,17,42 (repeatable), not both and not neither.',
    );
  }
  const emptyText = values.text?.findIndex((text) => text.length === 0) ?? -1;
  if (emptyText >= 0) {
    throw new UsageError(
      `patchlens cache: --text number ${emptyText + 1} is empty; give some text to run the model on.`,
    );
  }
  const ids = values.ids?.map((list) => parseIdList('ids', list));
  if (ids?.some((list) => list.length !== ids[0]!.length)) {
    throw new UsageError(
      `patchlens cache: the --ids lists have different lengths (${ids.map((list) => list.length).join(', ')}); a batch needs equal lengths.`,
    );
  }
  const filter = namesFilter(values.names, values['names-regex']);
  const where = `patchlens cache: --out ${JSON.stringify(out)}`;
  await checkOutputFile(where, out);

  const { loadModel } = await import('./load-model.js');
  const { model } = await loadModel(io, source, {
    backend,
    processWeights: !values['no-process-weights'],
  });
  try {
    const tokens =
      ids === undefined
        ? model.toTokens(values.text ?? [], values['no-prepend-bos'] ? { prependBos: false } : {})
        : tf.tensor2d(ids, undefined, 'int32');
    try {
      const positions = tokens.shape[1]!;
      if (positions > model.config.nCtx) {
        throw new UsageError(
          `patchlens cache: the prompt has ${positions} tokens, more than the model's context of ${model.config.nCtx} positions (n_positions in config.json); shorten it.`,
        );
      }
      const { logits, cache } = model.runWithCache(
        tokens,
        filter === undefined ? {} : { namesFilter: filter },
      );
      using _cache = cache;
      try {
        const tensors = new Map<string, SafetensorsTensorInput>();
        for (const [name, activation] of cache) {
          tensors.set(name, {
            dtype: 'F32',
            shape: activation.shape,
            data: (await activation.data()) as Float32Array,
          });
        }
        tensors.set('logits', {
          dtype: 'F32',
          shape: logits.shape,
          data: (await logits.data()) as Float32Array,
        });
        await writeAtomically(where, out, (temporary) =>
          writeSafetensorsFile(temporary, tensors, {
            metadata: { format: 'np', producer: 'patchlens cache' },
          }),
        );
        io.stderr.write(`activations: ${out} (${tensors.size} tensors)\n`);
      } finally {
        logits.dispose();
      }
    } finally {
      tokens.dispose();
    }
  } finally {
    model.dispose();
  }
}
