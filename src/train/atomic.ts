/**
 * Crash-safe file writes: a reader (or a resumed run) sees either the old file
 * or the complete new one, never a torn write.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fail } from "../tensor/errors.js";

let counter = 0;

/**
 * Writes `bytes` to a temporary file in the same directory (same file system,
 * so the rename is atomic), fsyncs it, renames it over `path`, then fsyncs the
 * directory so the rename itself survives a crash (best effort where a
 * directory cannot be opened, e.g. Windows). The temporary file is removed on
 * failure.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "wx");
    const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    fail("writeFileAtomic", `cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is unsupported on some platforms; the data itself is already durable.
  }
}
