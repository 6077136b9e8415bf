/** A worker model builder that fails, for the test that a worker's error rejects the sweep. */
import { InvalidArgumentError } from '@patchlens/tensor-hooks';

export function failingWorkerModel(): never {
  throw new InvalidArgumentError(
    'failingWorkerModel: this worker cannot build its model (on purpose).',
  );
}
