'use strict';
/* The dashboard's pure modules (web/js/format.js, traffic.js, chart.js's scale, cluster.js's lookup)
 * under node's test runner: RFC 7951 values, formatting, rates from traffic
 * samples (counter resets, sessions coming and going, totals falling). The browser
 * modules are ES modules without a package.json of their own, so they are copied
 * next to one that says so. No browser, no daemon: `node --test web_unit.test.js`. */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL } = require('url');

const WEB_JS = path.resolve(__dirname, '..', '..', 'web', 'js');

let dir;
async function load(name) {
    if (!dir) {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raven-webjs-'));
        for (const f of fs.readdirSync(WEB_JS)) fs.copyFileSync(path.join(WEB_JS, f), path.join(dir, f));
        fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}');
    }
    return import(pathToFileURL(path.join(dir, name)).href);
}

test.after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('num reads RFC 7951 integers', async () => {
    const { num } = await load('format.js');
    assert.equal(num('18446744073709551615') > 1.8e19, true);
    assert.equal(num('42'), 42);
    assert.equal(num(7), 7);
    assert.equal(num(undefined), 0);
    assert.equal(num('4x'), 0);
    assert.equal(num({}), 0);
});

test('formatting of bytes, rates, counts and durations', async () => {
    const f = await load('format.js');
    assert.equal(f.formatBytes('0'), '0 B');
    assert.equal(f.formatBytes('999'), '999 B');
    assert.equal(f.formatBytes('1234567'), '1.23 MB');
    assert.equal(f.formatBitRate(12345), '12.3 kbit/s');
    assert.equal(f.formatBitRate(9996), '10.0 kbit/s');
    assert.equal(f.formatBitRate(99960), '100 kbit/s');
    assert.equal(f.formatBitRate(999.6e6), '1.00 Gbit/s');
    assert.equal(f.formatBitRate(null), '\u2013');
    assert.equal(f.formatCount('1234567'), '1,234,567');
    assert.equal(f.formatDuration(42), '42s');
    assert.equal(f.formatDuration(185), '3m 05s');
    assert.equal(f.formatDuration(2 * 3600 + 3 * 60 + 9), '2h 03m');
    assert.equal(f.formatDuration(4 * 86400 + 2 * 3600), '4d 02h');
    assert.equal(f.formatDuration(-5), '0s');
});

test('identity of a session entry and of a notification', async () => {
    const { sessionIdentity, assignedAddresses, formatPeer } = await load('format.js');
    const entry = {
        'remote-identity': { type: 'raven-types:fqdn', value: 'laptop.example.org' },
        'eap-identity': 'alice@example.org',
        'authorized-user': 'alice',
        'assigned-ipv4': '10.201.0.10',
        'assigned-ipv6': ['fd00:201::10/128'],
    };
    assert.deepEqual(sessionIdentity(entry), { primary: 'alice', details: ['EAP alice@example.org', 'IKE laptop.example.org'] });
    assert.deepEqual(sessionIdentity({ 'remote-identity': 'user0.example.org' }), { primary: 'user0.example.org', details: [] });
    assert.equal(sessionIdentity({}).primary, '(unknown)');
    assert.deepEqual(assignedAddresses(entry), ['10.201.0.10', 'fd00:201::10/128']);
    assert.equal(formatPeer('10.1.0.2', 500), '10.1.0.2');
    assert.equal(formatPeer('10.1.0.2', 4500), '10.1.0.2:4500');
    assert.equal(formatPeer('2001:db8::1', 4500), '[2001:db8::1]:4500');
});

test('RESTCONF members and errors', async () => {
    const { member, restconfErrorMessage, labelOf } = await load('format.js');
    assert.deepEqual(member({ 'raven-vpn:pool': [1] }, 'pool'), [1]);
    assert.equal(member({ 'raven-vpn:pool': [1] }, 'session'), undefined);
    const err = { 'ietf-restconf:errors': { error: [{ 'error-tag': 'access-denied', 'error-message': 'no' }] } };
    assert.equal(restconfErrorMessage(err), 'no');
    assert.equal(restconfErrorMessage({}), '');
    assert.equal(labelOf('ike-auth-completed'), 'IKE auth completed');
    assert.equal(labelOf('raven-vpn:child-sas'), 'Child SAs');
});

