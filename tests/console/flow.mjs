// The console's browser test: the whole flow in headless Chromium against a running local
// gateway, as a merchant would go through it. Run by scripts/console-test, which starts the
// gateway and passes:
//   CONSOLE_BASE_URL      the gateway, http://127.0.0.1:<port>
//   CONSOLE_TOKEN         a merchant JWT (the development link's token)
//   CONSOLE_IDP_PORT      the loopback port of the test's identity provider (idp.mjs), whose
//                         origin is the gateway's JWT_ISSUER
//   CONSOLE_IDP_TOKEN     what that provider hands out: a token shaped as a Cognito access
//                         token of the console's client (no aud, client_id)
//   CONSOLE_NODE_MODULES  where playwright-core and axe-core are installed (.node-console/node_modules)
//   CHROMIUM              the browser (default /usr/bin/chromium)
//   CONSOLE_OUT           where screenshots go (default target/console)
//
// It fails (exit 1, with the reason) on any broken step, any browser console error, page
// error, JavaScript dialog or failed request, any 4xx/5xx answer the step did not expect, and
// any request that leaves 127.0.0.1 (every other request is aborted).
//
// axe-core under the page's CSP: the CSP (script-src 'self', no 'unsafe-inline') refuses an
// inline <script>, so page.addScriptTag({content}) cannot inject axe. page.evaluate(source)
// runs the source through the DevTools protocol (Runtime.evaluate), which the page's CSP does
// not govern, so axe is defined in the page's own main world without weakening the policy
// under test (no bypassCSP, no second context): the page keeps refusing inline scripts, as the
// CSP step checks.

import {createServer} from 'node:http';
import {createRequire} from 'node:module';
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {gzipSync} from 'node:zlib';
import {startIdp} from './idp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const base = required('CONSOLE_BASE_URL').replace(/\/$/, '');
const token = required('CONSOLE_TOKEN');
const idpPort = Number(required('CONSOLE_IDP_PORT'));
const idpToken = required('CONSOLE_IDP_TOKEN');
const nodeModules = process.env.CONSOLE_NODE_MODULES || join(root, '.node-console/node_modules');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const out = resolve(root, process.env.CONSOLE_OUT || 'target/console');

const require = createRequire(join(nodeModules, 'noop.js'));
const {chromium} = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`console test: ${name} is not set (run scripts/console-test)`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping: steps, problems seen by the listeners, answers a step expects.

let passed = 0;
const problems = [];
const expectedAnswers = []; // {method, path: RegExp, status, seen}
const expectedConsole = []; // RegExp, each allowed once
const expectedBlocked = new Set(); // URLs the page's Content-Security-Policy must block
const secrets = new Map(); // what must never be logged or put in a URL: label → value
const consoleTexts = [];
const requestUrls = [];
const assetUrls = new Set();
const axeSummary = [];

class Failure extends Error {}
function fail(message) {
  throw new Failure(message);
}
function check(condition, message) {
  if (!condition) fail(message);
}

