// The text box: scores what is typed, after a short pause, with POST /predict.

import { describe, predictOne } from "./api.js";
import { formatPercent, labelClass } from "./format.js";

const DEBOUNCE_MS = 300;

export function setupText() {
  const input = document.getElementById("text-input");
  const result = document.getElementById("text-result");
  const error = document.getElementById("text-error");
  let timer = 0;
  let inFlight = null;

  async function score() {
    const text = input.value;
    if (inFlight) inFlight.abort(); // only the latest text's answer is shown
    if (!text.trim()) {
      result.replaceChildren();
      delete result.dataset.label;
      error.textContent = "";
      return;
    }
    const controller = new AbortController();
    inFlight = controller;
    result.setAttribute("aria-busy", "true");
    try {
      const answer = await predictOne(text, controller.signal);
      error.textContent = "";
      render(result, answer.predictions[0]);
    } catch (failure) {
      if (failure.name === "AbortError") return;
      result.replaceChildren();
      delete result.dataset.label;
      error.textContent = describe(failure);
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        result.removeAttribute("aria-busy");
      }
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(score, DEBOUNCE_MS);
  });
  return { rescore: score };
}

function render(container, prediction) {
  container.dataset.label = prediction.label;
  const headline = document.createElement("p");
  headline.className = "headline";
  const label = document.createElement("strong");
  label.className = `label ${labelClass(prediction.label)}`;
  label.id = "text-label";
  label.textContent = prediction.label;
  headline.append(label, ` with ${formatPercent(prediction.score)} confidence`);
  if (prediction.truncated) headline.append(" (the text was too long; only its start was read)");

  const list = document.createElement("dl");
  list.className = "scores";
  const entries = Object.entries(prediction.scores).sort((a, b) => b[1] - a[1]);
  for (const [name, probability] of entries) {
    const term = document.createElement("dt");
    term.textContent = name;
    const value = document.createElement("dd");
    const bar = document.createElement("span");
    bar.className = `bar ${labelClass(name)}`;
    bar.style.width = `${(probability * 100).toFixed(1)}%`;
    const figure = document.createElement("span");
    figure.className = "figure";
    figure.textContent = formatPercent(probability);
    value.dataset.label = name;
    value.dataset.score = String(probability);
    value.append(bar, figure);
    list.append(term, value);
  }
  container.replaceChildren(headline, list);
}
