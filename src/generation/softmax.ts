// Softmax and log-softmax over a logits row in float64 (masked -Infinity entries get probability 0).

export function softmaxCopy(l: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of l) if (v > max) max = v;
  const out = new Float64Array(l.length);
  let sum = 0;
  for (let i = 0; i < l.length; i++) {
    const e = l[i] === -Infinity ? 0 : Math.exp(l[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < l.length; i++) out[i]! /= sum;
  return out;
}

/** log softmax(l / t); masked entries stay -Infinity. */
export function logSoftmax(l: Float32Array, t = 1): Float64Array {
  let max = -Infinity;
  for (const v of l) if (v / t > max) max = v / t;
  let sum = 0;
  for (const v of l) if (v !== -Infinity) sum += Math.exp(v / t - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(l.length);
  for (let i = 0; i < l.length; i++) out[i] = l[i] === -Infinity ? -Infinity : l[i]! / t - lse;
  return out;
}
