/** Where the command writes progress and results (replaceable in tests). */
export interface CommandIO {
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  readonly stderr: { write(chunk: string): unknown; isTTY?: boolean };
}

/**
 * A progress callback `(done, total)` that draws a bar on stderr when it is a TTY (redrawn in
 * place) or prints plain lines otherwise (one per 10% step), prefixed with `label`.
 *
 * @example
 * ```ts
 * await getActPatchResidPre(model, tokens, cache, metric, { onProgress: progressReporter(process, 'resid_pre') });
 * ```
 */
export function progressReporter(
  io: CommandIO,
  label: string,
): (done: number, total: number) => void {
  let lastDecile = -1;
  return (done, total) => {
    const fraction = total > 0 ? done / total : 1;
    if (io.stderr.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      io.stderr.write(`\r${label} ${bar} ${done}/${total}${done >= total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile === lastDecile && done < total) return;
    lastDecile = decile;
    io.stderr.write(`${label}: ${done}/${total}\n`);
  };
}
