// Horizontal bar charts as inline SVG, one bar per item, in the manner of the many-calls dashboard that
// `moodline transcript --summary-dir` writes: every bar carries data-label and data-value (the exact number,
// empty when unknown). Labels are set as text, never parsed as markup.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 440;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 56;
const ROW = 22;

function element(name, attributes = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** `text` cut to `limit` characters; a file keeps its end (the name), anything else its start. */
function short(text, tail, limit = 22) {
  if (text.length <= limit) return text;
  return tail ? `…${text.slice(-(limit - 1))}` : `${text.slice(0, limit - 1)}…`;
}

/**
 * An <svg> with one bar per `[label, value]` item. `signed` bars grow left (red) or right (green) from a
 * zero line in [-1, 1]; otherwise they grow from the left edge in [0, 1] in the accent colour.
 */
export function barChart(items, { title, signed = false, format, files = false }) {
  const plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const zero = LABEL_WIDTH + (signed ? plot / 2 : 0);
  const scale = signed ? plot / 2 : plot;
  const height = ROW * Math.max(1, items.length) + 10;
  const svg = element("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", class: "bar-chart" });
  svg.setAttribute("aria-label", title);
  svg.dataset.count = String(items.length);
  svg.append(element("line", { x1: zero, y1: 0, x2: zero, y2: height, class: "axis" }));
  items.forEach(([label, value], index) => {
    const top = 5 + index * ROW;
    const known = typeof value === "number" && Number.isFinite(value);
    const shown = known ? format(value) : "n/a";
    const bar = element("g", { class: "bar" });
    bar.dataset.label = label;
    bar.dataset.value = known ? String(value) : "";
    const tip = element("title");
    tip.textContent = `${label}: ${shown}`;
    const name = element("text", { x: LABEL_WIDTH - 8, y: top + 15, class: "label" });
    name.textContent = short(label, files);
    bar.append(tip, name);
    if (known) {
      const clipped = Math.max(signed ? -1 : 0, Math.min(1, value));
      const tone = signed ? (clipped < 0 ? "negative" : "positive") : "plain";
      bar.append(
        element("rect", {
          x: (zero + Math.min(clipped, 0) * scale).toFixed(1),
          y: top + 3,
          width: (Math.abs(clipped) * scale).toFixed(1),
          height: ROW - 6,
          class: `fill ${tone}`,
        }),
      );
    }
    const figure = element("text", { x: WIDTH - VALUE_WIDTH + 6, y: top + 15, class: "value" });
    figure.textContent = shown;
    bar.append(figure);
    svg.append(bar);
  });
  return svg;
}
