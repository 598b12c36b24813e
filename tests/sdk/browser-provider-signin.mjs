// browser-provider-signin.mjs — a real-browser sign-in through an OpenID provider, with the REAL nhost SDK
// (@nhost/hasura-auth-js, its UMD build) on the client page.
//
// What it does:
//   a. serves a client page http://127.0.0.1:<APP_PORT>/app that loads the SDK and creates
//      new HasuraAuthClient({ url: HAUTH_URL, autoSignIn: true }); autoSignIn takes ?refreshToken= from the
//      page URL, exchanges it at POST HAUTH_URL/token and publishes the session in window.__result
//      (a ?error=&errorDescription= redirect is published in window.__landingError)
//   b. opens ${HAUTH_URL}/signin/provider/${PROVIDER}?redirectTo=<client page> in headless Chromium, fills the
//      provider's login form (LOGIN, PASSWORD) and clicks its consent button
//   c. waits until the browser is on the client page and the SDK holds a session
//   d. checks the session from Node: GET ${HAUTH_URL}/user with the access token -> 200, same id, the email
//   e. prints ONE JSON line on stdout:
//        {"ok":true,"userId":...,"email":...,"landedOn":...,"ms":...}            exit 0
//        {"ok":false,"error":...,"url":...,"pageText":...,"console":[...],...}   exit 1
//      ("landedOn" is the client page URL the browser arrived at, refreshToken value redacted.)
//      Human-readable diagnostics of a failure also go to stderr.
//
// Env:
//   HAUTH_URL     the service (required)
//   PROVIDER      provider name in /signin/provider/<PROVIDER> (required)
//   LOGIN         value for the provider's login field (required)
//   PASSWORD      value for the provider's password field (required)
//   EXPECT_EMAIL  email GET /user must show (default LOGIN)
//   APP_PORT      port of the client page on 127.0.0.1 (default 0 = a free one; set it when hauth must allow
//                 the redirectTo, e.g. AUTH_CLIENT_URL=http://127.0.0.1:<APP_PORT>)
//   TIMEOUT_MS    limit for the browser part (default 30000)
//   CHROMIUM_PATH (default /usr/bin/chromium)
//
// hauth needs CORS for the client page's origin (the SDK calls POST /token from the page).
//
// Usage: cd tests/sdk && HAUTH_URL=http://127.0.0.1:4000 PROVIDER=acme LOGIN=alice@example.com \
//          PASSWORD=secret node browser-provider-signin.mjs

import http from 'node:http'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'

const started = Date.now()
const HAUTH_URL = (process.env.HAUTH_URL || '').replace(/\/+$/, '')
const { PROVIDER = '', LOGIN = '', PASSWORD = '' } = process.env
for (const [name, value] of Object.entries({ HAUTH_URL, PROVIDER, LOGIN, PASSWORD })) {
  if (!value) {
    console.error(`${name} is not set (needs HAUTH_URL, PROVIDER, LOGIN, PASSWORD)`)
    process.exit(2)
  }
}
const EXPECT_EMAIL = process.env.EXPECT_EMAIL || LOGIN
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000)
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// ---------------------------------------------------------------- the client page

// The package ships a self-contained UMD build (global "@nhost/hasura-auth-js"); no bundling needed, except
// that it still reads process.env.NODE_ENV (bundled xstate), which throws in a browser: substitute it the
// way a bundler's `define` would.
const require = createRequire(import.meta.url)
const SDK_JS = readFileSync(
  path.join(path.dirname(require.resolve('@nhost/hasura-auth-js/package.json')), 'umd/hasura-auth-js.umd.js'), 'utf8')
  .replaceAll('process.env.NODE_ENV', '"production"')

const appPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>hauth test app</title><link rel="icon" href="data:,"></head>
<body>
<pre id="status">loading</pre>
<script>
  // Before the SDK strips ?refreshToken&type from the address bar.
  window.__landedOn = location.href
  window.__result = null
  window.__landingError = null
  window.__events = []
