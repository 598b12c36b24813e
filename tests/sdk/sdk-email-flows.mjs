// sdk-email-flows.mjs — black-box check of hauth's mail-link flows with the REAL nhost SDK
// (@nhost/hasura-auth-js, pinned in package.json) and a real SMTP sink (maildev).
//
// What it checks, in order (each step has its own time limit, because SDK promises can stay
// pending forever when a response has an unexpected shape; a step that needs an earlier
// step's result reports "not run: needs ..." instead of running):
//   1. signUp(email, password, redirectTo CLIENT_URL/welcome) -> no error, no session
//      (the SDK's state machine ends in registration "needsEmailVerification")
//   2. signIn(email, password) before verifying -> error "unverified-user"
//   3. the verification mail (X-Email-Template emailVerify): subject, X-Link in the HTML and
//      the text part, X-Ticket / X-Redirect-To match the link; following it like a browser
//      (GET -> self-submitting page, POST form -> 302 to CLIENT_URL/welcome?refreshToken=..&type=verifyEmail);
//      refreshSession(refreshToken) -> session with emailVerified true
//   4. replaying the POST -> 302 with error=invalid-ticket; GET of the used link -> 302 with error
//   5. a second account (second SDK client) + raw POST /user/email/send-verification-email:
//      GET of the new link twice (a mail scanner's prefetch) does not use the ticket; POST still works
//   6. signOut() + signIn(email, password) -> session
//   7. resetPassword -> passwordReset mail -> follow (type=passwordReset) -> refreshSession ->
//      changePassword -> the old password is refused (invalid-email-password), the new one works
//   8. resetPassword for an unknown address -> no error, same raw answer as for a known address,
//      and no mail for it
//   9. magic link: signIn({email}) for a new address -> signinPasswordless mail -> follow
//      (type=passwordlessEmail) -> refreshSession -> session for that address
//  10. anonymous signIn() -> claims is-anonymous "true", role anonymous; deanonymize(email-password)
//      -> the SDK drops its session; the verification mail -> follow -> refreshSession -> same user id,
//      no longer anonymous
//  11. createPAT -> {id, personalAccessToken}; a fresh client signInPAT(pat) -> same user;
//      raw POST /token with the PAT -> 401 invalid-refresh-token
//
// The server must already be running with: email verification required (sign-up gives no
// session), magic links and anonymous users enabled, SMTP pointed at maildev, CLIENT_URL as its
// client URL (so CLIENT_URL/... redirects are allowed), mail delivered within a few seconds.
//
// Usage:
//   cd tests/sdk && npm ci
//   HAUTH_URL=http://127.0.0.1:4000 MAILDEV_URL=http://127.0.0.1:1080 CLIENT_URL=http://localhost:3000 \
//     node sdk-email-flows.mjs
// MAILDEV_URL is maildev's web/REST base; messages are read from {MAILDEV_URL}/email (maildev 2.x)
// or, when that is not a JSON list, {MAILDEV_URL}/api/email (maildev 3.x). Nothing is deleted from it.
// Optional: STEP_TIMEOUT_MS (default 10000), MAIL_TIMEOUT_MS (how long to wait for a mail, default 15000),
// NO_MAIL_WAIT_MS (how long to wait before deciding no mail came, default 2000).
// Output: one "ok - <step>" / "not ok - <step>: <why>" line per step, then
// "N passed, M failed". Exit code 0 only if every step passed.

// In Node the package resolves to its CommonJS build; a named import works.
import { HasuraAuthClient } from '@nhost/hasura-auth-js'
import { randomUUID } from 'node:crypto'
import { CheckError, check, show, createHarness } from './harness.mjs'

