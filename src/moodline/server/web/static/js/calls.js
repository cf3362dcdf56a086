// The dashboard of several calls, from the answer of POST /transcripts with several files: totals, the
// failed files with their reasons, bar charts, one row per call and one row per speaker across calls.
// Names and file names come from whoever made the files: all are set as text, never as HTML.

import { barChart } from "./barchart.js";
import { dataCell, formatNumber, formatSeconds, formatShare, formatSigned } from "./format.js";

/** The emotion a speaker row has most of (columns `emotion_<name>`); a tie goes to the one listed first. */
export function dominantEmotion(row, emotions) {
  let best = null;
  for (const emotion of emotions) {
    const share = row[`emotion_${emotion}`];
    if (typeof share === "number" && (best === null || share > row[`emotion_${best}`])) best = emotion;
  }
  return best;
}

function renderTotals(totals) {
  const element = document.getElementById("calls-totals");
  element.dataset.calls = String(totals.calls);
  element.dataset.failed = String(totals.failed);
  element.dataset.speakers = String(totals.speakers);
  const mean = totals.mean_sentiment === null ? "n/a" : formatSigned(totals.mean_sentiment);
  const negative = totals.negative_share === null ? "n/a" : formatShare(totals.negative_share);
  element.textContent =
    `${totals.calls} call${totals.calls === 1 ? "" : "s"} analysed (${totals.failed} failed): ` +
    `${totals.utterances} utterances, ${totals.speakers} speakers, ` +
    `${formatSeconds(totals.duration_seconds)} of timed conversation; ` +
    `mean sentiment ${mean}; negative ${negative} of utterances.`;
}

function renderFailures(failures) {
  document.getElementById("calls-failures-box").hidden = !failures.length;
  document.getElementById("calls-failures").replaceChildren(
    ...failures.map((failure) => {
      const item = document.createElement("li");
      item.dataset.file = failure.file;
      const name = document.createElement("strong");
      name.textContent = failure.file;
      item.append(name, `: ${failure.error}`);
      return item;
    }),
  );
}

/** One row per call; an analysed call's file is a button that shows that call below (`onOpen(index)`). */
function renderCallRows(rows, onOpen) {
  document.querySelector("#calls-table tbody").replaceChildren(
    ...rows.map((row, index) => {
      const tr = document.createElement("tr");
      tr.dataset.file = row.file;
      tr.dataset.status = row.status;
      const file = document.createElement("th");
      file.scope = "row";
      file.dataset.column = "file";
      if (row.status === "ok") {
        const open = document.createElement("button");
        open.type = "button";
        open.className = "link";
        open.textContent = row.file;
        open.addEventListener("click", () => onOpen(index));
        file.append(open);
      } else {
        file.textContent = row.file;
      }
      const status = dataCell(row.status === "ok" ? "ok" : `failed: ${row.error}`, "status", row.status);
      if (row.status !== "ok") status.className = "error";
      const names = dataCell(
        row.speakers === null ? "–" : `${row.speakers}: ${row.speaker_names}`,
        "speakers",
        row.speakers,
      );
      const duration = row.duration_seconds === null ? "–" : formatSeconds(row.duration_seconds);
      tr.append(
        file,
        status,
        dataCell(duration, "duration_seconds", row.duration_seconds),
        dataCell(formatNumber(row.utterances), "utterances", row.utterances),
        names,
        dataCell(formatSigned(row.mean_sentiment), "mean_sentiment", row.mean_sentiment),
        dataCell(formatShare(row.negative_share), "negative_share", row.negative_share),
      );
      return tr;
    }),
  );
}

function renderSpeakerRows(rows, emotions) {
  for (const header of document.querySelectorAll("#speakers-table .emotion-column")) header.hidden = !emotions.length;
  document.querySelector("#speakers-table tbody").replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.speaker = row.speaker;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = row.speaker;
      const shares = dataCell(
        ["negative", "neutral", "positive"].map((label) => formatShare(row[`${label}_share`])).join(" / "),
        "label_shares",
        JSON.stringify({
          negative: row.negative_share,
          neutral: row.neutral_share,
          positive: row.positive_share,
        }),
      );
      tr.append(
        name,
        dataCell(formatNumber(row.calls), "calls", row.calls),
        dataCell(formatShare(row.mean_talk_share), "mean_talk_share", row.mean_talk_share),
        dataCell(formatSigned(row.mean_sentiment), "mean_sentiment", row.mean_sentiment),
        shares,
      );
      if (emotions.length) {
        const dominant = dominantEmotion(row, emotions);
        const share = dominant === null ? null : row[`emotion_${dominant}`];
        tr.append(dataCell(dominant === null ? "–" : `${dominant} ${formatShare(share)}`, "dominant_emotion", dominant));
      }
      return tr;
    }),
  );
}

/**
 * Show the dashboard for `answer` ({"calls", "summary"}); `onOpen(call)` shows one analysed call
 * (an entry of `answer.calls`) in full.
 */
export function renderCalls(answer, onOpen) {
  const summary = answer.summary;
  document.getElementById("calls-result").hidden = false;
  renderTotals(summary.totals);
  renderFailures(summary.failures);
  const analysed = summary.calls.filter((row) => row.status === "ok");
  document.getElementById("calls-sentiment-chart").replaceChildren(
    barChart(
      analysed.map((row) => [row.file, row.mean_sentiment]),
      { title: "Mean sentiment per call, from −1 to +1", signed: true, format: formatSigned, files: true },
    ),
  );
  document.getElementById("calls-talk-chart").replaceChildren(
    barChart(
      summary.speakers.map((row) => [row.speaker, row.mean_talk_share]),
      { title: "Mean talk share per speaker", format: formatShare },
    ),
  );
  // The summary's rows and the answer's calls are in the same order: the files' order in the request.
  renderCallRows(summary.calls, (index) => onOpen(answer.calls[index]));
  const emotions = summary.columns.speakers.filter((c) => c.startsWith("emotion_")).map((c) => c.slice(8));
  renderSpeakerRows(summary.speakers, emotions);
}
