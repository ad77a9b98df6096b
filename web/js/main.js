/* The dashboard's wiring: login and logout, the two event streams (every event on
 * NETCONF; traffic samples each second on traffic), the session list read at each
 * (re)connection, the counter panels refreshed every few seconds, the uptime tick.
 * Loaded as a module from index.html: no inline script anywhere (the server's
 * Content-Security-Policy is default-src 'self'). */

import * as api from './api.js';
import { TrafficChart } from './chart.js';
import { CLUSTER_FIELDS, renderCluster, SessionLookup } from './cluster.js';
import { alarmEntry, formatBitRate, member } from './format.js';
import { EventLog, renderDataplane, renderIke, renderPools, renderRadius } from './panels.js';
import { ProfileDownload } from './profiles.js';
import { SessionTable } from './sessions.js';
import { EventStream } from './stream.js';
import { eventTimeMs, TrafficTracker } from './traffic.js';

const REFRESH_MS = 5000;
const RECONCILE_MS = 60000;
const CHART_WINDOW_MS = 5 * 60 * 1000;
const STATE = 'raven-vpn:vpn-state';
/* Sessions per page (the dashboard's URL may say ?page-size=N, 1..1000): the
 * list is read a page at a time, so that 100 000 sessions cost one page. */
const PAGE_SIZE = Math.min(1000, Math.max(1, Math.floor(Number(new URLSearchParams(location.search).get('page-size'))) || 50));
const PAGE_REFRESH_MS = 1000;

const $ = (id) => document.getElementById(id);

const ui = {
    login: $('login'),
    form: $('login-form'),
    username: $('username'),
    password: $('password'),
    loginError: $('login-error'),
    loginSubmit: $('login-submit'),
    dashboard: $('dashboard'),
    whoami: $('whoami'),
    user: $('user'),
    role: $('role'),
    conn: $('conn'),
    logout: $('logout'),
    notice: $('notice'),
    rateIn: $('rate-in'),
    rateOut: $('rate-out'),
    refreshed: $('refreshed'),
};

const sessions = new SessionTable({
    tbody: $('session-rows'),
    empty: $('session-empty'),
    count: $('session-count'),
    filter: $('session-filter'),
    onClear: clearSession,
});
const events = new EventLog($('event-log'));
const profiles = new ProfileDownload(api, {
    card: $('profiles-card'),
    form: $('profile-form'),
    profile: $('cp-profile'),
    user: $('cp-user'),
    platform: $('cp-platform'),
    auth: $('cp-auth'),
    submit: $('cp-download'),
    error: $('cp-error'),
    empty: $('cp-empty'),
    status: $('cp-status'),
});
const lookup = new SessionLookup(api, {
    form: $('cluster-lookup-form'),
    user: $('cluster-user'),
    result: $('cluster-lookup'),
});
const chart = new TrafficChart($('traffic-chart'), CHART_WINDOW_MS);
let tracker = new TrafficTracker(CHART_WINDOW_MS);

let live = false; /* the dashboard is shown and its streams and timers run */
let timers = [];
let streams = [];
const streamUp = new Map();

/* ---- showing one or the other ------------------------------------------ */

function showLogin(message) {
    stopLive();
    ui.dashboard.hidden = true;
    ui.whoami.hidden = true;
    ui.login.hidden = false;
    ui.loginError.hidden = !message;
    ui.loginError.textContent = message || '';
    ui.password.value = '';
    (ui.username.value ? ui.password : ui.username).focus();
}

function showDashboard() {
    const a = api.currentAuth();
    ui.login.hidden = true;
    ui.dashboard.hidden = false;
    ui.whoami.hidden = false;
    ui.user.textContent = a.username;
    ui.role.textContent = a.role;
    ui.role.className = `badge ${a.role === 'admin' ? 'admin' : ''}`.trim();
    sessions.setAdmin(a.role === 'admin');
    profiles.show(a.role === 'admin');
    startLive();
}

function notice(text) {
    ui.notice.textContent = text || '';
    ui.notice.hidden = !text;
}

/* ---- live data ---------------------------------------------------------- */

function startLive() {
    if (live) return;
    live = true;
    tracker = new TrafficTracker(CHART_WINDOW_MS);
    chart.update([], Date.now());
    ui.rateIn.textContent = '\u2013';
    ui.rateOut.textContent = '\u2013';
    connState();
    streams = [
        new EventStream('/restconf/streams/NETCONF/json', {
            onEvent: onNotification,
            onOpen: () => loadSessions(),
            onState: (up) => connState('events', up),
            onFail: streamFailed,
        }),
        new EventStream('/restconf/streams/traffic/json?interval=1', {
            onEvent: onNotification,
            onOpen: () => tracker.reset(),
            onState: (up) => connState('traffic', up),
            onFail: streamFailed,
        }),
    ];
    for (const s of streams) s.start();
    loadSessions();
    refreshPanels();
    timers = [
        setInterval(() => sessions.tick(Date.now()), 1000),
        setInterval(() => {
            if (!document.hidden) refreshPanels();
        }, REFRESH_MS),
        setInterval(() => loadSessions(), RECONCILE_MS),
    ];
}

