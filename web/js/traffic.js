/* Rates from the traffic stream: each raven-vpn:traffic-sample carries every
 * session's cumulative octet and packet counters (bytes-in, ...) and their sum;
 * a rate is the difference of two samples over the time between them. Keeps the
 * total bit rate of the last few minutes for the chart. Pure (no DOM), tested
 * under node. */

import { num } from './format.js';

/* The traffic-counters grouping (raven-vpn.yang), as in session statistics. */
function counters(e) {
    return {
        inOctets: num(e['bytes-in']),
        outOctets: num(e['bytes-out']),
        inPackets: num(e['packets-in']),
        outPackets: num(e['packets-out']),
    };
}

/* Seconds between two samples received at @t0 and @t1 (ms): the sampler runs
 * every @interval seconds on the server, so the receipt times, which carry the
 * network's jitter, are rounded to a whole number of intervals (eventTime has
 * only whole seconds, too coarse for this). */
function span(t0, t1, interval) {
    const dt = (t1 - t0) / 1000;
    if (!(interval > 0)) return dt;
    return Math.max(1, Math.round(dt / interval)) * interval;
}

export class TrafficTracker {
    /* @windowMs: how much history to keep for the chart. */
    constructor(windowMs = 5 * 60 * 1000) {
        this.windowMs = windowMs;
        this.prev = new Map(); /* session id -> {t, inOctets, outOctets} */
        this.prevTotal = null;
        this.history = []; /* {t, inBps, outBps}, oldest first */
    }

    /* One sample: @t when it arrived (ms), @sample the traffic-sample body. Returns
     * {sessions: Map id -> {inOctets, outOctets, inPackets, outPackets, inBps,
     * outBps}, inBps, outBps}; a rate is null where there was no earlier sample of
     * that session, or its counters went backwards. */
    add(t, sample) {
        const list = Array.isArray(sample && sample.session) ? sample.session : [];
        const interval = num(sample && sample.interval);
        const out = new Map();
        let sumIn = 0;
        let sumOut = 0;
        let sumKnown = false;
        const seen = new Set();
        for (const e of list) {
            if (e === null || typeof e !== 'object' || e.id === undefined) continue;
            const id = String(e.id);
            seen.add(id);
            const c = counters(e);
            const p = this.prev.get(id);
            let inBps = null;
            let outBps = null;
            if (p && t > p.t && c.inOctets >= p.inOctets && c.outOctets >= p.outOctets) {
                const dt = span(p.t, t, interval);
                inBps = ((c.inOctets - p.inOctets) * 8) / dt;
                outBps = ((c.outOctets - p.outOctets) * 8) / dt;
                sumIn += inBps;
                sumOut += outBps;
                sumKnown = true;
            }
            this.prev.set(id, { t, inOctets: c.inOctets, outOctets: c.outOctets });
            out.set(id, { ...c, inBps, outBps });
        }
        for (const id of [...this.prev.keys()]) if (!seen.has(id)) this.prev.delete(id);

        /* The total from the sample's own totals when they only grew (they fall when
         * a session ends), else the sum of the sessions' rates. */
        let inBps = null;
        let outBps = null;
        const tot = sample && sample.total && typeof sample.total === 'object' ? counters(sample.total) : null;
        const pt = this.prevTotal;
        if (tot && pt && t > pt.t && tot.inOctets >= pt.inOctets && tot.outOctets >= pt.outOctets) {
            const dt = span(pt.t, t, interval);
            inBps = ((tot.inOctets - pt.inOctets) * 8) / dt;
            outBps = ((tot.outOctets - pt.outOctets) * 8) / dt;
        } else if (sumKnown || (pt && list.length === 0)) {
            inBps = sumIn;
            outBps = sumOut;
        }
        this.prevTotal = tot ? { t, inOctets: tot.inOctets, outOctets: tot.outOctets } : null;
        if (inBps !== null) {
            this.history.push({ t, inBps, outBps });
            while (this.history.length && this.history[0].t < t - this.windowMs) this.history.shift();
        }
        return { sessions: out, inBps, outBps };
    }

    /* After a gap in the stream the next difference would span it: start over. */
    reset() {
        this.prev.clear();
        this.prevTotal = null;
    }
}

/* The time of a notification: its eventTime (RFC 3339), else @fallback. */
export function eventTimeMs(eventTime, fallback) {
    const t = typeof eventTime === 'string' ? Date.parse(eventTime) : NaN;
    return Number.isFinite(t) ? t : fallback;
}
