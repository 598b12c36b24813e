// harness.mjs — the step runner and check helpers shared by sdk-flow.mjs, verify-jwt.mjs and
// sdk-email-flows.mjs.
//
// Output contract (the Rust suite in tests/it/sdk.rs relies on it): one "ok - <step>" /
// "not ok - <step>: <why>" line per step, then "N passed, M failed"; exit code 0 only if
// every step passed.
//
// Usage:
//   import { CheckError, check, show, createHarness } from './harness.mjs'
//   const { step, need, raw, finish } = createHarness({ baseUrl: HAUTH_URL, stepTimeoutMs: STEP_TIMEOUT_MS })
//   await step('name', async () => { ... })
//   finish() // prints the summary and exits

// A failed expectation: reported by its message alone (no stack).
export class CheckError extends Error {}

export function check(cond, message) {
  if (!cond) throw new CheckError(message)
}

// JSON for messages; falls back to String() for what JSON cannot show (cycles, BigInt).
export function show(v) {
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

// How an unexpected (non-CheckError) failure is described: the stack, plus the cause (e.g. of a
// failed fetch).
export function describeWithStack(e) {
  return `${(e && e.stack) || show(e)}${e && e.cause ? ` (cause: ${e.cause.message || e.cause})` : ''}`
}

// How an unexpected failure is described: "<name>: <message>", plus the cause.
export function describeNameAndMessage(e) {
  return `${e && e.name}: ${e && e.message}${e && e.cause ? ` (${e.cause.message || e.cause})` : ''}`
}

function withTimeout(promise, ms, message) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(message)), ms)
  })
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer))
}

// Options:
//   baseUrl            prefix of raw()'s paths (no trailing slash)
//   stepTimeoutMs      default time limit of a step, and of each raw() request
//   timeoutMessage     (ms, name) => the "why" of a step that ran out of time
//   describeError      (e) => the "why" of a step that threw something other than a CheckError
//   countStrayErrors   report unhandled rejections / uncaught exceptions as failures ("not ok - ...")
//                      instead of letting them crash the script without a summary
//   rawBodyArg         raw(method, path, body) instead of raw(method, path, { body, token })
//   rawAbsoluteUrls    raw() uses a path starting with "http" as the whole URL
//   needRejectsFalse   need() also treats `false` as "not there"
export function createHarness({
  baseUrl,
  stepTimeoutMs = 10000,
  timeoutMessage = (ms) => `timed out after ${ms} ms`,
  describeError = describeWithStack,
  countStrayErrors = false,
  rawBodyArg = false,
  rawAbsoluteUrls = false,
  needRejectsFalse = false
} = {}) {
  let passed = 0
  let failed = 0

  // `ms`: this step's time limit (e.g. steps that wait for mail get more).
  async function step(name, fn, ms = stepTimeoutMs) {
    try {
      await withTimeout(fn(), ms, timeoutMessage(ms, name))
      passed++
      console.log(`ok - ${name}`)
    } catch (e) {
      failed++
      const why = e instanceof CheckError ? e.message : describeError(e)
      console.log(`not ok - ${name}: ${why}`)
    }
  }

  function need(value, what) {
    if (value === null || value === undefined || (needRejectsFalse && value === false)) {
      throw new CheckError(`not run: needs ${what} from an earlier step`)
    }
    return value
  }

  // Raw HTTP with Node's own fetch (independent of the SDK's node-fetch).
  async function raw(method, path, arg) {
    const { body, token } = rawBodyArg ? { body: arg } : arg || {}
    const headers = {}
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (token) headers.Authorization = `Bearer ${token}`
    const url = rawAbsoluteUrls && path.startsWith('http') ? path : baseUrl + path
    const res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(stepTimeoutMs)
    })
    const text = await res.text()
    let json
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, text, json }
  }

  // Prints "N passed, M failed" and exits, 0 only if nothing failed (explicitly: the SDK keeps
  // timers such as its token refresher alive).
  function finish() {
    console.log(`${passed} passed, ${failed} failed`)
    process.exit(failed === 0 ? 0 : 1)
  }

  if (countStrayErrors) {
    // Anything thrown inside the SDK's state machine (e.g. RangeError on a bad
    // accessTokenExpiresIn) surfaces here; count it rather than crash without a summary.
    process.on('unhandledRejection', (e) => {
      failed++
      console.log(`not ok - unhandled rejection: ${(e && e.stack) || show(e)}`)
    })
    process.on('uncaughtException', (e) => {
      failed++
      console.log(`not ok - uncaught exception: ${(e && e.stack) || show(e)}`)
    })
  }

  return {
    step,
    need,
    raw,
    finish,
    get passed() {
      return passed
    },
    get failed() {
      return failed
    }
  }
}
