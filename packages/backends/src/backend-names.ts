/** Backends PatchLens knows how to start, fastest first within each platform. */
export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** What {@link initNodeBackend} / `initBrowserBackend` accept: a backend name or `auto`. */
export type BackendPreference = BackendName | 'auto';

/** Every value of {@link BackendPreference}, for argument checking. */
export const BACKEND_PREFERENCES: readonly BackendPreference[] = [
  'auto',
  'tensorflow',
  'webgpu',
  'webgl',
  'wasm',
  'cpu',
];
