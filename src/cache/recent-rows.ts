// The last R positions' keys and values kept in f32 beside a quantized cache (the full-precision residual of
// KIVI, Liu et al. 2024): the newest tokens, which attention leans on most, are read exactly.

export class RecentRows {
  private readonly k: Float32Array[] = [];
  private readonly v: Float32Array[] = [];
  /** Per layer and slot: the position whose rows the slot holds (-1: none). */
  private readonly tags: Int32Array[] = [];

  constructor(
    readonly nLayers: number,
    readonly rowLen: number,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size <= 0)
      throw new Error(`kv cache: recent f32 rows must be > 0, got ${size}`);
    for (let l = 0; l < nLayers; l++) {
      this.k.push(new Float32Array(size * rowLen)); // (R, nKvHeads, hd)
      this.v.push(new Float32Array(size * rowLen));
      this.tags.push(new Int32Array(size).fill(-1));
    }
  }

  get bytes(): number {
    return 2 * this.nLayers * this.size * this.rowLen * 4;
  }

  write(layer: number, pos: number, k: Float32Array, v: Float32Array, off: number): void {
    const s = pos % this.size;
    const n = this.rowLen;
    this.k[layer]!.set(k.subarray(off, off + n), s * n);
    this.v[layer]!.set(v.subarray(off, off + n), s * n);
    this.tags[layer]![s] = pos;
  }

  /** Copies pos's rows to k/v at off when held here; false when they are not (read the quantized ones). */
  read(layer: number, pos: number, k: Float32Array, v: Float32Array, off: number): boolean {
    const s = pos % this.size;
    if (this.tags[layer]![s] !== pos) return false;
    const n = this.rowLen;
    k.set(this.k[layer]!.subarray(s * n, s * n + n), off);
    v.set(this.v[layer]!.subarray(s * n, s * n + n), off);
    return true;
  }

  copyFrom(src: RecentRows): void {
    if (src.size !== this.size || src.rowLen !== this.rowLen || src.nLayers !== this.nLayers)
      throw new Error("kv cache: recent f32 rows of a different size");
    for (let l = 0; l < this.nLayers; l++) {
      this.k[l]!.set(src.k[l]!);
      this.v[l]!.set(src.v[l]!);
      this.tags[l]!.set(src.tags[l]!);
    }
  }

  clear(): void {
    for (const t of this.tags) t.fill(-1);
  }
}
