// The loss curve as a small SVG: the loss of every training step (a light line), and the evaluation losses on the
// train and validation splits (lines with points), against the step, on shared linear axes.

export interface LossCurves {
  /** Loss of each optimizer step; index = step. */
  readonly steps: readonly number[];
  readonly evals: readonly { step: number; train: number; val: number }[];
}

const W = 640;
const H = 400;
const PAD = { left: 56, right: 16, top: 28, bottom: 40 };

function ticks(lo: number, hi: number, n: number): number[] {
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(12));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function lossCurveSvg(c: LossCurves, title = "loss"): string {
  const points = [
    ...c.steps.map((l, i) => [i, l]),
    ...c.evals.flatMap((e) => [
      [e.step, e.train],
      [e.step, e.val],
    ]),
  ].filter(([, l]) => Number.isFinite(l!));
  const xMax = Math.max(1, ...points.map(([s]) => s!));
  let yLo = Math.min(...points.map(([, l]) => l!));
  let yHi = Math.max(...points.map(([, l]) => l!));
  if (!Number.isFinite(yLo)) [yLo, yHi] = [0, 1];
  if (yHi - yLo < 1e-6) [yLo, yHi] = [yLo - 0.5, yHi + 0.5];
  const x = (s: number) => PAD.left + (s / xMax) * (W - PAD.left - PAD.right);
  const y = (l: number) => PAD.top + ((yHi - l) / (yHi - yLo)) * (H - PAD.top - PAD.bottom);
  const f = (v: number) => v.toFixed(1);
  const line = (pts: [number, number][], color: string, width: number) =>
    pts.length === 0
      ? ""
      : `<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${pts
          .map(([s, l]) => `${f(x(s))},${f(y(l))}`)
          .join(" ")}"/>`;
  const dots = (pts: [number, number][], color: string) =>
    pts.map(([s, l]) => `<circle cx="${f(x(s))}" cy="${f(y(l))}" r="3" fill="${color}"/>`).join("");
  const train = c.steps.map((l, i) => [i, l] as [number, number]).filter(([, l]) => Number.isFinite(l));
  const evTrain = c.evals.map((e) => [e.step, e.train] as [number, number]);
  const evVal = c.evals.map((e) => [e.step, e.val] as [number, number]);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (const t of ticks(yLo, yHi, 6))
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#eee"/>`,
      `<text x="${PAD.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${t}</text>`,
    );
  for (const t of ticks(0, xMax, 8))
    parts.push(`<text x="${f(x(t))}" y="${H - PAD.bottom + 16}" text-anchor="middle">${t}</text>`);
  parts.push(
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="black"/>`,
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">step</text>`,
    line(train, "#9ecae1", 1),
    line(evTrain, "#1f77b4", 2),
    dots(evTrain, "#1f77b4"),
    line(evVal, "#d62728", 2),
    dots(evVal, "#d62728"),
    `<text x="${W - PAD.right - 150}" y="${PAD.top + 14}" fill="#9ecae1">— train (each step)</text>`,
    `<text x="${W - PAD.right - 150}" y="${PAD.top + 30}" fill="#1f77b4">— train (eval)</text>`,
    `<text x="${W - PAD.right - 150}" y="${PAD.top + 46}" fill="#d62728">— validation (eval)</text>`,
    `</svg>`,
  );
  return parts.filter((p) => p !== "").join("\n") + "\n";
}
