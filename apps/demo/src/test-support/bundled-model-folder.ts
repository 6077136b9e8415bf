import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the bundled IOI checkpoint may live (it may move to its own package). */
const CANDIDATES = ['../../model/', '../../../../packages/ioi-model/model/'];

/** The folder holding the bundled IOI model's `config.json`, or `undefined` when none is found. */
export function bundledModelFolder(): string | undefined {
  return CANDIDATES.map((path) => fileURLToPath(new URL(path, import.meta.url))).find((folder) =>
    existsSync(`${folder}config.json`),
  );
}
