/**
 * File-system access for user-given paths: every failure (missing file, a
 * directory where a file belongs, no permission, a path under /proc) becomes
 * one BitspikeError naming the path, never a raw Node error.
 */
import { accessSync, appendFileSync, constants, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, type Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fail, oneLine } from "../tensor/errors.js";

/** The reason of a Node file-system error, without the stack. */
function reason(e: unknown): string {
  return oneLine((e as Error).message ?? String(e));
}

/** Reads a whole regular file; errors name `op` and the path. */
export function readFileChecked(op: string, path: string): Uint8Array {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (e) {
    return fail(op, `cannot read ${path}: ${reason(e)}`);
  }
  if (!isFile) fail(op, `cannot read ${path}: it is a directory or special file, expected a regular file`);
  try {
    return readFileSync(path);
  } catch (e) {
    return fail(op, `cannot read ${path}: ${reason(e)}`);
  }
}

/** The names in a folder, sorted (code-unit order); errors name `op` and the path. */
export function listDirChecked(op: string, dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    return fail(op, `cannot list the folder ${dir}: ${reason(e)}`);
  }
}

/** The stat of a path, or null when it does not exist; other failures name the path. */
export function statOrNull(op: string, path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    return fail(op, `cannot read ${path}: ${reason(e)}`);
  }
}

/**
 * Creates the output folder `dir` (and missing parents), one level at a time
 * from the nearest existing ancestor. Node's recursive mkdir spins forever
 * under /proc; a plain mkdir fails at once there. Refuses a path that is (or
 * lies under) a file, and a folder this process cannot write to.
 */
export function makeOutputDir(op: string, dir: string): void {
  const what = `output folder ${dir}`;
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: some ancestor is a file; walking up finds it and names it below.
      if (code !== "ENOENT" && code !== "ENOTDIR") fail(op, `cannot create ${what}: ${reason(e)}`);
      const up = dirname(p);
      if (up === p) fail(op, `cannot create ${what}: no existing parent folder`);
      missing.push(p);
      p = up;
      continue;
    }
    if (!st.isDirectory()) fail(op, `cannot create ${what}: ${p} is a file, not a folder`);
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") fail(op, `cannot create ${what}: ${reason(e)}`);
    }
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    fail(op, `cannot write to ${what}: ${reason(e)}`);
  }
}

/** Appends text to a file (a log); errors name the path. */
export function appendFileChecked(op: string, path: string, text: string): void {
  try {
    appendFileSync(path, text);
  } catch (e) {
    fail(op, `cannot write ${path}: ${reason(e)}`);
  }
}

/** True when a process with this id exists (signal 0 only checks). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files an atomic write of `name` in `dir` left behind
 * when its process was killed mid-write (`.NAME.PID.TIME.N.tmp`, see
 * writeFileAtomic). Files of live processes other than this one are kept: a
 * concurrent writer may still be using them. Best effort: errors are ignored.
 */
export function removeStaleTemps(dir: string, name: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const f of entries) {
    if (!f.startsWith(prefix) || !f.endsWith(".tmp")) continue;
    const pid = Number(f.slice(prefix.length).split(".")[0]);
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, f));
    } catch { /* gone already, or not ours to remove */ }
  }
}