const trimSlash = (s) => (s || '').replace(/\/+$/, '')
const HAUTH_URL = trimSlash(process.env.HAUTH_URL)
const MAILDEV_URL = trimSlash(process.env.MAILDEV_URL)
const CLIENT_URL = trimSlash(process.env.CLIENT_URL)
for (const [name, value, example] of [
  ['HAUTH_URL', HAUTH_URL, 'http://127.0.0.1:4000'],
  ['MAILDEV_URL', MAILDEV_URL, 'http://127.0.0.1:1080'],
  ['CLIENT_URL', CLIENT_URL, 'http://localhost:3000']
]) {
  if (!value) {
    console.error(`${name} is not set (e.g. ${name}=${example})`)
    process.exit(2)
  }
}
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS || 10000)
const MAIL_TIMEOUT_MS = Number(process.env.MAIL_TIMEOUT_MS || 15000)
const NO_MAIL_WAIT_MS = Number(process.env.NO_MAIL_WAIT_MS || 2000)

// ---------------------------------------------------------------- helpers

const { step, need, raw, finish } = createHarness({
  baseUrl: HAUTH_URL,
  stepTimeoutMs: STEP_TIMEOUT_MS,
  timeoutMessage: (ms, name) =>
    `timed out after ${ms} ms (${name}); an SDK promise never settled or a mail never came`,
  countStrayErrors: true,
  needRejectsFalse: true
})
// The time limit of a step that waits for one mail (step()'s third argument).
const MAIL_STEP_MS = STEP_TIMEOUT_MS + MAIL_TIMEOUT_MS

