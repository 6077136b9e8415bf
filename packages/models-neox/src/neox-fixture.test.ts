import { fileURLToPath } from 'node:url';
import { TEST_BACKENDS } from '@patchlens/backends/testing';
import { defineFixtureSuite } from '../../models-llama/src/test-support/transformerlens-fixture.js';
import { loadNeoXFromFolder } from './node.js';

const folder = fileURLToPath(new URL('../test/fixtures/transformerlens/neox/', import.meta.url));

for (const backend of TEST_BACKENDS) {
  for (const processed of [false, true]) {
    defineFixtureSuite({
      title: `GPTNeoXForCausalLM fixture (${processed ? 'processed' : 'raw'}) on ${backend}`,
      backend,
      fixturePath: `${folder}${processed ? 'processed' : 'raw'}_b2.json`,
      load: () => loadNeoXFromFolder(`${folder}checkpoint`, { processWeights: processed }),
      // The sweeps run on cpu (the forward parity above covers wasm); the reference engine (one pass
      // per patch) on the raw weights only, the fast engine on both.
      engines: backend === 'cpu' ? (processed ? ['fast'] : ['fast', 'reference']) : [],
    });
  }
}