function stopLive() {
    live = false;
    for (const s of streams) s.stop();
    streams = [];
    streamUp.clear();
    for (const t of timers) clearInterval(t);
    timers = [];
    sessions.clearAll();
    pager.offset = pager.remaining = 0;
    pagerUi.nav.hidden = true;
    events.clear();
    lookup.clear();
    $('cluster-card').hidden = true;
    notice('');
}

function connState(name, up) {
    if (name) streamUp.set(name, up);
    const all = streamUp.size === 2 && [...streamUp.values()].every(Boolean);
    ui.conn.textContent = all ? 'Live' : 'Connecting\u2026';
    ui.conn.classList.toggle('up', all);
}

/* A stream failed for good: signed out (go to the login form) or not (retry). */
async function streamFailed() {
    if (!live) return false;
    return api.stillSignedIn();
}

let sessionsSeq = 0;
/* The page shown: its first entry's position, and what the last read said. */
const pager = { offset: 0, remaining: 0 };
const pagerUi = { nav: $('session-pager'), prev: $('page-prev'), next: $('page-next'), info: $('page-info') };

function showPager() {
    const total = sessions.total === null ? sessions.size : sessions.total;
    pagerUi.nav.hidden = total <= PAGE_SIZE && pager.offset === 0;
    pagerUi.prev.disabled = pager.offset === 0;
    pagerUi.next.disabled = pager.remaining === 0;
    pagerUi.info.textContent = sessions.size
        ? `${pager.offset + 1}\u2013${pager.offset + sessions.size} of ${total}`
        : `none of ${total} here`;
}

async function loadSessions() {
    if (!live) return;
    const seq = ++sessionsSeq;
    const askedAt = Date.now();
    try {
        let p = await api.getPage(`${STATE}/session`, `limit=${PAGE_SIZE}&offset=${pager.offset}`);
        if (!live || seq !== sessionsSeq) return; /* a newer read is under way */
        let list = member(p.doc, 'session') || [];
        if (!list.length && pager.offset > 0 && p.total > 0) {
            /* the page emptied (sessions went): the last page there is */
            pager.offset = Math.floor((p.total - 1) / PAGE_SIZE) * PAGE_SIZE;
            p = await api.getPage(`${STATE}/session`, `limit=${PAGE_SIZE}&offset=${pager.offset}`);
            if (!live || seq !== sessionsSeq) return;
            list = member(p.doc, 'session') || [];
        }
        sessions.reconcile(Array.isArray(list) ? list : [], askedAt, Date.now());
        pager.remaining = p.remaining || 0;
        sessions.setTotal(p.total === null ? sessions.size : p.total);
        showPager();
    } catch (e) {
        if (e.status !== 401) notice(`Could not read the sessions: ${e.message}`);
    }
}

/* After session events: one read of the page a little later, not one per event. */
let pageTimer = null;

function refreshPageSoon() {
    if (pageTimer) return;
    pageTimer = setTimeout(() => {
        pageTimer = null;
        loadSessions();
    }, PAGE_REFRESH_MS);
}

function turnPage(delta) {
    pager.offset = Math.max(0, pager.offset + delta * PAGE_SIZE);
    loadSessions();
}

pagerUi.prev.addEventListener('click', () => turnPage(-1));
pagerUi.next.addEventListener('click', () => turnPage(1));

/* One refresh at a time: events that come in a burst (many clients connecting at
 * once) ask for one more refresh after the current one, not one each. */
let refreshing = null;
let refreshAgain = false;

function refreshPanels() {
    if (refreshing) {
        refreshAgain = true;
        return;
    }
    refreshing = readPanels()
        .catch((e) => notice(`Could not show the counters: ${e.message}`))
        .finally(() => {
            const again = refreshAgain && live;
            refreshing = null;
            refreshAgain = false;
            if (again) refreshPanels();
        });
}