async function step(name, run) {
  const started = Date.now();
  try {
    await run();
  } catch (error) {
    console.log(`not ok ${passed + 1} - ${name}`);
    throw error;
  }
  settle(name);
  passed += 1;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

/** Fails the step on whatever the listeners saw, and on an expected answer that never came. */
function settle(name) {
  const missing = expectedAnswers.filter((answer) => !answer.seen);
  expectedAnswers.length = 0;
  expectedConsole.length = 0;
  for (const url of expectedBlocked) problems.push(`expected the policy to block ${url}, and it did not`);
  expectedBlocked.clear();
  for (const answer of missing) {
    problems.push(`expected ${answer.method} ${answer.path} to answer ${answer.status}, and it did not`);
  }
  if (problems.length) {
    const list = problems.splice(0).map((p) => `  - ${p}`).join('\n');
    fail(`${name}: the browser reported:\n${list}`);
  }
}

function expectAnswer(method, path, status) {
  expectedAnswers.push({method, path, status, seen: false});
}

function watch(page, label) {
  page.on('console', (message) => {
    const text = message.text();
    consoleTexts.push(text);
    if (message.type() !== 'error') return;
    const status = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text)?.[1];
    const url = message.location()?.url || '';
    if (status && expectedAnswers.some((a) => a.status === Number(status) && a.path.test(new URL(url, base).pathname))) return;
    const allowed = expectedConsole.findIndex((pattern) => pattern.test(text));
    if (allowed >= 0) {
      expectedConsole.splice(allowed, 1);
      return;
    }
    problems.push(`[${label}] console error: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (error) => problems.push(`[${label}] page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`[${label}] a JavaScript ${dialog.type()} opened: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('request', (request) => requestUrls.push(request.url()));
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText || '';
    if (reason === 'net::ERR_BLOCKED_BY_CLIENT' && !isLoopback(request.url())) return; // reported by the route
    if (reason === 'csp' && expectedBlocked.delete(request.url())) return;
    problems.push(`[${label}] request failed: ${request.method()} ${request.url()} ${reason}`);
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/console/assets/') && response.ok()) assetUrls.add(response.url());
    if (response.status() < 400) return;
    const method = response.request().method();
    const expected = expectedAnswers.find((a) => !a.seen && a.method === method && a.status === response.status() && a.path.test(url.pathname));
    if (expected) {
      expected.seen = true;
      return;
    }
    problems.push(`[${label}] unexpected ${response.status()} for ${method} ${url.pathname}`);
  });
}

function isLoopback(url) {
  try {
    return new URL(url).hostname === '127.0.0.1';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks that run in the page.

/** Where in the page (storage, cookies, URL, history, DOM, globals) `secret` can be found. */
async function placesHolding(page, secret) {
  const found = await page.evaluate((value) => {
    const places = [];
    const has = (text) => typeof text === 'string' && text.includes(value);
    for (const [name, storage] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]]) {
      for (let i = 0; i < storage.length; i += 1) {
        const key = storage.key(i);
        if (has(key) || has(storage.getItem(key))) places.push(`${name}[${JSON.stringify(key)}]`);
      }
    }
    if (has(document.cookie)) places.push('document.cookie');
    if (has(document.URL) || has(location.href)) places.push('document.URL');
    if (has(JSON.stringify(history.state))) places.push('history.state');
    if (has(document.title)) places.push('document.title');
    if (has(document.documentElement.outerHTML)) places.push('the DOM (markup)');
    if (has(document.documentElement.textContent)) places.push('the DOM (text)');
    for (const control of document.querySelectorAll('input, textarea, select, output')) {
      if (has(control.value)) places.push(`the value of <${control.tagName.toLowerCase()} name=${control.name}>`);
    }
    for (const name of Object.getOwnPropertyNames(window)) {
      try {
        if (has(window[name])) places.push(`window.${name}`);
      } catch {
        // a getter that throws holds nothing
      }
    }
    return places;
  }, secret);
  for (const cookie of await page.context().cookies()) {
    if (cookie.value.includes(secret) || cookie.name.includes(secret)) found.push(`cookie ${cookie.name}`);
  }
  const session = await page.context().newCDPSession(page);
  const {entries} = await session.send('Page.getNavigationHistory');
  await session.detach();
  // `userTypedURL` is what the browser was asked to open (the link itself), kept by the browser
  // out of the page's reach; the entry's own URL and title are what history and Back show.
  for (const entry of entries) {
    if ([entry.url, entry.title].some((text) => text?.includes(secret))) {
      found.push(`history entry ${entries.indexOf(entry)}`);
    }
  }
  return found;
}

async function assertNowhere(page, label, secret) {
  const places = await placesHolding(page, secret);
  check(places.length === 0, `${label} was found in: ${places.join(', ')}`);
}

async function axeCheck(page, view) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(axeSource); // see the note at the top: Runtime.evaluate, not an inline script
  }
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {resultTypes: ['violations']});
    return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' '))}));
  });
  const counts = {critical: 0, serious: 0, moderate: 0, minor: 0};
  for (const violation of violations) counts[violation.impact] = (counts[violation.impact] || 0) + violation.targets.length;
  const line = `axe ${view}: critical ${counts.critical}, serious ${counts.serious}, moderate ${counts.moderate}, minor ${counts.minor}`;
  console.log(line);
  axeSummary.push(line);
  for (const violation of violations) {
    console.log(`  ${violation.impact} ${violation.id}: ${violation.help} (${violation.targets.slice(0, 3).join('; ')})`);
  }
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe found ${bad.length} serious or critical problem(s) on ${view}: ${bad.map((v) => `${v.id} at ${v.targets.join(', ')}`).join('; ')}`);
}

async function screenshot(page, view, options = {}) {
  await page.screenshot({path: join(out, `${view}.png`), ...options});
}

async function alertText(page) {
  return (await page.locator('#alert').textContent()).trim();
}

async function assertNoAlert(page, what) {
  const text = await alertText(page);
  check(text === '', `${what}: the page shows an alert: ${text}`);
}

async function pay(key, {method = 'POST', resource = 'charges'} = {}) {
  const response = await fetch(`${base}/api/v1/payments/${resource}`, {
    method,
    headers: {Authorization: `Bearer ${key}`, 'content-type': 'application/json'},
    body: method === 'GET' ? undefined : '{}',
  });
  await response.arrayBuffer();
  return response.status;
}

async function expectPay(key, status, what, options) {
  const got = await pay(key, options);
  check(got === status, `${what}: the payment call answered ${got}, expected ${status}`);
}

const openDialog = (page) => page.locator('dialog[open]');

/**
 * Holds the page's requests to `pattern` until `release()`: `arrived` resolves when the first one
 * comes, and `stop()` releases them and removes the hold.
 */
async function holdRequests(page, pattern) {
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  let arrive;
  const arrived = new Promise((resolve) => {
    arrive = resolve;
  });
  await page.route(pattern, async (route) => {
    arrive();
    await released;
    await route.continue();
  });
  return {arrived, release, stop: async () => {
    release();
    await page.unroute(pattern);
  }};
}

/**
 * Waits until the page holds no dialog at all. `dialog[open]` stops matching as soon as close()
 * runs, but the close event (which removes the dialog and returns focus) comes a task later.
 */
const dialogGone = (page) => page.locator('dialog').first().waitFor({state: 'detached'});

/** The full key from the reveal dialog, after checking what the dialog says. */
async function readRevealedKey(page) {
  const dialog = openDialog(page);
  await dialog.locator('code.full-key').waitFor();
  check(await dialog.evaluate((d) => d.matches(':modal')), 'the reveal dialog is not modal');
  check(/cannot be shown again/.test(await dialog.textContent()), 'the reveal dialog does not warn that the key cannot be shown again');
  const key = (await dialog.locator('code.full-key').textContent()).trim();
  check(/^ks_(live|test)_[0-9A-Za-z]{49}$/.test(key), `the reveal dialog shows no key: ${JSON.stringify(key)}`);
  check(await dialog.evaluate((d) => d.contains(document.activeElement)), 'focus is not inside the reveal dialog');
  return key;
}

const keyRow = (page, prefix) => page.locator('main tr', {has: page.locator('th code', {hasText: prefix})});

// ---------------------------------------------------------------------------------------------
// Keyboard helpers: the keyboard pass moves with Tab and Shift+Tab only.

async function isFocused(locator) {
  return locator.evaluate((element) => element === document.activeElement);
}

/**
 * Whether `locator` has the focus within a second. After a dialog closes the view reloads its
 * data and re-renders, handing focus to the new copy of the control: a check made in between
 * would see the old copy, already detached.
 */
async function focusedSoon(locator) {
  for (let i = 0; i < 20; i += 1) {
    if (await isFocused(locator).catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function tabTo(page, locator, {backwards = false, max = 80} = {}) {
  await locator.waitFor();
  for (let i = 0; i <= max; i += 1) {
    if (await isFocused(locator)) {
      const outline = await locator.evaluate((element) => getComputedStyle(element).outlineStyle);
      check(outline !== 'none', `keyboard: the focused ${await describe(locator)} shows no focus outline`);
      return;
    }
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
  }
  fail(`keyboard: ${max} presses of ${backwards ? 'Shift+Tab' : 'Tab'} did not reach ${await describe(locator)}`);
}

async function describe(locator) {
  return locator.evaluate((element) => `<${element.tagName.toLowerCase()}> “${(element.getAttribute('aria-label') || element.textContent || element.name || '').trim().slice(0, 60)}”`)
    .catch(() => String(locator));
}

/** Tab a few times inside an open modal dialog: focus never leaves it for the page behind. */
async function assertFocusHeld(page, presses = 6) {
  for (let i = 0; i < presses; i += 1) {
    await page.keyboard.press(i % 2 ? 'Shift+Tab' : 'Tab');
    const where = await page.evaluate(() => {
      const dialog = document.querySelector('dialog[open]');
      const active = document.activeElement;
      if (!dialog) return 'no dialog';
      if (dialog.contains(active)) return 'inside';
      // Focus may pass through the browser's own UI (then activeElement is <body>), never the page.
      return active === document.body || active === null ? 'inside' : `on ${active.outerHTML.slice(0, 80)}`;
    });
    check(where === 'inside', `keyboard: focus left the open dialog (${where})`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  rmSync(out, {recursive: true, force: true});
  mkdirSync(out, {recursive: true});
  // First, so that the port scripts/console-test chose is taken as soon as possible.
  const idp = await startIdp({port: idpPort, clientId: 'console-test', redirectUri: `${base}/console`, accessToken: idpToken});
  const profile = mkdtempSync(join(tmpdir(), 'console-test-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1280, height: 860},
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  // A step that waits for something that never comes fails in seconds, not in 30.
  context.setDefaultTimeout(10_000);
  const started = Date.now();
  try {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: base});
    // Loopback only: anything else is aborted and fails the test.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopback(url) || url.startsWith('data:')) return route.continue();
      problems.push(`a request left 127.0.0.1: ${route.request().method()} ${url}`);
      return route.abort('blockedbyclient');
    });
    secrets.set('the token', token);
    secrets.set('the provider\'s token', idpToken);
    await mousePass(context);
    await keyboardPass(context);
    await signInPass(context, idp);
    await pagingPass(context);
    await step('nothing secret was logged or put in a request URL', async () => {
      for (const [label, secret] of secrets) {
        check(!consoleTexts.some((text) => text.includes(secret)), `${label} appeared in the browser console`);
        check(!requestUrls.some((url) => url.includes(secret)), `${label} appeared in a request URL`);
      }
    });
    await step('assets size', () => assetsSize());
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, {recursive: true, force: true});
    idp.close();
  }
  console.log(`console: ${axeSummary.length} axe runs, none serious or critical`);
  console.log(`console: flow took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function mousePass(context) {
  const page = context.pages()[0] || await context.newPage();
  watch(page, 'pass 1');
  const appName = 'Production Web Store';
  let firstKey;
  let secondKey;
  let firstPrefix;
  let secondPrefix;

  await step('open /console#token=…: the list shows and the token leaves the URL', async () => {
    const t0 = Date.now();
    await page.goto(`${base}/console#token=${token}`);
    await page.locator('#apps-count').waitFor({state: 'visible'});
    console.log(`console: applications list shown in ${Date.now() - t0} ms`);
    check(!page.url().includes('#'), `the fragment is still in the URL: ${page.url()}`);
    check(page.url() === `${base}/console`, `the URL is ${page.url()}`);
    await assertNowhere(page, 'the token', token);
    await axeCheck(page, 'applications (empty)');
  });

  await step('create an application', async () => {
    await page.getByLabel('Name', {exact: true}).fill(appName);
    await page.getByLabel('Description (optional)').fill('Primary e-commerce backend');
    await page.getByRole('button', {name: 'Create application'}).click();
    await page.getByRole('link', {name: appName, exact: true}).waitFor();
    await page.locator('#status', {hasText: `Application “${appName}” created.`}).waitFor();
    check(await page.getByLabel('Name', {exact: true}).inputValue() === '', 'the form was not reset');
    await assertNoAlert(page, 'create an application');
  });

  await step('the same name again: the 409 shows next to the name field', async () => {
    expectAnswer('POST', /^\/api\/v1\/applications$/, 409);
    const name = page.getByLabel('Name', {exact: true});
    await name.fill('production web store');
    await page.getByRole('button', {name: 'Create application'}).click();
    const message = page.locator('input[name="name"] + p.field-error');
    await message.waitFor();
    check(/already exists/.test(await message.textContent()), `the message next to the name is: ${await message.textContent()}`);
    check(await name.getAttribute('aria-invalid') === 'true', 'the name field is not marked invalid');
    const describedBy = (await name.getAttribute('aria-describedby')).split(' ');
    check(describedBy.includes(await message.getAttribute('id')), 'the message does not describe the name field');
    check(await isFocused(name), 'focus did not move to the name field');
    await assertNoAlert(page, 'a field problem');
    await axeCheck(page, 'applications (with a field error)');
    await screenshot(page, 'applications', {fullPage: true});
    await name.fill('');
  });

  await step('open the application', async () => {
    await page.getByRole('link', {name: appName, exact: true}).click();
    await page.getByRole('heading', {level: 1, name: appName}).waitFor();
    check(/^#\/applications\/[0-9a-f-]{36}$/.test(await page.evaluate(() => location.hash)), 'the application view has no route');
    await axeCheck(page, 'application (no keys)');
  });

  await step('create a key: revealed once, then gone from the page', async () => {
    await page.getByLabel('Description', {exact: true}).fill('Checkout server');
    await page.getByRole('button', {name: 'Create key'}).click();
    firstKey = await readRevealedKey(page);
    secrets.set('the first API key', firstKey);
    firstPrefix = firstKey.slice(0, 12);
    await axeCheck(page, 'reveal dialog');
    await screenshot(page, 'reveal-dialog', {mask: [page.locator('code.full-key')]});
    await openDialog(page).getByRole('button', {name: 'Copy the API key'}).click();
    await openDialog(page).getByText('Copied to the clipboard.').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === firstKey, 'the copy button did not put the key on the clipboard');
    await page.evaluate(() => navigator.clipboard.writeText(''));
    await openDialog(page).getByRole('button', {name: 'I have stored it, close'}).click();
    await dialogGone(page);
    check(await page.locator('dialog').count() === 0, 'a dialog is still in the DOM after closing');
    check(await focusedSoon(page.getByRole('button', {name: 'Create key'})), 'focus did not return to the Create key button');
    await keyRow(page, firstPrefix).waitFor();
    await assertNowhere(page, 'the API key', firstKey);
    await assertNoAlert(page, 'create a key');
  });

  await step('pay with the key (from Node): 200', async () => {
    await expectPay(firstKey, 200, 'the new key');
    await axeCheck(page, 'application (with keys)');
    await screenshot(page, 'application', {fullPage: true});
  });

  await step('roll the key with a 1-hour window: the new key is revealed once', async () => {
    await page.getByRole('button', {name: `Roll key ${firstPrefix}`}).click();
    const dialog = openDialog(page);
    const window = dialog.getByLabel('Old key keeps working for');
    await window.waitFor();
    const options = await window.locator('option').allTextContents();
    check(options.join('|') === 'Now: the old key stops at once|1 hour|24 hours|7 days', `the grace windows are ${options.join(', ')}`);
    await window.selectOption('3600');
    await axeCheck(page, 'roll dialog');
    await screenshot(page, 'roll-dialog');
    const rolled = page.waitForRequest((r) => r.url().endsWith('/roll') && r.method() === 'POST');
    await dialog.getByRole('button', {name: 'Roll key'}).click();
    const request = await rolled;
    check(request.postDataJSON().expiresInSeconds === 3600, `the roll sent ${request.postData()}`);
    check(/^[0-9a-f-]{36}$/.test(request.headers()['idempotency-key'] || ''), 'the roll sent no Idempotency-Key');
    secondKey = await readRevealedKey(page);
    secrets.set('the rolled API key', secondKey);
    secondPrefix = secondKey.slice(0, 12);
    check(secondKey !== firstKey, 'the roll revealed the old key');
    await openDialog(page).getByRole('button', {name: 'I have stored it, close'}).click();
    await dialogGone(page);
    await keyRow(page, secondPrefix).waitFor();
    await assertNowhere(page, 'the rolled API key', secondKey);
    await assertNowhere(page, 'the first API key', firstKey);
    await expectPay(secondKey, 200, 'the new key after the roll');
    await expectPay(firstKey, 200, 'the old key in its grace window');
    const expires = await keyRow(page, firstPrefix).locator('td').nth(4).locator('time').count();
    check(expires === 1, 'the old key shows no expiry after the roll');
  });

  await step('revoke the old key, with a confirmation', async () => {
    await page.getByRole('button', {name: `Revoke key ${firstPrefix}`}).click();
    const dialog = openDialog(page);
    await dialog.getByRole('button', {name: 'Revoke key'}).waitFor();
    check(await isFocused(dialog.getByRole('button', {name: 'Cancel'})), 'the confirmation does not start on Cancel');
    await axeCheck(page, 'confirm dialog');
    await screenshot(page, 'confirm-dialog');
    await dialog.getByRole('button', {name: 'Revoke key'}).click();
    await keyRow(page, firstPrefix).getByText('Revoked', {exact: true}).waitFor();
    await expectPay(firstKey, 403, 'the revoked key');
    await expectPay(secondKey, 200, 'the other key after the revocation');
  });

  await step('disable and enable the application', async () => {
    await page.getByRole('button', {name: 'Disable application'}).click();
    await openDialog(page).getByRole('button', {name: 'Disable application'}).click();
    await page.locator('.title-row .badge', {hasText: 'Disabled'}).waitFor();
    await expectPay(secondKey, 403, 'a key of the disabled application');
    await page.getByRole('button', {name: 'Enable application'}).click();
    await page.locator('.title-row .badge', {hasText: 'Enabled'}).waitFor();
    await expectPay(secondKey, 200, 'a key of the enabled application');
  });

  await step("edit a key's permissions", async () => {
    const open = async () => {
      await page.getByRole('button', {name: `Permissions of key ${secondPrefix}`}).click();
      await openDialog(page).getByRole('button', {name: 'Save permissions'}).waitFor();
      return openDialog(page);
    };
    // Restricted to nothing: the API's 400 shows next to the permissions.
    let dialog = await open();
    await dialog.getByLabel('Restricted to the resources below').check();
    expectAnswer('PATCH', /\/api-keys\/[0-9a-f-]{36}$/, 400);
    await dialog.getByRole('button', {name: 'Save permissions'}).click();
    await dialog.locator('fieldset.permissions .field-error').waitFor();
    await assertNoAlert(page, 'a permissions problem');
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    await dialogGone(page);
    // Read on charges only.
    dialog = await open();
    await dialog.getByLabel('Restricted to the resources below').check();
    await dialog.getByLabel('charges').selectOption('read');
    await axeCheck(page, 'permissions dialog');
    await screenshot(page, 'permissions-dialog');
    await dialog.getByRole('button', {name: 'Save permissions'}).click();
    await dialogGone(page);
    await keyRow(page, secondPrefix).getByText('charges:read', {exact: true}).waitFor();
    await expectPay(secondKey, 200, 'a charges:read key reading charges', {method: 'GET'});
    await expectPay(secondKey, 403, 'a charges:read key creating a charge');
  });

  await step('the audit events', async () => {
    await page.getByRole('link', {name: 'Audit events'}).click();
    await page.getByRole('heading', {level: 1, name: `Audit events: ${appName}`}).waitFor();
    const types = await page.locator('tr[data-event-type]').evaluateAll((rows) => rows.map((row) => row.dataset.eventType));
    for (const type of ['application.created', 'api_key.created', 'api_key.rolled', 'api_key.revoked',
      'application.disabled', 'application.enabled', 'api_key.updated']) {
      check(types.includes(type), `the audit events lack ${type}: ${types.join(', ')}`);
    }
    await axeCheck(page, 'events');
    await screenshot(page, 'events', {fullPage: true});
  });

  const hostile = '<img src=x onerror=alert(1)>';
  await step('an application named like markup shows as text', async () => {
    await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Applications'}).click();
    await page.locator('#apps-count').waitFor();
    await page.getByLabel('Name', {exact: true}).fill(hostile);
    await page.getByRole('button', {name: 'Create application'}).click();
    await page.locator('#status', {hasText: `Application “${hostile}” created.`}).waitFor();
    await page.waitForTimeout(300); // time for an image error handler to run, if one had been made
    const listed = await page.locator('img').evaluateAll((imgs) => imgs.map((img) => img.getAttribute('src')));
    check(listed.length === 1 && listed[0].endsWith('/icon.svg'), `the name became markup in the list: img elements ${listed.join(', ')}`);
    const link = page.getByRole('link', {name: hostile, exact: true});
    await link.waitFor();
    check(await link.textContent() === hostile, 'the name does not show as its characters');
    await link.click();
    await page.getByRole('heading', {level: 1, name: hostile}).waitFor();
    await page.waitForTimeout(300); // time for an image error handler to run, if one had been made
    const images = await page.locator('img').evaluateAll((imgs) => imgs.map((img) => img.getAttribute('src')));
    check(images.length === 1 && images[0].endsWith('/icon.svg'), `img elements in the page: ${images.join(', ')}`);
  });

  await step('CSP: an injected inline script does not run and is reported', async () => {
    expectedConsole.push(/Content Security Policy/);
    const result = await page.evaluate(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (event) => violations.push(event.effectiveDirective));
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.append(script);
      // The report is queued as a task: wait for it (or give up after 5 s).
      for (let waited = 0; !violations.length && waited < 5000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      script.remove();
      return {ran: window.__inlineRan === true, violations};
    });
    check(!result.ran, 'the inline script ran');
    check(result.violations.some((d) => d.startsWith('script-src')), `no securitypolicyviolation for script-src (got ${result.violations.join(', ') || 'none'})`);
  });

  await step('CSP: a fetch or an image to another origin is refused and reported', async () => {
    // Another origin on loopback, which the test's network rule lets through: only the page's
    // policy stands between the page and this server, which counts what reaches it.
    const reached = [];
    const sink = createServer((request, response) => {
      reached.push(`${request.method} ${request.url}`);
      response.writeHead(200, {'content-type': 'image/svg+xml', 'access-control-allow-origin': '*'});
      response.end('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
    });
    await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const elsewhere = `http://127.0.0.1:${sink.address().port}`;
    expectedConsole.push(
      /Content Security Policy directive: "connect-src/,
      /^Fetch API cannot load .* Refused to connect because it violates the document's Content Security Policy/,
      /Content Security Policy directive: "img-src/);
    expectedBlocked.add(`${elsewhere}/console/assets/icon.svg`);
    let result;
    try {
      result = await page.evaluate(async (target) => {
        const violations = [];
        document.addEventListener('securitypolicyviolation', (event) => violations.push(event.effectiveDirective));
        const fetched = await fetch(`${target}/exfiltrate`, {method: 'POST', mode: 'no-cors', body: 'x'})
          .then(() => 'sent', () => 'refused');
        const image = await new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve('loaded');
          img.onerror = () => resolve('refused');
          img.src = `${target}/console/assets/icon.svg`;
        });
        for (let waited = 0; violations.length < 2 && waited < 5000; waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return {fetched, image, violations};
      }, elsewhere);
    } finally {
      sink.close();
    }
    check(reached.length === 0, `the other origin was reached: ${reached.join(', ')}`);
    check(result.fetched === 'refused', 'a fetch to another origin was sent');
    check(result.image === 'refused', 'an image from another origin loaded');
    check(result.violations.includes('connect-src') && result.violations.includes('img-src'),
      `no securitypolicyviolation for connect-src and img-src (got ${result.violations.join(', ') || 'none'})`);
  });

  await step('an address with no page shows "Not found" and calls nothing', async () => {
    for (const hash of ['#/applications/not-an-id', '#/applications/%E0%A4%A', '#/applications/%E0%A4%A/events', '#/keys']) {
      await page.evaluate(() => {
        location.hash = '#/applications';
      });
      await page.locator('#apps-count').waitFor();
      const before = requestUrls.length;
      await page.evaluate((target) => {
        location.hash = target;
      }, hash);
      await page.getByRole('heading', {level: 1, name: 'Not found'}).waitFor();
      check((await page.title()).startsWith('Not found'), `${hash}: the title is ${await page.title()}`);
      const called = requestUrls.slice(before).filter((url) => url.includes('/api/'));
      check(called.length === 0, `${hash} called ${called.join(', ')}`);
    }
    await page.getByRole('link', {name: 'Back to your applications'}).click();
    await page.locator('#apps-count').waitFor();
    // A fragment that is not a route (the skip link's target) is not a page of its own.
    await page.evaluate(() => {
      location.hash = '#/keys';
    });
    await page.getByRole('heading', {level: 1, name: 'Not found'}).waitFor();
    await page.evaluate(() => {
      location.hash = '#main';
    });
    await page.locator('#apps-count').waitFor();
    check(await page.getByRole('heading', {level: 1, name: 'Not found'}).count() === 0, '#main shows Not found');
  });

  await step('sign out: the sign-in view, and the token forgotten', async () => {
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
    await page.getByRole('button', {name: 'Sign in'}).waitFor();
    await assertNowhere(page, 'the token', token);
    await page.evaluate(() => {
      location.hash = '#/applications';
    });
    await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
    await axeCheck(page, 'sign-in');
    await screenshot(page, 'sign-in');
  });

  await step('an authorization response leaves the address bar before the settings load', async () => {
    const settings = await holdRequests(page, '**/console/config.json');
    await page.goto(`${base}/console?code=a-code&state=a-state`, {waitUntil: 'domcontentloaded'});
    await page.waitForFunction(() => location.search === '' && location.pathname === '/console');
    settings.release();
    // No sign-in was started from this page, so the response is refused.
    await page.locator('#alert', {hasText: 'Sign-in failed'}).waitFor();
    await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
    await settings.stop();
  });
  await page.close();
}

/** The deployed way in: the identity provider's sign-in, authorization code with PKCE. */
async function signInPass(context, idp) {
  const page = await context.newPage();
  watch(page, 'sign-in pass');
  const signIn = async () => {
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.locator('#apps-count, #alert .alert-box').first().waitFor();
    check(idp.seen.refusals.length === 0, `the provider refused: ${idp.seen.refusals.join(', ')}`);
    await assertNoAlert(page, 'the sign-in');
  };
  const leftNothing = async () => {
    const address = new URL(page.url());
    check(address.pathname === '/console' && address.search === '', `the address after sign-in is ${page.url()}`);
    const stored = await page.evaluate(() => sessionStorage.length + localStorage.length);
    check(stored === 0, `${stored} items left in the page's storage after sign-in`);
    await assertNowhere(page, 'the provider\'s token', idpToken);
  };
  try {
    await step('sign in at the identity provider: authorization code with PKCE (S256)', async () => {
      await page.goto(`${base}/console`);
      const settings = await (await fetch(`${base}/console/config.json`)).json();
      check(settings.issuer === idp.issuer, `the console's issuer is ${settings.issuer}, not the test's provider`);
      await signIn();
      check(idp.seen.authorizations.length === 1 && idp.seen.exchanges === 1,
        `${idp.seen.authorizations.length} authorizations and ${idp.seen.exchanges} code exchanges, expected one each`);
      const scopes = idp.seen.authorizations[0].scope.split(' ');
      check(['applications:read', 'applications:write'].every((s) => scopes.includes(s)), `the sign-in asked for the scopes ${scopes.join(' ')}`);
      await leftNothing();
    });

    await step('reloading signs out; a second sign-in uses a new challenge and state', async () => {
      await page.reload();
      await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
      check(idp.seen.exchanges === 1, `the code was exchanged ${idp.seen.exchanges} times`);
      await axeCheck(page, 'sign-in (provider)');
      await signIn();
      const [first, second] = idp.seen.authorizations;
      check(idp.seen.exchanges === 2 && second, 'the second sign-in made no exchange');
      check(first.code_challenge !== second.code_challenge, 'both sign-ins sent the same code challenge');
      check(first.state !== second.state, 'both sign-ins sent the same state');
      await leftNothing();
    });

    await step('an authorization response with another state is refused, and its code not exchanged', async () => {
      await page.getByRole('button', {name: 'Sign out'}).click();
      await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
      idp.control.tamperState = true;
      await page.getByRole('button', {name: 'Sign in'}).click();
      await page.locator('#alert', {hasText: 'Sign-in failed'}).waitFor();
      await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
      check(idp.seen.exchanges === 2, `a code that came back with another state was exchanged (${idp.seen.exchanges} exchanges)`);
      const stored = await page.evaluate(() => sessionStorage.length + localStorage.length);
      check(stored === 0, 'the refused sign-in left something in the page\'s storage');
      check(new URL(page.url()).search === '', `the refused response stayed in the address: ${page.url()}`);
    });

    await step('a sign-in cancelled at the identity provider says why, and leaves nothing behind', async () => {
      for (const [description, shown] of [
        ['The user cancelled the sign-in.', 'did not sign you in: The user cancelled the sign-in (access_denied)'],
        [null, 'did not sign you in: the sign-in was cancelled or refused (access_denied)'],
      ]) {
        await page.getByRole('button', {name: 'Dismiss'}).click();
        idp.control.deny = {description};
        await page.getByRole('button', {name: 'Sign in'}).click();
        await page.locator('#alert', {hasText: shown}).waitFor();
        await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
      }
      const stored = await page.evaluate(() => sessionStorage.length + localStorage.length);
      check(stored === 0, 'the cancelled sign-in left something in the page\'s storage');
      check(new URL(page.url()).search === '', `the error response stayed in the address: ${page.url()}`);
    });

    await step('an authorization response no sign-in here started is refused unread, and its code not exchanged', async () => {
      const authorizations = idp.seen.authorizations.length;
      for (const planted of ['code=planted-code&state=planted-state', 'error=access_denied&error_description=Call+0800+000+000&state=planted-state']) {
        await page.goto(`${base}/console?${planted}`);
        await page.locator('#alert', {hasText: 'did not match a sign-in started here'}).waitFor();
        await page.getByRole('heading', {level: 1, name: 'Sign in'}).waitFor();
        check(!(await page.locator('body').textContent()).includes('0800'), `the planted response's text was shown (${planted})`);
        check(new URL(page.url()).search === '', `the planted response stayed in the address: ${page.url()}`);
      }
      check(idp.seen.exchanges === 2, `a planted code was exchanged (${idp.seen.exchanges} exchanges)`);
      check(idp.seen.authorizations.length === authorizations, 'a planted response started a sign-in');
    });
  } finally {
    await page.close();
  }
}

async function keyboardPass(context) {
  const page = await context.newPage();
  watch(page, 'keyboard pass');
  const appName = 'Keyboard Store';
  await step('keyboard: open the console', async () => {
    await page.goto(`${base}/console#token=${token}`);
    await page.locator('#apps-count').waitFor();
    await page.evaluate(() => {
      window.__pointer = 0;
      for (const type of ['pointerdown', 'mousedown', 'click']) {
        window.addEventListener(type, (event) => {
          // A click that a key press makes has detail 0; a pointer's has 1 or more.
          if (event.type !== 'click' || event.detail > 0) window.__pointer += 1;
        }, true);
      }
    });
  });

  await step('keyboard: create an application', async () => {
    const name = page.getByLabel('Name', {exact: true});
    await tabTo(page, name);
    await page.keyboard.type(appName);
    await page.keyboard.press('Enter');
    await page.getByRole('link', {name: appName, exact: true}).waitFor();
  });

  await step('keyboard: open it', async () => {
    await tabTo(page, page.getByRole('link', {name: appName, exact: true}));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', {level: 1, name: appName}).waitFor();
  });

  let key;
  await step('keyboard: create a key and close the reveal dialog with Escape', async () => {
    await tabTo(page, page.getByLabel('Description', {exact: true}));
    await page.keyboard.type('Keyboard key');
    await tabTo(page, page.getByRole('button', {name: 'Create key'}));
    await page.keyboard.press('Enter');
    key = await readRevealedKey(page);
    secrets.set('the keyboard pass API key', key);
    const dialog = openDialog(page);
    check(await isFocused(dialog.getByRole('button', {name: 'Copy the API key'})), 'the reveal dialog does not start on Copy');
    await assertFocusHeld(page);
    await tabTo(page, dialog.getByRole('button', {name: 'I have stored it, close'}));
    await tabTo(page, dialog.getByRole('button', {name: 'Copy the API key'}), {backwards: true});
    await page.keyboard.press('Escape');
    await dialogGone(page);
    check(await focusedSoon(page.getByRole('button', {name: 'Create key'})), 'focus did not return to Create key');
    await keyRow(page, key.slice(0, 12)).waitFor();
    await assertNowhere(page, 'the keyboard pass API key', key);
    await expectPay(key, 200, 'the key made with the keyboard');
  });

  let rolledKey;
  await step('keyboard: roll the key, choosing the window with the arrow keys', async () => {
    const roll = page.getByRole('button', {name: `Roll key ${key.slice(0, 12)}`});
    await tabTo(page, roll);
    await page.keyboard.press('Enter');
    const dialog = openDialog(page);
    const grace = dialog.getByLabel('Old key keeps working for');
    await tabTo(page, grace);
    await page.keyboard.press('ArrowDown');
    check(await grace.inputValue() === '86400', `the arrow key chose ${await grace.inputValue()}, not 24 hours`);
    await tabTo(page, dialog.getByRole('button', {name: 'Roll key'}));
    const rolled = page.waitForRequest((r) => r.url().endsWith('/roll') && r.method() === 'POST');
    await page.keyboard.press('Enter');
    check((await rolled).postDataJSON().expiresInSeconds === 86400, 'the keyboard roll sent another window');
    rolledKey = await readRevealedKey(page);
    secrets.set('the keyboard pass rolled key', rolledKey);
    await page.keyboard.press('Escape');
    await dialogGone(page);
    check(await focusedSoon(roll), 'focus did not return to the Roll button');
    await keyRow(page, rolledKey.slice(0, 12)).waitFor();
    await assertNowhere(page, 'the keyboard pass rolled key', rolledKey);
    await expectPay(rolledKey, 200, 'the key rolled with the keyboard');
    await expectPay(key, 200, 'the old key in its 24-hour window');
  });

  await step('keyboard: revoke with the confirmation (Escape cancels, Space confirms)', async () => {
    const revoke = page.getByRole('button', {name: `Revoke key ${key.slice(0, 12)}`});
    await tabTo(page, revoke);
    await page.keyboard.press('Enter');
    const dialog = openDialog(page);
    await dialog.getByRole('button', {name: 'Revoke key'}).waitFor();
    await assertFocusHeld(page);
    await page.keyboard.press('Escape');
    await dialogGone(page);
    check(await focusedSoon(revoke), 'focus did not return to the Revoke button');
    await expectPay(key, 200, 'the key after a cancelled revocation');
    await page.keyboard.press('Enter');
    await dialog.getByRole('button', {name: 'Revoke key'}).waitFor();
    await tabTo(page, dialog.getByRole('button', {name: 'Revoke key'}));
    await page.keyboard.press('Space');
    await keyRow(page, key.slice(0, 12)).getByText('Revoked', {exact: true}).waitFor();
    const focusedInMain = await page.evaluate(() => document.querySelector('main').contains(document.activeElement));
    check(focusedInMain, 'focus was lost after the revocation');
    await expectPay(key, 403, 'the key revoked with the keyboard');
  });

  await step('keyboard: disable (confirmed with Enter) and enable the application', async () => {
    await tabTo(page, page.getByRole('button', {name: 'Disable application'}));
    await page.keyboard.press('Enter');
    const dialog = openDialog(page);
    await tabTo(page, dialog.getByRole('button', {name: 'Disable application'}));
    await page.keyboard.press('Enter');
    await page.locator('.title-row .badge', {hasText: 'Disabled'}).waitFor();
    await expectPay(rolledKey, 403, 'a key of the application disabled with the keyboard');
    await tabTo(page, page.getByRole('button', {name: 'Enable application'}));
    await page.keyboard.press('Enter');
    await page.locator('.title-row .badge', {hasText: 'Enabled'}).waitFor();
    await expectPay(rolledKey, 200, 'a key of the application enabled with the keyboard');
  });

  await step('keyboard: the audit events, and back by the breadcrumb', async () => {
    await tabTo(page, page.getByRole('link', {name: 'Audit events'}));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', {level: 1, name: `Audit events: ${appName}`}).waitFor();
    const types = await page.locator('tr[data-event-type]').evaluateAll((rows) => rows.map((row) => row.dataset.eventType));
    for (const type of ['application.created', 'api_key.created', 'api_key.rolled', 'api_key.revoked',
      'application.disabled', 'application.enabled']) {
      check(types.includes(type), `the keyboard pass's audit events lack ${type}: ${types.join(', ')}`);
    }
    await tabTo(page, page.getByRole('navigation', {name: 'Breadcrumb'}).getByRole('link', {name: appName, exact: true}));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', {level: 1, name: appName, exact: true}).waitFor();
    check(await page.evaluate(() => window.__pointer) === 0, 'the keyboard pass used the mouse');
  });

  let rolledFrom;
  await step('a roll in flight when its dialog closes still reveals the new key', async () => {
    await page.getByLabel('Description', {exact: true}).fill('Rolled in flight');
    await page.getByRole('button', {name: 'Create key'}).click();
    rolledFrom = await readRevealedKey(page);
    secrets.set('the in-flight roll old key', rolledFrom);
    await openDialog(page).getByRole('button', {name: 'I have stored it, close'}).click();
    await dialogGone(page);
    // The roll's request is held until the dialog has been told to close.
    const roll = await holdRequests(page, '**/roll');
    await page.getByRole('button', {name: `Roll key ${rolledFrom.slice(0, 12)}`}).click();
    const dialog = openDialog(page);
    await dialog.getByRole('button', {name: 'Roll key'}).click();
    await roll.arrived;
    check(await dialog.getByRole('button', {name: 'Cancel'}).isDisabled(), 'Cancel works while the roll is in flight');
    await page.keyboard.press('Escape');
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))));
    check(await openDialog(page).count() === 1, 'Escape closed the dialog while the roll was in flight');
    // A close the page cannot refuse: the answer that comes after it must still be shown.
    await page.evaluate(() => document.querySelector('dialog[open]').close('forced'));
    await dialogGone(page);
    // The page says the answer is still coming.
    await page.locator('#status', {hasText: `Rolling key ${rolledFrom.slice(0, 12)}`}).waitFor();
    roll.release();
    const rolledTo = await readRevealedKey(page);
    secrets.set('the in-flight roll new key', rolledTo);
    check(rolledTo !== rolledFrom, 'the in-flight roll revealed the old key');
    await openDialog(page).getByRole('button', {name: 'I have stored it, close'}).click();
    await dialogGone(page);
    await roll.stop();
    await expectPay(rolledTo, 200, 'the key of a roll whose dialog closed in flight');
  });

  await step('a refusal about no field shows inside the dialog: a second roll of one key', async () => {
    await page.getByRole('button', {name: `Roll key ${rolledFrom.slice(0, 12)}`}).click();
    const dialog = openDialog(page);
    expectAnswer('POST', /\/roll$/, 400);
    await dialog.getByRole('button', {name: 'Roll key'}).click();
    await dialog.locator('[role="alert"]', {hasText: /rolled/i}).waitFor();
    await assertNoAlert(page, 'a refused roll');
    await axeCheck(page, 'refused roll dialog');
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    await dialogGone(page);
    await expectPay(rolledFrom, 200, 'the old key in its grace window after a refused second roll');
  });

  // The refusal comes after the forced close; the page's "answer is coming" status goes with it,
  // whether it was already shown or, frames held, still waiting for its animation frame.
  const refusedAfterClose = async ({holdFrames}) => {
    const roll = await holdRequests(page, '**/roll');
    try {
      await page.getByRole('button', {name: `Roll key ${rolledFrom.slice(0, 12)}`}).click();
      expectAnswer('POST', /\/roll$/, 400);
      await openDialog(page).getByRole('button', {name: 'Roll key'}).click();
      await roll.arrived;
      if (holdFrames) {
        await page.evaluate(() => {
          window.__frames = new Map();
          window.__requested = 0;
          window.__realFrame = [window.requestAnimationFrame, window.cancelAnimationFrame];
          let next = 0;
          window.requestAnimationFrame = (callback) => {
            window.__requested += 1;
            next += 1;
            window.__frames.set(next, callback);
            return next;
          };
          window.cancelAnimationFrame = (id) => window.__frames.delete(id);
        });
      }
      await page.evaluate(() => document.querySelector('dialog[open]').close('forced'));
      await dialogGone(page);
      if (!holdFrames) await page.locator('#status', {hasText: 'Rolling key'}).waitFor();
      roll.release();
      await page.locator('#alert', {hasText: /rolled/i}).waitFor();
      if (holdFrames) {
        const frames = await page.evaluate(() => {
          [window.requestAnimationFrame, window.cancelAnimationFrame] = window.__realFrame;
          const callbacks = [...window.__frames.values()];
          for (const callback of callbacks) callback(performance.now());
          return {requested: window.__requested, drawn: callbacks.length};
        });
        check(frames.requested >= 1, 'the page asked for no animation frame: nothing was held');
        console.log(`console: ${frames.requested} animation frame(s) held, ${frames.drawn} still drawn after the refusal`);
      }
      const status = (await page.locator('#status').textContent()).trim();
      check(status === '', `the page still says: ${status}`);
    } finally {
      await roll.stop();
      if (holdFrames) {
        await page.evaluate(() => {
          if (window.__realFrame) [window.requestAnimationFrame, window.cancelAnimationFrame] = window.__realFrame;
        }).catch(() => {});
      }
    }
  };
  await step('a refusal that comes after its dialog was closed shows in the page, and the promise goes', async () => {
    await refusedAfterClose({holdFrames: false});
  });
  await step('... also when the refusal comes before the promise is drawn (animation frames held)', async () => {
    await refusedAfterClose({holdFrames: true});
  });
  await page.close();
}

