/* Pure formatting of RESTCONF values for display: uint64 counters (JSON strings per
 * RFC 7951), byte counts, bit rates, durations, and the identity and addresses of a
 * session entry or notification. No DOM here, so node's test runner can load it. */

/* A YANG integer as a Number: uint64/counter64 arrive as strings, smaller types as
 * numbers; anything else (absent, malformed) is 0. Above 2^53 precision is lost,
 * which is harmless for display and rates. */
export function num(v) {
    if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
    if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    return 0;
}

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

function scaled(n, unit) {
    let i = 0;
    let x = Math.abs(n);
    /* 999.6 shows as "1.00 k", not "1000" */
    while (x >= 999.5 && i < SI.length - 1) {
        x /= 1000;
        i++;
    }
    const sign = n < 0 ? '-' : '';
    if (i === 0) return `${sign}${Math.round(x)} ${unit}`;
    const digits = x >= 99.95 ? 0 : x >= 9.995 ? 1 : 2;
    return `${sign}${x.toFixed(digits)} ${SI[i]}${unit}`;
}

/* 1234567 -> "1.23 MB" (SI, as link speeds are). */
export function formatBytes(n) {
    return scaled(num(n), 'B');
}

/* Bits per second -> "12.3 Mbit/s"; null (not known yet) -> an en dash. */
export function formatBitRate(bps) {
    if (bps === null || bps === undefined || !Number.isFinite(bps)) return '\u2013';
    return scaled(bps, 'bit/s');
}

/* 1234567 -> "1,234,567". */
export function formatCount(n) {
    return Math.round(num(n)).toLocaleString('en-US');
}

function pad2(n) {
    return n < 10 ? `0${n}` : `${n}`;
}

/* Seconds -> "42s", "3m 05s", "2h 03m", "4d 02h". */
export function formatDuration(sec) {
    let s = Math.max(0, Math.floor(num(sec)));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d) return `${d}d ${pad2(h)}h`;
    if (h) return `${h}h ${pad2(m)}m`;
    if (m) return `${m}m ${pad2(s)}s`;
    return `${s}s`;
}

/* The IKE identity of a session list entry (container remote-identity {type,
 * value}) or of a notification (a plain string). */
function remoteId(e) {
    const r = e['remote-identity'];
    if (typeof r === 'string') return r;
    if (r && typeof r === 'object' && typeof r.value === 'string') return r.value;
    return '';
}

/* The name to show for a session: the AAA user if there is one, else the EAP
 * identity, else the IKE identity; the others as details. */
export function sessionIdentity(e) {
    const ike = remoteId(e);
    const eap = typeof e['eap-identity'] === 'string' ? e['eap-identity'] : '';
    const user = typeof e['authorized-user'] === 'string' ? e['authorized-user'] : '';
    const primary = user || eap || ike || '(unknown)';
    const details = [];
    if (eap && eap !== primary) details.push(`EAP ${eap}`);
    if (ike && ike !== primary) details.push(`IKE ${ike}`);
    if (typeof e['authorized-group'] === 'string' && e['authorized-group']) details.push(`group ${e['authorized-group']}`);
    return { primary, details };
}

/* Assigned IPv4 address and IPv6 prefixes, in that order. */
export function assignedAddresses(e) {
    const out = [];
    if (typeof e['assigned-ipv4'] === 'string' && e['assigned-ipv4']) out.push(e['assigned-ipv4']);
    const v6 = e['assigned-ipv6'];
    if (Array.isArray(v6)) for (const p of v6) if (typeof p === 'string' && p) out.push(p);
    return out;
}

/* "203.0.113.5" or "[2001:db8::1]:4500" style peer, port only when it is not 500. */
export function formatPeer(addr, port) {
    if (!addr) return '';
    const p = num(port);
    if (!p || p === 500) return addr;
    return addr.includes(':') ? `[${addr}]:${p}` : `${addr}:${p}`;
}

const ACRONYMS = {
    sa: 'SA', sas: 'SAs', ike: 'IKE', dpd: 'DPD', eap: 'EAP', rtt: 'RTT', ts: 'TS', ke: 'KE', id: 'ID',
    cpu: 'CPU', rx: 'RX', tx: 'TX', xdp: 'XDP', ipv4: 'IPv4', ipv6: 'IPv6', mtu: 'MTU', aaa: 'AAA',
};

/* "packets-decrypted" -> "Packets decrypted", "ike-auth-completed" -> "IKE auth
 * completed". */
export function labelOf(yangName) {
    const words = String(yangName).replace(/^[^:]*:/, '').split('-').map((w) => ACRONYMS[w] || w);
    const s = words.join(' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
}

/* The first member of an RFC 7951 object whose name, without its module prefix, is
 * @name: RESTCONF answers "raven-vpn:pool", but be lenient about the prefix. */
export function member(obj, name) {
    if (!obj || typeof obj !== 'object') return undefined;
    if (name in obj) return obj[name];
    for (const k of Object.keys(obj)) if (k.replace(/^[^:]*:/, '') === name) return obj[k];
    return undefined;
}

/* The message of an ietf-restconf:errors body, or ''. */
export function restconfErrorMessage(body) {
    const errs = member(body, 'errors');
    const list = errs && member(errs, 'error');
    const first = Array.isArray(list) ? list[0] : list;
    if (!first) return '';
    return first['error-message'] || first['error-tag'] || '';
}

/* A raven-vpn:alarm-notification as an event-log entry: its kind (alarm, or
 * cleared) and its text, severity and type first. The resource of a
 * configuration instance path is shortened to its last step. */
export function alarmEntry(body) {
    const b = body || {};
    const cleared = b['is-cleared'] === true || b['is-cleared'] === 'true';
    const res = String(b.resource || '');
    const m = /([\w-]+)\[name='([^']*)'\](\/[\w-]+)?$/.exec(res);
    const where = m ? `${m[1]} ${m[2]}${m[3] ? ` ${m[3].slice(1)}` : ''}` : res;
    const head = cleared ? `${b.type || 'alarm'} cleared` : `${b['perceived-severity'] || 'indeterminate'} ${b.type || 'alarm'}`;
    return {
        kind: cleared ? 'cleared' : 'alarm',
        text: `${head}${where ? ` (${where})` : ''}${!cleared && b['alarm-text'] ? `: ${b['alarm-text']}` : ''}`,
    };
}
