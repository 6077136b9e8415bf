import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';

/**
 * Options of {@link modelFolderPlugin}.
 *
 * @example
 * ```ts
 * const options: ModelFolderPluginOptions = { folder: '../model', urlPath: 'model/' };
 * ```
 */
export interface ModelFolderPluginOptions {
  /** Folder on disk holding the checkpoint (`config.json`, `model.safetensors`, ...). */
  readonly folder: string;
  /** Path under the app's base URL where the folder's files appear (default `model/`). */
  readonly urlPath?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
};

/** Names of the plain files directly inside `folder` (checkpoints are flat folders). */
function checkpointFiles(folder: string): string[] {
  return readdirSync(folder).filter((name) => statSync(join(folder, name)).isFile());
}

/**
 * A Vite plugin that serves a checkpoint folder at `<base>/<urlPath>` on the dev server and copies
 * its files into the `vite build` output, so the browser app can `GPT2.fromPretrained('model/')`.
 *
 * The folder may live outside the app (the demo's bundled model is `packages/ioi-model/model`), which
 * Vite's `publicDir` cannot express without moving every other public file there too.
 *
 * Limitations: flat folders only (sub-folders are ignored); a missing folder makes the dev server
 * answer 404 (the app then asks for a checkpoint folder) and makes `vite build` fail.
 *
 * @param options.folder - the checkpoint folder on disk.
 * @param options.urlPath - where it is served, default `model/`.
 * @example
 * ```ts
 * // vite.config.ts
 * export default defineConfig({ plugins: [modelFolderPlugin({ folder: '../model' })] });
 * ```
 */
export function modelFolderPlugin(options: ModelFolderPluginOptions): Plugin {
  const folder = resolve(options.folder);
  const urlPath = (options.urlPath ?? 'model/').replace(/^\/+|\/+$/g, '');
  return {
    name: 'patchlens-model-folder',
    configureServer(server) {
      if (!existsSync(folder)) {
        server.config.logger.warn(
          `patchlens-model-folder: ${folder} does not exist; the bundled model will answer 404 (train it with \`pnpm --filter @patchlens/demo train-ioi\` or set PATCHLENS_DEMO_MODEL to a checkpoint folder).`,
        );
      }
      const prefix = `${server.config.base.replace(/\/+$/, '')}/${urlPath}/`;
      server.middlewares.use((request, response, next) => {
        const url = request.url?.split('?')[0] ?? '';
        if (!url.startsWith(prefix)) return next();
        const name = decodeURIComponent(url.slice(prefix.length));
        const path = join(folder, name);
        if (name.includes('/') || name.startsWith('.') || !existsSync(path)) return next();
        if (!statSync(path).isFile()) return next();
        const extension = name.slice(name.lastIndexOf('.'));
        response.setHeader('Content-Type', CONTENT_TYPES[extension] ?? 'application/octet-stream');
        response.end(readFileSync(path));
      });
    },
    generateBundle() {
      if (!existsSync(folder)) {
        this.error(
          `patchlens-model-folder: the model folder ${folder} does not exist; train it (\`pnpm --filter @patchlens/demo train-ioi\`) or set PATCHLENS_DEMO_MODEL to a checkpoint folder.`,
        );
      }
      for (const name of checkpointFiles(folder)) {
        this.emitFile({
          type: 'asset',
          fileName: `${urlPath}/${name}`,
          source: readFileSync(join(folder, name)),
        });
      }
    },
  };
}
