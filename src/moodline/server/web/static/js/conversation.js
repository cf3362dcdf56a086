// How one call was held (its conversation metrics) and its stretches of one mood (its sentiment segments),
// from the insights of POST /transcripts. Every name and quote is set as text, never as HTML.

import { dataCell, dataValue, formatNumber, formatSeconds, formatShare, formatSigned } from "./format.js";

const seconds = (value) => (value === null || value === undefined ? "–" : formatSeconds(value));
const gap = (value) => formatNumber(value, 1, " s");

// The call's figures in the order shown, each with how to show it.
const CALL_FIGURES = [
  ["duration_seconds", "Duration", seconds],
  ["talk_seconds", "Someone talking", seconds],
  ["silence_share", "Silence", formatShare],
  ["turns", "Turns", (v) => formatNumber(v)],
  ["speaker_switches", "Speaker switches", (v) => formatNumber(v)],
  ["interactivity", "Switches per minute", (v) => formatNumber(v, 1)],
  ["questions", "Questions", (v) => formatNumber(v)],
  ["interruptions", "Interruptions", (v) => formatNumber(v)],
];

/** The call's figures, the per-speaker table and, for a call without times, why its times are missing. */
export function renderMetrics(metrics, swatchFor) {
  const box = document.getElementById("metrics-result");
  box.hidden = !metrics; // older servers sent no metrics
  if (!metrics) return;
  const reason = document.getElementById("metrics-reason");
  reason.textContent = metrics.timed ? "" : `No times: ${metrics.reason}`;
  reason.hidden = metrics.timed;
  document.getElementById("call-metrics").replaceChildren(
    ...CALL_FIGURES.map(([key, title, show]) => {
      const item = document.createElement("div");
      item.dataset.metric = key;
      item.dataset.value = dataValue(metrics.call[key]);
      const term = document.createElement("dt");
      term.textContent = title;
      const figure = document.createElement("dd");
      figure.textContent = show(metrics.call[key]);
      item.append(term, figure);
      return item;
    }),
  );
  document.querySelector("#talk-table tbody").replaceChildren(
    ...Object.entries(metrics.speakers).map(([speaker, s]) => {
      const row = document.createElement("tr");
      row.dataset.speaker = speaker;
      const name = document.createElement("th");
      name.scope = "row";
      name.append(swatchFor(speaker), speaker);
      const gaps = document.createElement("td");
      gaps.textContent = `${gap(s.mean_response_gap_seconds)} / ${gap(s.median_response_gap_seconds)}`;
      gaps.dataset.column = "mean_response_gap_seconds";
      gaps.dataset.value = dataValue(s.mean_response_gap_seconds);
      gaps.dataset.median = dataValue(s.median_response_gap_seconds);
      row.append(
        name,
        dataCell(seconds(s.talk_seconds), "talk_seconds", s.talk_seconds),
        dataCell(formatShare(s.talk_share), "talk_share", s.talk_share),
        dataCell(formatNumber(s.words), "words", s.words),
        dataCell(formatNumber(s.words_per_minute), "words_per_minute", s.words_per_minute),
        dataCell(gap(s.longest_monologue_seconds), "longest_monologue_seconds", s.longest_monologue_seconds),
        dataCell(formatNumber(s.turns), "turns", s.turns),
        dataCell(formatNumber(s.questions), "questions", s.questions),
        dataCell(formatNumber(s.interruptions), "interruptions", s.interruptions),
        gaps,
      );
      return row;
    }),
  );
}

/** Where a segment lies: its times when the call has them, else its utterance numbers. */
function segmentSpan(segment) {
  if (segment.start !== null && segment.start !== undefined && segment.end !== null && segment.end !== undefined) {
    return `${formatSeconds(segment.start)}–${formatSeconds(segment.end)}`;
  }
  return `utterances ${segment.first_position + 1}–${segment.last_position + 1}`;
}

/**
 * One item per segment (kind, span, speakers, mean sentiment) with its quotes as buttons;
 * `onQuote(quote)` runs when one is chosen.
 */
export function renderSegments(segments, onQuote) {
  const box = document.getElementById("segments-result");
  box.hidden = !segments;
  if (!segments) return;
  const list = document.getElementById("segment-list");
  if (!segments.length) {
    const none = document.createElement("li");
    none.className = "none";
    none.textContent = "None: the mood did not stay negative or positive for three utterances or more.";
    list.replaceChildren(none);
    return;
  }
  list.replaceChildren(
    ...segments.map((segment) => {
      const item = document.createElement("li");
      item.className = `segment ${segment.kind}`;
      item.dataset.kind = segment.kind;
      item.dataset.first = String(segment.first_position);
      item.dataset.last = String(segment.last_position);
      item.dataset.mean = String(segment.mean_sentiment);
      const head = document.createElement("p");
      head.className = "segment-head";
      const kind = document.createElement("strong");
      kind.textContent = segment.kind;
      head.append(
        kind,
        ` · ${segmentSpan(segment)} · ${segment.utterances} utterances · ${segment.speakers.join(", ")} · ` +
          `mean ${formatSigned(segment.mean_sentiment)}`,
      );
      const quotes = document.createElement("ul");
      quotes.className = "segment-quotes";
      quotes.append(
        ...segment.quotes.map((quote) => {
          const entry = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "moment";
          button.dataset.position = String(quote.position);
          const when = quote.start === null || quote.start === undefined ? "" : ` · ${formatSeconds(quote.start)}`;
          const who = document.createElement("span");
          who.className = "quote-who";
          who.textContent = `${quote.speaker}${when} · ${formatSigned(quote.sentiment)}`;
          const said = document.createElement("q");
          said.textContent = quote.text;
          button.append(who, " ", said);
          button.addEventListener("click", () => onQuote(quote));
          entry.append(button);
          return entry;
        }),
      );
      item.append(head, quotes);
      return item;
    }),
  );
}
