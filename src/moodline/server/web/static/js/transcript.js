// The transcript section: POST /transcripts, then the per-speaker table, the emotions per speaker,
// the timeline chart (uPlot, one series per speaker), the key moments, how the conversation was held,
// its stretches of one mood and every utterance. Several files get the dashboard across calls instead.

import { analyseCalls, analyseTranscript, describe } from "./api.js";
import { renderCalls } from "./calls.js";
import { renderMetrics, renderSegments } from "./conversation.js";
import { formatPercent, formatSeconds, formatSigned, labelClass } from "./format.js";

// Okabe-Ito: told apart with the common kinds of colour blindness.
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933"];
const CHART_HEIGHT = 280;
// The colours of the HTML report (moodline.transcripts.report.EMOTION_COLOURS).
const EMOTION_COLOURS = {
  joy: "#f2b701",
  surprise: "#17becf",
  anger: "#d62728",
  sadness: "#1f77b4",
  fear: "#9467bd",
  disgust: "#8c564b",
  neutral: "#c7c7c7",
};

export function speakerColour(index) {
  if (index < PALETTE.length) return PALETTE[index];
  return `hsl(${(index * 137.5) % 360} 65% 40%)`; // golden-angle hues past the palette
}

/** `serverInfo()` gives GET /info's answer once loaded (null before), for the server's limits. */
export function setupTranscript(serverInfo) {
  const form = document.getElementById("transcript-form");
  const fileInput = document.getElementById("transcript-file");
  const textInput = document.getElementById("transcript-text");
  const formatSelect = document.getElementById("transcript-format");
  const emotionsBox = document.getElementById("transcript-emotions");
  const submit = document.getElementById("transcript-submit");
  const status = document.getElementById("transcript-status");
  const error = document.getElementById("transcript-error");
  let chart = null;

  // One source at a time: choosing a file clears the pasted text and the other way round.
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length) textInput.value = "";
  });
  textInput.addEventListener("input", () => {
    if (textInput.value) fileInput.value = "";
  });

  const resultBox = document.getElementById("transcript-result");
  const callsBox = document.getElementById("calls-result");
  const showFailure = (failure) => {
    status.textContent = "";
    resultBox.hidden = true; // never show an old result under a new error
    callsBox.hidden = true;
    error.textContent = describe(failure);
  };

  const show = (insights, file) => {
    if (chart) chart.destroy();
    chart = render(insights, file);
  };

  async function analyseSeveral(files) {
    const info = serverInfo();
    const limit = info && info.limits ? info.limits.max_transcript_files : null;
    if (limit && files.length > limit) {
      error.textContent =
        `You chose ${files.length} files; this server analyses at most ${limit} in one request. ` +
        "Choose fewer files.";
      return;
    }
    status.textContent = `Analysing ${files.length} calls…`;
    const answer = await analyseCalls({ files, format: formatSelect.value, emotions: emotionsBox.checked });
    if (chart) chart.destroy();
    chart = null;
    resultBox.hidden = true;
    renderCalls(answer, (call) => {
      show(call.insights, call.file);
      resultBox.scrollIntoView({ block: "start" });
    });
    const { calls, failed } = answer.summary.totals;
    status.textContent = `Analysed ${calls} of ${files.length} calls${failed ? `; ${failed} failed` : ""}.`;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const files = [...fileInput.files];
    if (files.length > 1) {
      submit.disabled = true;
      try {
        await analyseSeveral(files);
      } catch (failure) {
        showFailure(failure);
      } finally {
        submit.disabled = false;
      }
      return;
    }
    const file = files[0];
    const text = textInput.value;
    if (!file && !text.trim()) {
      error.textContent = "Choose a transcript file or paste a transcript first.";
      return;
    }
    submit.disabled = true;
    status.textContent = `Analysing ${file ? file.name : "the pasted transcript"}…`;
    try {
      const insights = await analyseTranscript({
        file,
        text,
        format: formatSelect.value,
        emotions: emotionsBox.checked,
      });
      callsBox.hidden = true;
      show(insights, null);
      status.textContent = `Analysed ${insights.summary.utterances} utterances (${insights.format}).`;
    } catch (failure) {
      showFailure(failure);
    } finally {
      submit.disabled = false;
    }
  });

  window.addEventListener("resize", () => {
    if (chart) chart.setSize({ width: chartWidth(), height: CHART_HEIGHT });
  });
}

