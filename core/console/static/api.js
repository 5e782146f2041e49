// The REST API client. The keys and the bearer token live only in this module's
// memory: nothing is written to localStorage, sessionStorage or cookies, so closing or
// reloading the tab signs out.

let keys = null; // {AssociationKey, AccessKey, SecretKey}
let token = null;
let expires = 0; // ms since epoch
let onSignedOut = () => {};

/** ApiError is an error answer of the API: its status and its {"error"} message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setSignedOutHandler(fn) { onSignedOut = fn; }
export function signedIn() { return token !== null; }
export function accessKey() { return keys && keys.AccessKey; }

/** signIn exchanges the three keys for a token and keeps both in memory. */
export async function signIn(k) {
  const three = { AssociationKey: k.AssociationKey, AccessKey: k.AccessKey, SecretKey: k.SecretKey };
  const res = await fetch('/apiaccess/auth', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(three),
  });
  const body = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, errorText(res, body));
  keys = three;
  token = body.token;
  expires = Date.parse(body.expires_at);
}

/** redeemLink turns a one-time login link code into keys, then signs in with them. */
export async function redeemLink(code) {
  const res = await fetch('/apiaccess/console-link', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Code: code }),
  });
  const body = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, errorText(res, body));
  await signIn(body);
}

export function signOut() {
  keys = null; token = null; expires = 0;
  onSignedOut();
}

// fresh returns a token valid for at least another minute, signing in again with the
// keys kept in memory when the current one is about to expire.
async function fresh() {
  if (!keys) throw new ApiError(401, 'not signed in');
  if (!token || expires - Date.now() < 60_000) await signIn(keys);
  return token;
}

async function readBody(res) {
  const text = await res.text();
  try { return text ? JSON.parse(text) : null; } catch { return text; }
}

function errorText(res, body) {
  if (body && typeof body === 'object' && body.error) return body.error;
  return `${res.status} ${res.statusText}`;
}

/** api calls the REST API and returns the decoded JSON answer, or throws ApiError. */
export async function api(method, path, body) {
  const send = async () => {
    const headers = { Authorization: 'Bearer ' + await fresh() };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };
  let res = await send();
  if (res.status === 401 && keys) {
    token = null; // revoked token or restarted node: try the keys once more
    try { res = await send(); } catch (e) { signOut(); throw e; }
    if (res.status === 401) { const b = await readBody(res); signOut(); throw new ApiError(401, errorText(res, b)); }
  }
  const data = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, errorText(res, data));
  return data;
}

/** blob downloads path with the token and returns the response body as a Blob. */
export async function blob(path) {
  const res = await fetch(path, { headers: { Authorization: 'Bearer ' + await fresh() } });
  if (!res.ok) throw new ApiError(res.status, errorText(res, await readBody(res)));
  return res.blob();
}

/**
 * upload sends one file to folder dir (ending in "/") with a progress callback
 * (0..1). The meta field goes first so the server streams the file to storage.
 * It resolves to the API's answer; abort() on the returned handle cancels it.
 */
export function upload(file, dir, overwrite, onProgress) {
  let xhr;
  const promise = fresh().then((tok) => new Promise((resolve, reject) => {
    xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    xhr.setRequestHeader('Authorization', 'Bearer ' + tok);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, (data && data.error) || `${xhr.status} ${xhr.statusText}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'the network dropped'));
    xhr.onabort = () => reject(new ApiError(0, 'cancelled'));
    const form = new FormData();
    form.append('meta', JSON.stringify({ files: [{ field: 'f1', path: dir }], overwrite }));
    form.append('f1', file, file.name);
    xhr.send(form);
  }));
  return { promise, abort: () => xhr && xhr.abort() };
}
