import { PatchLensError } from '@patchlens/tensor-hooks';
import { ANALYZE_USAGE, analyzeCommand } from './analyze-command.js';
import { ATTRIBUTE_USAGE, attributeCommand } from './attribute-command.js';
import { CACHE_USAGE, cacheCommand } from './cache-command.js';
import { PATCH_USAGE, patchCommand } from './patch-command.js';
import type { CommandIO } from './progress-reporter.js';

const USAGE = `patchlens: activation patching for GPT-2 checkpoints

${PATCH_USAGE}

${CACHE_USAGE}

${ATTRIBUTE_USAGE}

${ANALYZE_USAGE}`;

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
  try {
    if (command === 'patch') await patchCommand(rest, io);
    else if (command === 'cache') await cacheCommand(rest, io);
    else if (command === 'attribute') await attributeCommand(rest, io);
    else if (command === 'analyze') await analyzeCommand(rest, io);
    else if (
      command === undefined ||
      command === '--help' ||
      command === '-h' ||
      command === 'help'
    ) {
      io.stdout.write(`${USAGE}\n`);
    } else {
      io.stderr.write(
        `patchlens: unknown command "${command}"; the commands are patch, cache, attribute and analyze (patchlens --help).\n`,
      );
      return 2;
    }
    return 0;
  } catch (error) {
    if (PatchLensError.isInstance(error)) {
      io.stderr.write(`${error.message.split('\n')[0]}\n`);
      return 2;
    }
    io.stderr.write(
      `patchlens: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
