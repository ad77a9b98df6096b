/* The live session table: one row per session of the page shown (data-session-id),
 * added and removed by session-up/-down events, brought in line with a read of the
 * page (main.js reads the list in pages: limit/offset) on (re)connection and after
 * events, counters and rates from traffic samples, uptime ticking locally. The
 * count is of all sessions (the server's total), not of the page. All text goes in
 * through textContent. */

import {
    assignedAddresses,
    formatBitRate,
    formatBytes,
    formatDuration,
    formatPeer,
    num,
    sessionIdentity,
} from './format.js';

/* Column order; the labels repeat in data-label for the narrow-screen layout. */
const COLS = [
    ['identity', 'Identity'],
    ['peer', 'Peer'],
    ['assigned', 'Assigned'],
    ['profile', 'Profile'],
    ['uptime', 'Uptime'],
    ['in-rate', 'In rate'],
    ['out-rate', 'Out rate'],
    ['in-total', 'In total'],
    ['out-total', 'Out total'],
    ['actions', 'Actions'],
];

/* How long a session-up or -down event outweighs a list read that was asked for
 * before it arrived. */
const EVENT_MEMORY_MS = 120000;

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

/* Session ids are uint64 in decimal: shorter is smaller, then by digits. */
function idLess(a, b) {
    return a.length !== b.length ? a.length < b.length : a < b;
}

function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

export class SessionTable {
    /* @opts: tbody, empty (the "no sessions" element), count (where the number of
     * sessions goes), filter (a search input), onClear(id, identity). */
    constructor(opts) {
        this.o = opts;
        this.rows = new Map(); /* id -> {tr, cells, data} */
        this.admin = false;
        this.downAt = new Map(); /* id -> when a session-down arrived */
        this.upAt = new Map(); /* id -> when a session-up arrived */
        this.filterText = '';
        this.total = null; /* all sessions, from the last page read and events since */
        if (opts.filter) {
            opts.filter.addEventListener('input', () => {
                this.filterText = opts.filter.value.trim().toLowerCase();
                for (const r of this.rows.values()) this.applyFilter(r);
                this.updateCount();
            });
        }
        this.updateCount();
    }

    setAdmin(admin) {
        this.admin = admin;
        const table = this.o.tbody.closest('table');
        if (table) table.classList.toggle('can-clear', admin);
        for (const r of this.rows.values()) r.clear.hidden = !admin;
    }

    /* A session from the list (@e a session entry) or from a session-up event;
     * @uptimeSec its age when @at (ms, local clock) was read. */
    upsert(e, uptimeSec, at) {
        const id = String(e.id !== undefined ? e.id : e['session-id']);
        if (id === 'undefined') return;
        let r = this.rows.get(id);
        if (!r) r = this.create(id);
        const d = r.data;
        const who = sessionIdentity(e);
        d.identity = who.primary;
        r.clear.setAttribute('aria-label', `Clear session ${id} (${who.primary})`);
        setText(r.cells.identity.primary, who.primary);
        setText(r.cells.identity.secondary, who.details.join(' \u00b7 '));
        r.cells.identity.secondary.hidden = who.details.length === 0;
        setText(r.cells.peer, formatPeer(e['peer-address'], e['peer-port']));
        const addrs = assignedAddresses(e);
        r.cells.assigned.replaceChildren(...addrs.map((a) => el('span', 'addr', a)));
        setText(r.cells.profile, e.profile || '');
        const start = at - num(uptimeSec) * 1000;
        /* a later list read only corrects the start when it is clearly off, so the
         * uptime does not jitter with request latency */
        if (d.startMs === undefined || Math.abs(d.startMs - start) > 2000) d.startMs = start;
        const st = e.statistics;
        if (st && typeof st === 'object') this.setTotals(r, num(st['bytes-in']), num(st['bytes-out']));
        d.search = [who.primary, ...who.details, e['peer-address'] || '', ...addrs, e.profile || '']
            .join(' ')
            .toLowerCase();
        this.applyFilter(r);
        if (this.filterText) this.updateCount();
        this.tickRow(r, Date.now());
        return r;
    }

    create(id) {
        const tr = el('tr');
        tr.dataset.sessionId = id;
        const cells = {};
        for (const [key, label] of COLS) {
            const td = el('td', `c-${key}`);
            td.dataset.label = label;
            tr.append(td);
            cells[key] = td;
        }
        const idc = cells.identity;
        cells.identity = { td: idc, primary: el('span', 'primary'), secondary: el('span', 'secondary') };
        idc.append(cells.identity.primary, cells.identity.secondary);
        const clear = el('button', 'clear danger', 'Clear');
        clear.type = 'button';
        clear.hidden = !this.admin;
        clear.addEventListener('click', () => {
            const d = this.rows.get(id);
            this.o.onClear(id, d ? d.data.identity : '');
        });
        cells.actions.append(clear);
        const r = { id, tr, cells, clear, data: {} };
        this.rows.set(id, r);
        this.insertSorted(r);
        this.setRates(r, null, null);
        this.setTotals(r, 0, 0);
        this.updateCount();
        return r;
    }

