/* The periodically refreshed panels: address pools, IKE counters, RADIUS servers,
 * dataplane interfaces and workers; and the recent-events log. Each render
 * replaces the panel's content from one RESTCONF answer; containers this code
 * does not know (a newer YANG) are shown generically rather than dropped. */

import { formatBytes, formatCount, labelOf, member, num } from './format.js';

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

/* A table: @cols [{key, label, num?: bool, fmt?: (row) -> string | Node}],
 * @rows objects. Cells carry data-label for the narrow layout. */
export function table(caption, cols, rows, cls = '') {
    const t = el('table', `data ${cls}`.trim());
    if (caption) t.append(el('caption', '', caption));
    const head = el('thead');
    const hr = el('tr');
    for (const c of cols) {
        const th = el('th', c.num ? 'num' : '', c.label);
        th.scope = 'col';
        hr.append(th);
    }
    head.append(hr);
    const body = el('tbody');
    for (const row of rows) {
        const tr = el('tr');
        for (const c of cols) {
            const td = el('td', c.num ? 'num' : '');
            td.dataset.label = c.label;
            const v = c.fmt ? c.fmt(row) : c.num ? formatCount(row[c.key]) : String(row[c.key] ?? '');
            if (v instanceof Node) td.append(v);
            else td.textContent = v;
            tr.append(td);
        }
        body.append(tr);
    }
    t.append(head, body);
    const wrap = el('div', 'table-wrap');
    wrap.append(t);
    return wrap;
}

function empty(text) {
    return el('p', 'empty', text);
}

/* Name/value pairs: a row header per counter, no column headers. */
function kvTable(caption, pairs) {
    const t = el('table', 'data kv');
    if (caption) t.append(el('caption', '', caption));
    const body = el('tbody');
    for (const [name, value] of pairs) {
        const tr = el('tr');
        const th = el('th', '', labelOf(name));
        th.scope = 'row';
        tr.append(th, el('td', 'num', fmtLeaf(value)));
        body.append(tr);
    }
    t.append(body);
    return t;
}

/* A container of leaves and sub-containers as name/value tables, one per
 * sub-container (the leaves of @obj itself first). */
function counterTables(obj, skip = []) {
    const out = [];
    const leaves = [];
    for (const [k, v] of Object.entries(obj)) {
        if (skip.includes(k) || Array.isArray(v)) continue;
        if (v !== null && typeof v === 'object')
            out.push(kvTable(labelOf(k), Object.entries(v).filter(([, x]) => x === null || typeof x !== 'object')));
        else leaves.push([k, v]);
    }
    if (leaves.length) out.unshift(kvTable('', leaves));
    return out;
}

function fmtLeaf(v) {
    if (typeof v === 'string' && !/^\d+$/.test(v)) return v;
    return formatCount(v);
}

export function renderPools(host, doc) {
    const list = member(doc, 'pool') || [];
    if (!list.length) {
        host.replaceChildren(empty('No address pools.'));
        return;
    }
    host.replaceChildren(
        table('', [
            { key: 'name', label: 'Pool' },
            { key: 'family', label: 'Family', fmt: (p) => (p.family === 'ipv6' ? 'IPv6' : 'IPv4') },
            {
                key: 'in-use',
                label: 'In use',
                fmt: (p) => {
                    const used = num(p['in-use']);
                    const size = num(p.size);
                    const box = el('span', 'usage');
                    const m = el('meter');
                    m.min = 0;
                    m.max = Math.max(size, 1);
                    m.value = used;
                    m.high = m.max * 0.8;
                    m.optimum = 0;
                    m.setAttribute('aria-label', `Pool ${p.name}: ${used} of ${size} in use`);
                    const pct = size ? Math.round((used * 100) / size) : 0;
                    box.append(m, el('span', 'usage-text', `${formatCount(used)} / ${formatCount(size)} (${pct}%)`));
                    return box;
                },
            },
            { key: 'free', label: 'Free', num: true },
            { key: 'allocation-failures', label: 'Failures', num: true },
        ], list),
    );
}

export function renderIke(host, doc) {
    const c = member(doc, 'ike-counters');
    if (!c || typeof c !== 'object') {
        host.replaceChildren(empty('No IKE counters.'));
        return;
    }
    const parts = counterTables(c, ['discontinuity-time']);
    if (c['discontinuity-time']) parts.push(el('p', 'note', `Since ${c['discontinuity-time']}`));
    host.replaceChildren(...parts);
}

