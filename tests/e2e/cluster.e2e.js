'use strict';
/* The dashboard's cluster card in a real browser (Debian's Chromium, driven by
 * playwright-core) against a running ravend whose REST endpoint is RAVEN_E2E_URL.
 * Run by test_dashboard.py.
 *
 * RAVEN_E2E_CLUSTER empty: the headend has no /cluster, and the card stays hidden
 * after the panels were read (and no error is shown for the read). Otherwise it is
 * JSON: {"etcd": state, "members": [{"name", "self", "sessions", "capacity"}],
 * "user": a user with a session, "member": the member holding it, "address": its
 * address}: the card shows etcd's state, the members with their load bars and this
 * headend marked, and the lookup finds the user's session on its member (and
 * nothing for an unknown user). No page error and no Content-Security-Policy
 * violation. */

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const cfg = {
    url: env('RAVEN_E2E_URL', 'https://127.0.0.1:8443'),
    admin: env('RAVEN_E2E_ADMIN', 'admin'),
    adminPw: env('RAVEN_E2E_ADMIN_PW', ''),
    cluster: env('RAVEN_E2E_CLUSTER', ''),
    artifacts: path.resolve(env('RAVEN_ARTIFACT_DIR', path.join(__dirname, 'artifacts'))),
    chromium: env('CHROMIUM', '/usr/bin/chromium'),
};

function step(msg) {
    console.log(`[cluster] ${msg}`);
}

function check(cond, msg) {
    if (!cond) throw new Error(msg);
}

async function refreshed(page, n) {
    /* the panels were read @n times more from now (one refresh every 5 s) */
    for (let i = 0; i < n; i++) {
        const before = await page.locator('#refreshed').getAttribute('datetime');
        await page.waitForFunction((b) => {
            const t = document.getElementById('refreshed').getAttribute('datetime');
            return t && t !== b;
        }, before, { timeout: 15000 });
    }
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
        const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
        page = await ctx.newPage();
        page.on('pageerror', (e) => problems.push(`uncaught ${e.message}`));
        page.on('console', (m) => {
            const text = m.text();
            if (/Content.Security.Policy|Refused to (load|execute|apply)/i.test(text)) problems.push(text);
        });
        /* the dashboard's reads of the cluster's state, and their answers */
        const reads = [];
        page.on('response', (r) => {
            if (r.url().includes('/restconf/data/raven-vpn:vpn-state/cluster')) reads.push(`${r.status()} ${r.url()}`);
        });
        await page.goto(`${cfg.url}/ui/`, { waitUntil: 'domcontentloaded' });
        await page.getByLabel('User name').waitFor({ state: 'visible', timeout: 10000 });
        await page.getByLabel('User name').fill(cfg.admin);
        await page.getByLabel('Password').fill(cfg.adminPw);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 10000 });
        await refreshed(page, 2);

        if (!cfg.cluster) {
            check((await page.locator('#cluster-card').count()) === 1, 'the page has no cluster card');
            check(reads.some((r) => r.startsWith('404 ') && r.includes('cluster?fields=')),
                `the cluster state was not read (or found): ${reads}`);
            check(await page.locator('#cluster-card').isHidden(), 'the cluster card shows without a cluster');
            check(await page.locator('#notice').isHidden(),
                `a notice is shown: ${await page.locator('#notice').textContent()}`);
            step('no cluster: card hidden, no error');
        } else {
            const want = JSON.parse(cfg.cluster);
            await page.locator('#cluster-card').waitFor({ state: 'visible', timeout: 15000 });
            await page.waitForFunction((s) => document.getElementById('cluster-etcd-state')?.textContent === s,
                want.etcd, { timeout: 20000 });
            const names = want.members.map((m) => m.name).sort();
            await page.waitForFunction((n) => {
                const rows = [...document.querySelectorAll('.cluster-members tbody tr')].map((r) => r.dataset.member);
                return JSON.stringify(rows) === JSON.stringify(n);
            }, names, { timeout: 30000 }).catch(async () => {
                const rows = await page.locator('.cluster-members tbody tr').allTextContents();
                throw new Error(`members shown ${JSON.stringify(rows)}, wanted ${names}`);
            });
            for (const m of want.members) {
                const row = page.locator(`.cluster-members tbody tr[data-member="${m.name}"]`);
                check((await row.locator('meter').count()) === 1, `no load bar for ${m.name}`);
                const self = await row.evaluate((r) => r.classList.contains('self'));
                check(self === !!m.self, `${m.name} marked self=${self}`);
                check((await row.locator('.badge.self').count()) === (m.self ? 1 : 0), `${m.name}: self badge`);
                if (m.sessions !== undefined) {
                    await page.waitForFunction(([n, text]) => {
                        const r = document.querySelector(`.cluster-members tbody tr[data-member="${n}"] .usage-text`);
                        return r && r.textContent.startsWith(text);
                    }, [m.name, `${m.sessions} / ${m.capacity}`], { timeout: 20000 });
                }
            }
            step(`members ${names.join(', ')} shown, etcd ${want.etcd}`);
            await page.screenshot({ path: path.join(cfg.artifacts, 'dashboard-cluster.png'), fullPage: true });

            await page.locator('#cluster-user').fill(want.user.toUpperCase());
            await page.getByRole('button', { name: 'Find' }).click();
            await page.locator('.cluster-lookup tbody tr').first().waitFor({ timeout: 10000 });
            const cells = await page.locator('.cluster-lookup tbody tr').first().locator('td').allTextContents();
            check(cells[0] === want.member, `the lookup says ${cells}`);
            check(cells[3].includes(want.address), `the lookup's addresses ${cells[3]}`);
            step(`${want.user} found on ${cells[0]} with ${cells[3]}`);

            await page.locator('#cluster-user').fill('nobody-here');
            await page.getByRole('button', { name: 'Find' }).click();
            await page.getByText('No session of nobody-here in the cluster.').waitFor({ timeout: 10000 });
            step('unknown user: nothing found');
        }
        check(problems.length === 0, `browser problems:\n  ${problems.join('\n  ')}`);
        console.log('E2E-PASSED');
    } catch (e) {
        console.log(`E2E-FAILED: ${e.stack || e}`);
        if (problems.length) console.log(`browser problems:\n  ${problems.join('\n  ')}`);
        if (page) await page.screenshot({ path: path.join(cfg.artifacts, 'failure-cluster.png') }).catch(() => {});
        process.exitCode = 1;
    } finally {
        await browser.close().catch(() => {});
    }
}

main();
