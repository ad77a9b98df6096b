'use strict';
/* The dashboard in a real browser (Debian's Chromium, driven by playwright-core)
 * against a running ravend whose REST endpoint is RAVEN_E2E_URL. Run by
 * test_dashboard.py, which owns the lab: it starts the VPN client when this script
 * prints E2E-READY-FOR-SESSION, and keeps a ping going through the tunnel.
 *
 * Steps, each of which must pass: a wrong password is refused; the admin signs
 * in; the session table is live and empty; the client's session appears without
 * a reload (session-up); its counters and rates grow with the ping
 * (traffic-sample) and its uptime ticks; the counter panels and the chart are
 * filled; a read-only user sees the session but no Clear button, on a
 * phone-sized screen that does not scroll sideways, and signs out; the admin
 * clears the session and its row goes (session-down); the admin's token, revoked
 * behind the page's back, brings back the login form. No page error and no
 * Content-Security-Policy violation along the way. Screenshots go to
 * RAVEN_ARTIFACT_DIR. */

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const cfg = {
    url: env('RAVEN_E2E_URL', 'https://127.0.0.1:8443'),
    admin: env('RAVEN_E2E_ADMIN', 'admin'),
    adminPw: env('RAVEN_E2E_ADMIN_PW', ''),
    reader: env('RAVEN_E2E_READER', 'reader'),
    readerPw: env('RAVEN_E2E_READER_PW', ''),
    identity: env('RAVEN_E2E_IDENTITY', ''), /* expected in the identity cell */
    assigned: env('RAVEN_E2E_ASSIGNED_PREFIX', ''), /* start of the assigned address */
    pool: env('RAVEN_E2E_POOL', ''), /* expected in the pool panel */
    dpIface: env('RAVEN_E2E_DP_IFACE', ''), /* expected in the dataplane panel */
    alarm: env('RAVEN_E2E_ALARM', ''), /* an alarm type raised by the session and cleared with it */
    artifacts: path.resolve(env('RAVEN_ARTIFACT_DIR', path.join(__dirname, 'artifacts'))),
    chromium: env('CHROMIUM', '/usr/bin/chromium'),
    sessionTimeout: Number(env('RAVEN_E2E_SESSION_TIMEOUT_MS', '30000')), /* below the 60 s list re-read */
};

const t0 = Date.now();
function step(msg) {
    console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

function check(cond, msg) {
    if (!cond) throw new Error(msg);
}

async function shot(page, name, opts = {}) {
    const p = path.join(cfg.artifacts, name);
    await page.screenshot({ path: p, fullPage: true, ...opts });
    console.log(`SCREENSHOT ${p}`);
    return p;
}

/* Page errors and CSP violations are failures; the rest of the console is shown. */
function watch(page, tag, problems) {
    page.on('pageerror', (e) => problems.push(`${tag}: uncaught ${e.message}`));
    page.on('console', (m) => {
        const text = m.text();
        if (/Content.Security.Policy|Refused to (load|execute|apply)/i.test(text)) problems.push(`${tag}: ${text}`);
        if (m.type() === 'error' || m.type() === 'warning') console.log(`  ${tag} console.${m.type()}: ${text}`);
    });
    page.on('dialog', (d) => {
        step(`${tag}: dialog "${d.message()}" accepted`);
        d.accept();
    });
}

/* Chromium aborts a navigation, or the page's own requests (its scripts), with
 * ERR_NETWORK_CHANGED when a link in its network namespace changes, as the
 * headend's do while XDP and the lab's clients come up: such a load is tried
 * again, any other failure is reported. */
async function open(page, url) {
    for (let attempt = 1; ; attempt++) {
        let changed = false;
        const onFailed = (req) => {
            if (String(req.failure() && req.failure().errorText).includes('ERR_NETWORK_CHANGED')) changed = true;
        };
        page.on('requestfailed', onFailed);
        try {
            const res = await page.goto(url, { waitUntil: 'domcontentloaded' });
            await page.waitForLoadState('load', { timeout: 10000 }).catch(() => {});
            if (!changed) return res;
        } catch (e) {
            if (!String(e.message).includes('ERR_NETWORK_CHANGED')) throw e;
        } finally {
            page.off('requestfailed', onFailed);
        }
        if (attempt >= 5) throw new Error(`loading ${url}: the network kept changing`);
        step(`loading ${url} was cut by a network change, again (${attempt})`);
        await new Promise((r) => setTimeout(r, 500));
    }
}

async function signIn(page, user, password) {
    await open(page, `${cfg.url}/`);
    check(new URL(page.url()).pathname === '/ui/', `/ did not lead to /ui/ but to ${page.url()}`);
    await page.getByLabel('User name').waitFor({ state: 'visible', timeout: 10000 });
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 10000 });
    /* both event streams connected */
    await page.locator('#conn.up').waitFor({ timeout: 15000 });
}

