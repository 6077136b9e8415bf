// Bundles browser-entry.js for the browser with esbuild and fails when a Node built-in is imported
// from an @patchlens/* package. Built-ins imported by third-party packages are left external (and
// listed), as a browser bundler's config would decide. Prints how many bytes of the bundle are ours.
import { builtinModules } from 'node:module';
import { build } from 'esbuild';

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const fromUs = [];
const fromOthers = new Set();
const nodeBuiltins = {
  name: 'node-builtins',
  setup(esbuild) {
    esbuild.onResolve({ filter: /.*/ }, ({ path, importer }) => {
      if (!builtins.has(path) && !builtins.has(path.split('/')[0])) return undefined;
      if (/[\\/]node_modules[\\/]@patchlens[\\/]/.test(importer))
        fromUs.push(`${path} <- ${importer}`);
      else fromOthers.add(`${path} <- ${importer.replace(/.*node_modules[\\/]/, '')}`);
      return { path, external: true };
    });
  },
};

const result = await build({
  entryPoints: ['browser-entry.js'],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  write: false,
  metafile: true,
  outfile: 'out/browser.js',
  logLevel: 'error',
  plugins: [nodeBuiltins],
});
const output = Object.values(result.metafile.outputs)[0];
let ours = 0;
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  if (/node_modules[\\/]@patchlens[\\/]/.test(input)) ours += bytesInOutput;
}
console.log(
  `browser bundle: ${(output.bytes / 1024).toFixed(0)} KB, of which @patchlens/*: ${(ours / 1024).toFixed(0)} KB`,
);
if (fromOthers.size > 0)
  console.log(
    `Node built-ins left external for third-party packages: ${[...fromOthers].join('; ')}`,
  );
if (fromUs.length > 0) {
  console.error(
    `Node built-ins imported by @patchlens/* in a browser bundle:\n  ${fromUs.join('\n  ')}`,
  );
  process.exit(1);
}
