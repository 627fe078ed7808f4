// Rotary position embedding frequencies (Su et al. 2021) with the scalings Hugging Face configs name:
// "linear" (position interpolation), "dynamic" is not supported, "llama3" (Meta's frequency-band rescaling).

export interface RopeScaling {
  readonly type: "linear" | "llama3";
  readonly factor: number;
  readonly lowFreqFactor?: number;
  readonly highFreqFactor?: number;
  readonly originalMaxPositions?: number;
}

/** invFreq[i] = base^(-2i/rotaryDim) for i < rotaryDim/2, rescaled as the config says. */
export function ropeInvFreq(
  rotaryDim: number,
  base: number,
  scaling: RopeScaling | null = null,
): Float32Array {
  if (rotaryDim % 2 !== 0 || rotaryDim <= 0)
    throw new Error(`rotary dimension ${rotaryDim} must be positive and even`);
  const half = rotaryDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(base, (2 * i) / rotaryDim);
    if (scaling?.type === "linear") f /= scaling.factor;
    else if (scaling?.type === "llama3") {
      const low = scaling.lowFreqFactor ?? 1;
      const high = scaling.highFreqFactor ?? 4;
      const orig = scaling.originalMaxPositions ?? 8192;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > orig / low) f /= scaling.factor;
      else if (wavelen >= orig / high) {
        const smooth = (orig / wavelen - low) / (high - low);
        f = (1 - smooth) * (f / scaling.factor) + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}
