// Entry point: model info, the API-key field, and the three sections.

import { describe, getApiKey, getInfo, onUnauthorized, setApiKey } from "./api.js";
import { setupCsv } from "./csvfile.js";
import { setupText } from "./text.js";
import { setupTranscript } from "./transcript.js";

let serverInfo = null;

function showInfo(info) {
  const model = info.model;
  const element = document.getElementById("model-info");
  element.textContent = `Model ${model.name} · version ${model.version} · ${model.backend} backend`;
  element.dataset.model = model.name;
}

async function loadInfo() {
  const element = document.getElementById("model-info");
  for (let attempt = 0; ; attempt++) {
    try {
      serverInfo = await getInfo();
      showInfo(serverInfo);
      if (serverInfo.auth) showKeyForm(false);
      return;
    } catch (failure) {
      // 503 not_ready while the model loads: keep asking, for a while.
      if (failure.type === "not_ready" && attempt < 60) {
        element.textContent = "The server is loading its model…";
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      element.textContent = `Model information unavailable: ${describe(failure)}`;
      return;
    }
  }
}

function showKeyForm(focus, message) {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  form.hidden = false;
  if (message) document.getElementById("key-status").textContent = message;
  if (focus) input.focus();
}

function setupKeyForm(onKey) {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  input.value = getApiKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value);
    document.getElementById("key-status").textContent = "Key saved for this tab; requests now send it.";
    onKey();
  });
  onUnauthorized((error) => {
    const wasHidden = form.hidden;
    const status = getApiKey() ? "The server refused this API key; check it and try again." : describe(error);
    showKeyForm(wasHidden, status);
  });
}

const text = setupText();
setupTranscript(() => serverInfo);
setupCsv(() => serverInfo);
setupKeyForm(() => text.rescore());
loadInfo();
