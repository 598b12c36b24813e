// sdk-flow.mjs — black-box compatibility check of hauth with the REAL nhost SDK
// (@nhost/hasura-auth-js, pinned in package.json).
//
// What it checks, in order (each step has its own time limit, because SDK promises
// can stay pending forever when a response has an unexpected shape):
//   a. signUp(email, password) gives a session (no email verification in this config)
//   b. signOut() + signIn(email, password) gives a session whose Hasura claims are right
//   c. signIn with a wrong password -> error 401 invalid-email-password
//   d. signUp with the same email again -> error 409 email-already-in-use
//   e. raw GET /user with the access token -> 200 with the user
//   f. refreshSession() rotates the tokens; raw POST /token answers a top-level Session
//   g. signOut() revokes the refresh token: raw POST /token with it -> 401 invalid-refresh-token
//
// Usage (server must already be running, with email verification off):
//   cd tests/sdk && npm ci && HAUTH_URL=http://127.0.0.1:4000 node sdk-flow.mjs
// Optional: STEP_TIMEOUT_MS (default 10000).
// Output: one "ok - <step>" / "not ok - <step>: <why>" line per step, then
// "N passed, M failed". Exit code 0 only if every step passed.

// In Node the package resolves to its CommonJS build; a named import works.
import { HasuraAuthClient } from '@nhost/hasura-auth-js'
import { randomUUID } from 'node:crypto'
import { check, show, createHarness } from './harness.mjs'

const HAUTH_URL = (process.env.HAUTH_URL || '').replace(/\/+$/, '')
if (!HAUTH_URL) {
  console.error('HAUTH_URL is not set (e.g. HAUTH_URL=http://127.0.0.1:4000)')
  process.exit(2)
}
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS || 10000)
const CLAIMS_NS = 'https://hasura.io/jwt/claims'

// ---------------------------------------------------------------- helpers

const { step, need, raw, finish } = createHarness({
  baseUrl: HAUTH_URL,
  stepTimeoutMs: STEP_TIMEOUT_MS,
  timeoutMessage: (ms, name) => `timed out after ${ms} ms (${name}); an SDK promise never settled`,
  countStrayErrors: true
})

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

// ---------------------------------------------------------------- state

const email = `sdk-${randomUUID().slice(0, 12)}@example.com`
const password = 'correct-horse-battery-9'
const auth = new HasuraAuthClient({ url: HAUTH_URL })
const probe = isolatedClient() // for the negative cases, so `auth` stays signed in
let userId = null
let accessToken = null

// ---------------------------------------------------------------- steps

await step('a. signUp with email+password returns a session', async () => {
  const res = await auth.signUp({ email, password })
  check(res.error === null, `unexpected error: ${show(res.error)}`)
  check(res.session, `no session (would mean "needs email verification"): ${show(res)}`)
  const s = res.session
  check(s.user && s.user.email === email, `session.user.email is ${show(s.user && s.user.email)}, want ${email}`)
  check(typeof s.accessToken === 'string' && s.accessToken.split('.').length === 3,
    `session.accessToken is not a JWT: ${show(s.accessToken)}`)
  check(typeof s.refreshToken === 'string' && s.refreshToken.length > 0, 'session.refreshToken missing')
  const u = auth.getUser()
  check(u && typeof u.id === 'string' && u.id.length > 0, `getUser() has no id: ${show(u)}`)
  check(u.id === s.user.id, `getUser().id ${u.id} != session.user.id ${s.user.id}`)
  check(auth.isAuthenticated(), 'isAuthenticated() is false after sign-up')
  userId = u.id
})

await step('b. signOut then signIn with email+password; Hasura claims', async () => {
  need(userId, 'the signed-up user')
  const out = await auth.signOut()
  check(out.error === null, `signOut error: ${show(out.error)}`)
  check(!auth.isAuthenticated(), 'still authenticated after signOut()')
  const res = await auth.signIn({ email, password })
  check(res.error === null, `unexpected error: ${show(res.error)}`)
  check(!res.mfa, `unexpected mfa challenge: ${show(res.mfa)}`)
  check(res.session, `no session: ${show(res)}`)
  check(res.session.user && res.session.user.id === userId,
    `session.user.id ${show(res.session.user && res.session.user.id)} != ${userId}`)
  accessToken = res.session.accessToken
  const claims = auth.getHasuraClaims()
  check(claims && typeof claims === 'object' && !Array.isArray(claims),
    `getHasuraClaims() is not an object (namespace ${CLAIMS_NS}): ${show(auth.getDecodedAccessToken())}`)
  check(claims['x-hasura-user-id'] === userId, `x-hasura-user-id ${show(claims['x-hasura-user-id'])} != ${userId}`)
  check(claims['x-hasura-default-role'] === 'user', `x-hasura-default-role is ${show(claims['x-hasura-default-role'])}`)
  const allowed = claims['x-hasura-allowed-roles']
  check(Array.isArray(allowed) && allowed.includes('user'), `x-hasura-allowed-roles is ${show(allowed)}`)
  check(claims['x-hasura-user-is-anonymous'] === 'false',
    `x-hasura-user-is-anonymous is ${show(claims['x-hasura-user-is-anonymous'])}, want the string "false"`)
  check(auth.getHasuraClaim('user-id') === userId, 'getHasuraClaim("user-id") does not give the user id')
})