export function renderRadius(host, doc) {
    const list = member(doc, 'radius-server') || [];
    if (!list.length) {
        host.replaceChildren(empty('No RADIUS servers configured.'));
        return;
    }
    host.replaceChildren(
        table('', [
            { key: 'name', label: 'Server' },
            {
                key: 'state',
                label: 'State',
                fmt: (s) => el('span', `badge ${s.state === 'dead' ? 'bad' : 'good'}`, s.state || '?'),
            },
            { key: 'requests', label: 'Requests', num: true },
            { key: 'accepts', label: 'Accepts', num: true },
            { key: 'rejects', label: 'Rejects', num: true },
            { key: 'challenges', label: 'Challenges', num: true },
            { key: 'retransmits', label: 'Retransmits', num: true },
            { key: 'timeouts', label: 'Timeouts', num: true },
            { key: 'malformed-responses', label: 'Malformed', num: true },
            { key: 'accounting-requests', label: 'Acct requests', num: true },
            { key: 'accounting-responses', label: 'Acct responses', num: true },
            { key: 'rtt', label: 'RTT', num: true, fmt: (s) => (s.rtt !== undefined ? `${num(s.rtt)} ms` : '\u2013') },
        ], list),
    );
}

function dropsTotal(i) {
    const d = i.drops && typeof i.drops === 'object' ? i.drops : {};
    return Object.values(d).reduce((a, v) => a + num(v), 0);
}

function dropsDetail(i) {
    const d = i.drops && typeof i.drops === 'object' ? i.drops : {};
    const parts = Object.entries(d)
        .filter(([, v]) => num(v) > 0)
        .map(([k, v]) => `${labelOf(k).toLowerCase()} ${formatCount(v)}`);
    const span = el('span', '', formatCount(dropsTotal(i)));
    if (parts.length) span.title = parts.join(', ');
    return span;
}

export function renderDataplane(host, doc) {
    const dp = member(doc, 'dataplane');
    const ifs = (dp && member(dp, 'interface')) || [];
    const ws = (dp && member(dp, 'worker')) || [];
    if (!ifs.length && !ws.length) {
        host.replaceChildren(empty('No dataplane interfaces.'));
        return;
    }
    const parts = [];
    if (ifs.length)
        parts.push(
            table('Interfaces', [
                { key: 'name', label: 'Interface' },
                { key: 'mode-in-use', label: 'XDP' },
                { key: 'queues', label: 'Queues', num: true },
                { key: 'rx-packets', label: 'RX packets', num: true },
                { key: 'rx-bytes', label: 'RX bytes', num: true, fmt: (i) => formatBytes(i['rx-bytes']) },
                { key: 'tx-packets', label: 'TX packets', num: true },
                { key: 'tx-bytes', label: 'TX bytes', num: true, fmt: (i) => formatBytes(i['tx-bytes']) },
                { key: 'to-kernel', label: 'To kernel', num: true },
                { key: 'drops', label: 'Drops', num: true, fmt: dropsDetail },
            ], ifs),
        );
    if (ws.length)
        parts.push(
            table('Workers', [
                { key: 'id', label: 'Worker', num: true },
                { key: 'cpu', label: 'CPU', num: true },
                { key: 'queue', label: 'Queue', num: true },
                { key: 'packets-decrypted', label: 'Decrypted', num: true },
                { key: 'packets-encrypted', label: 'Encrypted', num: true },
                { key: 'drops', label: 'Drops', num: true },
                { key: 'busy-polls', label: 'Busy polls', num: true },
                { key: 'idle-polls', label: 'Idle polls', num: true },
            ], ws),
        );
    host.replaceChildren(...parts);
}

/* The recent-events log: newest first, at most @max entries. */
export class EventLog {
    constructor(list, max = 50) {
        this.list = list;
        this.max = max;
    }

    add(when, kind, text) {
        const li = el('li', `ev ev-${kind}`);
        const t = el('time', 'ev-time', new Date(when).toLocaleTimeString());
        t.dateTime = new Date(when).toISOString();
        li.append(t, el('span', 'ev-kind', kind), el('span', 'ev-text', text));
        this.list.prepend(li);
        while (this.list.children.length > this.max) this.list.lastElementChild.remove();
    }

    clear() {
        this.list.replaceChildren();
    }
}
