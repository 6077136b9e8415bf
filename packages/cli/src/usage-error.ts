import { PatchLensError } from '@patchlens/tensor-hooks';

/** A command line the `patchlens` command cannot run: a missing, unknown or malformed flag. Exit code 2. */
export class UsageError extends PatchLensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}