await step('c. signIn with a wrong password -> 401 invalid-email-password', async () => {
  need(userId, 'the signed-up user')
  const res = await probe.signIn({ email, password: password + '-wrong' })
  check(res.session === null, `got a session with a wrong password: ${show(res.session)}`)
  check(res.error, 'no error with a wrong password')
  check(res.error.status === 401, `error.status is ${show(res.error.status)}, want 401 (error ${show(res.error)})`)
  check(res.error.error === 'invalid-email-password',
    `error.error is ${show(res.error.error)}, want "invalid-email-password"`)
})

await step('d. duplicate signUp -> 409 email-already-in-use', async () => {
  need(userId, 'the signed-up user')
  const res = await probe.signUp({ email, password })
  check(res.session === null, `duplicate sign-up gave a session: ${show(res.session)}`)
  check(res.error, 'no error on duplicate sign-up')
  check(res.error.status === 409, `error.status is ${show(res.error.status)}, want 409 (error ${show(res.error)})`)
  check(res.error.error === 'email-already-in-use',
    `error.error is ${show(res.error.error)}, want "email-already-in-use"`)
})

await step('e. raw GET /user with the access token', async () => {
  need(accessToken, 'an access token')
  const r = await raw('GET', '/user', { token: accessToken })
  check(r.status === 200, `status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
  const b = r.json
  check(b && typeof b === 'object', `body is not JSON: ${r.text.slice(0, 300)}`)
  check(b.id === userId, `body.id ${show(b.id)} != ${userId}`)
  check(b.email === email, `body.email ${show(b.email)} != ${email}`)
  check(Array.isArray(b.roles) && b.roles.includes('user'), `body.roles is ${show(b.roles)}`)
  check(b.isAnonymous === false, `body.isAnonymous is ${show(b.isAnonymous)}, want false`)
})

await step('f. refreshSession rotates tokens; raw POST /token gives a top-level Session', async () => {
  need(accessToken, 'a signed-in SDK client')
  const before = auth.getSession()
  check(before && before.refreshToken, `getSession() before refresh: ${show(before)}`)
  await sleep(1100) // so the new JWT's iat (seconds) differs and the token must change
  const res = await auth.refreshSession()
  check(res.error === null, `refreshSession error: ${show(res.error)}`)
  check(res.session, `refreshSession gave no session (is "user" in the /token response?): ${show(res)}`)
  check(res.session.accessToken && res.session.accessToken !== before.accessToken, 'access token did not change')
  check(res.session.refreshToken && res.session.refreshToken !== before.refreshToken,
    'refresh token did not rotate')
  const s = auth.getSession()
  check(s && s.user && s.user.id === userId, `getSession() after refresh: ${show(s)}`)

  // Raw call with the NEW refresh token (this rotates it behind the SDK's back).
  const r = await raw('POST', '/token', { body: { refreshToken: s.refreshToken } })
  check(r.status === 200, `POST /token status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
  const b = r.json || {}
  check(typeof b.accessToken === 'string' && b.accessToken.split('.').length === 3, `accessToken: ${show(b.accessToken)}`)
  check(typeof b.accessTokenExpiresIn === 'number' && b.accessTokenExpiresIn > 0,
    `accessTokenExpiresIn must be a positive number of seconds: ${show(b.accessTokenExpiresIn)}`)
  check(typeof b.refreshToken === 'string' && b.refreshToken.length > 0, `refreshToken: ${show(b.refreshToken)}`)
  check(typeof b.refreshTokenId === 'string' && b.refreshTokenId.length > 0, `refreshTokenId: ${show(b.refreshTokenId)}`)
  check(b.user && b.user.id === userId, `user.id: ${show(b.user && b.user.id)}`)
  check(b.user.isAnonymous === false, `user.isAnonymous: ${show(b.user.isAnonymous)}`)

  // Hand the fresh token back to the SDK (what a Node app does with a ?refreshToken=),
  // so its stored token is valid again for step g.
  const back = await auth.refreshSession(b.refreshToken)
  check(back.error === null && back.session, `refreshSession(token) failed: ${show(back)}`)
  check(back.session.user.id === userId, 'refreshSession(token) gave another user')
})

await step('g. signOut revokes the refresh token (raw POST /token -> 401 invalid-refresh-token)', async () => {
  const s = auth.getSession()
  need(s && s.refreshToken, 'a signed-in SDK client')
  const token = s.refreshToken
  const out = await auth.signOut()
  check(out.error === null, `signOut error: ${show(out.error)}`)
  check(auth.getSession() === null, 'getSession() not null after signOut()')
  const r = await raw('POST', '/token', { body: { refreshToken: token } })
  check(r.status === 401, `POST /token after signOut: status ${r.status}, want 401: ${r.text.slice(0, 300)}`)
  check(r.json && r.json.error === 'invalid-refresh-token',
    `error body ${r.text.slice(0, 300)}, want JSON with error "invalid-refresh-token"`)
})

// Prints "N passed, M failed" and exits (explicitly: the SDK keeps timers alive).
finish()
