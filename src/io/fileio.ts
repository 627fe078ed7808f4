// Positional file reads shared by the checkpoint readers: fill a byte range from a file descriptor
// with fs.readSync (no mmap, no intermediate copies), chunked below Node's 2 GiB per-call limit.

import { readSync } from "node:fs";

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
