// sdk-mfa.mjs — the nhost SDK's second-factor calls against hauth, with TOTP codes computed by an
// independent implementation (npm `otpauth`).
//
// Steps:
//   a. signUp gives a session
//   b. the SDK's enable-MFA machine generates a QR code and a secret (GET /mfa/totp/generate)
//   c. activateMfaPromise with a code from otpauth activates TOTP (POST /user/mfa)
//   d. signIn(email, password) answers an MFA challenge whose ticket is mfaTotp:<uuid>, and no session
//   e. signIn({ otp, ticket }) completes it with a session (POST /signin/mfa/totp)
//   f. the same code again is refused (one code per time step)
//   g. disableMfaPromise with a fresh code turns TOTP off; signIn then gives a session directly
//
// Usage: HAUTH_URL=http://127.0.0.1:4000 node sdk-mfa.mjs (hauth with AUTH_MFA_ENABLED=true).
import {
  HasuraAuthClient,
  activateMfaPromise,
  createEnableMfaMachine,
  disableMfaPromise,
  generateQrCodePromise
} from '@nhost/hasura-auth-js'
import * as OTPAuth from 'otpauth'
import { interpret } from 'xstate'
import { randomUUID } from 'node:crypto'
import { check, show, createHarness } from './harness.mjs'

const HAUTH_URL = (process.env.HAUTH_URL || '').replace(/\/+$/, '')
if (!HAUTH_URL) {
  console.error('HAUTH_URL is not set')
  process.exit(2)
}
const { step, need, raw, finish } = createHarness({
  baseUrl: HAUTH_URL,
  stepTimeoutMs: Number(process.env.STEP_TIMEOUT_MS || 40000),
  timeoutMessage: (ms, name) => `timed out after ${ms} ms (${name}); an SDK promise never settled`,
  countStrayErrors: true
})

const email = `mfa-${randomUUID().slice(0, 12)}@example.com`
const password = 'correct-horse-battery-9'
const auth = new HasuraAuthClient({ url: HAUTH_URL })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let totp = null
let usedCode = null

// The code of the 30-second step `offset` steps from now (hauth accepts one step either way).
const codeAt = (offset) => totp.generate({ timestamp: Date.now() + offset * 30000 })
const enableMachine = () => interpret(createEnableMfaMachine(auth.client)).start()

await step('a. signUp gives a session', async () => {
  const res = await auth.signUp({ email, password })
  check(res.error === null && res.session, `no session: ${show(res)}`)
})

const service = enableMachine()
await step('b. the enable-MFA machine generates a QR code and a secret', async () => {
  need(auth.isAuthenticated(), 'a signed-in user')
  const res = await generateQrCodePromise(service)
  check(res.error === null, `error: ${show(res.error)}`)
  check(res.isGenerated, `not generated: ${show(res)}`)
  check(typeof res.qrCodeDataUrl === 'string' && res.qrCodeDataUrl.startsWith('data:image/png;base64,'),
    `qrCodeDataUrl is ${show(res.qrCodeDataUrl && res.qrCodeDataUrl.slice(0, 40))}`)
  check(typeof res.totpSecret === 'string' && /^[A-Z2-7]+=*$/.test(res.totpSecret), `totpSecret is ${show(res.totpSecret)}`)
  totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(res.totpSecret), algorithm: 'SHA1', digits: 6, period: 30 })
})

await step('c. activateMfaPromise with a code from otpauth activates TOTP', async () => {
  need(totp, 'a secret')
  const res = await activateMfaPromise(service, codeAt(0))
  check(res.error === null, `error: ${show(res.error)}`)
  check(res.isActivated, `not activated: ${show(res)}`)
})

let ticket = null
await step('d. signIn with the password answers an MFA challenge', async () => {
  need(totp, 'TOTP active')
  await auth.signOut()
  const res = await auth.signIn({ email, password })
  check(res.error === null, `error: ${show(res.error)}`)
  check(res.session === null, `a session without the second factor: ${show(res.session)}`)
  check(res.mfa && /^mfaTotp:[0-9a-f-]{36}$/i.test(res.mfa.ticket), `mfa is ${show(res.mfa)}`)
  ticket = res.mfa.ticket
})

await step('e. signIn({ otp, ticket }) completes the sign-in', async () => {
  need(ticket, 'a ticket')
  usedCode = codeAt(1)
  const res = await auth.signIn({ otp: usedCode, ticket })
  check(res.error === null, `error: ${show(res.error)}`)
  check(res.session && res.session.user.email === email, `no session: ${show(res)}`)
  check(auth.isAuthenticated(), 'not authenticated after the second factor')
})

await step('f. the same code is refused a second time', async () => {
  need(usedCode, 'a used code')
  const challenge = await raw('POST', '/signin/email-password', { body: { email, password } })
  const again = await raw('POST', '/signin/mfa/totp', { body: { ticket: challenge.json.mfa.ticket, otp: usedCode } })
  check(again.status === 401 && again.json.error === 'invalid-totp', `replay answered ${again.status} ${again.text}`)
})

await step('g. disableMfaPromise with a fresh code turns TOTP off', async () => {
  need(usedCode, 'TOTP in use')
  // The next code not yet used: the one two steps on from the step the sign-in used, once it is in reach.
  await sleep(30000 - (Date.now() % 30000) + 200)
  const res = await disableMfaPromise(enableMachine(), codeAt(1))
  check(res.error === null, `error: ${show(res.error)}`)
  check(res.isDisabled, `not disabled: ${show(res)}`)
  await auth.signOut()
  const signIn = await auth.signIn({ email, password })
  check(signIn.session && !signIn.mfa, `no direct session after disabling: ${show(signIn)}`)
})

finish()
