// The CSV section: read a file in the browser, score its text column in chunks with
// POST /batch_predict (so the progress bar is real), and offer the scored file for download.

import { ApiError, describe, predict } from "./api.js";
import { CsvError, neutraliseFormula, parseCsv, toCsv } from "./csv.js";

const CHUNK_TEXTS = 64;
const MAX_RETRIES = 5;
const TEXT_COLUMN_NAMES = /^(text|texts|review|reviews|sentence|comment|comments|content|message|body|utterance|feedback)$/i;

export function setupCsv(getServerInfo) {
  const form = document.getElementById("csv-form");
  const fileInput = document.getElementById("csv-file");
  const column = document.getElementById("csv-column");
  const submit = document.getElementById("csv-submit");
  const cancel = document.getElementById("csv-cancel");
  const info = document.getElementById("csv-info");
  const progress = document.getElementById("csv-progress");
  const progressText = document.getElementById("csv-progress-text");
  const error = document.getElementById("csv-error");
  const download = document.getElementById("csv-download");
  let table = null;
  let fileName = "scored";
  let running = null;

  function resetOutput() {
    error.textContent = "";
    progress.hidden = true;
    progressText.textContent = "";
    if (download.href) URL.revokeObjectURL(download.href);
    download.removeAttribute("href");
    download.hidden = true;
  }

  fileInput.addEventListener("change", async () => {
    resetOutput();
    table = null;
    column.replaceChildren();
    column.disabled = submit.disabled = true;
    info.textContent = "";
    const file = fileInput.files[0];
    if (!file) return;
    fileName = file.name.replace(/\.(csv|tsv|txt)$/i, "") || "scored";
    try {
      table = parseCsv(await file.text());
    } catch (failure) {
      error.textContent = `${file.name}: ${failure instanceof CsvError ? failure.message : describe(failure)}`;
      return;
    }
    if (!table.rows.length) {
      error.textContent = `${file.name} has a header row but no data rows.`;
      table = null;
      return;
    }
    table.header.forEach((name, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = name || `(column ${i + 1})`;
      column.append(option);
    });
    column.value = String(guessTextColumn(table));
    column.disabled = submit.disabled = false;
    const separator = { ",": "comma", ";": "semicolon", "\t": "tab" }[table.delimiter];
    info.textContent = `${file.name}: ${table.rows.length} rows, ${table.header.length} columns (${separator} separated).`;
  });

  cancel.addEventListener("click", () => running && running.abort());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!table || running) return;
    resetOutput();
    const controller = new AbortController();
    running = controller;
    submit.disabled = fileInput.disabled = column.disabled = true;
    cancel.hidden = false;
    try {
      const scored = await scoreTable(table, Number(column.value), getServerInfo(), controller.signal, (done, total) => {
        progress.hidden = false;
        progress.max = Math.max(total, 1);
        progress.value = done;
        progressText.textContent = `Scored ${done.toLocaleString()} of ${total.toLocaleString()} texts`;
      });
      // The download is for opening in a spreadsheet, so formulas in the uploaded cells are neutralised;
      // pipelines that need the raw values use the API, or `moodline score` with its raw-CSV option.
      const safe = scored.rows.map((row) => row.map(neutraliseFormula));
      const blob = new Blob([toCsv(safe)], { type: "text/csv;charset=utf-8" });
      download.href = URL.createObjectURL(blob);
      download.download = `${fileName}.scored.csv`;
      download.textContent = `Download ${download.download}`;
      download.hidden = false;
      const skipped = scored.skipped ? `; ${plural(scored.skipped, "empty row")} left unscored` : "";
      progressText.textContent = `Scored ${scored.scored.toLocaleString()} texts${skipped}.`;
      download.focus();
    } catch (failure) {
      if (failure.name === "AbortError") {
        progressText.textContent = "Cancelled.";
      } else {
        error.textContent = describe(failure);
      }
    } finally {
      running = null;
      cancel.hidden = true;
      submit.disabled = fileInput.disabled = column.disabled = false;
    }
  });
}