function sample(sessions, total) {
    return {
        interval: 1,
        session: sessions.map(([id, i, o]) => ({ id, 'bytes-in': String(i), 'bytes-out': String(o), 'packets-in': '1' })),
        total: total && { 'bytes-in': String(total[0]), 'bytes-out': String(total[1]) },
    };
}

test('an alarm-notification as an event-log entry', async () => {
    const { alarmEntry } = await load('format.js');
    assert.deepEqual(
        alarmEntry({
            type: 'pool-usage-high',
            resource: "/raven-vpn:pools/ipv4-pool[name='rw-pool']",
            'is-cleared': false,
            'perceived-severity': 'major',
            'alarm-text': 'the pool is 90% used',
        }),
        { kind: 'alarm', text: 'major pool-usage-high (ipv4-pool rw-pool): the pool is 90% used' },
    );
    assert.deepEqual(
        alarmEntry({ type: 'certificate-expiring', resource: "/raven-vpn:pki/trustpoint[name='tp']/certificate",
            'is-cleared': true, 'alarm-text': 'old text' }),
        { kind: 'cleared', text: 'certificate-expiring cleared (trustpoint tp certificate)' },
    );
    assert.deepEqual(alarmEntry({ type: 'crl-unobtainable', resource: 'http://127.0.0.1/ca.crl', 'is-cleared': 'false',
        'perceived-severity': 'major' }), { kind: 'alarm', text: 'major crl-unobtainable (http://127.0.0.1/ca.crl)' });
    assert.equal(alarmEntry(undefined).kind, 'alarm');
});

test('rates from successive traffic samples', async () => {
    const { TrafficTracker } = await load('traffic.js');
    const tr = new TrafficTracker(60000);
    let r = tr.add(1000, sample([['7', 100, 200]], [100, 200]));
    assert.equal(r.sessions.get('7').inBps, null); /* nothing to compare with yet */
    assert.equal(r.inBps, null);
    assert.equal(tr.history.length, 0);
    r = tr.add(2000, sample([['7', 1100, 2200]], [1100, 2200]));
    assert.equal(r.sessions.get('7').inBps, 8000);
    assert.equal(r.sessions.get('7').outBps, 16000);
    assert.equal(r.sessions.get('7').inOctets, 1100);
    assert.equal(r.inBps, 8000);
    /* two seconds between samples: per second */
    r = tr.add(4000, sample([['7', 3100, 2200]], [3100, 2200]));
    assert.equal(r.sessions.get('7').inBps, 8000);
    assert.equal(r.sessions.get('7').outBps, 0);
    assert.equal(tr.history.length, 2);
});

test('receipt jitter is rounded to whole sampling intervals', async () => {
    const { TrafficTracker } = await load('traffic.js');
    const tr = new TrafficTracker(60000);
    tr.add(1000, sample([['7', 0, 0]], [0, 0]));
    assert.equal(tr.add(2350, sample([['7', 1000, 0]], [1000, 0])).inBps, 8000);
    assert.equal(tr.add(2900, sample([['7', 2000, 0]], [2000, 0])).inBps, 8000);
    const s2 = sample([['7', 6000, 0]], [6000, 0]);
    s2.interval = 2;
    assert.equal(tr.add(4700, s2).inBps, 16000); /* 1.8 s after the last: one interval of 2 s */
});

