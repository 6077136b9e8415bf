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

/** The `--backend` values the command line offers in Node (`webgl` is browser-only). */
export const NODE_BACKEND_CHOICES: readonly string[] = BACKEND_PREFERENCES.filter(
  (name) => name !== 'webgl',
);

/** Usage lines of the {@link COMMON_OPTIONS}. */
export const COMMON_USAGE = `  --model DIR|URL            a Hugging Face GPT-2 checkpoint: folder (config.json + model.safetensors) or http(s) URL of one
  --backend ${NODE_BACKEND_CHOICES.join('|')}   default auto; the backend used is printed on stderr
  --no-process-weights       load the weights as stored (default: fold LayerNorm etc., like TransformerLens from_pretrained)`;

/**
 * Parses `argv` against `options`, turning parseArgs's errors into a {@link UsageError}. A flag
 * that takes one value (not declared `multiple`) given twice is an error rather than "last wins".
 */
export function parseCommandLine<const Options extends OptionTable>(
  command: string,
  argv: readonly string[],
  options: Options,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: false }>
>['values'] {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(
      `patchlens ${command}: ${(error as Error).message}. Run "patchlens ${command} --help".`,
    );
  }
  const counts = new Map<string, number>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option') counts.set(token.name, (counts.get(token.name) ?? 0) + 1);
  }
  for (const [name, count] of counts) {
    const option = options[name];
    if (count > 1 && option !== undefined && option.type === 'string' && !option.multiple) {
      throw new UsageError(
        `patchlens ${command}: --${name} was given ${count} times; give it once.`,
      );
    }
  }
  return parsed.values as ReturnType<
    typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: false }>
  >['values'];
}

/** The `--model` value, required. */
export function requireModel(command: string, model: string | undefined): string {
  if (!model) {
    throw new UsageError(
      `patchlens ${command}: --model is required: ioi (the bundled IOI model), a folder with config.json + model.safetensors, an http(s) URL of one, or a model name (gpt2, gpt2-medium, distilgpt2, user/repo@revision).`,
    );
  }
  return model;
}

/** The `--backend` value, checked against the backends Node can start. */
export function backendPreference(command: string, value: string | undefined): BackendPreference {
  const name = value ?? 'auto';
  if (name === 'webgl') {
    throw new UsageError(
      `patchlens ${command}: --backend webgl exists only in browsers; in Node choose one of ${NODE_BACKEND_CHOICES.join(', ')}.`,
    );
  }
  if (!NODE_BACKEND_CHOICES.includes(name)) {
    throw new UsageError(
      `patchlens ${command}: --backend "${name}" is not one of ${NODE_BACKEND_CHOICES.join(', ')}.`,
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