function plural(count, noun) {
  return `${count.toLocaleString()} ${noun}${count === 1 ? "" : "s"}`;
}

/** A column named like text, else the one with the longest values in the first rows. */
export function guessTextColumn({ header, rows }) {
  const named = header.findIndex((name) => TEXT_COLUMN_NAMES.test(name.trim()));
  if (named >= 0) return named;
  const sample = rows.slice(0, 50);
  let best = 0;
  let bestLength = -1;
  header.forEach((_, i) => {
    const length = sample.reduce((sum, row) => sum + (Number.isNaN(Number(row[i])) ? row[i].length : 0), 0);
    if (length > bestLength) [best, bestLength] = [i, length];
  });
  return best;
}

/** Chunks of row indexes to send, within the server's text count and body size limits. */
function chunksOf(texts, indexes, info) {
  const limits = (info && info.limits) || {};
  const maxTexts = Math.min(CHUNK_TEXTS, limits.max_texts_per_request || CHUNK_TEXTS);
  // Leave room for JSON escaping and the envelope under the body limit.
  const maxBytes = Math.floor((limits.max_body_bytes || 2_000_000) * 0.4);
  const chunks = [];
  let current = [];
  let bytes = 0;
  for (const index of indexes) {
    const size = texts[index].length * 3 + 4; // worst case UTF-8 bytes per UTF-16 unit
    if (current.length && (current.length >= maxTexts || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

async function predictWithRetry(texts, signal) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await predict(texts, signal);
    } catch (failure) {
      // 429 means the server's queue is full for now; its Retry-After says when to come back.
      const busy = failure instanceof ApiError && (failure.status === 429 || failure.type === "not_ready");
      if (!busy || attempt >= MAX_RETRIES) throw failure;
      await new Promise((resolve) => setTimeout(resolve, 1000 * (failure.retryAfter || 1)));
      if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    }
  }
}

function outputColumns(header, labels) {
  const names = ["label", "score", ...labels.map((label) => `score_${label}`)];
  const taken = new Set(header);
  // Never overwrite or duplicate an input column: prefix every added column if any name clashes.
  return names.some((name) => taken.has(name)) ? names.map((name) => `moodline_${name}`) : names;
}

async function scoreTable(table, textColumn, info, signal, onProgress) {
  const texts = table.rows.map((row) => row[textColumn]);
  const indexes = texts.flatMap((text, i) => (text.trim() ? [i] : [])); // the API refuses empty texts
  const predictions = new Array(texts.length).fill(null);
  const chunks = chunksOf(texts, indexes, info);
  let labels = (info && info.model && info.model.labels) || null;
  let done = 0;
  onProgress(0, indexes.length);
  for (const chunk of chunks) {
    let answer;
    try {
      answer = await predictWithRetry(
        chunk.map((i) => texts[i]),
        signal,
      );
    } catch (failure) {
      if (failure instanceof ApiError) {
        const first = chunk[0] + 1;
        const last = chunk[chunk.length - 1] + 1;
        failure.message = `rows ${first}–${last} could not be scored: ${failure.message}`;
      }
      throw failure;
    }
    answer.predictions.forEach((prediction, k) => {
      predictions[chunk[k]] = prediction;
    });
    if (!labels && answer.predictions.length) labels = Object.keys(answer.predictions[0].scores);
    done += chunk.length;
    onProgress(done, indexes.length);
  }
  labels = labels || [];
  const rows = [[...table.header, ...outputColumns(table.header, labels)]];
  table.rows.forEach((row, i) => {
    const p = predictions[i];
    const added = p ? [p.label, p.score, ...labels.map((label) => p.scores[label])] : labels.map(() => "");
    if (!p) added.push("", "");
    rows.push([...row, ...added]);
  });
  return { rows, scored: indexes.length, skipped: texts.length - indexes.length };
}