</script>
<script src="/sdk.js"></script>
<script>
  const status = document.getElementById('status')
  const params = new URLSearchParams(location.search)
  if (params.get('error') && !params.get('refreshToken')) {
    window.__landingError = { error: params.get('error'), errorDescription: params.get('errorDescription') }
    status.textContent = 'landing error: ' + JSON.stringify(window.__landingError)
  }
  const { HasuraAuthClient } = window['@nhost/hasura-auth-js']
  const auth = new HasuraAuthClient({ url: ${JSON.stringify(HAUTH_URL)}, autoSignIn: true })
  window.__auth = auth
  function publish(session) {
    if (window.__result || !session || !session.accessToken) return
    window.__result = {
      accessToken: session.accessToken,
      userId: session.user && session.user.id,
      email: session.user && session.user.email
    }
    status.textContent = 'signed in as ' + (session.user && session.user.email)
  }
  auth.onAuthStateChanged((event, session) => {
    window.__events.push(event)
    if (event === 'SIGNED_IN') publish(session)
  })
  const poll = setInterval(() => {
    publish(auth.getSession())
    if (window.__result) clearInterval(poll)
  }, 100)
</script>
</body></html>`

const app = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://x')
  if (pathname === '/app') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(appPage)
  } else if (pathname === '/sdk.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' })
    res.end(SDK_JS)
  } else {
    res.writeHead(404).end()
  }
})
app.listen(Number(process.env.APP_PORT || 0), '127.0.0.1')
await once(app, 'listening')
const APP_ORIGIN = `http://127.0.0.1:${app.address().port}`
const APP_URL = `${APP_ORIGIN}/app`
const startUrl = `${HAUTH_URL}/signin/provider/${encodeURIComponent(PROVIDER)}?redirectTo=${encodeURIComponent(APP_URL)}`

// ---------------------------------------------------------------- diagnostics and exit

const consoleMessages = []
const navigations = []
const httpErrors = []
let browserContext = null
let userDataDir = null
let page = null

const redact = (url) => String(url).replace(/([?&#]refreshToken=)[^&#]*/g, '$1REDACTED')
const limit = (list, n) => (list.length > n ? [...list.slice(0, 5), `… ${list.length - n} more …`, ...list.slice(-(n - 5))] : list)

async function cleanup() {
  try {
    if (browserContext) await browserContext.close()
  } catch {}
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
  app.close()
}

async function fail(error) {
  const report = { ok: false, error: String(error), ms: Date.now() - started, startUrl: redact(startUrl) }
  try {
    if (page) {
      report.url = redact(page.url())
      report.pageText = (await page.evaluate(() => document.body && document.body.innerText).catch(() => '') || '')
        .replace(/\s+/g, ' ').slice(0, 600)
      report.app = await page.evaluate(() => ({
        landedOn: window.__landedOn, events: window.__events, landingError: window.__landingError
      })).catch(() => undefined)
      if (report.app && report.app.landedOn) report.app.landedOn = redact(report.app.landedOn)
    }
  } catch {}
  report.navigations = limit(navigations.map(redact), 30)
  report.httpErrors = limit(httpErrors, 20)
  report.console = limit(consoleMessages, 30)
  console.log(JSON.stringify(report))
  console.error(`browser-provider-signin: FAILED: ${report.error}\n  at: ${report.url}\n  page: ${report.pageText}\n` +
    `  navigations:\n    ${report.navigations.join('\n    ')}\n  http errors:\n    ${report.httpErrors.join('\n    ')}\n` +
    `  console:\n    ${report.console.join('\n    ')}`)
  await cleanup()
  process.exit(1)
}

// A hung browser must not hang the test.
setTimeout(() => fail(`hard time limit (${TIMEOUT_MS + 15000} ms) exceeded`), TIMEOUT_MS + 15000).unref()

// ---------------------------------------------------------------- the browser

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
// A page that neither changes nor offers anything to fill/click for this long ends the run early.
const STALL_MS = Math.min(10000, TIMEOUT_MS)

async function visible(selector) {
  const el = await page.$(selector)
  return el && (await el.isVisible()) ? el : null
}

// Drives whatever page the browser is on until the client page has a session (or an error).
async function signIn() {
  const deadline = Date.now() + TIMEOUT_MS
  let loginSubmits = 0
  let consentClicks = 0
  let lastActionUrl = null
  let lastUrl = null
  let lastUrlSince = Date.now()
  await page.goto(startUrl, { waitUntil: 'domcontentloaded', timeout: TIMEOUT_MS })
  while (Date.now() < deadline) {
    const url = page.url()
    if (url !== lastUrl) {
      lastUrl = url
      lastUrlSince = Date.now()
    } else if (Date.now() - lastUrlSince > STALL_MS) {
      throw new Error(`stuck on ${redact(url)} for ${STALL_MS} ms (nothing to fill or click there)`)
    }
    try {
      if (url.startsWith(APP_URL)) {
        const state = await page.evaluate(() => ({ result: window.__result, landingError: window.__landingError }))
        if (state.result) return state.result
        if (state.landingError) throw new Error(`hauth redirected to the client page with an error: ${JSON.stringify(state.landingError)}`)
      } else if (!url.startsWith(HAUTH_URL) && url !== lastActionUrl) {
        const password = await visible('input[type=password]')
        if (password) {
          if (loginSubmits > 0) {
            const why = await page.$eval('#error, [role=alert], .error', (e) => e.innerText).catch(() => '')
            throw new Error(`the provider showed its login form again after a submit (wrong LOGIN/PASSWORD?) ${why}`)
          }
          const login = await visible('input[name=login], input[name=username], input[name=email], input[type=email]')
          if (!login) throw new Error('a password field but no login field (login/username/email) on the provider page')
          await login.fill(LOGIN)
          await password.fill(PASSWORD)
          loginSubmits++
          lastActionUrl = url
          await Promise.all([
            page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: 10000 }).catch(() => {}),
            password.press('Enter')
          ])
          continue
        }
        const consent = page.getByRole('button', { name: /continue|allow|accept|authori[sz]e|consent|yes/i })
        if ((await consent.count()) > 0 && (await consent.first().isVisible())) {
          if (consentClicks >= 3) throw new Error('the provider keeps asking for consent')
          consentClicks++
          lastActionUrl = url
          await Promise.all([
            page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: 10000 }).catch(() => {}),
            consent.first().click()
          ])
          continue
        }
      }
    } catch (e) {
      // A navigation in the middle of a query destroys the execution context; just look again.
      if (!/context was destroyed|navigat|Target closed|detached/i.test(String(e && e.message))) throw e
    }
    await sleep(150)
  }
  throw new Error(`no session on the client page within ${TIMEOUT_MS} ms ` +
    `(login submits: ${loginSubmits}, consent clicks: ${consentClicks})`)
}

