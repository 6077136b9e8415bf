import type { CommandIO } from './progress-reporter.js';

/** One `patchlens` subcommand: a one-line summary and its runner, loaded only when it runs. */
export interface CommandEntry {
  /** What the command does, for `patchlens --help`. */
  readonly summary: string;
  /** Runs the command; throws a PatchLensError (exit 2) for bad arguments or input. */
  readonly run: (argv: readonly string[], io: CommandIO) => Promise<void>;
}

/**
 * The subcommands by name. Each entry imports its module when it runs, so `patchlens --help` and
 * argument errors of one command load neither tfjs nor the model code of the others. Add a
 * command by adding an entry.
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  patch: {
    summary: 'activation patching sweeps (TransformerLens get_act_patch_*) -> JSON/CSV/Arrow + SVG',
    run: async (argv, io) => (await import('./patch-command.js')).patchCommand(argv, io),
  },
  path: {
    summary:
      'path patching (IOI paper): sender heads -> receivers (heads q/k/v or logits) -> JSON/CSV + SVG',
    run: async (argv, io) => (await import('./path-command.js')).pathCommand(argv, io),
  },
  cache: {
    summary: 'run the model once and write its activations + logits to .safetensors',
    run: async (argv, io) => (await import('./cache-command.js')).cacheCommand(argv, io),
  },
  attribute: {
    summary: 'attribution patching: every sweep estimated from one backward pass (+ --with-exact)',
    run: async (argv, io) => (await import('./attribute-command.js')).attributeCommand(argv, io),
  },
  analyze: {
    summary:
      'logit lens by layer, per-head and per-component direct logit attribution -> JSON + SVG',
    run: async (argv, io) => (await import('./analyze-command.js')).analyzeCommand(argv, io),
  },
};

const HELP_WORDS = new Set(['--help', '-h', 'help']);

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return `patchlens: activation patching for GPT-2 checkpoints (TransformerLens's patching in TypeScript)

Usage: patchlens <command> --model DIR|URL [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`)
  .join('\n')}

"patchlens <command> --help" lists a command's flags. Exit codes: 0 success, 2 bad arguments or
input (one line says what is wrong), 1 any other failure.`;
}

/**
 * The first line of a PatchLensError's message in the user's terms: prefixed with
 * `patchlens <command>:` once, without the library function's name (`GPT2.forward: `).
 */
function errorLine(command: string, error: Error): string {
  const line = error.message.split('\n')[0] ?? '';
  if (line.startsWith('patchlens ')) return line;
  return `patchlens ${command}: ${line.replace(/^[A-Za-z_][\w.]*: /, '')}`;
}

/**
 * Runs the `patchlens` command line and returns its exit code: 0 on success, 2 on bad arguments
 * or input (one line on stderr saying what is wrong), 1 on other failures.
 *
 * @param argv - the arguments after the program name, e.g. `['patch', '--model', 'gpt2', ...]`.
 * @param io - where output goes (default the process's stdout and stderr).
 * @example
 * ```ts
 * process.exitCode = await runPatchlens(process.argv.slice(2));
 * ```
 */
export async function runPatchlens(
  argv: readonly string[],
  io: CommandIO = process,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || HELP_WORDS.has(command)) {
    io.stdout.write(`${usage()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (entry === undefined) {
    io.stderr.write(
      `patchlens: unknown command "${command}"; the commands are ${Object.keys(COMMANDS).join(', ')} (patchlens --help).\n`,
    );
    return 2;
  }
  try {
    await entry.run(rest, io);
    return 0;
  } catch (error) {
    // loaded here, not at the top, so `patchlens --help` does not load tfjs
    const { PatchLensError } = await import('@patchlens/tensor-hooks');
    if (PatchLensError.isInstance(error)) {
      io.stderr.write(`${errorLine(command, error as Error)}\n`);
      return 2;
    }
    io.stderr.write(
      `patchlens ${command}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
