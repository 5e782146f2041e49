// The Filegate web console: a hash-routed single page over the public REST API.
import { api, blob, redeemLink, setSignedOutHandler, signIn, signOut, signedIn, upload } from './api.js';
import {
  clearErrors, confirmDialog, copyButton, field, fmtSize, fmtTime, formError, genericTable, h, modal,
  promptDialog, saveBlob, showError, table, toast,
} from './ui.js';

const SCOPES = ['file.create', 'file.delete', 'file.read', 'file.list', 'file.rename', 'ftpaccount.create',
  'ftpaccount.delete', 'ftpaccount.get', 'ftpaccount.list', 'ftpaccount.update', 'apiaccount.manage',
  'webhook.read', 'webhook.write', 'event.read'];
const EVENT_TYPES = ['file.uploaded', 'file.downloaded', 'file.deleted', 'file.moved', 'dir.created', 'dir.deleted',
  'login.succeeded', 'login.failed', 'login.banned', 'dir.moving'];
const UPLOAD_RETRIES = 3; // automatic restarts of an upload whose connection dropped
const PROTOCOLS = ['ftp', 'ftps', 'sftp', 'http', 'https', 'rule'];

const main = document.getElementById('main');
let stopPage = () => {}; // stops the current page's timers
let overviewCache = null;
let openapiPaths = null;

const pages = { overview, files, accounts, keys, automation, events };

setSignedOutHandler(() => { overviewCache = null; location.hash = '#/signin'; route(); });
window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', start);
document.getElementById('signout').addEventListener('click', () => signOut());

async function start() {
  const m = /^#link=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname); // the code is spent: drop it from the address bar
    render('Signing in', h('p', {}, 'Signing in with the login link…'));
    try {
      await redeemLink(m[1]);
      location.hash = '#/overview';
    } catch (e) {
      signInPage(e.message);
      return;
    }
  }
  route();
}

function route() {
  stopPage();
  stopPage = () => {};
  const nav = document.getElementById('nav');
  if (!signedIn()) {
    signInPage();
    return;
  }
  nav.hidden = false;
  const [, name, query] = /^#\/([a-z]*)\??(.*)$/.exec(location.hash) || [];
  const page = pages[name] ? name : 'overview';
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === '#/' + page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  pages[page](new URLSearchParams(query || '')).catch(pageFailed);
}

function pageFailed(e) {
  if (!signedIn() || e instanceof StalePage) return;
  main.append(h('div', { class: 'card', role: 'alert' }, h('p', { class: 'bad' }, e.message)));
}

// The title each page renders: a page still loading when the person moves on must
// not paint over the next one.
const TITLES = { overview: 'Overview', files: 'Files', accounts: 'Accounts', keys: 'API keys', automation: 'Automation', events: 'Events' };
class StalePage extends Error {}

function currentPage() {
  const [, name] = /^#\/([a-z]*)/.exec(location.hash) || [];
  return pages[name] ? name : 'overview';
}

/**
 * render replaces the page, titles it and moves the focus to it. It throws StalePage
 * (which ends the page function quietly) when the address now names another page.
 */
function render(title, ...content) {
  if (signedIn() && Object.values(TITLES).includes(title) && TITLES[currentPage()] !== title) throw new StalePage(title);
  document.title = title + ' · Filegate';
  main.replaceChildren(h('h1', {}, title), ...content);
  main.focus({ preventScroll: true });
}

function signInPage(message) {
  document.getElementById('nav').hidden = true;
  const inputs = {
    AssociationKey: h('input', { autocomplete: 'username', required: true, spellcheck: false }),
    AccessKey: h('input', { autocomplete: 'off', required: true, spellcheck: false, placeholder: 'AK_…' }),
    SecretKey: h('input', { type: 'password', autocomplete: 'current-password', required: true, placeholder: 'sk_live_…' }),
  };
  const err = formError();
  const form = h('form', {
    class: 'card signin',
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const k = Object.fromEntries(Object.entries(inputs).map(([n, i]) => [n, i.value.trim()]));
      try {
        await signIn(k);
        location.hash = '#/overview';
        route();
      } catch (ex) { showError(form, ex); }
    },
  },
  h('h2', {}, 'Sign in with a REST API account'),
  field('AssociationKey', 'AssociationKey', inputs.AssociationKey),
  field('AccessKey', 'AccessKey', inputs.AccessKey),
  field('SecretKey', 'SecretKey', inputs.SecretKey),
  err,
  h('button', { class: 'primary' }, 'Sign in'),
  h('p', { class: 'muted' }, 'Or run ', h('code', {}, 'filegate console-link'),
    ' on the server for a one-time login link. The keys stay in this tab’s memory only: reloading signs you out.'));
  render('Filegate console', form);
  if (message) err.textContent = message;
  inputs.AssociationKey.focus();
}

// ---------------------------------------------------------------- Overview

async function getOverview() {
  if (!overviewCache) overviewCache = await api('GET', '/overview');
  return overviewCache;
}