/** The list a page at a time: eleven applications more than fit on one page of ten. */
async function pagingPass(context) {
  const page = await context.newPage();
  watch(page, 'paging pass');
  await step('paging: Next and Previous go through the applications, newest first', async () => {
    const headers = {Authorization: `Bearer ${token}`, 'content-type': 'application/json'};
    for (let i = 1; i <= 11; i += 1) {
      const response = await fetch(`${base}/api/v1/applications`, {
        method: 'POST', headers, body: JSON.stringify({name: `Paging ${String(i).padStart(2, '0')}`}),
      });
      await response.arrayBuffer();
      check(response.status === 201, `creating an application for the paging step answered ${response.status}`);
    }
    const listed = await fetch(`${base}/api/v1/applications?limit=1`, {headers});
    const pages = Math.ceil((await listed.json()).totalItems / 10);
    check(pages >= 2, `the merchant's applications fit on ${pages} page`);
    const pager = page.getByRole('navigation', {name: 'Pages of applications'});
    const app = (name) => page.getByRole('link', {name, exact: true});

    await page.goto(`${base}/console#token=${token}`);
    await pager.getByText(`Page 1 of ${pages}`).waitFor();
    await app('Paging 11').waitFor();
    check(await app('Paging 01').count() === 0, 'the eleventh newest application is on the first page');
    check(await pager.getByRole('link', {name: 'Previous page'}).count() === 0, 'the first page offers a previous page');

    await pager.getByRole('link', {name: 'Next page'}).click();
    await pager.getByText(`Page 2 of ${pages}`).waitFor();
    await app('Paging 01').waitFor();
    check(await app('Paging 11').count() === 0, 'the newest application is on the second page too');
    check(page.url() === `${base}/console#/applications?page=2`, `the second page's address is ${page.url()}`);
    await axeCheck(page, 'applications (second page)');

    await pager.getByRole('link', {name: 'Previous page'}).click();
    await pager.getByText(`Page 1 of ${pages}`).waitFor();
    await app('Paging 11').waitFor();

    await page.goto(`${base}/console#/applications?page=${pages}`);
    await pager.getByText(`Page ${pages} of ${pages}`).waitFor();
    check(await pager.getByRole('link', {name: 'Next page'}).count() === 0, 'the last page offers a next page');

    await page.goto(`${base}/console#/applications?page=${pages + 5}`);
    await page.getByText('No applications on this page.').waitFor();
    await pager.getByText(`Page ${pages + 5} of ${pages}`).waitFor();
    await pager.getByRole('link', {name: 'Previous page'}).waitFor();
    check(await pager.getByRole('link', {name: 'Next page'}).count() === 0, 'a page past the end offers a next page');
  });
  await page.close();
}

