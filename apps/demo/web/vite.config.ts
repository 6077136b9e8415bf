import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type UserConfig } from 'vite';
import { modelFolderPlugin } from './model-folder-plugin.js';

/**
 * Options of {@link demoWebConfig}.
 *
 * @example
 * ```ts
 * const options: DemoWebConfigOptions = { modelFolder: '/tmp/my-gpt2', outDir: '/tmp/patchlens-web' };
 * ```
 */
export interface DemoWebConfigOptions {
  /** Checkpoint folder served at `model/` (default `packages/ioi-model/model`, the bundled IOI model). */
  readonly modelFolder?: string;
  /** Where `vite build` writes (default `apps/demo/web/dist`). */
  readonly outDir?: string;
}

/**
 * The bundled IOI model's folder, found through `@patchlens/ioi-model`'s `./model/*` export (not its
 * `./node` entry, which points at `dist/`: Vite loads this config with Node before any build).
 */
const IOI_MODEL_FOLDER = dirname(
  createRequire(import.meta.url).resolve('@patchlens/ioi-model/model/config.json'),
);

/** The folder holding index.html. */
const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));

/**
 * The Vite configuration of the browser app: root `apps/demo/web`, workspace packages resolved to
 * their TypeScript source (the `source` export condition), the checkpoint folder served at `model/`
 * and copied into the build, relative asset URLs so `dist/` works from any path.
 *
 * @param options.modelFolder - checkpoint folder to serve (default `packages/ioi-model/model`).
 * @param options.outDir - build output (default `apps/demo/web/dist`).
 * @example
 * ```ts
 * import { build } from 'vite';
 * await build({ configFile: false, ...demoWebConfig({ outDir: '/tmp/patchlens-web' }) });
 * ```
 */
export function demoWebConfig(options: DemoWebConfigOptions = {}): UserConfig {
  return {
    root: WEB_ROOT,
    base: './',
    publicDir: false,
    resolve: { conditions: ['source', ...defaultClientConditions] },
    plugins: [
      modelFolderPlugin({
        folder: options.modelFolder ?? IOI_MODEL_FOLDER,
      }),
    ],
    build: {
      outDir: options.outDir ?? fileURLToPath(new URL('./dist/', import.meta.url)),
      emptyOutDir: true,
      // the app uses top-level await and `using`; browsers with WebGPU have both
      target: 'es2022',
      chunkSizeWarningLimit: 4096,
    },
  };
}

/** What `vite --config web/vite.config.ts` uses; `PATCHLENS_DEMO_MODEL=<folder>` serves another checkpoint. */
export default defineConfig(
  demoWebConfig(
    process.env.PATCHLENS_DEMO_MODEL ? { modelFolder: process.env.PATCHLENS_DEMO_MODEL } : {},
  ),
);
