import { type ParseArgsConfig, parseArgs } from 'node:util';
import { BACKEND_PREFERENCES, type BackendPreference } from '@patchlens/backends';
import { UsageError } from './usage-error.js';

/** Option declarations in `node:util` parseArgs form. */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** Flags every subcommand accepts. */
export const COMMON_OPTIONS = {
  model: { type: 'string' },
  backend: { type: 'string', default: 'auto' },
  'no-process-weights': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionTable;

/** Parses `argv` against `options`, turning parseArgs's errors into a {@link UsageError}. */
export function parseCommandLine<const Options extends OptionTable>(
  command: string,
  argv: readonly string[],
  options: Options,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: false }>
>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(
      `patchlens ${command}: ${(error as Error).message}. Run "patchlens ${command} --help".`,
    );
  }
}

/** The `--model` value, required. */
export function requireModel(command: string, model: string | undefined): string {
  if (!model) {
    throw new UsageError(
      `patchlens ${command}: --model is required (a folder with config.json + model.safetensors, or an http(s) URL of one).`,
    );
  }
  return model;
}

/** The `--backend` value, checked. */
export function backendPreference(command: string, value: string | undefined): BackendPreference {
  const name = value ?? 'auto';
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(name) || name === 'webgl') {
    throw new UsageError(
      `patchlens ${command}: --backend "${name}" is not one of auto, tensorflow, webgpu, wasm, cpu.`,
    );
  }
  return name as BackendPreference;
}

/**
 * A comma-separated list of token ids (`5,17,42`).
 *
 * @throws UsageError naming the flag and the bad entry.
 */
export function parseIdList(flag: string, value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^\d+$/.test(part))) {
    throw new UsageError(
      `--${flag} "${value}" is not a comma-separated list of token ids (decimal integers), e.g. 50256,1722,5335.`,
    );
  }
  return parts.map(Number);
}