async function assetsSize() {
  check(assetUrls.size > 0, 'the page loaded no assets');
  let loaded = 0;
  for (const url of assetUrls) {
    const response = await fetch(url);
    check(response.ok, `${url} answered ${response.status}`);
    loaded += gzipSync(Buffer.from(await response.arrayBuffer()), {level: 9}).length;
  }
  // Every asset, loaded or not (the OAuth library loads only for a real sign-in).
  const hashed = new URL([...assetUrls][0]).pathname.split('/').slice(0, 4).join('/');
  const dir = join(root, 'console/assets');
  const files = [];
  const walk = (d) => readdirSync(d).forEach((name) => (statSync(join(d, name)).isDirectory() ? walk(join(d, name)) : files.push(join(d, name))));
  walk(dir);
  let all = 0;
  for (const file of files) {
    const response = await fetch(`${base}${hashed}/${relative(dir, file)}`);
    check(response.ok, `asset ${relative(dir, file)} answered ${response.status}`);
    all += gzipSync(Buffer.from(await response.arrayBuffer()), {level: 9}).length;
  }
  console.log(`console: assets ${loaded} bytes gzipped (${assetUrls.size} files loaded; all ${files.length} assets ${all} bytes gzipped)`);
  check(all < 100 * 1024, `the assets weigh ${all} bytes gzipped, over the 100 KB budget`);
}

main().then(() => {
  console.log(`${passed} passed, 0 failed`);
}, (error) => {
  console.error(`\nconsole test FAILED: ${error instanceof Failure ? error.message : error.stack || error}`);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
});
