// Byte helpers shared by the tokenizers: UTF-8 encode/decode (invalid or incomplete sequences decode
// to U+FFFD, as TextDecoder does), SentencePiece byte-fallback pieces `<0xXX>`, and a growable buffer.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The byte value of a byte-fallback piece like `<0xE2>`, or null. */
export function parseBytePiece(piece: string): number | null {
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  return m ? parseInt(m[1]!, 16) : null;
}

/** The byte-fallback piece for a byte value, in llama.cpp/SentencePiece spelling (`<0x0A>`). */
export function bytePiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** Appends bytes and byte arrays; `text()` decodes everything gathered so far. */
export class ByteBuffer {
  private buf = new Uint8Array(64);
  private n = 0;

  private reserve(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + extra));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  pushByte(b: number): void {
    this.reserve(1);
    this.buf[this.n++] = b;
  }

  pushBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.n);
    this.n += bytes.length;
  }

  text(): string {
    return utf8Decode(this.buf.subarray(0, this.n));
  }
}
