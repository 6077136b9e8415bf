import { constants } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

/** Words for the `code` of a Node file-system error. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'it already exists',
  ENAMETOOLONG: 'the name is too long',
};

/** Plain words for a file-system error: `no space left on the device (ENOSPC)`. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return `${REASONS[code] ?? (error as Error).message} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return 'under-a-file' as const;
    throw error;
  }
}

/** The nearest existing ancestor of `path` (a folder) or a UsageError saying why there is none. */
async function existingAncestor(where: string, path: string): Promise<string> {
  let current = resolve(path);
  for (;;) {
    const parent = dirname(current);
    const info = await statOrUndefined(parent);
    if (info !== undefined && info !== 'under-a-file') {
      if (!info.isDirectory()) {
        throw new UsageError(`${where}: ${parent} is a file, not a folder.`);
      }
      return parent;
    }
    if (parent === current) return parent;
    current = parent;
  }
}

async function requireWritable(where: string, folder: string) {
  try {
    await access(folder, constants.W_OK);
  } catch (error) {
    throw new UsageError(
      `${where}: cannot write into the folder ${folder}: ${fileErrorReason(error)}.`,
    );
  }
}

/**
 * Checks, before any model work, that a result file can be written at `path`: its folder exists
 * (it is not created) and is writable, and `path` is not a folder.
 *
 * @param where - the message prefix naming the flag, e.g. `patchlens patch: --out "r.json"`.
 * @throws UsageError naming the path and what is wrong with it.
 */
export async function checkOutputFile(where: string, path: string): Promise<void> {
  const info = await statOrUndefined(path);
  if (info === 'under-a-file') {
    await existingAncestor(where, path);
    throw new UsageError(`${where}: a part of the path is a file, not a folder.`);
  }
  if (info?.isDirectory()) {
    throw new UsageError(`${where}: this is a folder; give a file name inside it.`);
  }
  const folder = dirname(resolve(path));
  const folderInfo = await statOrUndefined(folder);
  if (folderInfo === undefined) {
    throw new UsageError(`${where}: the folder ${folder} does not exist; create it first.`);
  }
  if (folderInfo === 'under-a-file' || !folderInfo.isDirectory()) {
    await existingAncestor(where, folder);
    throw new UsageError(`${where}: ${folder} is not a folder.`);
  }
  await requireWritable(where, folder);
}

/**
 * Checks, before any model work, that `folder` can hold the named files: it is a folder or can be
 * created as one (nothing on its path is a file), it is writable, and none of `files` inside it
 * is a folder.
 *
 * @throws UsageError naming the path and what is wrong with it.
 */
export async function checkOutputFolder(
  where: string,
  folder: string,
  files: readonly string[],
): Promise<void> {
  const info = await statOrUndefined(folder);
  if (info === 'under-a-file') {
    await existingAncestor(where, folder);
    throw new UsageError(`${where}: a part of the path is a file, not a folder.`);
  }
  if (info === undefined) {
    await requireWritable(where, await existingAncestor(where, folder));
    return;
  }
  if (!info.isDirectory()) {
    throw new UsageError(`${where}: this is a file; give a folder (it is created if missing).`);
  }
  await requireWritable(where, folder);
  for (const file of files) {
    const fileInfo = await statOrUndefined(join(folder, file));
    if (fileInfo !== undefined && fileInfo !== 'under-a-file' && fileInfo.isDirectory()) {
      throw new UsageError(
        `${where}: ${join(folder, file)} is a folder, so ${file} cannot be written.`,
      );
    }
  }
}

/** Creates `folder` (and its parents) or fails with a UsageError naming it. */
export async function createOutputFolder(where: string, folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new UsageError(`${where}: cannot create the folder: ${fileErrorReason(error)}.`, {
      cause: error,
    });
  }
}

/**
 * Writes a file so that it is either complete or absent: `write` fills a temporary file next to
 * `path`, which is then renamed onto `path`. On failure the temporary file is removed and a
 * UsageError names the path and the reason.
 *
 * @param where - message prefix, e.g. `patchlens patch: --out "r.json"`.
 * @param write - writes the whole content to the temporary path it is given.
 */
export async function writeAtomically(
  where: string,
  path: string,
  write: (temporaryPath: string) => Promise<void>,
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  try {
    await write(temporary);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    const reason =
      (error as NodeJS.ErrnoException).code === undefined &&
      error instanceof Error &&
      error.cause !== undefined
        ? fileErrorReason(error.cause)
        : fileErrorReason(error);
    throw new UsageError(`${where}: cannot write the file: ${reason}.`, { cause: error });
  }
}