    /* Oldest session (lowest id) first. */
    insertSorted(r) {
        let before = null;
        for (const tr of this.o.tbody.children) {
            const other = tr.dataset.sessionId;
            if (other !== undefined && idLess(r.id, other)) {
                before = tr;
                break;
            }
        }
        this.o.tbody.insertBefore(r.tr, before);
    }

    remove(id) {
        const r = this.rows.get(id);
        if (!r) return;
        r.tr.remove();
        this.rows.delete(id);
        this.updateCount();
    }

    /* Events: remembered so that a list read that was asked for earlier does not
     * undo them. */
    /* @show: whether the session belongs on the page shown (else only counted). */
    sessionUp(e, at, show = true) {
        const id = String(e['session-id']);
        if (this.total !== null && !this.rows.has(id) && !this.upAt.has(id)) this.total += 1;
        this.upAt.set(id, at);
        this.downAt.delete(id);
        if (show) this.upsert(e, 0, at);
        else this.updateCount();
    }

    sessionDown(id, at) {
        if (this.total !== null && !this.downAt.has(id)) this.total = Math.max(0, this.total - 1);
        this.downAt.set(id, at);
        this.upAt.delete(id);
        this.remove(id);
        this.updateCount();
    }

    /* The number of all sessions, from a page read. */
    setTotal(n) {
        this.total = n;
        this.updateCount();
    }

    get size() {
        return this.rows.size;
    }

    /* A page of the session list (or the whole list), read by a request sent at
     * @askedAt and answered at @at: rows it lacks go, unless a session-up came
     * after @askedAt; entries whose session-down came after @askedAt stay out. */
    reconcile(list, askedAt, at) {
        const present = new Set();
        for (const e of list) {
            const id = String(e.id);
            present.add(id);
            const down = this.downAt.get(id);
            if (down !== undefined && down >= askedAt) continue;
            this.upsert(e, e.uptime, at);
        }
        for (const id of [...this.rows.keys()]) {
            const up = this.upAt.get(id);
            if (!present.has(id) && !(up !== undefined && up >= askedAt)) this.remove(id);
        }
        for (const m of [this.downAt, this.upAt])
            for (const [id, t] of m) if (t < at - EVENT_MEMORY_MS) m.delete(id);
    }

    /* A traffic sample's per-session figures (TrafficTracker.add). */
    traffic(perSession) {
        for (const [id, s] of perSession) {
            const r = this.rows.get(id);
            if (!r) continue;
            this.setTotals(r, s.inOctets, s.outOctets);
            if (s.inBps !== null) this.setRates(r, s.inBps, s.outBps);
        }
    }

    setTotals(r, inOctets, outOctets) {
        r.tr.dataset.inOctets = String(inOctets);
        r.tr.dataset.outOctets = String(outOctets);
        setText(r.cells['in-total'], formatBytes(inOctets));
        setText(r.cells['out-total'], formatBytes(outOctets));
    }

    setRates(r, inBps, outBps) {
        setText(r.cells['in-rate'], formatBitRate(inBps));
        setText(r.cells['out-rate'], formatBitRate(outBps));
    }

    /* Marks a row whose clear-session is under way. */
    clearing(id, on) {
        const r = this.rows.get(id);
        if (!r) return;
        r.tr.classList.toggle('clearing', on);
        r.clear.disabled = on;
        r.clear.textContent = on ? 'Clearing\u2026' : 'Clear';
    }

    tick(now) {
        for (const r of this.rows.values()) this.tickRow(r, now);
    }

    tickRow(r, now) {
        if (r.data.startMs !== undefined) setText(r.cells.uptime, formatDuration((now - r.data.startMs) / 1000));
    }

    applyFilter(r) {
        r.tr.hidden = this.filterText !== '' && !(r.data.search || '').includes(this.filterText);
    }

    updateCount() {
        const rows = this.rows.size;
        const n = this.total === null ? rows : Math.max(this.total, rows);
        let shown = rows;
        if (this.filterText) shown = [...this.rows.values()].filter((r) => !r.tr.hidden).length;
        /* the filter searches the page shown, and says so */
        setText(this.o.count, shown === rows ? String(n) : `${shown} of ${rows} on this page (${n} in all)`);
        this.o.empty.hidden = n !== 0;
    }

    clearAll() {
        for (const id of [...this.rows.keys()]) this.remove(id);
        this.downAt.clear();
        this.upAt.clear();
        this.total = null;
        this.updateCount();
    }

    identityOf(id) {
        const r = this.rows.get(id);
        return r ? r.data.identity : '';
    }
}
