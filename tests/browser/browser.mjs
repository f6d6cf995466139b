// Drives headless chromium against a running profilegraph server, with no network but
// the server's own and the test's pages (every other request is refused and reported):
//
// 1. GraphiQL renders from the server's own assets, its headers tab holds the demo token,
//    and one click on run shows the demo's profile list; a screenshot is kept.
// 2. A subscription run from GraphiQL gets an event over the server's WebSocket.
// 3. A browser app on an allowed origin calls the API with a bearer token through CORS
//    and reads the exposed headers; one on another origin is blocked by the browser.
//
// Settings come from the environment (tests/api/browser.rs sets them):
//   PROFILEGRAPH_URL      the server, e.g. http://127.0.0.1:8080
//   PROFILEGRAPH_TOKEN    the demo token
//   PROFILEGRAPH_PROFILE  the global id of a profile to change (for the subscription)
//   SPA_ALLOWED_URL       a page on an origin in --cors-origins
//   SPA_BLOCKED_URL       a page on an origin that is not
//   CHROMIUM              the browser's executable
//   SCREENSHOT            where to keep the GraphiQL screenshot
// It prints one line per check and `browser: ok` at the end, or exits 1.

import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`error: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const server = new URL(env('PROFILEGRAPH_URL'));
const token = env('PROFILEGRAPH_TOKEN');
const profileId = env('PROFILEGRAPH_PROFILE');
const allowedPage = new URL(env('SPA_ALLOWED_URL'));
const blockedPage = new URL(env('SPA_BLOCKED_URL'));
const executablePath = env('CHROMIUM');
const screenshot = env('SCREENSHOT');
const WAIT = 20_000;

const ownHosts = new Set([server.host, allowedPage.host, blockedPage.host]);
const outside = [];

const args = [
  // No outside name resolves: anything the pages try elsewhere fails at once.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
];
// Chromium refuses to run as root with its sandbox (CI containers run as root).
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');

const browser = await chromium.launch({ executablePath, headless: true, args });
let failed = false;
// Prints what the GraphiQL page saw, when a check fails.
let diagnose = async () => {};
const check = (ok, what, detail) => {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failed = true;
};

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || ownHosts.has(url.host)) return route.continue();
    outside.push(url.toString());
    return route.abort();
  });

  // 1. GraphiQL, the profile list with the demo token.
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  page.on('response', async (response) => {
    if (response.status() >= 400) {
      const request = response.request();
      pageErrors.push(`${response.status()} for ${request.method()} ${request.url()} ${JSON.stringify(await request.allHeaders())} ${request.postData()}`);
    }
  });
  const sockets = [];
  const frames = [];
  page.on('websocket', (ws) => {
    sockets.push(ws.url());
    ws.on('framesent', (f) => frames.push(`> ${f.payload}`));
    ws.on('framereceived', (f) => frames.push(`< ${f.payload}`));
    ws.on('close', () => frames.push('closed'));
  });
  diagnose = async () => {
    console.log(`websocket frames:\n${frames.join('\n')}`);
    console.log(`result pane:\n${await page.locator('.result-window').innerText().catch(() => '-')}`);
    console.log(`page errors: ${pageErrors.join(' | ')}`);
    const failedShot = screenshot.replace(/\.png$/, '-failed.png');
    await page.screenshot({ path: failedShot }).catch(() => {});
    console.log(`screenshot of the failure: ${failedShot}`);
  };
  await page.goto(new URL('/graphql', server).toString(), { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-container', { timeout: WAIT });
  const headersTab = await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').evaluate(
    (el) => el.CodeMirror.getValue()
  );
  check(headersTab.includes(`Bearer ${token}`), 'the headers tab holds the demo token');
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.result-window');
  await result.getByText('Peter B.').first().waitFor({ timeout: WAIT });
  const shown = await result.innerText();
  check(shown.includes('"totalCount"') && shown.includes('Peter B.'), 'GraphiQL shows the profile list');
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);

  // 2. A subscription from GraphiQL, over the server's WebSocket.
  // Typed over the profile list as a person would: select all, type the new operation.
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText('subscription Live { workspaceEvents { kind profile { name } } }');
  // GraphiQL reads the operation's name from the editor shortly after a change.
  await page.waitForTimeout(500);
  await page.locator('.graphiql-execute-button').click();
  // The change goes in once the server has the subscription (it acknowledges nothing, so
  // give it a moment after the `subscribe` frame).
  const deadline = Date.now() + WAIT;
  while (!frames.some((f) => f.startsWith('> ') && f.includes('"subscribe"')) && Date.now() < deadline) {
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(300);
  const liveName = `Peter B. (live ${Date.now()})`;
  const change = await fetch(new URL('/graphql', server), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { profile { name } } }',
      variables: { input: { id: profileId, name: liveName } },
    }),
  });
  const changed = await change.json();
  check(!changed.errors, 'the profile changed over HTTP', JSON.stringify(changed.errors));
  await result.getByText('PROFILE_RENAMED').first().waitFor({ timeout: WAIT });
  check((await result.innerText()).includes(liveName), 'GraphiQL shows the event of the change');
  check(
    sockets.some((url) => url.startsWith(`ws://${server.host}/graphql`)),
    'the subscription ran over the server’s own WebSocket',
    sockets.join(', ')
  );
  check(pageErrors.length === 0, 'GraphiQL logged no errors', pageErrors.join(' | '));

  // 3. Browser apps across origins.
  const app = async (url) => {
    const spa = await context.newPage();
    const logged = [];
    spa.on('console', (msg) => logged.push(msg.text()));
    const target = new URL(url);
    target.hash = new URLSearchParams({ api: new URL('/graphql', server).toString(), token }).toString();
    await spa.goto(target.toString());
    const done = spa.locator('#result[data-done]');
    await done.waitFor({ timeout: WAIT });
    const outcome = JSON.parse(await done.innerText());
    await spa.close();
    return { outcome, logged };
  };
  const allowed = await app(allowedPage);
  check(
    allowed.outcome.ok && allowed.outcome.status === 200 && JSON.stringify(allowed.outcome.body).includes('Peter'),
    'an app on an allowed origin calls the API with its token',
    JSON.stringify(allowed.outcome)
  );
  check(
    Boolean(allowed.outcome.requestId) && allowed.outcome.rateLimitRemaining !== null,
    'it reads X-Request-Id and X-RateLimit-Remaining',
    JSON.stringify(allowed.outcome)
  );
  const blocked = await app(blockedPage);
  check(
    !blocked.outcome.ok && /Failed to fetch/.test(blocked.outcome.error || ''),
    'an app on another origin is blocked by the browser',
    JSON.stringify(blocked.outcome)
  );
  check(
    blocked.logged.some((line) => /CORS policy/.test(line)),
    'the browser says it was CORS',
    blocked.logged.join(' | ')
  );
  check(outside.length === 0, 'nothing was requested from any other host', outside.join(', '));
} catch (err) {
  console.log(`FAILED: ${err && err.stack ? err.stack : err}`);
  failed = true;
  await diagnose();
} finally {
  await browser.close();
}
if (failed) {
  console.log('browser: failed');
  process.exit(1);
}
console.log('browser: ok');