// An SDK client whose token storage is its own (by default every client in a Node
// process shares one module-level Map, and a second client would pick up and
// rotate the first one's refresh token at start-up).
function isolatedClient() {
  const store = new Map()
  return new HasuraAuthClient({
    url: HAUTH_URL,
    clientStorageType: 'custom',
    clientStorage: {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => void store.set(k, v),
      removeItem: (k) => void store.delete(k)
    }
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function decodeJwtPayload(token) {
  const part = String(token).split('.')[1]
  check(part, `not a JWT: ${show(token)}`)
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

// ---------------------------------------------------------------- maildev

let mailListUrl = null // found on first use: {MAILDEV_URL}/email (maildev 2) or /api/email (maildev 3)

async function listMails() {
  const urls = mailListUrl ? [mailListUrl] : [`${MAILDEV_URL}/email`, `${MAILDEV_URL}/api/email`]
  const problems = []
  for (const url of urls) {
    try {
      const res = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) })
      const text = await res.text()
      let list
      try {
        list = JSON.parse(text)
      } catch {
        list = undefined
      }
      if (res.ok && Array.isArray(list)) {
        mailListUrl = url
        return list
      }
      problems.push(`${url}: status ${res.status}, not a JSON list: ${text.slice(0, 80)}`)
    } catch (e) {
      problems.push(`${url}: ${e.message}${e.cause ? ` (${e.cause.message || e.cause})` : ''}`)
    }
  }
  throw new CheckError(`cannot read maildev's messages (${problems.join('; ')})`)
}

function header(mail, name) {
  const v = mail && mail.headers ? mail.headers[name.toLowerCase()] : undefined
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' ? s.trim() : s === undefined || s === null ? undefined : String(s)
}

function isTo(mail, address) {
  return Array.isArray(mail.to) &&
    mail.to.some((t) => t && typeof t.address === 'string' && t.address.toLowerCase() === address.toLowerCase())
}

const mailTime = (m) => Date.parse(m.time || m.date || '') || 0

// Polls maildev until a message to `to` whose X-Email-Template is `template` (and whose id is not in
// `exclude`) is there; returns the newest such message.
async function waitForMail(to, template, { exclude = new Set(), timeoutMs = MAIL_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeoutMs
  let lastProblem = null
  for (;;) {
    let list = null
    try {
      list = await listMails()
    } catch (e) {
      if (!mailListUrl) throw e // never reached maildev: a wrong MAILDEV_URL, no point in waiting
      lastProblem = e.message
    }
    if (list) {
      const found = list
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => isTo(m, to) && header(m, 'x-email-template') === template && !exclude.has(m.id))
        .sort((a, b) => mailTime(b.m) - mailTime(a.m) || b.i - a.i)
      if (found.length > 0) return found[0].m
      if (Date.now() >= deadline) {
        const forTo = list.filter((m) => isTo(m, to))
          .map((m) => `${show(header(m, 'x-email-template'))} ${show(m.subject)}`)
        throw new CheckError(`no ${template} mail to ${to} within ${timeoutMs} ms; mails to that address: ` +
          `${forTo.length ? forTo.join(', ') : 'none'}${lastProblem ? `; last maildev problem: ${lastProblem}` : ''}`)
      }
    } else if (Date.now() >= deadline) {
      throw new CheckError(`no ${template} mail to ${to} within ${timeoutMs} ms; maildev: ${lastProblem}`)
    }
    await sleep(200)
  }
}

// Checks a link mail against the wire contract and returns the link and its parts.
function checkLinkMail(mail, { template, ticketPrefix, redirectTo }) {
  check(typeof mail.subject === 'string' && mail.subject.trim().length > 0, `mail subject is ${show(mail.subject)}`)
  const link = header(mail, 'x-link')
  check(link, `mail has no X-Link header; headers: ${show(Object.keys(mail.headers || {}))}`)
  check(link.startsWith(`${HAUTH_URL}/verify?`), `X-Link ${show(link)} does not start with ${HAUTH_URL}/verify?`)
  const url = new URL(link)
  const ticket = url.searchParams.get('ticket')
  check(ticket && ticket.startsWith(`${ticketPrefix}:`) && ticket.length > ticketPrefix.length + 1,
    `link ticket is ${show(ticket)}, want "${ticketPrefix}:<secret>"`)
  check(url.searchParams.get('type') === template,
    `link type is ${show(url.searchParams.get('type'))}, want ${show(template)}`)
  const linkRedirect = url.searchParams.get('redirectTo')
  if (redirectTo !== undefined) {
    check(linkRedirect === redirectTo, `link redirectTo is ${show(linkRedirect)}, want ${show(redirectTo)}`)
  }
  check(header(mail, 'x-ticket') === ticket, `X-Ticket ${show(header(mail, 'x-ticket'))} != the link's ticket ${show(ticket)}`)
  check(header(mail, 'x-redirect-to') === linkRedirect,
    `X-Redirect-To ${show(header(mail, 'x-redirect-to'))} != the link's redirectTo ${show(linkRedirect)}`)
  const html = typeof mail.html === 'string' ? mail.html : ''
  // In HTML an attribute's "&" is properly "&amp;" (and maildev 3 re-serialises the HTML that way).
  check(html.includes(link) || html.includes(link.replaceAll('&', '&amp;')),
    `the HTML part does not contain the link ${link}: ${html.slice(0, 400)}`)
  const text = typeof mail.text === 'string' ? mail.text : ''
  check(text.includes(link), `the text part does not contain the link ${link}: ${show(text.slice(0, 400))}`)
  return { link, ticket, redirectTo: linkRedirect }
}

// Sleeps `ms`, then checks that no mail at all arrived for `to`.
async function checkNoMail(to, ms) {
  await sleep(ms)
  const list = await listMails()
  const got = list.filter((m) => isTo(m, to))
  check(got.length === 0,
    `${got.length} mail(s) arrived for ${to}: ${got.map((m) => `${show(header(m, 'x-email-template'))} ${show(m.subject)}`).join(', ')}`)
}

// ---------------------------------------------------------------- following links like a browser

function unescapeHtml(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function attributes(tag) {
  const attrs = {}
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/g)) {
    attrs[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return attrs
}

// GET the mailed link: must answer the confirmation page (not use the ticket). Returns the form.
async function openLink(link) {
  const res = await fetch(link, { redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  const body = await res.text()
  check(res.status === 200,
    `GET link: status ${res.status}, want 200 (Location ${show(res.headers.get('location'))}): ${body.slice(0, 200)}`)
  const ct = res.headers.get('content-type') || ''
  check(/^text\/html\b/i.test(ct), `GET link: Content-Type ${show(ct)}, want text/html`)
  const cc = res.headers.get('cache-control') || ''
  check(/\bno-store\b/i.test(cc), `GET link: Cache-Control ${show(cc)}, want no-store`)
  const formTag = (body.match(/<form\b[^>]*>/gi) || []).find((t) => attributes(t).id === 'verify')
  check(formTag, `GET link: no <form id="verify"> in the page: ${body.slice(0, 400)}`)
  const fa = attributes(formTag)
  check((fa.method || '').toLowerCase() === 'post', `GET link: form method is ${show(fa.method)}, want post`)
  const action = new URL(fa.action || '', link)
  const want = new URL(`${HAUTH_URL}/verify`)
  check(action.origin === want.origin && action.pathname === want.pathname,
    `GET link: form action ${show(fa.action)} resolves to ${action.href}, want ${want.href}`)
  const inputs = {}
  for (const t of body.match(/<input\b[^>]*>/gi) || []) {
    const a = attributes(t)
    if (a.name && (a.type || '').toLowerCase() === 'hidden') inputs[a.name] = a.value ?? ''
  }
  check(typeof inputs.ticket === 'string' && inputs.ticket.length > 0,
    `GET link: no hidden "ticket" input: ${show(inputs)}`)
  check('redirectTo' in inputs, `GET link: no hidden "redirectTo" input: ${show(inputs)}`)
  check(/<script\b[\s\S]*\.submit\(\)[\s\S]*<\/script>/i.test(body), 'GET link: the page has no script that submits the form')
  return { action: action.href, ticket: inputs.ticket, redirectTo: inputs.redirectTo }
}

// POST the confirmation form the way a browser does; returns the redirect's Location as a URL.
async function submitForm(form) {
  const params = new URLSearchParams({ ticket: form.ticket })
  if (form.redirectTo !== undefined) params.set('redirectTo', form.redirectTo)
  const res = await fetch(form.action, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS)
  })
  const body = await res.text()
  const location = res.headers.get('location')
  check(res.status === 302, `POST /verify: status ${res.status}, want 302 (Location ${show(location)}): ${body.slice(0, 200)}`)
  check(location, 'POST /verify: 302 without a Location')
  let url
  try {
    url = new URL(location)
  } catch {
    throw new CheckError(`POST /verify: Location ${show(location)} is not an absolute URL`)
  }
  return url
}

function checkTarget(url, redirectTo, what) {
  const want = new URL(redirectTo)
  // Same origin and path as redirectTo ("http://x" and "http://x/" are the same page).
  check(url.origin === want.origin && url.pathname === want.pathname,
    `${what}: Location ${url.href} does not go to ${redirectTo}`)
}

function checkSuccessLocation(url, { redirectTo, type }) {
  checkTarget(url, redirectTo, 'POST /verify')
  const p = url.searchParams
  check(!p.get('error'), `POST /verify: Location has error=${show(p.get('error'))} (${show(p.get('errorDescription'))})`)
  check(p.get('type') === type, `POST /verify: Location type is ${show(p.get('type'))}, want ${type}: ${url.href}`)
  const refreshToken = p.get('refreshToken')
  check(refreshToken && refreshToken.length > 0, `POST /verify: Location has no refreshToken: ${url.href}`)
  return refreshToken
}

function checkErrorLocation(url, { redirectTo, error, what }) {
  checkTarget(url, redirectTo, what)
  const p = url.searchParams
  check(!p.get('refreshToken'), `${what}: Location still carries a refreshToken: ${url.href}`)
  check(p.get('error') === error, `${what}: Location error is ${show(p.get('error'))}, want ${error}: ${url.href}`)
  check(p.get('errorDescription'), `${what}: Location has no errorDescription: ${url.href}`)
}

// Opens the link, submits the form, checks the success redirect; returns {refreshToken, form}.
async function followLink(link, { redirectTo, type }) {
  const form = await openLink(link)
  check(form.ticket === new URL(link).searchParams.get('ticket'), `the page's ticket ${show(form.ticket)} is not the link's`)
  const url = await submitForm(form)
  return { refreshToken: checkSuccessLocation(url, { redirectTo, type }), form }
}

// ---------------------------------------------------------------- state

const tag = () => randomUUID().slice(0, 12)
const email = `sdk-mail-${tag()}@example.com`
let password = 'correct-horse-battery-9'
const newPassword = 'new-horse-battery-10'
const welcome = `${CLIENT_URL}/welcome`

const auth = new HasuraAuthClient({ url: HAUTH_URL })
const probe = isolatedClient() // for the negative cases and the second account, so `auth` keeps its state

let signedUp = false
let userId = null
let verifyLink = null // the first verification link, used in step 3
let usedForm = null // its form, replayed in step 4

// ---------------------------------------------------------------- steps

await step('1. signUp with email verification required: no error, no session', async () => {
  const res = await auth.signUp({ email, password, options: { redirectTo: welcome } })
  // 2.12.0's signUp() only returns {session, error}: "needs email verification" is
  // {session: null, error: null}, and shows in the state machine's registration state.
  check(res.error === null, `unexpected error: ${show(res.error)}`)
  check(res.session === null, `got a session although email verification is required: ${show(res.session)}`)
  const state = auth.client.interpreter.getSnapshot()
  check(state.matches({ registration: { incomplete: 'needsEmailVerification' } }),
    `SDK registration state is ${show(state.value)}, want incomplete.needsEmailVerification`)
  check(!auth.isAuthenticated(), 'isAuthenticated() is true after a sign-up that needs verification')
  check(auth.getSession() === null, `getSession() is not null: ${show(auth.getSession())}`)
  signedUp = true
})

await step('2. signIn before verifying -> error unverified-user', async () => {
  need(signedUp, 'the signed-up user')
  const res = await probe.signIn({ email, password })
  check(res.session === null, `got a session for an unverified user: ${show(res.session)}`)
  check(res.error, 'no error for an unverified user')
  check(res.error.error === 'unverified-user', `error.error is ${show(res.error.error)}, want "unverified-user" (${show(res.error)})`)
  // The SDK swaps a 401 unverified-user for its own constant with status 20; another HTTP
  // status would have come through unchanged.
  check(res.error.status === 20,
    `error.status is ${show(res.error.status)}: the SDK did not recognise it (nhost answers 401 unverified-user)`)
})

await step('3. verification mail -> follow link -> refreshSession: email verified', async () => {
  need(signedUp, 'the signed-up user')
  const mail = await waitForMail(email, 'emailVerify')
  const { link } = checkLinkMail(mail, { template: 'emailVerify', ticketPrefix: 'verifyEmail', redirectTo: welcome })
  verifyLink = link
  const { refreshToken, form } = await followLink(link, { redirectTo: welcome, type: 'verifyEmail' })
  usedForm = form
  const res = await auth.refreshSession(refreshToken)
  check(res.error === null, `refreshSession error: ${show(res.error)}`)
  check(res.session && res.session.user, `refreshSession gave no session: ${show(res)}`)
  const u = res.session.user
  check(u.email === email, `session.user.email ${show(u.email)} != ${email}`)
  check(u.emailVerified === true, `session.user.emailVerified is ${show(u.emailVerified)}, want true`)
  check(auth.isAuthenticated(), 'isAuthenticated() is false after refreshSession(refreshToken)')
  userId = u.id
}, MAIL_STEP_MS)

await step('4. replaying the used link -> error=invalid-ticket', async () => {
  need(usedForm, 'the followed verification link')
  const url = await submitForm(usedForm)
  checkErrorLocation(url, { redirectTo: welcome, error: 'invalid-ticket', what: 'POST /verify (replay)' })
  // Opening the used link again: no page, straight back to the app with the error (as nhost's GET /verify).
  const res = await fetch(verifyLink, { redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await res.text()
  check(res.status === 302, `GET of the used link: status ${res.status}, want 302`)
  let loc
  try {
    loc = new URL(res.headers.get('location'))
  } catch {
    throw new CheckError(`GET of the used link: Location ${show(res.headers.get('location'))} is not an absolute URL`)
  }
  checkErrorLocation(loc, { redirectTo: welcome, error: 'invalid-ticket', what: 'GET of the used link' })
})

await step('5. a prefetched link (GET twice, like a mail scanner) still works when submitted', async () => {
  const second = `sdk-mail-${tag()}@example.com`
  const up = await probe.signUp({ email: second, password })
  check(up.error === null && up.session === null, `second signUp: ${show(up)}`)
  const first = await waitForMail(second, 'emailVerify')
  const r = await raw('POST', '/user/email/send-verification-email', {
    body: { email: second, options: { redirectTo: CLIENT_URL } }
  })
  check(r.status === 200, `send-verification-email: status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
  const mail = await waitForMail(second, 'emailVerify', { exclude: new Set([first.id]) })
  const { link } = checkLinkMail(mail, { template: 'emailVerify', ticketPrefix: 'verifyEmail', redirectTo: CLIENT_URL })
  await openLink(link)
  const form = await openLink(link)
  const url = await submitForm(form)
  const refreshToken = checkSuccessLocation(url, { redirectTo: CLIENT_URL, type: 'verifyEmail' })
  const t = await raw('POST', '/token', { body: { refreshToken } })
  check(t.status === 200, `POST /token with the link's refreshToken: status ${t.status}: ${t.text.slice(0, 300)}`)
  check(t.json && t.json.user && t.json.user.email === second, `POST /token user: ${show(t.json && t.json.user)}`)
  check(t.json.user.emailVerified === true, `user.emailVerified is ${show(t.json.user.emailVerified)}, want true`)
}, STEP_TIMEOUT_MS + 2 * MAIL_TIMEOUT_MS)

await step('6. signOut then signIn with the verified address -> session', async () => {
  need(userId, 'the verified user')
  const out = await auth.signOut()
  check(out.error === null, `signOut error: ${show(out.error)}`)
  check(auth.getSession() === null, 'getSession() not null after signOut()')
  const res = await auth.signIn({ email, password })
  check(res.error === null, `unexpected error: ${show(res.error)}`)
  check(res.session && res.session.user, `no session: ${show(res)}`)
  check(res.session.user.id === userId, `session.user.id ${show(res.session.user.id)} != ${userId}`)
  check(res.session.user.emailVerified === true, `emailVerified is ${show(res.session.user.emailVerified)}`)
})

await step('7. password reset: mail -> follow -> refreshSession -> changePassword; old password refused', async () => {
  need(userId, 'the verified user')
  const rp = await auth.resetPassword({ email, options: { redirectTo: CLIENT_URL } })
  check(rp.error === null, `resetPassword error: ${show(rp.error)}`)
  const mail = await waitForMail(email, 'passwordReset')
  const { link } = checkLinkMail(mail, { template: 'passwordReset', ticketPrefix: 'passwordReset', redirectTo: CLIENT_URL })
  const { refreshToken } = await followLink(link, { redirectTo: CLIENT_URL, type: 'passwordReset' })
  const rs = await auth.refreshSession(refreshToken)
  check(rs.error === null && rs.session, `refreshSession(refreshToken): ${show(rs)}`)
  check(rs.session.user.id === userId, `the reset session is for ${show(rs.session.user.id)}, not ${userId}`)
  const cp = await auth.changePassword({ newPassword })
  check(cp.error === null, `changePassword error: ${show(cp.error)}`)
  const out = await auth.signOut()
  check(out.error === null, `signOut error: ${show(out.error)}`)
  const old = await auth.signIn({ email, password })
  check(old.session === null, `the old password still signs in: ${show(old.session)}`)
  check(old.error && old.error.error === 'invalid-email-password',
    `old password: error ${show(old.error)}, want invalid-email-password`)
  check(old.error.status === 401, `old password: error.status ${show(old.error.status)}, want 401`)
  const res = await auth.signIn({ email, password: newPassword })
  check(res.error === null, `new password: unexpected error ${show(res.error)}`)
  check(res.session && res.session.user.id === userId, `new password: no session for the user: ${show(res)}`)
  password = newPassword
}, MAIL_STEP_MS)

await step('8. resetPassword for an unknown address: no error, same answer as a known one, no mail', async () => {
  const unknown = `nobody-${tag()}@example.com`
  const rp = await probe.resetPassword({ email: unknown, options: { redirectTo: CLIENT_URL } })
  check(rp.error === null, `resetPassword error for an unknown address: ${show(rp.error)}`)
  // The SDK only says {error: null}; compare the raw answers for an unknown and a known address.
  const a = await raw('POST', '/user/password/reset', { body: { email: unknown, options: { redirectTo: CLIENT_URL } } })
  const b = await raw('POST', '/user/password/reset', { body: { email, options: { redirectTo: CLIENT_URL } } })
  check(a.status === b.status && a.text === b.text,
    `unknown address: ${a.status} ${show(a.text)}; known address: ${b.status} ${show(b.text)} (should not differ)`)
  check(a.status === 200, `raw POST /user/password/reset: status ${a.status}, want 200`)
  await checkNoMail(unknown, NO_MAIL_WAIT_MS)
}, STEP_TIMEOUT_MS + NO_MAIL_WAIT_MS)

await step('9. magic link: signIn({email}) for a new address -> mail -> follow -> session', async () => {
  const address = `sdk-magic-${tag()}@example.com`
  const magic = isolatedClient() // `auth` is signed in, and the SDK refuses a passwordless sign-in then
  const res = await magic.signIn({ email: address, options: { redirectTo: CLIENT_URL } })
  check(res.error === null, `passwordless signIn error: ${show(res.error)}`)
  check(res.session === null, `passwordless signIn gave a session before the link: ${show(res.session)}`)
  const mail = await waitForMail(address, 'signinPasswordless')
  const { link } = checkLinkMail(mail, {
    template: 'signinPasswordless', ticketPrefix: 'passwordlessEmail', redirectTo: CLIENT_URL
  })
  const { refreshToken } = await followLink(link, { redirectTo: CLIENT_URL, type: 'passwordlessEmail' })
  const rs = await magic.refreshSession(refreshToken)
  check(rs.error === null && rs.session, `refreshSession(refreshToken): ${show(rs)}`)
  check(rs.session.user.email === address, `session.user.email ${show(rs.session.user.email)} != ${address}`)
  check(rs.session.user.emailVerified === true,
    `session.user.emailVerified is ${show(rs.session.user.emailVerified)} after following the magic link`)
  check(magic.isAuthenticated(), 'isAuthenticated() is false after the magic link')
}, MAIL_STEP_MS)

await step('10. anonymous signIn -> deanonymize(email-password) -> verification mail -> same user', async () => {
  const anon = isolatedClient()
  const res = await anon.signIn()
  check(res.error === null, `anonymous signIn error: ${show(res.error)}`)
  check(res.session && res.session.user, `anonymous signIn gave no session: ${show(res)}`)
  const anonId = res.session.user.id
  check(typeof anonId === 'string' && anonId.length > 0, `anonymous user id: ${show(anonId)}`)
  check(res.session.user.isAnonymous === true, `user.isAnonymous is ${show(res.session.user.isAnonymous)}, want true`)
  const claims = anon.getHasuraClaims() || decodeJwtPayload(res.session.accessToken)['https://hasura.io/jwt/claims']
  check(claims && typeof claims === 'object', `no Hasura claims object: ${show(anon.getDecodedAccessToken())}`)
  check(claims['x-hasura-user-is-anonymous'] === 'true',
    `x-hasura-user-is-anonymous is ${show(claims['x-hasura-user-is-anonymous'])}, want the string "true"`)
  check(claims['x-hasura-default-role'] === 'anonymous',
    `x-hasura-default-role is ${show(claims['x-hasura-default-role'])}, want "anonymous"`)
  check(claims['x-hasura-user-id'] === anonId, `x-hasura-user-id ${show(claims['x-hasura-user-id'])} != ${anonId}`)

  const anonEmail = `sdk-anon-${tag()}@example.com`
  const de = await anon.deanonymize({
    signInMethod: 'email-password', email: anonEmail, password, options: { redirectTo: CLIENT_URL }
  })
  // 2.12.0 returns only {error}. nhost answers "OK" (no session) to /user/deanonymize; the SDK
  // then clears its own session and waits for the email to be verified.
  check(de.error === null, `deanonymize error: ${show(de.error)}`)
  check(anon.getSession() === null,
    `the SDK still has a session after deanonymize (email verification is required): ${show(anon.getSession())}`)
  check(!anon.isAuthenticated(), 'isAuthenticated() is true after deanonymize')
  const state = anon.client.interpreter.getSnapshot()
  check(state.matches({ registration: { incomplete: 'needsEmailVerification' } }),
    `SDK registration state after deanonymize is ${show(state.value)}, want incomplete.needsEmailVerification`)

  const mail = await waitForMail(anonEmail, 'emailVerify')
  const { link } = checkLinkMail(mail, { template: 'emailVerify', ticketPrefix: 'verifyEmail', redirectTo: CLIENT_URL })
  const { refreshToken } = await followLink(link, { redirectTo: CLIENT_URL, type: 'verifyEmail' })
  const rs = await anon.refreshSession(refreshToken)
  check(rs.error === null && rs.session, `refreshSession(refreshToken): ${show(rs)}`)
  const u = rs.session.user
  check(u.id === anonId, `the deanonymized user's id ${show(u.id)} != the anonymous id ${anonId}`)
  check(u.isAnonymous === false, `user.isAnonymous is ${show(u.isAnonymous)}, want false`)
  check(u.email === anonEmail, `user.email ${show(u.email)} != ${anonEmail}`)
  check(u.emailVerified === true, `user.emailVerified is ${show(u.emailVerified)}, want true`)
  const after = anon.getHasuraClaims()
  check(after && after['x-hasura-user-is-anonymous'] === 'false',
    `x-hasura-user-is-anonymous after deanonymize is ${show(after && after['x-hasura-user-is-anonymous'])}, want "false"`)
  check(after['x-hasura-default-role'] !== 'anonymous', 'x-hasura-default-role is still "anonymous"')
}, MAIL_STEP_MS)

await step('11. createPAT -> signInPAT on a fresh client; the PAT is no refresh token', async () => {
  need(userId, 'the verified user')
  need(auth.getSession(), 'a signed-in SDK client')
  const res = await auth.createPAT(new Date(Date.now() + 3600e3), { name: 'ci' })
  // 2.12.0 shape: {data: {id, personalAccessToken} | null, error, isError, isSuccess}.
  check(res.error === null && res.isError === false, `createPAT error: ${show(res.error)}`)
  check(res.data && typeof res.data.id === 'string' && res.data.id.length > 0, `createPAT data.id: ${show(res.data)}`)
  const pat = res.data.personalAccessToken
  check(typeof pat === 'string' && pat.length > 0, `createPAT data.personalAccessToken: ${show(res.data)}`)

  const patClient = isolatedClient()
  const si = await patClient.signInPAT(pat)
  check(si.error === null, `signInPAT error: ${show(si.error)}`)
  check(si.session && si.session.user, `signInPAT gave no session: ${show(si)}`)
  check(si.session.user.id === userId, `signInPAT user ${show(si.session.user.id)} != ${userId}`)
  check(patClient.getHasuraClaim('user-id') === userId, 'the PAT session\'s access token is for another user')

  const t = await raw('POST', '/token', { body: { refreshToken: pat } })
  check(t.status === 401, `POST /token with the PAT: status ${t.status}, want 401: ${t.text.slice(0, 300)}`)
  check(t.json && t.json.error === 'invalid-refresh-token',
    `POST /token with the PAT: body ${t.text.slice(0, 300)}, want error "invalid-refresh-token"`)
})

// Prints "N passed, M failed" and exits (explicitly: the SDK keeps timers alive).
finish()