async function overview() {
  overviewCache = null;
  const o = await getOverview();
  const stat = (label, v) => (v === undefined ? null : h('div', { class: 'stat' }, h('b', {}, v), h('span', {}, label)));
  render('Overview',
    h('div', { class: 'grid mb' },
      stat('FTP accounts', o.ftp_accounts), stat('API keys', o.api_accounts), stat('events today', o.events_today),
      stat('uploads today', o.uploads_today), stat('failed logins today', o.failed_logins_today), stat('addresses banned now', o.bans)),
    h('section', { class: 'card', 'aria-labelledby': 'ov-l' }, h('h2', { id: 'ov-l' }, 'Listening'),
      table([
        { label: 'Protocol', cell: (l) => l.protocol.toUpperCase() },
        { label: 'Address', cell: (l) => (l.addr === 'off' ? h('span', { class: 'muted' }, 'off') : h('code', {}, l.addr)) },
        { label: 'Encryption', cell: (l) => l.tls },
      ], o.listeners || [])),
    h('section', { class: 'card', 'aria-labelledby': 'ov-s' }, h('h2', { id: 'ov-s' }, 'Storage'),
      table([
        { label: 'Backend', cell: (s) => s.name },
        { label: 'Plugin', cell: (s) => s.plugin },
        { label: 'Health', cell: (s) => (s.ok ? h('span', { class: 'ok' }, 'OK') : h('span', { class: 'bad' }, s.error)) },
      ], o.storage || [])),
    h('p', { class: 'muted' }, `Tenant ${o.tenant} · Filegate ${o.version} · `, h('a', { href: '/openapi.json' }, 'API reference (OpenAPI)')));
}

// ---------------------------------------------------------------- FTP accounts

function connectHost(addr) {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i);
  const port = addr.slice(i + 1);
  if (host === '' || host === '0.0.0.0' || host === '[::]') host = location.hostname;
  return { host, port };
}

function connectionStrings(o, username) {
  const out = [];
  for (const l of (o && o.listeners) || []) {
    if (l.addr === 'off' || l.protocol === 'http') continue;
    const { host, port } = connectHost(l.addr);
    const scheme = l.protocol === 'sftp' ? 'sftp' : (l.tls === 'implicit' ? 'ftps' : 'ftp');
    out.push(`${scheme}://${encodeURIComponent(username)}@${host}:${port}/`);
  }
  return out;
}

const lines = (s) => s.split('\n').map((x) => x.trim()).filter(Boolean);

async function accounts(q) {
  const search = q.get('search') || '';
  let o = null;
  try { o = await getOverview(); } catch { /* connection strings are optional */ }
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const once = h('div', { 'aria-live': 'polite' });
  const searchInput = h('input', { type: 'search', value: search, placeholder: 'username prefix' });
  let timer;
  searchInput.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(searchInput.value), 250);
  });

  const showPassword = (a) => once.replaceChildren(h('div', { class: 'once' },
    h('p', {}, h('strong', {}, `Password for ${a.Username}`), ' — shown only this once:'),
    h('dl', {}, h('dt', {}, 'Password'), h('dd', {}, h('code', { 'data-testid': 'generated-password' }, a.Password), copyButton(a.Password, 'password')),
      connectionStrings(o, a.Username).map((c) => [h('dt', {}, 'Connect'), h('dd', {}, h('code', {}, c), copyButton(c))]))));

  async function load(s) {
    const r = await api('GET', '/ftpaccounts/list?limit=500&search=' + encodeURIComponent(s));
    list.replaceChildren(table([
      { label: 'Username', cell: (a) => h('strong', {}, a.Username) },
      { label: 'Rights', cell: (a) => a.AccessRights },
      { label: 'Folder', cell: (a) => h('code', {}, a.Chroot) },
      { label: 'Status', cell: (a) => (a.Enabled ? h('span', { class: 'ok' }, 'enabled') : h('span', { class: 'bad' }, 'disabled')) },
      { label: 'Connect', class: 'hide-sm', cell: (a) => connectionStrings(o, a.Username).map((c) => h('div', { class: 'actions' }, h('code', {}, c), copyButton(c))) },
      {
        label: 'Actions', cell: (a) => h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'small', onclick: () => editAccount(a).then((ok) => ok && load(searchInput.value)) }, 'Edit'),
          h('button', {
            type: 'button', class: 'small',
            onclick: async () => {
              try { await api('PUT', `/ftpaccounts/id/${a.Id}`, { Enabled: !a.Enabled }); load(searchInput.value); } catch (e) { toast(e.message); }
            },
          }, a.Enabled ? 'Disable' : 'Enable'),
          h('button', {
            type: 'button', class: 'small',
            onclick: async () => {
              if (!await confirmDialog('Rotate password', `Replace ${a.Username}’s password with a new generated one? The old one stops working at once.`, 'Rotate')) return;
              try { showPassword(await api('POST', `/ftpaccounts/id/${a.Id}/rotate-password`)); } catch (e) { toast(e.message); }
            },
          }, 'Rotate password'),
          h('button', {
            type: 'button', class: 'small danger',
            onclick: async () => {
              if (!await confirmDialog('Delete account', `Delete the FTP account ${a.Username}? Its files stay.`, 'Delete')) return;
              try { await api('DELETE', `/ftpaccounts/id/${a.Id}`); toast(`Deleted ${a.Username}`); load(searchInput.value); } catch (e) { toast(e.message); }
            },
          }, 'Delete')),
      },
    ], r.data, search ? 'No account matches.' : 'No FTP accounts yet.'),
    r.total > r.data.length ? h('p', { class: 'muted' }, `Showing ${r.data.length} of ${r.total}: search to narrow.`) : '');
  }

  const form = accountForm(true, async (body) => {
    const a = await api('POST', '/ftpaccounts/create', body);
    if (a.Password) showPassword(a);
    else once.replaceChildren(h('div', { class: 'once' }, `Created ${a.Username}.`));
    toast(`Created ${a.Username}`);
    await load(searchInput.value);
  });

  render('Accounts',
    h('section', { class: 'card', 'aria-labelledby': 'acc-new' }, h('h2', { id: 'acc-new' }, 'New FTP/SFTP account'), form, once),
    h('section', { class: 'card', 'aria-labelledby': 'acc-list' }, h('h2', { id: 'acc-list' }, 'FTP/SFTP accounts'),
      field('Search', 'search', searchInput), list));
  await load(search);
}

