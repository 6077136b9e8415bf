import { existsSync } from 'node:fs';
import { ioiModelFolder } from '@patchlens/ioi-model/node';

/** The folder holding the bundled IOI model's `config.json` (`@patchlens/ioi-model`), or `undefined` when it is missing. */
export function bundledModelFolder(): string | undefined {
  return existsSync(`${ioiModelFolder}config.json`) ? ioiModelFolder : undefined;
}