async function readPanels() {
    if (!live) return;
    const parts = [
        ['pool', renderPools, 'pools'],
        ['ike-counters', renderIke, 'ike'],
        ['radius-server', renderRadius, 'radius'],
        ['dataplane', renderDataplane, 'dataplane'],
        [`cluster?fields=${encodeURIComponent(CLUSTER_FIELDS)}`, renderCluster, 'cluster'],
    ];
    const results = await Promise.allSettled(parts.map(([p]) => api.getData(`${STATE}/${p}`)));
    if (!live) return;
    let failed = '';
    results.forEach((r, i) => {
        const [, render, id] = parts[i];
        if (r.status === 'fulfilled') render($(id), r.value);
        else if (r.reason.status !== 401) failed = r.reason.message;
    });
    if (failed) notice(`Could not read the counters: ${failed}`);
    else if (ui.notice.dataset.kind !== 'action') notice('');
    const now = new Date();
    ui.refreshed.textContent = now.toLocaleTimeString();
    ui.refreshed.dateTime = now.toISOString();
}

function onNotification(name, body, eventTime) {
    if (!live || !body || typeof body !== 'object') return;
    const now = Date.now();
    const at = eventTimeMs(eventTime, now);
    switch (name.replace(/^[^:]*:/, '')) {
        case 'traffic-sample': {
            const r = tracker.add(now, body);
            sessions.traffic(r.sessions);
            if (r.inBps !== null) {
                ui.rateIn.textContent = formatBitRate(r.inBps);
                ui.rateOut.textContent = formatBitRate(r.outBps);
            }
            chart.update(tracker.history, now);
            break;
        }
        case 'session-up': {
            /* a new session mostly has the highest id (ids are given at
             * IKE_SA_INIT, so one slower to come up than a later one sorts
             * before it): its row goes on the last page, if that is the one
             * shown and it has room; the refresh below puts it where it sorts */
            sessions.sessionUp(body, now, pager.remaining === 0 && sessions.size < PAGE_SIZE);
            showPager();
            refreshPageSoon();
            const who = body['authorized-user'] || body['eap-identity'] || body['remote-identity'] || '?';
            events.add(at, 'up', `${who} from ${body['peer-address'] || '?'}` +
                (body['assigned-ipv4'] ? ` got ${body['assigned-ipv4']}` : ''));
            refreshPanels();
            break;
        }
        case 'session-down': {
            const id = String(body['session-id']);
            const who = body['authorized-user'] || body['remote-identity'] || sessions.identityOf(id) || `session ${id}`;
            sessions.sessionDown(id, now);
            showPager();
            refreshPageSoon();
            events.add(at, 'down', `${who}${body.reason ? `: ${body.reason}` : ''}`);
            refreshPanels();
            break;
        }
        case 'authentication-failure': {
            const who = body['eap-identity'] || body['remote-identity'] || '?';
            events.add(at, 'auth', `${who} from ${body['peer-address'] || '?'}: ` +
                `${body.reason || 'failed'}${body.message ? ` (${body.message})` : ''}`);
            break;
        }
        case 'alarm-notification': {
            const a = alarmEntry(body);
            events.add(at, a.kind, a.text);
            refreshPanels();
            break;
        }
        case 'netconf-config-change': {
            const by = body['changed-by'] && body['changed-by']['username'];
            events.add(at, 'config', `Configuration changed${by ? ` by ${by}` : ''}`);
            refreshPanels();
            break;
        }
        default:
            break;
    }
}

/* ---- actions ------------------------------------------------------------ */

async function clearSession(id, identity) {
    if (!window.confirm(`Clear session ${id}${identity ? ` (${identity})` : ''}? The client is disconnected.`)) return;
    sessions.clearing(id, true);
    try {
        const out = await api.rpc('raven-vpn:clear-session', { 'session-id': id });
        /* the row goes with the session-down event; none comes if it was gone already */
        if (out && out.cleared !== undefined && Number(out.cleared) === 0) sessions.remove(id);
    } catch (e) {
        sessions.clearing(id, false);
        if (e.status !== 401) {
            ui.notice.dataset.kind = 'action';
            notice(`Clearing session ${id} failed: ${e.message}`);
            setTimeout(() => delete ui.notice.dataset.kind, REFRESH_MS * 2);
        }
    }
}

ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const username = ui.username.value.trim();
    const password = ui.password.value;
    if (!username || !password) {
        ui.loginError.textContent = 'Enter a user name and a password.';
        ui.loginError.hidden = false;
        return;
    }
    ui.loginSubmit.disabled = true;
    ui.loginError.hidden = true;
    try {
        await api.login(username, password);
        ui.password.value = '';
        showDashboard();
    } catch (e) {
        ui.loginError.textContent = e.message || 'Sign-in failed';
        ui.loginError.hidden = false;
        ui.password.select();
    } finally {
        ui.loginSubmit.disabled = false;
    }
});

ui.logout.addEventListener('click', () => {
    stopLive();
    api.logout();
    showLogin('');
});

api.onUnauthorized(() => showLogin('Your sign-in has expired or was revoked: please sign in again.'));

if (api.currentAuth()) showDashboard();
else showLogin('');