/** accountForm is the create (isNew) or edit form; submit gets the request body. */
function accountForm(isNew, submit, a) {
  const i = {
    Username: h('input', { autocomplete: 'off', spellcheck: false, value: a ? a.Username : '' }),
    Password: h('input', { type: 'password', autocomplete: 'new-password' }),
    AccessRights: h('select', {}, ['RW', 'R', 'W'].map((r) => h('option', { value: r, selected: a && a.AccessRights === r }, { RW: 'read and write', R: 'read only', W: 'write only' }[r]))),
    Chroot: h('input', { value: a ? a.Chroot : '/', spellcheck: false }),
    Description: h('input', { value: a ? a.Description : '' }),
    AllowedIPs: h('textarea', { spellcheck: false }, a ? a.AllowedIPs.join('\n') : ''),
    SSHPublicKeys: h('textarea', { spellcheck: false }, a ? a.SSHPublicKeys.join('\n') : ''),
  };
  if (a) i.Username.disabled = true;
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const body = {
        AccessRights: i.AccessRights.value, Chroot: i.Chroot.value.trim(), Description: i.Description.value,
        AllowedIPs: lines(i.AllowedIPs.value), SSHPublicKeys: lines(i.SSHPublicKeys.value),
      };
      if (isNew) {
        body.Username = i.Username.value.trim();
        if (!body.SSHPublicKeys.length) delete body.SSHPublicKeys; // with no key and no password one is generated
      }
      if (i.Password.value) body.Password = i.Password.value;
      const btn = form.querySelector('button.primary');
      btn.disabled = true;
      try {
        await submit(body);
        if (isNew) { form.reset(); i.Chroot.value = '/'; }
      } catch (ex) { showError(form, ex); } finally { btn.disabled = false; }
    },
  },
  h('div', { class: 'row' },
    field('Username', 'Username', i.Username),
    field(isNew ? 'Password' : 'New password', 'Password', i.Password, isNew ? 'Leave empty to generate one (shown once).' : 'Leave empty to keep it.'),
    field('Access', 'AccessRights', i.AccessRights)),
  h('div', { class: 'row' },
    field('Folder (chroot)', 'Chroot', i.Chroot, 'The account sees only this folder; it is created if missing.'),
    field('Description', 'Description', i.Description)),
  h('div', { class: 'row' },
    field('Allowed IPs', 'AllowedIPs', i.AllowedIPs, 'One address or CIDR per line; empty allows any.'),
    field('SSH public keys', 'SSHPublicKeys', i.SSHPublicKeys, 'One per line, as in authorized_keys.')),
  formError(),
  h('button', { class: 'primary' }, isNew ? 'Create account' : 'Save'));
  return form;
}

function editAccount(a) {
  return modal(`Edit ${a.Username}`, (close) => {
    const form = accountForm(false, async (body) => {
      await api('PUT', `/ftpaccounts/id/${a.Id}`, body);
      toast(`Saved ${a.Username}`);
      close(true);
    }, a);
    form.append(' ', h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'));
    return form;
  });
}

// ---------------------------------------------------------------- API keys

async function keys() {
  const list = h('div', {});
  const once = h('div', { 'aria-live': 'polite' });
  async function load() {
    const r = await api('GET', '/apiaccounts?limit=500');
    list.replaceChildren(table([
      { label: 'AccessKey', cell: (k) => h('code', {}, k.AccessKey) },
      { label: 'Scopes', cell: (k) => k.Scopes.join(' ') },
      { label: 'Folder', class: 'hide-sm', cell: (k) => h('code', {}, k.PathPrefix) },
      { label: 'Expires', cell: (k) => (k.ExpiresAt ? fmtTime(k.ExpiresAt) : 'never') },
      { label: 'Description', class: 'hide-sm', cell: (k) => k.Description },
      {
        label: 'Actions', cell: (k) => h('button', {
          type: 'button', class: 'small danger',
          onclick: async () => {
            if (!await confirmDialog('Revoke key', `Revoke ${k.AccessKey}? Its tokens stop working at once.`, 'Revoke')) return;
            try { await api('DELETE', '/apiaccounts/' + encodeURIComponent(k.AccessKey)); toast('Revoked'); load(); } catch (e) { toast(e.message); }
          },
        }, 'Revoke'),
      },
    ], r.data));
  }
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', value: s, name: 'scope' }));
  const expiry = h('select', {}, [['', 'never'], ['1h', '1 hour'], ['24h', '1 day'], ['168h', '7 days'], ['720h', '30 days'], ['2160h', '90 days'], ['8760h', '1 year']]
    .map(([v, t]) => h('option', { value: v, selected: v === '720h' }, t)));
  const prefix = h('input', { value: '/', spellcheck: false });
  const desc = h('input', {});
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const body = { Scopes: boxes.filter((b) => b.checked).map((b) => b.value), PathPrefix: prefix.value.trim(), Description: desc.value };
      if (expiry.value) body.ExpiresIn = expiry.value;
      try {
        const k = await api('POST', '/apiaccounts', body);
        once.replaceChildren(h('div', { class: 'once', 'data-testid': 'new-key' },
          h('p', {}, h('strong', {}, 'New REST API account'), ' — the SecretKey is shown only this once:'),
          h('dl', {}, ['AssociationKey', 'AccessKey', 'SecretKey'].map((n) => [h('dt', {}, n), h('dd', {}, h('code', { 'data-field': n }, k[n]), copyButton(k[n], n))]))));
        form.reset();
        prefix.value = '/';
        await load();
      } catch (ex) { showError(form, ex); }
    },
  },
  h('fieldset', {}, h('legend', {}, 'Scopes'),
    h('div', { class: 'scopes' }, boxes.map((b) => h('label', {}, b, b.value))),
    h('div', { class: 'err', 'data-err-for': 'Scopes' })),
  h('div', { class: 'row' },
    field('Expires after', 'ExpiresIn', expiry),
    field('Folder (path prefix)', 'PathPrefix', prefix, 'The key sees only this folder.'),
    field('Description', 'Description', desc)),
  formError(),
  h('button', { class: 'primary' }, 'Create key'));
  render('API keys',
    h('section', { class: 'card', 'aria-labelledby': 'k-new' }, h('h2', { id: 'k-new' }, 'New REST API account'), form, once),
    h('section', { class: 'card', 'aria-labelledby': 'k-list' }, h('h2', { id: 'k-list' }, 'REST API accounts'), list));
  await load();
}

