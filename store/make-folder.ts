/**
 * `mkdir -p` that always returns. Node 20's `mkdir(path, { recursive: true })` never settles
 * when a file system answers ENOENT for a folder it will not create under a parent that exists
 * (procfs: `/proc/parley`): it creates the parent, finds it exists, and tries the child again,
 * forever. A start with `PARLEY_DATA_DIR=/proc/…` hung instead of saying why.
 */
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code;

/**
 * Creates `path` and its missing parents, one folder at a time from the nearest one that
 * exists. Rejects with the file system's own error (ENOTDIR through a file, EACCES, ENOENT
 * where folders cannot be made).
 */
export async function makeFolder(path: string): Promise<void> {
  const missing: string[] = [];
  let current = resolve(path);
  // Bounded by the path's depth: each step goes one folder up, and the root is its own parent.
  for (;;) {
    try {
      await stat(current);
      break;
    } catch (error) {
      if (codeOf(error) !== "ENOENT") throw error;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
    } catch (error) {
      // Made meanwhile by someone else: fine if it is a folder.
      if (codeOf(error) !== "EEXIST" || !(await stat(folder)).isDirectory()) throw error;
    }
  }
}
