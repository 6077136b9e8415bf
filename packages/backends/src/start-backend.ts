import { InvalidArgumentError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName, BackendPreference } from './backend-names.js';
import { quietCpuGreeting } from './quiet-cpu-greeting.js';

/**
 * Starts the first of `candidates` that is available and that tfjs can set up, and returns its name.
 * `isAvailable` says whether a candidate can be tried (it may throw a precise error when the
 * user asked for that backend by name). With `auto`, a failing candidate passes to the next one;
 * with a named backend, its error is thrown.
 */
export async function startFirstBackend(
  functionName: string,
  preference: BackendPreference,
  candidates: readonly BackendName[],
  isAvailable: (name: BackendName) => Promise<boolean> | boolean,
): Promise<BackendName> {
  for (const name of candidates) {
    if (!(await isAvailable(name))) continue;
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        quietCpuGreeting();
        return name;
      }
    } catch (error) {
      if (preference !== 'auto') throw error;
    }
  }
  throw new InvalidArgumentError(
    `${functionName}: no backend could be started for "${preference}"${preference === 'auto' ? ` (tried ${candidates.join(', ')})` : ''}.`,
  );
}
