'use strict';
/* The dashboard's session list in pages, in a real browser (Debian's Chromium,
 * driven by playwright-core) against a running ravend whose REST endpoint is
 * RAVEN_E2E_URL, with RAVEN_E2E_SESSIONS sessions up and the page size
 * RAVEN_E2E_PAGE_SIZE (the dashboard's ?page-size=). Run by test_dashboard.py.
 *
 * Steps, each of which must pass: the admin signs in; the count shows every
 * session while the table holds one page (the lowest ids first, ascending); Next
 * turns to the following pages (no id twice, none skipped) until it is disabled
 * on the last, partial page; Previous comes back to the first. No page error and
 * no Content-Security-Policy violation. Prints E2E-IDS <ids of every page> so the
 * test compares them with the server's list. */

const path = require('path');
const fs = require('fs');
const { chromium } = require('playwright-core');

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const cfg = {
    url: env('RAVEN_E2E_URL', 'https://127.0.0.1:8443'),
    admin: env('RAVEN_E2E_ADMIN', 'admin'),
    adminPw: env('RAVEN_E2E_ADMIN_PW', ''),
    n: Number(env('RAVEN_E2E_SESSIONS', '0')),
    size: Number(env('RAVEN_E2E_PAGE_SIZE', '50')),
    artifacts: path.resolve(env('RAVEN_ARTIFACT_DIR', path.join(__dirname, 'artifacts'))),
    chromium: env('CHROMIUM', '/usr/bin/chromium'),
};

function step(msg) {
    console.log(`[pages] ${msg}`);
}

function check(cond, msg) {
    if (!cond) throw new Error(msg);
}

async function rowIds(page) {
    return page.locator('#session-rows tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.sessionId));
}

/* Until the table shows a page starting at position @first (1-based). */
async function waitPage(page, first, rows) {
    await page.waitForFunction(
        ([f, r]) => {
            const info = document.getElementById('page-info').textContent;
            return info.startsWith(`${f}\u2013`) && document.querySelectorAll('#session-rows tr').length === r;
        },
        [first, rows],
        { timeout: 15000 },
    );
}

async function main() {
    fs.mkdirSync(cfg.artifacts, { recursive: true });
    const problems = [];
    const browser = await chromium.launch({
        executablePath: cfg.chromium,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors'],
    });
    process.on('SIGTERM', () => browser.close().finally(() => process.exit(143)));
    let page = null;
    try {
        const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
        page = await ctx.newPage();
        page.on('pageerror', (e) => problems.push(`uncaught ${e.message}`));
        page.on('console', (m) => {
            if (/Content.Security.Policy|Refused to (load|execute|apply)/i.test(m.text())) problems.push(m.text());
        });
        await page.goto(`${cfg.url}/ui/?page-size=${cfg.size}`, { waitUntil: 'domcontentloaded' });
        await page.getByLabel('User name').waitFor({ state: 'visible', timeout: 10000 });
        await page.getByLabel('User name').fill(cfg.admin);
        await page.getByLabel('Password').fill(cfg.adminPw);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 10000 });

        await page.locator('#session-pager').waitFor({ state: 'visible', timeout: 15000 });
        await waitPage(page, 1, cfg.size);
        const count = await page.locator('#session-count').textContent();
        check(count === String(cfg.n), `the count shows ${count}, not ${cfg.n}`);
        check(await page.locator('#page-prev').isDisabled(), 'Previous enabled on the first page');
        const all = [];
        let first = 1;
        for (;;) {
            const ids = await rowIds(page);
            const sorted = [...ids].sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b));
            check(JSON.stringify(ids) === JSON.stringify(sorted), `page at ${first} not in id order: ${ids}`);
            all.push(...ids);
            const info = await page.locator('#page-info').textContent();
            step(`page ${info}: ${ids.length} rows`);
            if (await page.locator('#page-next').isDisabled()) break;
            await page.getByRole('button', { name: 'Next' }).click();
            first += cfg.size;
            await waitPage(page, first, Math.min(cfg.size, cfg.n - first + 1));
        }
        check(all.length === cfg.n && new Set(all).size === cfg.n, `pages held ${all.length} rows, ` +
            `${new Set(all).size} distinct, of ${cfg.n}`);
        await page.screenshot({ path: path.join(cfg.artifacts, 'dashboard-last-page.png'), fullPage: true });
        while (first > 1) {
            await page.getByRole('button', { name: 'Previous' }).click();
            first -= cfg.size;
            await waitPage(page, first, cfg.size);
        }
        check(JSON.stringify(await rowIds(page)) === JSON.stringify(all.slice(0, cfg.size)), 'first page changed');
        step('back on the first page');
        console.log(`E2E-IDS ${all.join(' ')}`);
        check(problems.length === 0, `browser problems:\n  ${problems.join('\n  ')}`);
        console.log('E2E-PASSED');
    } catch (e) {
        console.log(`E2E-FAILED: ${e.stack || e}`);
        if (problems.length) console.log(`browser problems:\n  ${problems.join('\n  ')}`);
        if (page) await page.screenshot({ path: path.join(cfg.artifacts, 'failure-pages.png') }).catch(() => {});
        process.exitCode = 1;
    } finally {
        await browser.close().catch(() => {});
    }
}

main();
