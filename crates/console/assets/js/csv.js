// CSV in the browser, from the same rows the page shows (RFC 4180 quoting).

export function csvField(v) {
  const t = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** `columns`: [[header, row => value], …]. Lines end with CRLF, as the RFC says. */
export function toCsv(columns, rows) {
  const lines = [columns.map(([name]) => csvField(name)).join(',')];
  for (const r of rows) lines.push(columns.map(([, get]) => csvField(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Offers `text` as a file download. */
export function download(filename, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
