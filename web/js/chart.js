/* The traffic chart: total bit rate in and out over the last minutes, drawn by hand
 * on a canvas (sharp on high-density screens, redrawn on resize). Colours come
 * from the page's CSS custom properties, so the dark scheme applies here too. */

import { formatBitRate } from './format.js';

/* A "nice" axis maximum and step at or above @max: 1, 2, 2.5 or 5 times a power
 * of ten, about four steps. */
export function niceScale(max) {
    if (!(max > 0)) return { top: 1000, step: 250 };
    const raw = max / 4;
    const p = 10 ** Math.floor(Math.log10(raw));
    let step = p;
    for (const m of [1, 2, 2.5, 5, 10]) {
        step = m * p;
        if (step >= raw) break;
    }
    return { top: step * Math.ceil(max / step), step };
}

export class TrafficChart {
    constructor(canvas, windowMs) {
        this.canvas = canvas;
        this.windowMs = windowMs;
        this.history = [];
        this.now = Date.now();
        if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.draw()).observe(canvas);
    }

    update(history, now) {
        this.history = history;
        this.now = now;
        this.canvas.dataset.samples = String(history.length);
        this.draw();
    }

    color(name, fallback) {
        const v = getComputedStyle(this.canvas).getPropertyValue(name).trim();
        return v || fallback;
    }

    draw() {
        const c = this.canvas;
        const dpr = window.devicePixelRatio || 1;
        const w = c.clientWidth;
        const h = c.clientHeight;
        if (!w || !h) return;
        if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
            c.width = Math.round(w * dpr);
            c.height = Math.round(h * dpr);
        }
        const g = c.getContext('2d');
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        g.clearRect(0, 0, w, h);

        const fg = this.color('--chart-axis', '#666');
        const grid = this.color('--chart-grid', '#ddd');
        const font = `12px ${this.color('--chart-font', 'sans-serif')}`;
        g.font = font;

        const t1 = this.now;
        const t0 = t1 - this.windowMs;
        const pts = this.history.filter((p) => p.t >= t0);
        const max = pts.reduce((m, p) => Math.max(m, p.inBps, p.outBps), 0);
        const { top, step } = niceScale(max);

        const labelW = Math.max(...[0, 1, 2, 3, 4].map((i) => g.measureText(formatBitRate(i * step)).width));
        const L = Math.ceil(labelW) + 10;
        const R = 8;
        const T = 8;
        const B = 22;
        const pw = Math.max(10, w - L - R);
        const ph = Math.max(10, h - T - B);
        const x = (t) => L + ((t - t0) / (t1 - t0)) * pw;
        const y = (v) => T + ph - (v / top) * ph;

        g.lineWidth = 1;
        g.strokeStyle = grid;
        g.fillStyle = fg;
        g.textAlign = 'right';
        g.textBaseline = 'middle';
        for (let v = 0; v <= top + step / 2; v += step) {
            const yy = Math.round(y(v)) + 0.5;
            g.beginPath();
            g.moveTo(L, yy);
            g.lineTo(L + pw, yy);
            g.stroke();
            g.fillText(formatBitRate(v), L - 6, yy);
        }
        g.textBaseline = 'top';
        /* a grid line each minute, labelled as often as the width allows */
        const mins = Math.round(this.windowMs / 60000);
        const labelEvery = Math.max(1, Math.ceil((g.measureText('\u22125 min').width + 12) / (pw / mins)));
        for (let m = 0; m <= mins; m++) {
            const xx = Math.round(x(t1 - m * 60000)) + 0.5;
            g.beginPath();
            g.moveTo(xx, T);
            g.lineTo(xx, T + ph);
            g.stroke();
            if (m % labelEvery) continue;
            g.textAlign = m === 0 ? 'right' : m === mins ? 'left' : 'center';
            g.fillText(m === 0 ? 'now' : `\u2212${m} min`, xx, T + ph + 5);
        }

        const line = (key, colour) => {
            if (!pts.length) return;
            g.strokeStyle = colour;
            g.lineWidth = 2;
            g.lineJoin = 'round';
            g.beginPath();
            pts.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[key])) : g.moveTo(x(p.t), y(p[key]))));
            g.stroke();
        };
        line('inBps', this.color('--chart-in', '#1f77b4'));
        line('outBps', this.color('--chart-out', '#d95f02'));

        if (!pts.length) {
            g.fillStyle = fg;
            g.textAlign = 'center';
            g.textBaseline = 'middle';
            g.fillText('Waiting for traffic samples\u2026', L + pw / 2, T + ph / 2);
        }
    }
}
