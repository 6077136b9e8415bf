import type { SafetensorsTensorInput } from '@patchlens/safetensors';
import { writeSafetensorsFile } from '@patchlens/safetensors/node';
import { actName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  backendPreference,
  COMMON_OPTIONS,
  parseCommandLine,
  parseIdList,
  requireModel,
} from './command-line.js';
import { loadModel } from './load-model.js';
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
  [--backend auto|tensorflow|webgpu|wasm|cpu] [--no-process-weights]`;

function namesFilter(
  names: string | undefined,
  regex: string | undefined,
): string[] | RegExp | undefined {
  if (names !== undefined && regex !== undefined) {
    throw new UsageError('patchlens cache: give --names or --names-regex, not both.');
  }
  if (names !== undefined) {
    return names
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0)
      .map((name) => actName(name));
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
 * `logits`, as F32 tensors named by hook name, to a .safetensors file.
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
  const filter = namesFilter(values.names, values['names-regex']);
  const { model } = await loadModel(io, source, {
    backend,
    processWeights: !values['no-process-weights'],
  });
  try {
    const ids = values.ids?.map((list) => parseIdList('ids', list));
    const tokens =
      ids === undefined
        ? model.toTokens(values.text ?? [], { prependBos: !values['no-prepend-bos'] })
        : tf.tensor2d(ids, undefined, 'int32');
    try {
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
        await writeSafetensorsFile(out, tensors, {
          metadata: { format: 'np', producer: 'patchlens cache' },
        });
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
