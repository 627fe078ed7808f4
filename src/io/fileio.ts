// Positional file reads shared by the checkpoint readers: fill a byte range from a file descriptor
// with fs.readSync (no mmap, no intermediate copies), chunked below Node's 2 GiB per-call limit.

import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";

/** Reads up to `dst.byteLength` bytes at file position `pos` into `dst`; returns how many it got (short only at EOF). */
export function readAt(fd: number, dst: Uint8Array, pos: number): number {
  let done = 0;
  while (done < dst.byteLength) {
    const n = readSync(fd, dst, done, Math.min(dst.byteLength - done, 1 << 30), pos + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** Opens `path` for reading, runs `fn` with the descriptor and file size, and always closes it. */
export function withOpenFile<T>(path: string, format: string, fn: (fd: number, fileSize: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new Error(`${format}: cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    return fn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** True when `path` names an existing regular file. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