let result
try {
  userDataDir = mkdtempSync(path.join(tmpdir(), 'hauth-chromium-'))
  browserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS
  })
  page = browserContext.pages()[0] || (await browserContext.newPage())
  page.on('console', (m) => consoleMessages.push(`[${m.type()}] ${m.text()}`.slice(0, 500)))
  page.on('pageerror', (e) => consoleMessages.push(`[pageerror] ${e.message}`.slice(0, 500)))
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations.push(f.url())
  })
  page.on('response', (r) => {
    if (r.status() >= 400) httpErrors.push(`${r.status()} ${r.request().method()} ${redact(r.url())}`)
  })
  page.on('requestfailed', (r) => httpErrors.push(`failed ${r.method()} ${redact(r.url())}: ${r.failure() && r.failure().errorText}`))
  result = await signIn()
} catch (e) {
  await fail((e && e.message) || e)
}

const landedOn = redact(await page.evaluate(() => window.__landedOn).catch(() => page.url()))
const browserMs = Date.now() - started
await cleanup()

// ---------------------------------------------------------------- independent check from Node

try {
  if (typeof result.accessToken !== 'string' || result.accessToken.split('.').length !== 3) {
    throw new Error(`the SDK session's accessToken is not a JWT: ${JSON.stringify(result.accessToken)}`)
  }
  const res = await fetch(`${HAUTH_URL}/user`, {
    headers: { Authorization: `Bearer ${result.accessToken}` },
    signal: AbortSignal.timeout(10000)
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`GET /user with the SDK's access token: ${res.status} ${text.slice(0, 300)}`)
  const user = JSON.parse(text)
  if (user.email !== EXPECT_EMAIL) throw new Error(`GET /user email is ${JSON.stringify(user.email)}, want ${EXPECT_EMAIL}`)
  if (user.id !== result.userId) throw new Error(`GET /user id ${user.id} != the SDK session's user id ${result.userId}`)
  console.log(JSON.stringify({ ok: true, userId: user.id, email: user.email, landedOn, ms: Date.now() - started, browserMs }))
  process.exit(0)
} catch (e) {
  page = null
  await fail((e && e.message) || e)
}
