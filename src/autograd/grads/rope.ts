// Gradient of rotary embedding (Su et al. 2021, rotate-half layout): the rotation is orthogonal, so the gradient
// is the output gradient rotated back by the same angles.

import { registerGradient } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";

registerGradient("rope", (grad, [x], _out, saved) => {
  const { positions, invFreq } = saved as { positions: ArrayLike<number>; invFreq: Float32Array };
  const [T, H, hd] = x!.shape as [number, number, number];
  const dx = Float32Array.from(grad.f32());
  const half = invFreq.length;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = positions[t]! * invFreq[i]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      for (let h = 0; h < H; h++) {
        const o = (t * H + h) * hd;
        const g0 = dx[o + i]!;
        const g1 = dx[o + i + half]!;
        dx[o + i] = g0 * c + g1 * s;
        dx[o + i + half] = -g0 * s + g1 * c;
      }
    }
  }
  return [Tensor.fromArray(dx, x!.shape)];
});
