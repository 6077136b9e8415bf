const brand = Symbol.for('patchlens.error');

/**
 * Thrown when a `@patchlens/viz` function gets input it cannot draw: lengths that
 * disagree (tokens vs positions, exact vs approximate values), an empty result, a
 * shape that does not match its values, or an axis layout no figure knows.
 *
 * It carries the same `Symbol.for('patchlens.error')` brand as `PatchLensError` from
 * `@patchlens/tensor-hooks`, so `PatchLensError.isInstance(error)` is true for it,
 * without viz importing that package (which pulls in TensorFlow.js).
 *
 * @example
 * ```ts
 * import { patchHeatmap, VizInputError } from '@patchlens/viz';
 * try {
 *   patchHeatmap({ values: [1, 2], shape: [1, 2], axes: ['layer', 'pos'] }, { tokens: ['a'] });
 * } catch (error) {
 *   if (VizInputError.isInstance(error)) console.error(error.message);
 * }
 * ```
 */
export class VizInputError extends Error {
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read through `brand in value` by isInstance
  private readonly [brand] = true;

  /**
   * @param message - names the function, the argument, the value received and what is accepted.
   * @param options - `cause`, when the error wraps another one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VizInputError';
  }

  /** True when `value` is a `VizInputError` (from any copy of this package). */
  static isInstance(value: unknown): value is VizInputError {
    return (
      typeof value === 'object' &&
      value !== null &&
      brand in value &&
      (value as { name?: unknown }).name === 'VizInputError'
    );
  }
}