function chartWidth() {
  return Math.max(240, document.getElementById("timeline").clientWidth);
}

/** Show one call's insights; `file` names it when it is one of several calls. Returns the chart. */
function render(insights, file) {
  const resultBox = document.getElementById("transcript-result");
  resultBox.hidden = false;
  const title = document.getElementById("call-title");
  title.hidden = !file;
  title.textContent = file ? `Call: ${file}` : "";
  const speakers = insights.speakers.map((s) => s.speaker);
  const colours = new Map(speakers.map((name, i) => [name, speakerColour(i)]));
  renderSummary(insights);
  renderSpeakers(insights.speakers, colours);
  renderEmotions(insights.emotions, colours);
  const chart = renderTimeline(insights, speakers, colours);
  renderMoments(insights, chart);
  renderMetrics(insights.conversation_metrics, (speaker) => swatch(colours.get(speaker) || "#777"));
  const { utterances, x } = chart.moodline;
  const indexOf = new Map(utterances.map((u, i) => [u.position, i]));
  renderSegments(insights.segments, (quote) => {
    const utterance = utterances[indexOf.get(quote.position)];
    showQuote(quote.text, quote.speaker, quote.start, quote.sentiment, utterance && utterance.label,
      utterance && utterance.emotion);
    highlight(chart, indexOf.get(quote.position), x);
    showUtterance(quote.position);
  });
  renderUtterances(insights.utterances, insights.emotions !== null && insights.emotions !== undefined);
  document.getElementById("quote").hidden = true;
  return chart;
}

/** Open the table of every utterance at the one at `position` and mark it. */
function showUtterance(position) {
  document.getElementById("utterances").open = true;
  for (const row of document.querySelectorAll("#utterance-table tr[aria-current]")) row.removeAttribute("aria-current");
  const row = document.querySelector(`#utterance-table tr[data-position="${Number(position)}"]`);
  if (!row) return;
  row.setAttribute("aria-current", "true");
  row.scrollIntoView({ block: "center" });
}

function renderSummary({ summary }) {
  const shares = Object.entries(summary.label_shares)
    .map(([label, share]) => `${label} ${formatPercent(share)}`)
    .join(" · ");
  const span = summary.duration ? ` over ${formatSeconds(summary.duration)}` : "";
  document.getElementById("transcript-summary").textContent =
    `${summary.utterances} utterances from ${summary.speakers} speaker${summary.speakers === 1 ? "" : "s"}${span}; ` +
    `mean sentiment ${formatSigned(summary.mean_sentiment)}; ${shares}.`;
}

function swatch(colour) {
  const mark = document.createElement("span");
  mark.className = "swatch";
  mark.style.background = colour;
  mark.setAttribute("aria-hidden", "true");
  return mark;
}

function renderSpeakers(speakers, colours) {
  const body = document.querySelector("#speaker-table tbody");
  body.replaceChildren(
    ...speakers.map((s) => {
      const row = document.createElement("tr");
      const name = document.createElement("th");
      name.scope = "row";
      name.append(swatch(colours.get(s.speaker)), s.speaker);
      const shares = ["negative", "neutral", "positive"].map((l) => formatPercent(s.label_shares[l] || 0)).join(" / ");
      const cells = [
        String(s.turns),
        formatPercent(s.talk_share),
        formatSigned(s.mean_sentiment),
        shares,
        formatSigned(s.trajectory ? s.trajectory.delta : null),
      ].map((text) => {
        const cell = document.createElement("td");
        cell.textContent = text;
        return cell;
      });
      row.append(name, ...cells);
      return row;
    }),
  );
}

function shareText(shares, labels) {
  return labels
    .filter((label) => shares[label] > 0)
    .sort((a, b) => shares[b] - shares[a])
    .map((label) => `${label} ${formatPercent(shares[label])}`)
    .join(" · ");
}

