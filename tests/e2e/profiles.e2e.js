'use strict';
/* The dashboard's client-profile download in a real browser (Debian's Chromium,
 * driven by playwright-core) against a running ravend whose REST endpoint is
 * RAVEN_E2E_URL and whose configuration has the IKEv2 profiles "ra" (EAP and
 * certificates) and "psk-only". Run by test_dashboard.py.
 *
 * Steps, each of which must pass: the admin signs in and sees the card with the
 * configured profiles; Android and Apple downloads arrive under the server's
 * file names with the content the server made (the .sswan JSON's server address
 * and EAP identity, the plist's VPN payload); a profile that cannot make a file
 * shows the server's reason and downloads nothing; a read-only user sees no
 * card. No page error and no Content-Security-Policy violation. */

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
    server: env('RAVEN_E2E_SERVER_ADDRESS', ''), /* the address the profile says to dial */
    artifacts: path.resolve(env('RAVEN_ARTIFACT_DIR', path.join(__dirname, 'artifacts'))),
    chromium: env('CHROMIUM', '/usr/bin/chromium'),
};

function step(msg) {
    console.log(`[profiles] ${msg}`);
}

function check(cond, msg) {
    if (!cond) throw new Error(msg);
}

function watch(page, tag, problems) {
    page.on('pageerror', (e) => problems.push(`${tag}: uncaught ${e.message}`));
    page.on('console', (m) => {
        const text = m.text();
        if (/Content.Security.Policy|Refused to (load|execute|apply)/i.test(text)) problems.push(`${tag}: ${text}`);
    });
}

async function signIn(page, user, password) {
    await page.goto(`${cfg.url}/ui/`, { waitUntil: 'domcontentloaded' });
    await page.getByLabel('User name').waitFor({ state: 'visible', timeout: 10000 });
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 10000 });
}

async function fetchProfile(page, profile, user, platform) {
    await page.locator('#cp-profile').selectOption(profile);
    await page.getByLabel('User', { exact: true }).fill(user);
    await page.locator('#cp-platform').selectOption(platform);
    const [dl] = await Promise.all([
        page.waitForEvent('download', { timeout: 15000 }),
        page.getByRole('button', { name: 'Download' }).click(),
    ]);
    const file = path.join(cfg.artifacts, dl.suggestedFilename());
    await dl.saveAs(file);
    return { name: dl.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
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
        const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
        page = await ctx.newPage();
        watch(page, 'admin', problems);
        await signIn(page, cfg.admin, cfg.adminPw);
        await page.locator('#profiles-card').waitFor({ state: 'visible', timeout: 10000 });
        await page.waitForFunction(() => document.querySelectorAll('#cp-profile option').length >= 2,
            null, { timeout: 10000 });
        const names = await page.locator('#cp-profile option').allTextContents();
        check(names.includes('ra') && names.includes('psk-only'), `profiles offered: ${names}`);
        step(`card shown with profiles ${names.join(', ')}`);

        const android = await fetchProfile(page, 'ra', 'ana@example.org', 'android');
        check(android.name === 'ra-ana_example.org.sswan', `android file name ${android.name}`);
        const sswan = JSON.parse(android.text);
        check(sswan.remote.addr === cfg.server, `sswan remote.addr ${sswan.remote.addr}`);
        check(sswan.local.eap_id === 'ana@example.org' && sswan.type === 'ikev2-eap', 'sswan local/type');
        step(`downloaded ${android.name}`);

        const apple = await fetchProfile(page, 'ra', 'amy@example.org', 'apple');
        check(apple.name === 'ra-amy_example.org.mobileconfig', `apple file name ${apple.name}`);
        check(apple.text.includes('<string>com.apple.vpn.managed</string>') &&
            apple.text.includes('<string>com.apple.security.root</string>'), 'plist payloads missing');
        check((await page.locator('#cp-status').textContent()).includes(apple.name), 'no saved status');
        step(`downloaded ${apple.name}`);

        /* refused by the server: its reason shows, nothing is downloaded */
        let downloaded = false;
        const onDl = () => {
            downloaded = true;
        };
        page.on('download', onDl);
        await page.locator('#cp-profile').selectOption('psk-only');
        await page.getByRole('button', { name: 'Download' }).click();
        await page.locator('#cp-error').waitFor({ state: 'visible', timeout: 10000 });
        const err = await page.locator('#cp-error').textContent();
        check(/pre-shared keys/.test(err), `error shown: ${err}`);
        await page.waitForTimeout(500);
        check(!downloaded, 'a refused profile was downloaded');
        page.off('download', onDl);
        step(`refusal shown: "${err}"`);
        await page.screenshot({ path: path.join(cfg.artifacts, 'dashboard-profiles.png'), fullPage: true });

        /* a read-only user cannot run the RPC: no card */
        const rctx = await browser.newContext({ ignoreHTTPSErrors: true });
        const rpage = await rctx.newPage();
        watch(rpage, 'reader', problems);
        await signIn(rpage, cfg.reader, cfg.readerPw);
        check(await rpage.locator('#profiles-card').isHidden(), 'the read-only user sees the profile card');
        step('read-only user: no card');

        check(problems.length === 0, `browser problems:\n  ${problems.join('\n  ')}`);
        console.log('E2E-PASSED');
    } catch (e) {
        console.log(`E2E-FAILED: ${e.stack || e}`);
        if (problems.length) console.log(`browser problems:\n  ${problems.join('\n  ')}`);
        if (page) await page.screenshot({ path: path.join(cfg.artifacts, 'failure-profiles.png') }).catch(() => {});
        process.exitCode = 1;
    } finally {
        await browser.close().catch(() => {});
    }
}

main();
