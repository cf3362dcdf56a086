// Number and label formatting shared by the page's sections.

export function formatPercent(value) {
  return `${(value * 100).toFixed(1)} %`;
}

export function formatSigned(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`;
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A CSS class for a label's colour: negative, neutral, positive or other. */
export function labelClass(label) {
  const name = String(label).toLowerCase();
  if (name.startsWith("neg")) return "negative";
  if (name.startsWith("pos")) return "positive";
  if (name.startsWith("neu")) return "neutral";
  return "other";
}

/** `value` with `digits` decimals and an optional unit; a dash when unknown (an untimed call's times). */
export function formatNumber(value, digits = 0, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${value.toFixed(digits)}${unit}`;
}

/** A share as a whole percentage, or a dash when unknown. */
export function formatShare(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${Math.round(value * 100)} %`;
}

/** A cell's exact value for `data-value`: empty when unknown, so a program can read the figures back. */
export function dataValue(value) {
  return value === null || value === undefined ? "" : String(value);
}

/** A table cell showing `text` that carries its exact value and column for readers of the page. */
export function dataCell(text, column, value) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.column = column;
  td.dataset.value = dataValue(value);
  return td;
}