// ---------------------------------------------------------------- Files

const joinPath = (dir, name) => (dir.endsWith('/') ? dir : dir + '/') + name;

async function listAll(kind, path) {
  const out = [];
  let cursor = '';
  do {
    const r = await api('GET', `/api/list/${kind}?limit=1000&path=${encodeURIComponent(path)}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    out.push(...r.data);
    cursor = r.next_cursor;
  } while (cursor && out.length < 10000);
  return out;
}

async function files(q) {
  const cwd = q.get('path') || '/';
  const go = (p) => { location.hash = '#/files?path=' + encodeURIComponent(p); };
  const listing = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const queue = h('ul', { class: 'uploads', 'aria-label': 'Uploads' });
  const overwrite = h('input', { type: 'checkbox', id: 'overwrite' });
  const selected = new Set();
  const selCount = h('span', { class: 'muted', 'aria-live': 'polite' });
  const zipBtn = h('button', { type: 'button', disabled: true, onclick: () => downloadZip([...selected]) }, 'Download selected as zip');
  const delBtn = h('button', { type: 'button', class: 'danger', disabled: true, onclick: () => removeMany([...selected]) }, 'Delete selected');
  const updateSel = () => {
    selCount.textContent = selected.size ? `${selected.size} selected` : '';
    zipBtn.disabled = delBtn.disabled = selected.size === 0;
  };

  async function load() {
    const [dirs, fls] = await Promise.all([listAll('dirs', cwd), listAll('files', cwd)]);
    selected.clear();
    updateSel();
    const rows = [...dirs, ...fls];
    listing.replaceChildren(table([
      {
        label: h('span', { class: 'sr' }, 'Select'), cell: (e) => h('input', {
          type: 'checkbox', 'aria-label': 'Select ' + e.name,
          onchange: (ev) => { if (ev.target.checked) selected.add(e.path); else selected.delete(e.path); updateSel(); },
        }),
      },
      {
        label: 'Name', cell: (e) => (e.type === 'dir'
          ? h('a', { href: '#/files?path=' + encodeURIComponent(e.path) }, h('strong', {}, e.name + '/'))
          : h('span', {}, e.name)),
      },
      { label: 'Size', class: 'num', cell: (e) => (e.type === 'dir' ? '' : fmtSize(e.size)) },
      { label: 'Modified', class: 'hide-sm', cell: (e) => fmtTime(e.modified) },
      {
        label: 'Actions', cell: (e) => h('div', { class: 'actions' },
          e.type === 'file' ? h('button', { type: 'button', class: 'small', onclick: () => downloadOne(e) }, 'Download') : null,
          h('button', { type: 'button', class: 'small', onclick: () => moveOne(e) }, 'Rename/move'),
          h('button', { type: 'button', class: 'small danger', onclick: () => removeMany([e.path]) }, 'Delete')),
      },
    ], rows, 'This folder is empty.'));
  }

  async function downloadOne(e) {
    try { saveBlob(await blob('/api/download/single?path=' + encodeURIComponent(e.path)), e.name); } catch (ex) { toast(ex.message); }
  }
  async function downloadZip(paths) {
    try {
      const r = await api('POST', '/api/download/multi', { paths });
      // The prepared id is the credential: the browser streams the zip straight to disk.
      const a = h('a', { href: '/api/download/multi/' + encodeURIComponent(r.id), download: 'filegate.zip' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (ex) { toast(ex.message); }
  }
  async function moveOne(e) {
    const to = await promptDialog('Rename or move', 'New path (a folder ending in / keeps the name)', e.path,
      (v) => api('POST', '/api/move', { from: e.path, to: v.trim() }).then(() => v));
    if (to !== undefined) { toast('Moved to ' + to); load(); }
  }
  async function removeMany(paths) {
    const what = paths.length === 1 ? paths[0] : `${paths.length} items`;
    if (!await confirmDialog('Delete', `Delete ${what}? Folders are deleted with everything in them. This cannot be undone.`, 'Delete')) return;
    for (const p of paths) {
      try { await api('POST', '/api/delete', { path: p, recursive: true }); } catch (ex) { toast(`${p}: ${ex.message}`); return load(); }
    }
    toast('Deleted ' + what);
    load();
  }

  // Uploads: one request per file, so that each has its own progress bar and a failed
  // one (the network dropped, a 409) can be retried alone. The API has no resumable
  // uploads: a file whose connection drops is sent again from its first byte, on its
  // own up to UPLOAD_RETRIES times with growing pauses (after the browser is back
  // online), then by the Retry button.
  let pending = 0;
  function enqueue(file, relDir) {
    const dir = joinPath(cwd, relDir ? relDir + '/' : '').replace(/\/?$/, '/');
    const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress of ' + file.name });
    const status = h('span', { class: 'muted' }, 'waiting');
    const actions = h('div', { class: 'actions' });
    queue.append(h('li', {}, h('span', {}, h('code', {}, dir + file.name), ' ', status), bar, actions));
    let attempt = 0; // of this round: the Retry button starts a new one
    const startOne = async () => {
      attempt++;
      actions.replaceChildren();
      status.textContent = attempt > 1 ? `uploading again from the start (attempt ${attempt})` : 'uploading';
      status.className = 'muted';
      bar.value = 0;
      let cancelled = false;
      const up = upload(file, dir, overwrite.checked, (f) => { bar.value = f; });
      actions.append(h('button', { type: 'button', class: 'small', onclick: () => { cancelled = true; up.abort(); } }, 'Cancel'));
      pending++;
      let again = 0; // ms to wait before an automatic retry; 0: none
      let timer;
      const stopRetrying = () => {
        again = 0;
        clearTimeout(timer);
        attempt = 0;
        status.textContent = 'cancelled';
        actions.replaceChildren(h('button', { type: 'button', class: 'small', 'aria-label': 'Retry ' + file.name, onclick: startOne }, 'Retry'));
      };
      try {
        await up.promise;
        bar.value = 1;
        status.textContent = attempt > 1 ? `done (after ${attempt} attempts)` : 'done';
        status.className = 'ok';
        actions.replaceChildren();
      } catch (ex) {
        // Only a dropped connection or a server/proxy hiccup is worth sending again; a
        // refusal (403, 409, 413…) would fail the same way.
        const transient = !cancelled && (ex.status === 0 || ex.status === 408 || ex.status === 429 || ex.status >= 500);
        if (transient && attempt <= UPLOAD_RETRIES) {
          again = 1000 * 2 ** (attempt - 1);
          status.textContent = `${ex.message}: restarting from the beginning in ${again / 1000} s (attempt ${attempt + 1} of ${UPLOAD_RETRIES + 1})`;
        } else {
          status.textContent = ex.message + (transient ? ` (after ${attempt} attempts)` : '');
          attempt = 0;
          actions.replaceChildren(h('button', { type: 'button', class: 'small', 'aria-label': 'Retry ' + file.name, onclick: startOne }, 'Retry'));
        }
        status.className = 'bad';
        if (again) actions.replaceChildren(h('button', { type: 'button', class: 'small', onclick: stopRetrying }, 'Cancel'));
      } finally {
        if (--pending === 0) load();
      }
      if (again > 0) {
        timer = setTimeout(async () => {
          if (!navigator.onLine) await new Promise((r) => window.addEventListener('online', r, { once: true }));
          if (again > 0) startOne();
        }, again);
      }
    };
    startOne();
  }

  const fileInput = h('input', { type: 'file', multiple: true, id: 'upload-files' });
  fileInput.addEventListener('change', () => { for (const f of fileInput.files) enqueue(f, ''); fileInput.value = ''; });
  const dirInput = h('input', { type: 'file', multiple: true, webkitdirectory: true, id: 'upload-dir' });
  dirInput.addEventListener('change', () => {
    for (const f of dirInput.files) enqueue(f, f.webkitRelativePath.split('/').slice(0, -1).join('/'));
    dirInput.value = '';
  });

  const drop = h('div', { class: 'drop' }, 'Drop files or folders here to upload them to ', h('code', {}, cwd));
  const resumeNote = h('p', { class: 'muted hint' }, 'Each file is sent in one piece. If the connection drops, the file is sent again ',
    h('strong', {}, 'from the beginning'), ` (automatically up to ${UPLOAD_RETRIES} times, then by its Retry button): uploads are not resumed part-way.`);
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    for (const item of e.dataTransfer.items) {
      const entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
      if (entry) walkEntry(entry, '');
      else if (item.kind === 'file') enqueue(item.getAsFile(), '');
    }
  });
  function walkEntry(entry, rel) {
    if (entry.isFile) { entry.file((f) => enqueue(f, rel)); return; }
    const reader = entry.createReader();
    const sub = rel ? rel + '/' + entry.name : entry.name;
    const more = () => reader.readEntries((es) => { if (es.length) { es.forEach((c) => walkEntry(c, sub)); more(); } });
    more();
  }

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Folder' }, h('a', { href: '#/files?path=%2F' }, 'storage'));
  let acc = '';
  for (const part of cwd.split('/').filter(Boolean)) {
    acc += '/' + part;
    crumbs.append(' / ', h('a', { href: '#/files?path=' + encodeURIComponent(acc) }, part));
  }
  crumbs.lastChild.setAttribute?.('aria-current', 'page');

  render('Files',
    crumbs,
    h('section', { class: 'card', 'aria-label': 'Upload' },
      drop,
      resumeNote,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => fileInput.click() }, 'Upload files…'), fileInput,
        h('button', { type: 'button', onclick: () => dirInput.click() }, 'Upload a folder…'), dirInput,
        h('label', {}, overwrite, ' replace existing files'),
        h('button', {
          type: 'button',
          onclick: async () => {
            const name = await promptDialog('New folder', 'Folder name', '', (v) => api('POST', '/api/mkdir', { path: joinPath(cwd, v.trim()) }).then(() => v));
            if (name !== undefined) { toast('Created ' + name); load(); }
          },
        }, 'New folder')),
      queue),
    h('section', { class: 'card', 'aria-label': 'Folder contents' },
      h('div', { class: 'actions mb' }, zipBtn, delBtn, selCount,
        cwd !== '/' ? h('button', { type: 'button', onclick: () => go(cwd.replace(/\/[^/]*$/, '') || '/') }, 'Up') : null),
      listing));
  for (const i of [fileInput, dirInput]) { i.className = 'sr'; i.tabIndex = -1; i.setAttribute('aria-hidden', 'true'); }
  await load();
}

// ---------------------------------------------------------------- Automation

async function hasPath(p) {
  if (!openapiPaths) {
    const res = await fetch('/openapi.json');
    openapiPaths = res.ok ? (await res.json()).paths || {} : {};
  }
  return p in openapiPaths;
}

const notAvailable = (what) => h('p', { class: 'muted' }, `${what} are not available in this build.`);
const failedCard = (e) => h('p', { class: 'bad', role: 'alert' }, e.message);
const RUN_STATUSES = ['pending', 'running', 'done', 'failed'];
const statusBadge = (s) => h('span', { class: s === 'failed' ? 'bad' : s === 'done' ? 'ok' : 'muted' }, s);
function countsCell(runs) {
  const parts = RUN_STATUSES.filter((s) => runs && runs[s]).map((s) =>
    h('span', { class: s === 'failed' ? 'bad' : s === 'done' ? 'ok' : '' }, `${runs[s]} ${s}`));
  if (!parts.length) return h('span', { class: 'muted' }, 'no runs yet');
  return h('span', { class: 'counts' }, parts);
}

async function automation() {
  const timers = [];
  // every runs fn every 3 s while this page is shown and the tab visible.
  const every = (fn) => {
    const t = setInterval(() => {
      if (!rules.isConnected) clearInterval(t); // moved on while still loading
      else if (!document.hidden) fn().catch(() => {});
    }, 3000);
    timers.push(t);
  };

  const rules = h('section', { class: 'card', 'aria-labelledby': 'a-rules' }, h('h2', { id: 'a-rules' }, 'Rules'),
    h('p', { class: 'muted' }, 'The ', h('code', {}, '[[rules]]'), ' of gateway.toml, with their runs. A run that used up its attempts is parked as failed until you retry it.'));
  const hooks = h('section', { class: 'card', 'aria-labelledby': 'a-hooks' }, h('h2', { id: 'a-hooks' }, 'Webhooks'));
  render('Automation', rules, hooks, h('p', {}, 'Every file operation is in the ', h('a', { href: '#/events' }, 'event log'), '.'));
  stopPage = () => timers.forEach(clearInterval);
  const [haveRules, haveHooks] = await Promise.all([hasPath('/rules'), hasPath('/webhooks')]);

  if (!haveRules) rules.append(notAvailable('Rules'));
  else await rulesSection(rules, every);
  if (!haveHooks) hooks.append(notAvailable('Webhooks'));
  else await webhooksSection(hooks, every);
}

async function rulesSection(card, every) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const runs = h('div', { 'aria-live': 'polite' });
  let open = null; // the rule whose runs are shown
  let shown = '';
  card.append(list, runs);
  async function load() {
    const r = await api('GET', '/rules');
    const last = await Promise.all(r.data.map((rule) => api('GET', `/rules/${encodeURIComponent(rule.Name)}/runs?limit=1`)
      .then((x) => x.data[0]).catch(() => null)));
    const now = JSON.stringify([r, last]);
    if (now === shown) return; // unchanged: keep the DOM (and the focus) as it is
    shown = now;
    list.replaceChildren(table([
      { label: 'Rule', cell: (rule) => h('strong', {}, rule.Name) },
      { label: 'Plugin', class: 'hide-sm', cell: (rule) => h('code', {}, rule.Plugin) },
      {
        label: 'When', cell: (rule) => [rule.Schedule ? `every ${rule.Schedule}` : (rule.Events || []).join(', '),
          (rule.Paths || []).length ? h('div', { class: 'muted' }, 'paths ', rule.Paths.join(' ')) : null],
      },
      { label: 'Runs', cell: (rule) => countsCell(rule.Runs) },
      {
        label: 'Last run', cell: (rule) => {
          const l = last[r.data.indexOf(rule)];
          return l ? [statusBadge(l.Status), ' ', h('span', { class: 'muted' }, fmtTime(l.UpdatedAt))] : h('span', { class: 'muted' }, 'never');
        },
      },
      {
        label: 'Actions', cell: (rule) => h('button', {
          type: 'button', class: 'small', 'aria-label': `Runs of ${rule.Name}`,
          onclick: () => { open = rule.Name; showRuns(rule.Name, runs, load); },
        }, rule.Runs && rule.Runs.failed ? `Runs (${rule.Runs.failed} failed)` : 'Runs'),
      },
    ], r.data, 'No rules in gateway.toml.'));
  }
  try { await load(); } catch (e) { list.replaceChildren(failedCard(e)); return; }
  every(async () => { await load(); if (open) await showRuns(open, runs, load, true); });
}

/**
 * showRuns lists a rule's runs (newest first) into `into`, with a Retry button on the
 * failed ones. quiet skips moving the focus (for the periodic refresh).
 */
async function showRuns(name, into, changed, quiet) {
  const title = name.startsWith('webhook:') ? `Runs of webhook ${name.slice(8)}` : `Runs of ${name}`;
  try {
    const r = await api('GET', `/rules/${encodeURIComponent(name)}/runs?limit=50`);
    const now = JSON.stringify([name, r]);
    if (quiet && into.dataset.shown === now) return;
    into.dataset.shown = now;
    into.replaceChildren(h('h3', {}, title), h('div', { role: 'region', 'aria-label': title }, table([
      { label: 'Run', class: 'num', cell: (run) => run.Id },
      { label: 'Status', cell: (run) => [statusBadge(run.Status), run.NextAt ? h('div', { class: 'muted' }, 'next try ', fmtTime(run.NextAt)) : null] },
      { label: 'Path', cell: (run) => (run.Path ? h('code', {}, run.Path) : h('span', { class: 'muted' }, 'scheduled')) },
      { label: 'Attempts', class: 'num', cell: (run) => run.Attempts },
      { label: 'Last error', cell: (run) => (run.LastError ? h('span', { class: 'bad' }, run.LastError) : '') },
      { label: 'Updated', class: 'hide-sm', cell: (run) => fmtTime(run.UpdatedAt) },
      {
        label: 'Actions', cell: (run) => (run.Status === 'failed' ? h('button', {
          type: 'button', class: 'small', 'aria-label': `Retry run ${run.Id}`,
          onclick: async (ev) => {
            ev.target.disabled = true;
            try {
              await api('POST', `/rules/${encodeURIComponent(name)}/runs/${run.Id}/retry`);
              toast(`Run ${run.Id} queued again`);
              await showRuns(name, into, changed, true);
              if (changed) await changed();
            } catch (e) { ev.target.disabled = false; toast(e.message); }
          },
        }, 'Retry') : ''),
      },
    ], r.data, 'No runs yet.')), r.total > r.data.length ? h('p', { class: 'muted' }, `Newest ${r.data.length} of ${r.total}.`) : '');
    if (!quiet) into.querySelector('h3').scrollIntoView({ block: 'nearest' });
  } catch (e) { into.replaceChildren(h('h3', {}, title), failedCard(e)); }
}

async function webhooksSection(card, every) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const detail = h('div', { 'aria-live': 'polite' });
  const runsOf = { el: h('div', { 'aria-live': 'polite' }), open: null }; // a webhook's runs, when asked for
  let open = null; // the webhook whose deliveries are shown
  async function load() {
    const r = await api('GET', '/webhooks?limit=500');
    list.replaceChildren(table([
      { label: 'Id', class: 'num', cell: (w) => w.Id },
      { label: 'Url', cell: (w) => h('code', {}, w.Url) },
      { label: 'Events', cell: (w) => (w.Events.length ? w.Events.join(', ') : h('span', { class: 'muted' }, 'all')) },
      { label: 'Folder', class: 'hide-sm', cell: (w) => (w.PathPrefix ? h('code', {}, w.PathPrefix) : h('span', { class: 'muted' }, 'all')) },
      { label: 'Signed', class: 'hide-sm', cell: (w) => (w.HasSecret ? 'yes' : h('span', { class: 'muted' }, 'no')) },
      { label: 'Status', cell: (w) => (w.Enabled ? h('span', { class: 'ok' }, 'enabled') : h('span', { class: 'bad' }, 'disabled')) },
      {
        label: 'Actions', cell: (w) => h('div', { class: 'actions' },
          h('button', {
            type: 'button', class: 'small', 'aria-label': `Deliveries of webhook ${w.Id}`,
            onclick: () => { open = w; runsOf.open = null; runsOf.el.replaceChildren(); showDeliveries(w, detail, runsOf); },
          }, 'Deliveries'),
          h('button', {
            type: 'button', class: 'small', 'aria-label': `${w.Enabled ? 'Disable' : 'Enable'} webhook ${w.Id}`,
            onclick: async () => {
              try { await api('PUT', `/webhooks/${w.Id}`, { Enabled: !w.Enabled }); toast(`Webhook ${w.Id} ${w.Enabled ? 'disabled' : 'enabled'}`); await load(); } catch (e) { toast(e.message); }
            },
          }, w.Enabled ? 'Disable' : 'Enable'),
          h('button', {
            type: 'button', class: 'small danger', 'aria-label': `Delete webhook ${w.Id}`,
            onclick: async () => {
              if (!await confirmDialog('Delete webhook', `Delete the webhook to ${w.Url}? Its deliveries log goes with it.`, 'Delete')) return;
              try {
                await api('DELETE', `/webhooks/${w.Id}`);
                toast(`Deleted webhook ${w.Id}`);
                if (open && open.Id === w.Id) { open = null; runsOf.open = null; detail.replaceChildren(); runsOf.el.replaceChildren(); }
                await load();
              } catch (e) { toast(e.message); }
            },
          }, 'Delete')),
      },
    ], r.data, 'No webhooks yet.'));
  }

  const url = h('input', { type: 'url', placeholder: 'https://example.com/hook', spellcheck: false, autocomplete: 'off' });
  const boxes = EVENT_TYPES.map((t) => h('input', { type: 'checkbox', value: t, name: 'Events' }));
  const prefix = h('input', { placeholder: '/invoices', spellcheck: false, autocomplete: 'off' });
  const secret = h('input', { type: 'password', autocomplete: 'new-password' });
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const body = { Url: url.value.trim(), Events: boxes.filter((b) => b.checked).map((b) => b.value) };
      if (prefix.value.trim()) body.PathPrefix = prefix.value.trim();
      if (secret.value) body.Secret = secret.value;
      const btn = form.querySelector('button.primary');
      btn.disabled = true;
      try {
        const w = await api('POST', '/webhooks', body);
        form.reset();
        toast(`Webhook ${w.Id} created`);
        await load();
      } catch (ex) { showError(form, ex); } finally { btn.disabled = false; }
    },
  },
  field('Url', 'Url', url, 'Events are POSTed here as JSON.'),
  h('fieldset', {}, h('legend', {}, 'Events'),
    h('div', { class: 'scopes' }, boxes.map((b) => h('label', {}, b, b.value))),
    h('div', { class: 'hint muted' }, 'None checked: every event.'),
    h('div', { class: 'err', 'data-err-for': 'Events', 'aria-live': 'polite' })),
  h('div', { class: 'row' },
    field('Folder (path prefix)', 'PathPrefix', prefix, 'Optional: only events at or under this folder.'),
    field('Secret', 'Secret', secret, 'Optional: signs each delivery (X-Filegate-Signature). It cannot be read back.')),
  formError(),
  h('button', { class: 'primary' }, 'Create webhook'));

  card.append(list, detail, runsOf.el, h('h3', {}, 'New webhook'), form);
  try { await load(); } catch (e) { list.replaceChildren(failedCard(e)); return; }
  every(async () => {
    if (open) await showDeliveries(open, detail, runsOf, true);
    if (runsOf.open) await showRuns('webhook:' + runsOf.open, runsOf.el, null, true);
  });
}

/** showDeliveries shows a webhook's deliveries log: every attempt, newest first. */
async function showDeliveries(w, into, runsOf, quiet) {
  const title = `Deliveries of webhook ${w.Id}`;
  try {
    const r = await api('GET', `/webhooks/${w.Id}/deliveries?limit=50`);
    const now = JSON.stringify([w.Id, r]);
    if (quiet && into.dataset.shown === now) return;
    into.dataset.shown = now;
    into.replaceChildren(h('h3', {}, title),
      h('p', { class: 'muted' }, `To `, h('code', {}, w.Url), '. Updates every few seconds.'),
      h('div', { role: 'region', 'aria-label': 'Deliveries log' }, table([
        { label: 'Time', cell: (d) => fmtTime(d.Time) },
        { label: 'Delivery', class: 'num hide-sm', cell: (d) => d.Delivery },
        { label: 'Path', cell: (d) => h('code', {}, d.Path) },
        { label: 'Attempt', class: 'num', cell: (d) => d.Attempt },
        { label: 'Status code', class: 'num', cell: (d) => (d.StatusCode ? h('span', { class: d.Success ? 'ok' : 'bad' }, String(d.StatusCode)) : h('span', { class: 'bad' }, 'none')) },
        { label: 'Duration', class: 'num', cell: (d) => `${d.DurationMs} ms` },
        { label: 'Error', cell: (d) => (d.Error ? h('span', { class: 'bad' }, d.Error) : h('span', { class: 'ok' }, 'delivered')) },
      ], r.data, 'Nothing delivered yet.')),
      r.total > r.data.length ? h('p', { class: 'muted' }, `Newest ${r.data.length} of ${r.total}.`) : '',
      h('button', { type: 'button', class: 'small', onclick: () => { runsOf.open = w.Id; showRuns('webhook:' + w.Id, runsOf.el); } }, 'Runs and retries'));
    if (!quiet) into.querySelector('h3').scrollIntoView({ block: 'nearest' });
  } catch (e) { into.replaceChildren(h('h3', {}, title), failedCard(e)); }
}

// ---------------------------------------------------------------- Events

async function events(q) {
  const f = {
    type: h('select', {}, h('option', { value: '' }, 'any'), EVENT_TYPES.map((t) => h('option', { value: t, selected: q.get('type') === t }, t))),
    path: h('input', { value: q.get('path') || '', placeholder: '/folder/ or /exact/file', spellcheck: false }),
    protocol: h('select', {}, h('option', { value: '' }, 'any'), PROTOCOLS.map((p) => h('option', { value: p }, p))),
    account: h('input', { placeholder: 'username or AccessKey', spellcheck: false }),
  };
  const live = h('input', { type: 'checkbox', checked: true });
  const out = h('div', {});
  const info = h('p', { class: 'muted', 'aria-live': 'polite' });
  let offset = 0;
  const limit = 100;
  let lastTop = null;

  async function load() {
    const params = new URLSearchParams({ limit, offset });
    if (f.type.value) params.set('type', f.type.value);
    if (f.path.value.trim()) params.set('path', f.path.value.trim());
    const r = await api('GET', '/events?' + params);
    // The API filters by type and path; protocol and account narrow the page here.
    const rows = r.data.filter((e) => (!f.protocol.value || e.protocol === f.protocol.value) && (!f.account.value || e.account.includes(f.account.value.trim())));
    const top = r.data.length ? r.data[0].id : 0;
    if (lastTop !== null && top !== lastTop && offset === 0) info.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    lastTop = top;
    out.replaceChildren(table([
      { label: 'Time', cell: (e) => fmtTime(e.time) },
      { label: 'Type', cell: (e) => h('span', { class: e.type === 'login.failed' ? 'bad' : '' }, e.type) },
      { label: 'Protocol', cell: (e) => e.protocol },
      { label: 'Account', class: 'hide-sm', cell: (e) => e.account },
      { label: 'Path', cell: (e) => h('code', {}, e.from ? `${e.from} → ${e.path}` : e.path) },
      { label: 'Size', class: 'num hide-sm', cell: (e) => (e.type.startsWith('file.') && e.size ? fmtSize(e.size) : '') },
      { label: 'From', class: 'hide-sm', cell: (e) => e.remote_addr },
    ], rows, 'No events match.'),
    h('div', { class: 'actions' },
      h('span', { class: 'muted' }, `${r.total} events; showing ${offset + 1}–${Math.min(offset + limit, r.total)}`),
      offset > 0 ? h('button', { type: 'button', onclick: () => { offset = Math.max(0, offset - limit); load(); } }, 'Newer') : null,
      offset + limit < r.total ? h('button', { type: 'button', onclick: () => { offset += limit; load(); } }, 'Older') : null));
  }

  const form = h('form', { onsubmit: (e) => { e.preventDefault(); offset = 0; load().catch((ex) => showError(form, ex)); } },
    h('div', { class: 'row' },
      field('Type', 'type', f.type), field('Path', 'path', f.path), field('Protocol', 'protocol', f.protocol), field('Account', 'account', f.account)),
    formError(),
    h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Filter'), h('label', {}, live, ' update live')));
  for (const s of [f.type, f.protocol]) s.addEventListener('change', () => { offset = 0; load().catch((ex) => showError(form, ex)); });
  render('Events', h('section', { class: 'card' }, form), h('section', { class: 'card', 'aria-label': 'Event log' }, info, out));
  await load();
  if (!out.isConnected) return; // moved on while it loaded
  const timer = setInterval(() => { if (live.checked && offset === 0 && !document.hidden) load().catch(() => {}); }, 2000);
  stopPage = () => clearInterval(timer);
}