test('a counter going backwards gives no rate; a new session none at first', async () => {
    const { TrafficTracker } = await load('traffic.js');
    const tr = new TrafficTracker(60000);
    tr.add(1000, sample([['7', 5000, 5000]], [5000, 5000]));
    let r = tr.add(2000, sample([['7', 10, 10], ['8', 50, 50]], [60, 60]));
    assert.equal(r.sessions.get('7').inBps, null);
    assert.equal(r.sessions.get('8').inBps, null);
    /* the totals fell (a session ended): the sum of the known sessions' rates */
    assert.equal(r.inBps, null);
    r = tr.add(3000, sample([['8', 150, 50]], [150, 50]));
    assert.equal(r.sessions.get('8').inBps, 800);
    assert.equal(r.inBps, 800); /* out total fell (7 went): the sum of the sessions' rates */
});

test('totals fall when a session ends: the sessions sum stands in', async () => {
    const { TrafficTracker } = await load('traffic.js');
    const tr = new TrafficTracker(60000);
    tr.add(1000, sample([['1', 1000, 0], ['2', 1000, 0]], [2000, 0]));
    const r = tr.add(2000, sample([['1', 1500, 0]], [1500, 0]));
    assert.equal(r.inBps, 4000);
    /* no sessions at all: zero, not unknown */
    const r2 = tr.add(3000, sample([], [0, 0]));
    assert.equal(r2.inBps, 0);
    assert.equal(tr.prev.size, 0);
});

test('history keeps only the window', async () => {
    const { TrafficTracker } = await load('traffic.js');
    const tr = new TrafficTracker(10000);
    for (let t = 0; t <= 30000; t += 1000) tr.add(t, sample([['1', t, t]], [t, t]));
    assert.equal(tr.history[0].t, 20000);
    assert.equal(tr.history.at(-1).t, 30000);
    tr.reset();
    assert.equal(tr.add(31000, sample([['1', 31000, 31000]], [31000, 31000])).inBps, null);
});

test('eventTime parsing', async () => {
    const { eventTimeMs } = await load('traffic.js');
    assert.equal(eventTimeMs('2026-01-02T03:04:05.250Z', 0), Date.UTC(2026, 0, 2, 3, 4, 5, 250));
    assert.equal(eventTimeMs('2026-01-02T03:04:05+01:00', 0), Date.UTC(2026, 0, 2, 2, 4, 5));
    assert.equal(eventTimeMs('garbage', 99), 99);
    assert.equal(eventTimeMs(undefined, 98), 98);
});

test('chart scale steps', async () => {
    /* chart.js touches the DOM only in its class; niceScale is pure */
    const { niceScale } = await load('chart.js');
    assert.deepEqual(niceScale(0), { top: 1000, step: 250 });
    assert.deepEqual(niceScale(950), { top: 1000, step: 250 });
    assert.deepEqual(niceScale(3.4e6), { top: 4e6, step: 1e6 });
    const s = niceScale(123456);
    assert.ok(s.top >= 123456 && s.top / s.step <= 5);
});

test('cluster: where a user\'s sessions are, and a member\'s load', async () => {
    const { sessionsOf, loadPercent } = await load('cluster.js');
    const list = [
        { member: 'b', id: '7', user: 'Ana@example.org', address: ['10.201.8.3'] },
        { member: 'a', id: '12', user: 'ana@example.org', address: ['10.201.0.9'] },
        { member: 'a', id: '3', user: 'ana@example.org' },
        { member: 'a', id: '4', user: 'bob@example.org' },
        { member: 'a', id: '5' },
    ];
    assert.deepEqual(sessionsOf(list, ' ANA@example.org ').map((s) => `${s.member}/${s.id}`), ['a/3', 'a/12', 'b/7']);
    assert.deepEqual(sessionsOf(list, 'nobody'), []);
    assert.deepEqual(sessionsOf(list, ''), []);
    assert.deepEqual(sessionsOf(undefined, 'ana'), []);
    assert.equal(loadPercent({ sessions: '250', capacity: '1000' }), 25);
    assert.equal(loadPercent({ sessions: 3, capacity: 0 }), 0);
    assert.equal(loadPercent({ sessions: '1200', capacity: '1000' }), 120);
});
