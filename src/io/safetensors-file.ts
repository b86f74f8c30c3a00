/** safetensors files on disk: whole-file reads and crash-safe (atomic) writes. */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fail, oneLine } from "../tensor/errors.js";
import { readFileChecked, removeStaleTemps } from "./files.js";
import { parseSafetensors, serializeSafetensors, type SafeFile, type SafeInput } from "./safetensors.js";

/** Reads and parses a safetensors file; errors name the path. */
export function readSafetensorsFile(path: string): SafeFile {
  return parseSafetensors(readFileChecked(`safetensors(${path})`, path), path);
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the
 * same directory, which is fsynced and then renamed over `path`, so a crash
 * leaves either the old file or the complete new one, never a torn one.
 */
export function writeSafetensorsFile(
  path: string,
  entries: Map<string, SafeInput> | Record<string, SafeInput>,
  metadata?: Record<string, string>,
): void {
  const bytes = serializeSafetensors(entries, metadata);
  writeFileAtomic(path, bytes);
}

let counter = 0;

/**
 * Writes bytes to `path` via temp file + fsync + rename (see
 * {@link writeSafetensorsFile}). Temporary files that a killed earlier write
 * of the same path left behind are removed first.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  removeStaleTemps(dir, basename(path));
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "wx", 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    try { unlinkSync(tmp); } catch { /* may not exist */ }
    return fail(`safetensors(${path})`, `cannot write the file: ${oneLine((e as Error).message)}`);
  }
  // Make the rename itself durable; not every platform lets a directory be fsynced.
  try {
    const dfd = openSync(dir, "r");
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* best effort */ }
}
