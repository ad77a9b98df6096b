/* The cluster card: this headend's view of its cluster (vpn-state/cluster): the
 * link with etcd, whether new clients are being distributed, the members with a
 * live lease (sessions against capacity, health, this headend marked), and a
 * lookup of where a user's sessions live (vpn-state/cluster/session). The card
 * is hidden when /cluster is not configured (no vpn-state/cluster). The periodic
 * read leaves the session list out (fields); the lookup reads it once per
 * question. */

import { formatCount, member, num } from './format.js';
import { table } from './panels.js';

/* What the periodic read asks for: everything but the session list. */
export const CLUSTER_FIELDS = 'etcd-state;etcd-endpoint;etcd-error;distributing;member-records-ignored;etcd-writes;member';

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

/* The entries of a cluster session list whose user is @user, without regard to
 * ASCII case (as rpc redirect-sessions matches users), by member then id (pure). */
export function sessionsOf(list, user) {
    const want = String(user).trim().toLowerCase();
    if (!want || !Array.isArray(list)) return [];
    return list
        .filter((s) => typeof s.user === 'string' && s.user.toLowerCase() === want)
        .sort((a, b) => String(a.member).localeCompare(String(b.member)) || num(a.id) - num(b.id));
}

/* A member's share of its capacity in use, 0..100 (pure). */
export function loadPercent(m) {
    const cap = num(m.capacity);
    return cap > 0 ? Math.round((num(m.sessions) * 100) / cap) : 0;
}

const ETCD_BADGE = { connected: 'good', connecting: 'warn', unreachable: 'bad' };

function load(m) {
    const used = num(m.sessions);
    const cap = num(m.capacity);
    const box = el('span', 'usage');
    const bar = el('meter');
    bar.min = 0;
    bar.max = Math.max(cap, 1);
    bar.value = Math.min(used, bar.max);
    bar.high = bar.max * 0.8;
    bar.optimum = 0;
    bar.setAttribute('aria-label', `Member ${m.name}: ${used} sessions of ${cap}`);
    box.append(bar, el('span', 'usage-text', `${formatCount(used)} / ${formatCount(cap)} (${loadPercent(m)}%)`));
    return box;
}

function memberName(m) {
    const span = el('span', 'member-name', m.name || '?');
    if (m.self === true || m.self === 'true') {
        const wrap = el('span');
        wrap.append(span, ' ', el('span', 'badge self', 'this headend'));
        return wrap;
    }
    return span;
}

/* Renders the card from a GET of vpn-state/cluster: hidden without a cluster. */
export function renderCluster(host, doc) {
    const card = host.closest('section') || host;
    const c = member(doc, 'cluster');
    if (!c || typeof c !== 'object') {
        card.hidden = true;
        host.replaceChildren();
        return;
    }
    card.hidden = false;
    const state = c['etcd-state'] || 'unknown';
    const summary = el('dl', 'cluster-summary');
    const add = (term, value) => {
        const dd = el('dd');
        dd.append(value);
        summary.append(el('dt', '', term), dd);
    };
    const badge = el('span', `badge ${ETCD_BADGE[state] || ''}`.trim(), state);
    badge.id = 'cluster-etcd-state';
    add('etcd', badge);
    if (c['etcd-endpoint']) add('Endpoint', el('span', '', c['etcd-endpoint']));
    if (c['etcd-error']) {
        const err = el('span', 'error', c['etcd-error']);
        err.id = 'cluster-etcd-error';
        add('Error', err);
    }
    const dist = c.distributing === true || c.distributing === 'true';
    const d = el('span', `badge ${dist ? 'good' : ''}`.trim(), dist ? 'yes' : 'no');
    d.id = 'cluster-distributing';
    add('Distributing', d);
    const members = (member(c, 'member') || []).slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const parts = [summary];
    if (!members.length) parts.push(el('p', 'empty', 'No member has a live lease.'));
    else
        parts.push(
            table('Members', [
                { key: 'name', label: 'Member', fmt: memberName },
                { key: 'address', label: 'Address' },
                { key: 'sessions', label: 'Sessions / capacity', fmt: load },
                {
                    key: 'health',
                    label: 'Health',
                    fmt: (m) => el('span', `badge ${m.health === 'up' ? 'good' : 'warn'}`, m.health || '?'),
                },
                {
                    key: 'partition-index',
                    label: 'Pool slice',
                    num: true,
                    fmt: (m) => (m['partition-index'] !== undefined ? String(m['partition-index']) : '\u2013'),
                },
            ], members, 'cluster-members'),
        );
    host.replaceChildren(...parts);
    for (const tr of host.querySelectorAll('.cluster-members tbody tr')) {
        const i = [...tr.parentNode.children].indexOf(tr);
        tr.dataset.member = members[i].name;
        if (members[i].self === true || members[i].self === 'true') tr.classList.add('self');
    }
}

/* The "where is this user's session" form: one read of the cluster's session
 * list per question, the matches as a table. @ui: {form, user, result}. */
export class SessionLookup {
    constructor(api, ui) {
        this.api = api;
        this.ui = ui;
        ui.form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.find(ui.user.value);
        });
    }

    async find(user) {
        const out = this.ui.result;
        const who = String(user).trim();
        if (!who) {
            out.replaceChildren(el('p', 'error', 'Enter a user name.'));
            return;
        }
        out.replaceChildren(el('p', 'loading', 'Looking\u2026'));
        let list;
        try {
            const doc = await this.api.getData('raven-vpn:vpn-state/cluster/session');
            list = member(doc, 'session') || [];
        } catch (e) {
            if (e.status !== 401) out.replaceChildren(el('p', 'error', `Could not read the cluster's sessions: ${e.message}`));
            return;
        }
        const found = sessionsOf(list, who);
        if (!found.length) {
            out.replaceChildren(el('p', 'empty', `No session of ${who} in the cluster.`));
            return;
        }
        out.replaceChildren(
            table(`Sessions of ${who}`, [
                { key: 'member', label: 'Member' },
                { key: 'id', label: 'Session', num: true, fmt: (s) => String(s.id) },
                { key: 'user', label: 'User' },
                {
                    key: 'address',
                    label: 'Addresses',
                    fmt: (s) => (Array.isArray(s.address) ? s.address.join(', ') : String(s.address ?? '')),
                },
            ], found, 'cluster-lookup'),
        );
    }

    clear() {
        this.ui.result.replaceChildren();
        this.ui.user.value = '';
    }
}
