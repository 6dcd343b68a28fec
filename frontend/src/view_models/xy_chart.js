// The x-y chart's view model: nice ticks, padded extents, the point nearest the pointer.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

/** Tick values between min and max: 1, 2 or 5 × a power of ten, about `count` of them. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const out = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** [min, max] of `values` with `pad` (fraction of the span) on both sides; a flat series gets room. */
export function paddedExtent(values, pad = 0.08) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (min === max) {
    const d = Math.abs(min) * 0.05 || 0.05;
    return [min - d, max + d];
  }
  const d = (max - min) * pad;
  return [min - d, max + d];
}

/**
 * The point nearest to (px, py) in pixels, within `radius`, or null.
 * @param {{points: {x: number, y: number}[]}[]} lines
 * @param {(p: object) => [number, number]} toPixels
 */
export function nearestPoint(lines, px, py, toPixels, radius = 24) {
  let best = null;
  lines.forEach((line, li) => {
    line.points.forEach((p, pi) => {
      const [x, y] = toPixels(p);
      const d = Math.hypot(x - px, y - py);
      if (d <= radius && (best === null || d < best.distance)) best = { line: li, point: pi, distance: d };
    });
  });
  return best;
}

// ---- heatmap ------------------------------------------------------------------------------------
