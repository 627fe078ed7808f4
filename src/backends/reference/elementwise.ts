// Reference element-wise kernels and row normalisations (RMSNorm: Zhang & Sennrich 2019; LayerNorm: Ba et al. 2016).

export function rmsnorm(
  x: Float32Array,
  M: number,
  D: number,
  w: Float32Array,
  eps: number,
  out: Float32Array,
): void {
  for (let m = 0; m < M; m++) {
    const o = m * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[o + i]! * x[o + i]!;
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) out[o + i] = x[o + i]! * r * w[i]!;
  }
}

export function layernorm(
  x: Float32Array,
  M: number,
  D: number,
  w: Float32Array,
  b: Float32Array | null,
  eps: number,
  out: Float32Array,
): void {
  for (let m = 0; m < M; m++) {
    const o = m * D;
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[o + i]!;
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) {
      const d = x[o + i]! - mean;
      v += d * d;
    }
    const r = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) out[o + i] = (x[o + i]! - mean) * r * w[i]! + (b ? b[i]! : 0);
  }
}

export function softmax(x: Float32Array, M: number, N: number): void {
  for (let m = 0; m < M; m++) {
    const o = m * N;
    let max = -Infinity;
    for (let i = 0; i < N; i++) if (x[o + i]! > max) max = x[o + i]!;
    if (max === -Infinity) {
      x.fill(0, o, o + N);
      continue;
    }
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const e = Math.exp(x[o + i]! - max);
      x[o + i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = 0; i < N; i++) x[o + i]! *= inv;
  }
}

export function silu(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i]! / (1 + Math.exp(-x[i]!));
}

/** erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

export function gelu(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = 0.5 * x[i]! * (1 + erf(x[i]! / Math.SQRT2));
}

const K_TANH = Math.sqrt(2 / Math.PI);

export function geluTanh(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = 0.5 * v * (1 + Math.tanh(K_TANH * (v + 0.044715 * v * v * v)));
  }
}

export function add(a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!;
}

export function mul(a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i]! * b[i]!;
}
