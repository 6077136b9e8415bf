import { fileURLToPath } from 'node:url';
import { TEST_BACKENDS } from '@patchlens/backends/testing';
import { loadLlamaFromFolder } from './node.js';
import { defineFixtureSuite } from './test-support/transformerlens-fixture.js';

const folder = fileURLToPath(new URL('../test/fixtures/transformerlens/llama/', import.meta.url));

for (const backend of TEST_BACKENDS) {
  for (const processed of [false, true]) {
    defineFixtureSuite({
      title: `LlamaForCausalLM fixture (${processed ? 'processed' : 'raw'}) on ${backend}`,
      backend,
      fixturePath: `${folder}${processed ? 'processed' : 'raw'}_b2.json`,
      load: () => loadLlamaFromFolder(`${folder}checkpoint`, { processWeights: processed }),
      // The sweeps run on cpu (the forward parity above covers wasm); the reference engine (one pass
      // per patch, ~45 s here) on the raw weights only, the fast engine on both.
      engines: backend === 'cpu' ? (processed ? ['fast'] : ['fast', 'reference']) : [],
    });
  }
}
