/* The dashboard's calls to the REST server: the bearer token (kept in
 * sessionStorage, so it dies with the tab), RESTCONF reads and RPCs. Any 401 means
 * the token is gone (expired, revoked, user removed): the token is dropped and the
 * onUnauthorized hook sends the user back to the login form.
 *
 * The server answers a failed sign-in or bearer token with a Bearer challenge,
 * never Basic (on which a browser would open its own password dialog). Requests
 * that authenticate with the bearer token go without cookies; the sign-in goes
 * with them, to receive the raven_token cookie that the event streams use. */

import { restconfErrorMessage } from './format.js';

const KEY = 'raven.auth';
const YANG_JSON = 'application/yang-data+json';

let auth = null;
let unauthorizedHook = () => {};

export class ApiError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

function loadAuth() {
    try {
        const a = JSON.parse(sessionStorage.getItem(KEY) || 'null');
        if (a && typeof a.token === 'string' && a.token) return a;
    } catch (e) {
        /* a damaged entry is as good as none */
    }
    return null;
}

auth = loadAuth();

/* {token, role, username} or null. */
export function currentAuth() {
    return auth;
}

export function onUnauthorized(fn) {
    unauthorizedHook = fn;
}

function dropAuth() {
    auth = null;
    sessionStorage.removeItem(KEY);
}

async function errorOf(resp) {
    let msg = '';
    try {
        const text = await resp.text();
        try {
            msg = restconfErrorMessage(JSON.parse(text));
        } catch (e) {
            msg = text.length < 200 ? text.trim() : '';
        }
    } catch (e) {
        /* no body */
    }
    return new ApiError(resp.status, msg || `${resp.status} ${resp.statusText}`);
}

async function call(method, path, { body, accept = YANG_JSON, contentType = YANG_JSON } = {}) {
    const headers = { Accept: accept };
    if (auth) headers.Authorization = `Bearer ${auth.token}`;
    if (body !== undefined) headers['Content-Type'] = contentType;
    const resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
    });
    if (resp.status === 401) {
        dropAuth();
        unauthorizedHook();
        throw new ApiError(401, 'Not signed in');
    }
    return resp;
}

function tokenRequest(method, { body, bearer, withCookies }) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    return fetch('/auth/token', {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: withCookies ? 'same-origin' : 'omit',
    });
}

async function tokenOf(resp) {
    if (resp.status === 401 || resp.status === 403) throw new ApiError(resp.status, 'Wrong user name or password');
    if (!resp.ok) throw await errorOf(resp);
    const t = await resp.json();
    if (!t || typeof t.token !== 'string') throw new ApiError(500, 'The server sent no token');
    return t;
}

/* POST /auth/token with the credentials as JSON: first without credentials mode,
 * so that a wrong password is a plain 401; then, the password being right, once
 * more with it, for the cookie (the first token is revoked). */
export async function login(username, password) {
    const body = { username, password };
    const t = await tokenOf(await tokenRequest('POST', { body, withCookies: true }));
    const ttl = Number(t['expires-in']) > 0 ? Number(t['expires-in']) : 3600;
    auth = {
        token: t.token,
        role: t.role === 'admin' ? 'admin' : 'read-only',
        username: t.username || username,
        expires: Date.now() + ttl * 1000,
    };
    sessionStorage.setItem(KEY, JSON.stringify(auth));
    return auth;
}

/* DELETE /auth/token: revokes the token and clears its cookie (so with
 * credentials mode, for the cookie; skipped once the token has expired, when it
 * would only draw a 401). The local token goes in any case; nobody waits. */
export function logout() {
    const a = auth;
    dropAuth();
    if (!a || (a.expires && a.expires <= Date.now())) return;
    tokenRequest('DELETE', { bearer: a.token, withCookies: true }).catch(() => {});
}

/* GET /restconf/data/@path: the parsed body, or {} when the target does not
 * exist (404: RESTCONF's answer for an empty list) or has no content (204). */
export async function getData(path) {
    const resp = await call('GET', `/restconf/data/${path}`);
    if (resp.status === 404 || resp.status === 204) return {};
    if (!resp.ok) throw await errorOf(resp);
    const text = await resp.text();
    return text.trim() ? JSON.parse(text) : {};
}

/* GET /restconf/data/@path of a paged list (limit, offset, cursor in @query):
 * {doc, total, remaining, next} from the body and the Raven-List-* headers. */
export async function getPage(path, query) {
    const resp = await call('GET', `/restconf/data/${path}?${query}`);
    if (!resp.ok) throw await errorOf(resp);
    const text = await resp.text();
    const n = (h) => {
        const v = resp.headers.get(h);
        return v === null ? null : Number(v);
    };
    return {
        doc: text.trim() ? JSON.parse(text) : {},
        total: n('Raven-List-Total'),
        remaining: n('Raven-List-Remaining'),
        next: resp.headers.get('Raven-List-Next'),
    };
}

/* POST /restconf/operations/@name with @input (the members of "module:input"):
 * the output members, or {} when there is none (204). */
export async function rpc(name, input) {
    const mod = name.split(':')[0];
    const resp = await call('POST', `/restconf/operations/${name}`, { body: { [`${mod}:input`]: input } });
    if (!resp.ok) throw await errorOf(resp);
    if (resp.status === 204) return {};
    const text = await resp.text();
    if (!text.trim()) return {};
    const doc = JSON.parse(text);
    return doc[`${mod}:output`] || {};
}

/* Whether the token still works: a cheap authenticated read. */
export async function stillSignedIn() {
    if (!auth) return false;
    try {
        await call('GET', '/restconf/yang-library-version');
        return !!auth;
    } catch (e) {
        return e.status !== 401;
    }
}
