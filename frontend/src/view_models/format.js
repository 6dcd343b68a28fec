// Numbers and keys every view shows, formatted once: percentages, percentage points, counts, the whole model's key, severities.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

/** The whole model's row key in the `table` route's rows (words.MODEL_KEY on the backend). */
export const MODEL_KEY = "(model)";

export const SEVERITY_RANK = { error: 0, warning: 1, info: 2 };

export function severityRank(severity) {
  return SEVERITY_RANK[severity] ?? 3;
}

/** 0.8715 → "87.2%" (null → "—"). */
export function formatPercent(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

/** A difference of fractions in percentage points: -0.012 → "−1.2 pt", 0 → "±0.0 pt". */
export function formatPoints(diff, digits = 1) {
  if (diff === null || diff === undefined || !Number.isFinite(diff)) return "—";
  const text = Math.abs(diff * 100).toFixed(digits);
  if (Number(text) === 0) return `±${text} pt`;
  return `${diff < 0 ? "\u2212" : "+"}${text} pt`;
}

// One formatter for every count: Number.toLocaleString makes a new one per call (0.4 s of
// the 300-layer first screen).
const COUNT_FORMAT = new Intl.NumberFormat("en-US");

/** 1234567 → "1,234,567" (null → "?"). */
export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "?";
  return COUNT_FORMAT.format(Math.round(n));
}

/** 1234567 → "1.23M", 288 → "288": for tight headers. */
export function formatCompactCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "?";
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${+(n / 1e9).toPrecision(3)}B`;
  if (abs >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${+(n / 1e3).toPrecision(3)}k`;
  return formatCount(n);
}
