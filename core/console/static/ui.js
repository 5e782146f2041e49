// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so nothing the
// API returns can inject markup.

/** h builds an element: h('button', {class: 'primary', onclick: fn}, 'Save'). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, ''); // also the default a form reset returns to
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

let uid = 0;

/**
 * field is a labelled input with a hint and an error slot wired with
 * aria-describedby. name is the API field the error messages name.
 */
export function field(label, name, input, hint) {
  const id = 'f' + (++uid);
  input.id = id;
  input.name = name;
  const err = h('div', { class: 'err', id: id + '-err', 'data-err-for': name, 'aria-live': 'polite' });
  const hintEl = hint ? h('div', { class: 'hint', id: id + '-hint' }, hint) : null;
  input.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl, err);
}

/** clearErrors removes the error messages of a form. */
export function clearErrors(form) {
  for (const e of form.querySelectorAll('.err')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

/**
 * showError puts the API's message next to the field it names ("Username: ...",
 * "invalid request: Chroot: ...", "Url \"x\": ...", "Code is required"), or in the form's own error
 * slot, and moves the focus there.
 */
export function showError(form, err) {
  clearErrors(form);
  const msg = err.message || String(err);
  const m = /(?:^|: )([A-Za-z]+)(?::| "[^"]*":| is required| must)/.exec(msg);
  let slot = m && form.querySelector(`[data-err-for="${m[1]}"]`);
  if (!slot) slot = form.querySelector('[data-err-for="_form"]');
  slot.textContent = msg;
  const input = m && form.elements[m[1]];
  if (input && input.setAttribute) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** formError is the slot for errors that name no field. */
export function formError() {
  return h('div', { class: 'err', 'data-err-for': '_form', role: 'alert' });
}

/** table renders rows with columns [{label, cell: row => node|string, class}]. */
export function table(columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty || 'Nothing here yet.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r))))))));
}

/** genericTable shows objects of unknown shape: one column per key of the first. */
export function genericTable(rows, extra) {
  const keys = rows.length ? Object.keys(rows[0]) : [];
  const cols = keys.map((k) => ({ label: k, cell: (r) => fmtValue(r[k]) }));
  if (extra) cols.push(extra);
  return table(cols, rows);
}

export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(fmtValue).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return fmtTime(v);
  return String(v);
}

export function fmtTime(s) {
  const d = new Date(s);
  if (isNaN(d) || d.getFullYear() < 1971) return '';
  return d.toLocaleString();
}

export function fmtSize(n) {
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + ' ' + units[i];
}

/** toast shows a short message in the live region. */
export function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 3500);
}

/** copyButton copies text to the clipboard. */
export function copyButton(text, label) {
  return h('button', {
    type: 'button', class: 'small', 'aria-label': 'Copy ' + (label || text),
    onclick: async () => {
      try { await navigator.clipboard.writeText(text); toast('Copied'); } catch { toast('Copy failed: select the text instead'); }
    },
  }, 'Copy');
}

/**
 * modal opens a <dialog> with content built by build(close) and resolves with what
 * close is given (undefined on Escape).
 */
export function modal(title, build) {
  return new Promise((resolve) => {
    const d = h('dialog', { 'aria-labelledby': 'dlg-title' });
    const close = (v) => { d.close(); d.remove(); resolve(v); };
    d.addEventListener('cancel', (e) => { e.preventDefault(); close(undefined); });
    d.append(h('h2', { id: 'dlg-title' }, title), build(close));
    document.body.append(d);
    d.showModal();
  });
}

/** confirmDialog asks before something destructive. */
export function confirmDialog(title, text, action) {
  return modal(title, (close) => h('div', {},
    h('p', {}, text),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, action),
      h('button', { type: 'button', autofocus: true, onclick: () => close(false) }, 'Cancel'))));
}

/**
 * promptDialog asks for one value; submit(value) runs the API call and its error is
 * shown next to the field, keeping the dialog open.
 */
export function promptDialog(title, label, value, submit) {
  return modal(title, (close) => {
    const input = h('input', { type: 'text', value, autocomplete: 'off' });
    const form = h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        try { close(await submit(input.value)); } catch (err) { showError(form, err); }
      },
    }, field(label, 'value', input), formError(),
    h('div', { class: 'actions' },
      h('button', { class: 'primary' }, 'OK'),
      h('button', { type: 'button', onclick: () => close(undefined) }, 'Cancel')));
    // errors about a path name no PascalCase field: show them under the input
    form.querySelector('[data-err-for="value"]').setAttribute('data-err-for', '_form');
    form.querySelector('[data-err-for="_form"]:not(.field *)')?.remove();
    return form;
  });
}

/** saveBlob hands a Blob to the browser as a download named name. */
export function saveBlob(b, name) {
  const url = URL.createObjectURL(b);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