/** Emotion shares overall (a sentence) and per speaker (a stacked bar each); hidden when not scored. */
function renderEmotions(emotions, colours) {
  const box = document.getElementById("emotions-result");
  box.hidden = !emotions;
  if (!emotions) return;
  const labels = emotions.labels;
  document.getElementById("emotion-summary").textContent = `Emotions: ${shareText(emotions.overall, labels)}.`;
  document.getElementById("emotion-legend").replaceChildren(
    ...labels.map((label) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.append(swatch(EMOTION_COLOURS[label] || "#777"), label);
      return item;
    }),
  );
  const body = document.querySelector("#emotion-table tbody");
  body.replaceChildren(
    ...Object.entries(emotions.speakers).map(([speaker, row]) => {
      const tr = document.createElement("tr");
      tr.dataset.speaker = speaker;
      const name = document.createElement("th");
      name.scope = "row";
      name.append(swatch(colours.get(speaker) || "#777"), speaker);
      const dominant = document.createElement("td");
      dominant.className = "dominant";
      dominant.textContent = row.dominant;
      const bar = document.createElement("div");
      bar.className = "emotion-bar";
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", shareText(row.shares, labels));
      for (const label of labels) {
        if (!(row.shares[label] > 0)) continue;
        const piece = document.createElement("span");
        piece.style.width = `${row.shares[label] * 100}%`;
        piece.style.background = EMOTION_COLOURS[label] || "#777";
        piece.title = `${label} ${formatPercent(row.shares[label])}`;
        piece.dataset.emotion = label;
        piece.dataset.share = String(row.shares[label]);
        bar.append(piece);
      }
      const cell = document.createElement("td");
      cell.append(bar);
      tr.append(name, dominant, cell);
      return tr;
    }),
  );
}

/** Every utterance with its sentiment and, when scored, its emotion (text set as text, never as HTML). */
function renderUtterances(utterances, withEmotions) {
  for (const header of document.querySelectorAll("#utterance-table .emotion-column")) header.hidden = !withEmotions;
  const body = document.querySelector("#utterance-table tbody");
  body.replaceChildren(
    ...utterances.map((u) => {
      const row = document.createElement("tr");
      row.dataset.position = String(u.position);
      const cells = [
        formatSeconds(u.start),
        u.speaker,
        `${u.label} ${formatSigned(u.sentiment)}`,
        ...(withEmotions ? [`${u.emotion} ${formatPercent(u.emotion_score)}`] : []),
        u.text,
      ].map((text) => {
        const cell = document.createElement("td");
        cell.textContent = text;
        return cell;
      });
      cells[2].className = labelClass(u.label);
      if (withEmotions) cells[3].className = "emotion";
      row.append(...cells);
      return row;
    }),
  );
}

/** x values: start times when every utterance has one and they increase, else utterance numbers. */
function xAxis(utterances) {
  const starts = utterances.map((u) => u.start);
  const timed = starts.every((s, i) => typeof s === "number" && (i === 0 || s > starts[i - 1]));
  return timed
    ? { values: starts, label: "time", format: formatSeconds }
    : { values: utterances.map((_, i) => i + 1), label: "utterance", format: (v) => String(v) };
}