const rowSel = (id) => `#session-rows tr[data-session-id="${id}"]`;

async function main() {
    fs.mkdirSync(cfg.artifacts, { recursive: true });
    check(cfg.adminPw && cfg.readerPw, 'RAVEN_E2E_ADMIN_PW and RAVEN_E2E_READER_PW must be set');
    const problems = [];
    step(`launching ${cfg.chromium}`);
    const browser = await chromium.launch({
        executablePath: cfg.chromium,
        headless: true,
        args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-dev-shm-usage',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--ignore-certificate-errors', /* ravend's self-signed certificate */
        ],
    });
    const closeBrowser = () => browser.close().catch(() => {});
    process.on('SIGTERM', () => closeBrowser().then(() => process.exit(143)));

    let page = null;
    try {
        const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
        page = await ctx.newPage();
        watch(page, 'admin', problems);

        /* a wrong password is refused on the form */
        await open(page, `${cfg.url}/ui/`);
        await page.getByLabel('User name').fill(cfg.admin);
        await page.getByLabel('Password').fill(`${cfg.adminPw}-wrong`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10000 });
        check(await page.locator('#dashboard').isHidden(), 'the dashboard showed after a wrong password');
        step(`wrong password refused: "${await page.locator('#login-error').textContent()}"`);

        await signIn(page, cfg.admin, cfg.adminPw);
        check((await page.locator('#role').textContent()) === 'admin', 'role badge is not admin');
        const stored = await page.evaluate(() => sessionStorage.getItem('raven.auth'));
        check(stored && JSON.parse(stored).token, 'no bearer token in sessionStorage');
        const cookies = await ctx.cookies();
        const rc = cookies.find((c) => c.name === 'raven_token');
        check(rc && rc.httpOnly, 'no HttpOnly raven_token cookie');
        step('admin signed in, event streams live');
        /* set once; a page reload would lose it */
        await page.evaluate(() => {
            window.__ravenE2eNoReload = true;
        });
        check((await page.locator('#session-rows tr[data-session-id]').count()) === 0, 'sessions before the client started');
        check(await page.locator('#session-empty').isVisible(), '"No sessions." not shown');

        console.log('E2E-READY-FOR-SESSION');
        const anyRow = page.locator('#session-rows tr[data-session-id]');
        await anyRow.first().waitFor({ timeout: cfg.sessionTimeout });
        check((await anyRow.count()) === 1, `expected one session row, got ${await anyRow.count()}`);
        const id = await anyRow.first().getAttribute('data-session-id');
        const row = page.locator(rowSel(id));
        const ident = await row.locator('td.c-identity').textContent();
        const assigned = await row.locator('td.c-assigned').textContent();
        step(`session ${id} appeared: identity "${ident}", assigned "${assigned}"`);
        check(!cfg.identity || ident.includes(cfg.identity), `identity cell "${ident}" lacks ${cfg.identity}`);
        check(!cfg.assigned || assigned.startsWith(cfg.assigned), `assigned "${assigned}" is not in ${cfg.assigned}`);
        check(await page.locator('#session-empty').isHidden(), '"No sessions." still shown');
        check(await page.evaluate(() => window.__ravenE2eNoReload === true), 'the page was reloaded');

        /* the ping's traffic shows in the row's counters and rates */
        const in0 = Number(await row.getAttribute('data-in-octets'));
        const out0 = Number(await row.getAttribute('data-out-octets'));
        await page.waitForFunction(
            ([sel, a, b]) => {
                const tr = document.querySelector(sel);
                return tr && Number(tr.dataset.inOctets) >= a + 500 && Number(tr.dataset.outOctets) >= b + 500;
            },
            [rowSel(id), in0, out0],
            { timeout: 20000, polling: 250 },
        );
        await page.waitForFunction(
            (sel) => {
                const tr = document.querySelector(sel);
                const r = tr && tr.querySelector('td.c-in-rate').textContent;
                return r && /^[1-9]|^0\.\d*[1-9]/.test(r);
            },
            rowSel(id),
            { timeout: 10000, polling: 250 },
        );
        const in1 = Number(await row.getAttribute('data-in-octets'));
        step(`counters grew: in ${in0} -> ${in1} octets, in rate ${await row.locator('td.c-in-rate').textContent()}, ` +
            `out rate ${await row.locator('td.c-out-rate').textContent()}`);
        const up1 = await row.locator('td.c-uptime').textContent();
        await page.waitForFunction(
            ([sel, before]) => {
                const c = document.querySelector(`${sel} td.c-uptime`);
                return c && c.textContent !== before;
            },
            [rowSel(id), up1],
            { timeout: 5000 },
        );
        step(`uptime ticks: ${up1} -> ${await row.locator('td.c-uptime').textContent()}`);

        /* chart and panels */
        await page.waitForFunction(() => Number(document.getElementById('traffic-chart').dataset.samples || 0) >= 3, null, {
            timeout: 10000,
        });
        check((await page.locator('#rate-in').textContent()) !== '\u2013', 'no total rate shown');
        if (cfg.pool) await page.locator('#pools', { hasText: cfg.pool }).waitFor({ timeout: 10000 });
        await page.locator('#pools meter').first().waitFor({ timeout: 10000 });
        await page.locator('#ike table').first().waitFor({ timeout: 10000 });
        if (cfg.dpIface) await page.locator('#dataplane', { hasText: cfg.dpIface }).waitFor({ timeout: 10000 });
        await page.locator('#radius :is(table, p.empty)').first().waitFor({ timeout: 10000 });
        
        await page.locator('#event-log li.ev-up').first().waitFor({ timeout: 5000 });
        if (cfg.alarm) await page.locator('#event-log li.ev-alarm', { hasText: cfg.alarm }).first().waitFor({ timeout: 5000 });
        step('chart, pools, IKE, AAA, dataplane panels and event log filled');
        await page.waitForTimeout(2500); /* a few more points on the chart for the picture */
        await shot(page, 'dashboard.png');

        /* a read-only user on a phone: the session, no Clear button, no sideways scroll */
        const ctx2 = await browser.newContext({
            ignoreHTTPSErrors: true,
            viewport: { width: 390, height: 844 },
            deviceScaleFactor: 2,
            isMobile: true,
            hasTouch: true,
        });
        const phone = await ctx2.newPage();
        watch(phone, 'reader', problems);
        await signIn(phone, cfg.reader, cfg.readerPw);
        check((await phone.locator('#role').textContent()) === 'read-only', 'role badge is not read-only');
        await phone.locator(rowSel(id)).waitFor({ timeout: 10000 });
        check(await phone.locator(`${rowSel(id)} button.clear`).isHidden(), 'read-only user sees a Clear button');
        await phone.waitForFunction(() => Number(document.getElementById('traffic-chart').dataset.samples || 0) >= 2, null, {
            timeout: 10000,
        });
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `the phone layout scrolls sideways by ${overflow}px`);
        await shot(phone, 'dashboard-phone.png');
        await phone.getByRole('button', { name: 'Sign out' }).click();
        await phone.locator('#login').waitFor({ state: 'visible', timeout: 5000 });
        check((await phone.evaluate(() => sessionStorage.getItem('raven.auth'))) === null, 'token left after sign-out');
        for (let i = 0; (await ctx2.cookies()).some((c) => c.name === 'raven_token' && c.value); i++) {
            check(i < 50, 'raven_token cookie left after sign-out');
            await phone.waitForTimeout(100);
        }
        await ctx2.close();
        step('read-only user: session shown without Clear, phone layout fits, signed out');

        /* the admin clears the session: the row goes when session-down arrives */
        await row.locator('button.clear').click();
        await row.waitFor({ state: 'detached', timeout: 20000 });
        check(await page.evaluate(() => window.__ravenE2eNoReload === true), 'the page was reloaded');
        await page.locator('#event-log li.ev-down').first().waitFor({ timeout: 5000 });
        if (cfg.alarm) await page.locator('#event-log li.ev-cleared', { hasText: cfg.alarm }).first().waitFor({ timeout: 5000 });
        check(await page.locator('#session-empty').isVisible(), '"No sessions." not shown after the clear');
        step(`session ${id} cleared, row removed`);
        await shot(page, 'dashboard-cleared.png');

        /* the token revoked behind the page's back: the next call's 401 brings the
         * login form back, saying why */
        const revoked = await page.evaluate(async () => {
            const { token } = JSON.parse(sessionStorage.getItem('raven.auth'));
            const r = await fetch('/auth/token', {
                method: 'DELETE',
                headers: { Authorization: `Bearer ${token}` },
                credentials: 'omit',
            });
            return r.status;
        });
        check(revoked === 204, `DELETE /auth/token answered ${revoked}`);
        await page.locator('#login').waitFor({ state: 'visible', timeout: 15000 });
        check(await page.locator('#login-error').isVisible(), 'no reason shown on the login form');
        check((await page.evaluate(() => sessionStorage.getItem('raven.auth'))) === null, 'revoked token kept');
        step(`revoked token: back to the login form ("${await page.locator('#login-error').textContent()}")`);

        check(problems.length === 0, `browser problems:\n  ${problems.join('\n  ')}`);
        console.log('E2E-PASSED');
    } catch (e) {
        console.log(`E2E-FAILED: ${e.stack || e}`);
        if (problems.length) console.log(`browser problems:\n  ${problems.join('\n  ')}`);
        if (page) await shot(page, 'failure.png').catch(() => {});
        process.exitCode = 1;
    } finally {
        await closeBrowser();
    }
}

main().catch((e) => {
    console.log(`E2E-FAILED: ${e.stack || e}`);
    process.exitCode = 1;
});
