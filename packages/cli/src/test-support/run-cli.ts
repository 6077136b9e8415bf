import { runPatchlens } from '../main.js';

/** What one in-process `patchlens` run printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `patchlens ARGV` in this process (no TTY), capturing stdout and stderr.
 *
 * @example
 * ```ts
 * const { code, stderr } = await runCli(['patch', '--help']);
 * ```
 */
export async function runCli(argv: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: {
      write: (chunk: string | Uint8Array) => {
        stdout += String(chunk);
      },
    },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
      isTTY: false,
    },
  };
  const code = await runPatchlens(argv, io);
  return { code, stdout, stderr };
}
