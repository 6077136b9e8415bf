/**
 * Backends PatchLens knows how to start, fastest first within each platform: `tensorflow`
 * (Node, native libtensorflow), `webgpu` and `webgl` (browser GPU), `wasm`, `cpu` (everywhere).
 *
 * @example
 * ```ts
 * const name: BackendName = await initNodeBackend('auto');
 * ```
 */
export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/**
 * What `initNodeBackend` / `initBrowserBackend` accept: a backend name or `auto` (the fastest that starts).
 *
 * @example
 * ```ts
 * const preference: BackendPreference = process.env.PATCHLENS_BACKEND === 'cpu' ? 'cpu' : 'auto';
 * ```
 */
export type BackendPreference = BackendName | 'auto';

/**
 * Every value of {@link BackendPreference}, for argument checking (e.g. a CLI's `--backend`).
 *
 * @example
 * ```ts
 * if (!BACKEND_PREFERENCES.includes(flag as BackendPreference)) throw new Error(`unknown backend ${flag}`);
 * ```
 */
export const BACKEND_PREFERENCES: readonly BackendPreference[] = [
  'auto',
  'tensorflow',
  'webgpu',
  'webgl',
  'wasm',
  'cpu',
];
