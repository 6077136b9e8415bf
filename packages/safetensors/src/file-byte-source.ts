import { open } from 'node:fs/promises';
import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import type { ByteSource } from './byte-source.js';

/** Node reads at most this many bytes per call (the fs layer rejects reads over 2 GiB). */
const MAX_READ_BYTES = 1 << 30;

/**
 * Opens `path`, hands a positioned-read byte source over it to `use`, and closes the file
 * afterwards. Only the requested byte ranges are ever read into memory.
 */
export async function withFileByteSource<T>(
  path: string,
  where: string,
  use: (source: ByteSource) => Promise<T>,
): Promise<T> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError(
      `${where}: path is ${JSON.stringify(path)}; expected a file path.`,
    );
  }
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: cannot open ${JSON.stringify(path)} (${(error as Error).message}).`,
      { cause: error },
    );
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new InvalidArgumentError(`${where}: ${JSON.stringify(path)} is not a regular file.`);
    }
    const fileSize = stats.size;
    const source: ByteSource = {
      size: () => fileSize,
      async read(offset, length) {
        if (offset + length > fileSize) {
          throw new SafetensorsFormatError(
            `${where}: wanted bytes [${offset}, ${offset + length}) but the file ends at byte ${fileSize}.`,
          );
        }
        const buffer = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(
            buffer,
            filled,
            Math.min(length - filled, MAX_READ_BYTES),
            offset + filled,
          );
          if (bytesRead === 0) {
            throw new SafetensorsFormatError(
              `${where}: the file ended at byte ${offset + filled} while reading bytes [${offset}, ${offset + length}); it changed or is truncated.`,
            );
          }
          filled += bytesRead;
        }
        return buffer;
      },
    };
    return await use(source);
  } finally {
    await handle.close();
  }
}
