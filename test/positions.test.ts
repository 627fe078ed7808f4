// Sinusoidal position encodings against values worked out by hand from Vaswani et al.'s formula.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sinusoidalPositions } from "../src/nn/positions.js";

test("sinusoidal positions follow PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(...)", () => {
  const pe = sinusoidalPositions(3, 4, 5).f32(); // positions 5, 6, 7; d = 4
  const expect = (pos: number): number[] => [
    Math.sin(pos),
    Math.cos(pos),
    Math.sin(pos / 100),
    Math.cos(pos / 100),
  ];
  const want = [...expect(5), ...expect(6), ...expect(7)];
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(pe[i]! - want[i]!) < 1e-6, `entry ${i}`);
  assert.throws(() => sinusoidalPositions(2, 3), /even/);
});