function renderTimeline(insights, speakers, colours) {
  const container = document.getElementById("timeline");
  container.replaceChildren();
  const utterances = insights.utterances;
  const indexOf = new Map(utterances.map((u, i) => [u.position, i]));
  const x = xAxis(utterances);
  const data = [x.values];
  for (const name of speakers) {
    const values = new Array(utterances.length).fill(null);
    const series = insights.timeline.per_speaker[name] || { positions: [], values: [] };
    series.positions.forEach((position, k) => {
      values[indexOf.get(position)] = series.values[k];
    });
    data.push(values);
  }
  const options = {
    width: chartWidth(),
    height: CHART_HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, focus: { prox: 24 } },
    focus: { alpha: 0.35 },
    scales: { x: { time: false }, y: { range: [-1, 1] } },
    axes: [
      { label: x.label, values: (_u, ticks) => ticks.map(x.format) },
      { label: "sentiment", values: (_u, ticks) => ticks.map((t) => t.toFixed(1)) },
    ],
    series: [
      { label: x.label },
      ...speakers.map((name) => ({
        label: name,
        stroke: colours.get(name),
        width: 2,
        spanGaps: true, // each speaker's line runs through the others' turns
        points: { show: true, size: 7, fill: colours.get(name) },
      })),
    ],
  };
  const chart = new window.uPlot(options, data, container);
  container.uplot = chart; // lets tests and the console reach the chart instance
  container.dataset.seriesCount = String(speakers.length);
  container.dataset.series = JSON.stringify(speakers);
  container.setAttribute(
    "aria-label",
    `Sentiment timeline with ${speakers.length} series, one per speaker: ${speakers.join(", ")}`,
  );
  chart.over.addEventListener("click", () => {
    const index = chart.cursor.idx;
    if (index === null || index === undefined) return;
    const u = utterances[index];
    showQuote(u.text, u.speaker, u.start, u.sentiment, u.label, u.emotion);
  });
  renderLegend(chart, speakers, colours);
  chart.moodline = { utterances, x };
  return chart;
}

function renderLegend(chart, speakers, colours) {
  const legend = document.getElementById("timeline-legend");
  legend.replaceChildren(
    ...speakers.map((name, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "legend-item";
      button.setAttribute("aria-pressed", "true");
      button.append(swatch(colours.get(name)), name);
      button.addEventListener("click", () => {
        const show = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(show));
        chart.setSeries(i + 1, { show });
      });
      return button;
    }),
  );
}

function showQuote(text, speaker, start, sentiment, label, emotion) {
  const figure = document.getElementById("quote");
  document.getElementById("quote-text").textContent = text;
  const when = start === null || start === undefined ? "" : ` at ${formatSeconds(start)}`;
  const tone = label ? `${label}, ` : "";
  const felt = emotion ? `, ${emotion}` : "";
  document.getElementById("quote-caption").textContent =
    `${speaker}${when} (${tone}sentiment ${formatSigned(sentiment)}${felt})`;
  figure.dataset.speaker = speaker;
  figure.hidden = false;
}

function renderMoments(insights, chart) {
  const { utterances, x } = chart.moodline;
  const indexOf = new Map(utterances.map((u, i) => [u.position, i]));
  const fill = (id, moments, describeMoment) => {
    const list = document.getElementById(id);
    if (!moments.length) {
      const empty = document.createElement("li");
      empty.textContent = "none";
      list.replaceChildren(empty);
      return;
    }
    list.replaceChildren(
      ...moments.map((moment) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "moment";
        const when = moment.start === null || moment.start === undefined ? "" : ` · ${formatSeconds(moment.start)}`;
        button.textContent = `${moment.speaker}${when} · ${describeMoment(moment)}`;
        button.addEventListener("click", () => {
          const utterance = utterances[indexOf.get(moment.position)];
          const sentiment = moment.sentiment ?? (utterance ? utterance.sentiment : null);
          showQuote(
            moment.quote,
            moment.speaker,
            moment.start,
            sentiment,
            moment.label || (utterance && utterance.label),
            utterance && utterance.emotion,
          );
          highlight(chart, indexOf.get(moment.position), x);
        });
        item.append(button);
        return item;
      }),
    );
  };
  fill("moments-negative", insights.most_negative, (m) => formatSigned(m.sentiment));
  fill("moments-positive", insights.most_positive, (m) => formatSigned(m.sentiment));
  fill("moments-turning", insights.turning_points, (m) => `turns ${m.change < 0 ? "down" : "up"} ${formatSigned(m.change)}`);
  for (const id of ["moments-negative", "moments-positive"]) {
    for (const button of document.querySelectorAll(`#${id} .moment`)) button.classList.add(labelClass(id.slice(8)));
  }
}

/** Put the chart cursor on utterance `index`, on whichever speaker series has a value there. */
function highlight(chart, index, x) {
  if (index === undefined) return;
  const row = chart.data.slice(1).findIndex((values) => values[index] !== null);
  if (row < 0) return;
  chart.setCursor({
    left: chart.valToPos(x.values[index], "x"),
    top: chart.valToPos(chart.data[row + 1][index], "y"),
  });
}
