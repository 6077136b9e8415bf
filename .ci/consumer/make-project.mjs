// Writes the consumer project's package.json: every packed @patchlens/* tarball, the peer
// dependencies from the registry, and the tools the check runs (versions from the workspace root).
// Usage: node make-project.mjs <repo root> <folder of tarballs> <project folder>
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [root, packs, project] = process.argv.slice(2).map((path) => resolve(path));
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tools = rootPackage.devDependencies;
const tfjs = JSON.parse(readFileSync(join(root, 'packages/backends/package.json'), 'utf8'))
  .peerDependencies['@tensorflow/tfjs-core'];

const dependencies = {};
for (const file of readdirSync(packs).filter((name) => name.endsWith('.tgz'))) {
  const name = `@patchlens/${file.replace(/^patchlens-/, '').replace(/-\d+\.\d+\.\d+.*\.tgz$/, '')}`;
  dependencies[name] = `file:${join(packs, file)}`;
}
Object.assign(dependencies, {
  '@tensorflow/tfjs-core': tfjs,
  '@tensorflow/tfjs-backend-cpu': tfjs,
  '@tensorflow/tfjs-backend-wasm': tfjs,
  arquero: JSON.parse(readFileSync(join(root, 'packages/patching/package.json'), 'utf8'))
    .dependencies.arquero,
});

const projectPackage = {
  name: 'patchlens-consumer-check',
  private: true,
  type: 'module',
  dependencies,
  devDependencies: {
    '@types/node': tools['@types/node'],
    esbuild: tools.esbuild,
    typescript: tools.typescript,
  },
  // The registry reachable from CI lacks @uwdata/wk-geojson, which @uwdata/flechette 2.7.0 (pulled in
  // by arquero 8.0.3) needs; 2.6.0 does not. On the public registry this override is not needed.
  overrides: { '@uwdata/flechette': '2.6.0' },
};
writeFileSync(join(project, 'package.json'), `${JSON.stringify(projectPackage, null, 2)}\n`);
console.log(Object.keys(dependencies).join(' '));
