import { UsageError } from './usage-error.js';

/**
 * Runs `fn` (a helper shared with `patchlens patch`, whose messages name `patch`) and renames the
 * command in a UsageError it throws, so the user reads the command they ran.
 */
export function asCommand<T>(command: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof UsageError && error.message.startsWith('patchlens patch:')) {
      throw new UsageError(error.message.replace(/^patchlens patch:/, `patchlens ${command}:`), {
        cause: error,
      });
    }
    throw error;
  }
}
