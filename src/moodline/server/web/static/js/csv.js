// RFC 4180 CSV reading and writing: quoted fields may hold delimiters, doubled quotes and line breaks.

export class CsvError extends Error {
  constructor(message) {
    super(message);
    this.name = "CsvError";
  }
}

const DELIMITERS = [",", ";", "\t"];

/** The delimiter that splits the first line (outside quotes) into the most fields; a comma by default. */
export function detectDelimiter(text) {
  const counts = new Map(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c) + 1);
  }
  let best = ",";
  for (const [d, n] of counts) if (n > counts.get(best)) best = d;
  return best;
}

/**
 * Parse CSV text into {header, rows, delimiter, lines}; `lines[i]` is the line where row i starts.
 * Blank lines are skipped; short rows are padded; a row with extra non-empty fields is an error.
 */
export function parseCsv(text, delimiter) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark from spreadsheet exports
  delimiter = delimiter || detectDelimiter(text);
  const records = [];
  let row = [];
  let field = "";
  let atFieldStart = true;
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 1;
  const n = text.length;
  const endRecord = () => {
    row.push(field);
    if (!(row.length === 1 && row[0] === "")) records.push({ cells: row, line: recordLine });
    row = [];
    field = "";
    atFieldStart = true;
  };
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
        field += c;
      }
    } else if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      quoteLine = line;
    } else if (c === delimiter) {
      row.push(field);
      field = "";
      atFieldStart = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      atFieldStart = false;
    }
  }
  if (quoted) throw new CsvError(`line ${quoteLine}: a quoted field is never closed`);
  if (field !== "" || row.length) endRecord();
  if (!records.length) throw new CsvError("the file is empty");

  const header = records[0].cells;
  const rows = [];
  const lines = [];
  for (const { cells, line: start } of records.slice(1)) {
    if (cells.length > header.length) {
      if (cells.slice(header.length).some((cell) => cell !== "")) {
        throw new CsvError(`line ${start} has ${cells.length} fields; the header has ${header.length}`);
      }
      cells.length = header.length;
    }
    while (cells.length < header.length) cells.push("");
    rows.push(cells);
    lines.push(start);
  }
  return { header, rows, delimiter, lines };
}

// A cell a spreadsheet would run as a formula (one starting with =, +, -, @, tab or carriage return)
// gets a leading ' so Excel and LibreOffice show it as text: the rule of moodline/spreadsheet.py, which
// the CSV files moodline writes follow. Plain numbers keep their sign: "-1" or a score is a value, never run.
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** `value` with a leading ' if it is text a spreadsheet would run as a formula; anything else unchanged. */
export function neutraliseFormula(value) {
  return typeof value === "string" && FORMULA_START.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
}

function quote(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Write rows (arrays of strings or numbers) as comma-separated CSV with CRLF line ends. */
export function toCsv(rows) {
  return rows.map((row) => row.map(quote).join(",")).join("\r\n") + "\r\n";
}
