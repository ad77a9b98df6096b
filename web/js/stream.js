/* One RESTCONF event stream (RFC 8040 §6) as Server-Sent Events. The browser's
 * EventSource authenticates with the raven_token cookie (same origin). It retries
 * by itself after a network error, but gives up for good on an HTTP error (401
 * after the token expired, 503 when the server has too many subscribers): then
 * @onFail decides, and the stream is opened again after a growing pause. */

import { member } from './format.js';

const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;

export class EventStream {
    /* @handlers: onEvent(name, body, eventTime) for each notification (name with
     * its module prefix, e.g. "raven-vpn:session-up"); onOpen() on each
     * (re)connection; onState(connected: bool); onFail() -> Promise<bool>, whether
     * to try again after a hard failure. */
    constructor(url, handlers) {
        this.url = url;
        this.h = handlers;
        this.es = null;
        this.timer = null;
        this.delay = RETRY_MIN_MS;
        this.running = false;
    }

    start() {
        this.running = true;
        this.open();
    }

    stop() {
        this.running = false;
        clearTimeout(this.timer);
        this.timer = null;
        if (this.es) this.es.close();
        this.es = null;
    }

    open() {
        if (!this.running) return;
        const es = new EventSource(this.url);
        this.es = es;
        es.onopen = () => {
            this.delay = RETRY_MIN_MS;
            this.state(true);
            if (this.h.onOpen) this.h.onOpen();
        };
        es.onmessage = (ev) => this.message(ev.data);
        es.onerror = () => {
            this.state(false);
            if (es.readyState !== EventSource.CLOSED || this.es !== es) return;
            this.es = null;
            this.fail();
        };
    }

    async fail() {
        const again = this.h.onFail ? await this.h.onFail() : true;
        if (!again || !this.running) return;
        this.timer = setTimeout(() => this.open(), this.delay);
        this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
    }

    state(up) {
        if (this.h.onState) this.h.onState(up);
    }

    message(data) {
        let doc;
        try {
            doc = JSON.parse(data);
        } catch (e) {
            console.warn('event stream: not JSON', data);
            return;
        }
        const n = member(doc, 'notification');
        if (!n || typeof n !== 'object') return;
        for (const k of Object.keys(n)) {
            if (k === 'eventTime' || k.endsWith(':eventTime')) continue;
            this.h.onEvent(k, n[k], n.eventTime || member(n, 'eventTime'));
        }
    }
}
