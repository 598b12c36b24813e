// verify-jwt.mjs — independent verification of hauth's access tokens with `jose`
// (not the server's own JWT code), against the rules Hasura v2 and v3 both accept.
//
// What it checks:
//   - POST /signup/email-password (random user) answers 200 with a session
//   - the access token verifies with jose, with exactly the configured algorithm:
//       HS*:  key = the raw UTF-8 bytes of HS_KEY (as Hasura does; not base64);
//             GET /.well-known/jwks.json is {"keys": []} (HMAC keys never published)
//       RS256/ES256/EdDSA: key from GET /.well-known/jwks.json, which must send
//             Cache-Control with max-age, give every key kid/use/alg, and hold no
//             private parts and no "oct" keys
//   - the token header has a kid (matching a JWKS key for asymmetric algorithms)
//   - claims: sub, iss, exp, iat, nbf, and the https://hasura.io/jwt/claims object
//     (lower-case x-hasura-* keys, string values, allowed-roles an array of strings,
//     default role allowed, user-id == sub, user-is-anonymous "false")
//
// Usage (server already running, email verification off):
//   cd tests/sdk && npm ci
//   HAUTH_URL=http://127.0.0.1:4000 JWT_ALG=HS256 HS_KEY='<the shared key>' node verify-jwt.mjs
//   HAUTH_URL=http://127.0.0.1:4000 JWT_ALG=RS256 node verify-jwt.mjs      (or ES256, EdDSA)
// Optional: EXPECT_ISS (default "hasura-auth"), STEP_TIMEOUT_MS (default 10000).
// HASURA_JWT_SECRET: the JSON printed by `hauth hasura jwt-secret`; when given, the key (jwk_url or key),
// issuer, claims_namespace and claims_format are taken from it, exactly as Hasura would read them.
// Output: "ok - <step>" / "not ok - <step>: <why>" lines, then "N passed, M failed";
// exit code 0 only if every step passed.

import { jwtVerify, createLocalJWKSet, decodeProtectedHeader, decodeJwt } from 'jose'
import { randomUUID } from 'node:crypto'
import { check, show, createHarness, describeNameAndMessage } from './harness.mjs'

const HAUTH_URL = (process.env.HAUTH_URL || '').replace(/\/+$/, '')
const JWT_ALG = process.env.JWT_ALG || ''
const HASURA_SECRET = process.env.HASURA_JWT_SECRET ? JSON.parse(process.env.HASURA_JWT_SECRET) : {}
const HS_KEY = HASURA_SECRET.key || process.env.HS_KEY
const JWKS_URL = HASURA_SECRET.jwk_url || null
const EXPECT_ISS = HASURA_SECRET.issuer || process.env.EXPECT_ISS || 'hasura-auth'
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS || 10000)
const CLAIMS_NS = HASURA_SECRET.claims_namespace || 'https://hasura.io/jwt/claims'
const STRINGIFIED = HASURA_SECRET.claims_format === 'stringified_json'
const SUPPORTED = ['HS256', 'RS256', 'ES256', 'EdDSA']

if (!HAUTH_URL) {
  console.error('HAUTH_URL is not set (e.g. HAUTH_URL=http://127.0.0.1:4000)')
  process.exit(2)
}
if (!SUPPORTED.includes(JWT_ALG)) {
  console.error(`JWT_ALG must be one of ${SUPPORTED.join(', ')} (got ${JSON.stringify(JWT_ALG)})`)
  process.exit(2)
}
const isHmac = JWT_ALG.startsWith('HS')
if (isHmac && !HS_KEY) {
  console.error(`HS_KEY must be set for ${JWT_ALG}`)
  process.exit(2)
}

// ---------------------------------------------------------------- helpers

const harness = createHarness({
  baseUrl: HAUTH_URL,
  stepTimeoutMs: STEP_TIMEOUT_MS,
  describeError: describeNameAndMessage,
  rawBodyArg: true, // raw(method, path, body)
  rawAbsoluteUrls: true // the JWKS may be fetched from HASURA_JWT_SECRET's jwk_url
})
const { step, need, raw, finish } = harness

// ---------------------------------------------------------------- state

const email = `jwt-${randomUUID().slice(0, 12)}@example.com`
const password = 'correct-horse-battery-9'
let token = null
let userId = null
let header = null
let jwks = null
let payload = null // set only once the signature has been verified

// ---------------------------------------------------------------- steps

await step('sign up (raw POST /signup/email-password) returns a session', async () => {
  const r = await raw('POST', '/signup/email-password', { email, password })
  check(r.status === 200, `status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
  const s = r.json && r.json.session
  check(s, `no session in the body (email verification must be off): ${r.text.slice(0, 300)}`)
  check(typeof s.accessToken === 'string' && s.accessToken.split('.').length === 3,
    `session.accessToken is not a compact JWS: ${show(s.accessToken)}`)
  check(s.user && typeof s.user.id === 'string', `session.user.id missing: ${show(s.user)}`)
  token = s.accessToken
  userId = s.user.id
})

await step(`token header: alg ${JWT_ALG}, has a kid`, async () => {
  need(token, 'an access token')
  header = decodeProtectedHeader(token)
  check(header.alg === JWT_ALG, `header.alg is ${show(header.alg)}, want ${JWT_ALG}`)
  check(typeof header.kid === 'string' && header.kid.length > 0, `header has no kid: ${show(header)}`)
})

if (isHmac) {
  await step('GET /.well-known/jwks.json publishes no HMAC key ({"keys": []})', async () => {
    const r = await raw('GET', '/.well-known/jwks.json')
    check(r.status === 200, `status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
    check(r.json && Array.isArray(r.json.keys), `body is not {"keys": [...]}: ${r.text.slice(0, 300)}`)
    check(r.json.keys.length === 0, `keys must be empty for ${JWT_ALG}, got ${r.text.slice(0, 300)}`)
  })

  await step(`signature verifies with jose (${JWT_ALG}, key = UTF-8 bytes of HS_KEY)`, async () => {
    need(token, 'an access token')
    const key = new TextEncoder().encode(HS_KEY)
    const res = await jwtVerify(token, key, { algorithms: [JWT_ALG] })
    payload = res.payload
  })
} else {
  let jwksCacheControl = null
  await step(`GET ${JWKS_URL || '/.well-known/jwks.json'} answers 200 {"keys": [...]} (non-empty)`, async () => {
    const r = await raw('GET', JWKS_URL || '/.well-known/jwks.json')
    check(r.status === 200, `status ${r.status}, want 200: ${r.text.slice(0, 300)}`)
    check(r.json && Array.isArray(r.json.keys) && r.json.keys.length > 0,
      `body is not {"keys": [non-empty]}: ${r.text.slice(0, 300)}`)
    jwksCacheControl = r.headers.get('cache-control') || ''
    jwks = r.json
  })

  await step('JWKS response has Cache-Control with max-age (Hasura refetches by it)', async () => {
    need(jwks, 'the JWKS')
    check(/(^|[\s,])max-age=\d+/i.test(jwksCacheControl),
      `Cache-Control must carry max-age=<N>, got ${show(jwksCacheControl)}`)
  })

  await step('JWKS keys: each has kid/use/alg, none is "oct", none has private parts', async () => {
    need(jwks, 'the JWKS')
    const privateParts = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']
    for (const [i, k] of jwks.keys.entries()) {
      check(k && typeof k === 'object', `keys[${i}] is not an object`)
      check(typeof k.kid === 'string' && k.kid.length > 0, `keys[${i}] has no kid`)
      check(typeof k.use === 'string', `keys[${i}] (kid ${k.kid}) has no use`)
      check(typeof k.alg === 'string', `keys[${i}] (kid ${k.kid}) has no alg`)
      check(k.kty !== 'oct', `keys[${i}] (kid ${k.kid}) is a symmetric "oct" key`)
      const leaked = privateParts.filter((p) => p in k)
      check(leaked.length === 0, `keys[${i}] (kid ${k.kid}) has private member(s) ${leaked.join(', ')}`)
    }
  })

  await step('token kid matches a JWKS key with the same alg and use "sig"', async () => {
    need(header, 'the token header')
    need(jwks, 'the JWKS')
    const k = jwks.keys.find((k) => k.kid === header.kid)
    check(k, `no JWKS key has kid ${show(header.kid)} (kids: ${show(jwks.keys.map((k) => k.kid))})`)
    check(k.alg === JWT_ALG, `JWKS key ${k.kid} has alg ${show(k.alg)}, want ${JWT_ALG}`)
    check(k.use === 'sig', `JWKS key ${k.kid} has use ${show(k.use)}, want "sig"`)
  })

  await step(`signature verifies with jose (${JWT_ALG}, createLocalJWKSet)`, async () => {
    need(token, 'an access token')
    need(jwks, 'the JWKS')
    const res = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: [JWT_ALG] })
    payload = res.payload
  })
}

await step('registered claims: sub, iss, exp, iat, nbf', async () => {
  need(payload, 'a verified token')
  const now = Math.floor(Date.now() / 1000)
  check(payload.sub === userId, `sub is ${show(payload.sub)}, want the user id ${userId}`)
  check(payload.iss === EXPECT_ISS, `iss is ${show(payload.iss)}, want ${show(EXPECT_ISS)}`)
  check(Number.isInteger(payload.exp), `exp missing or not an integer: ${show(payload.exp)}`)
  check(payload.exp > now, `exp ${payload.exp} is not in the future (now ${now})`)
  check(Number.isInteger(payload.iat), `iat missing or not an integer: ${show(payload.iat)}`)
  check(payload.iat <= now + 1, `iat ${payload.iat} is in the future (now ${now}); Hasura v2 rejects it`)
  if ('nbf' in payload) {
    check(typeof payload.nbf === 'number' && payload.nbf <= now,
      `nbf ${show(payload.nbf)} is in the future (now ${now}); Hasura v2 rejects it`)
  }
})

await step(`Hasura claims object under ${CLAIMS_NS}`, async () => {
  need(payload, 'a verified token')
  let c = payload[CLAIMS_NS]
  if (STRINGIFIED) {
    check(typeof c === 'string', `claims_format is stringified_json but ${CLAIMS_NS} is ${show(c)}`)
    c = JSON.parse(c)
  }
  check(c && typeof c === 'object' && !Array.isArray(c), `${CLAIMS_NS} is not a JSON object: ${show(c)}`)
  for (const [k, v] of Object.entries(c)) {
    check(k === k.toLowerCase(), `claim key ${show(k)} is not lower-case`)
    check(k.startsWith('x-hasura-'), `claim key ${show(k)} does not start with "x-hasura-"`)
    if (k === 'x-hasura-allowed-roles') {
      check(Array.isArray(v) && v.length > 0 && v.every((r) => typeof r === 'string'),
        `x-hasura-allowed-roles must be a non-empty array of strings: ${show(v)}`)
    } else {
      check(typeof v === 'string', `${k} must be a string, got ${show(v)}`)
    }
  }
  const allowed = c['x-hasura-allowed-roles']
  check(Array.isArray(allowed), 'x-hasura-allowed-roles missing')
  check(typeof c['x-hasura-default-role'] === 'string', 'x-hasura-default-role missing')
  check(allowed.includes(c['x-hasura-default-role']),
    `default role ${show(c['x-hasura-default-role'])} is not in allowed roles ${show(allowed)}`)
  check(c['x-hasura-user-id'] === payload.sub, `x-hasura-user-id ${show(c['x-hasura-user-id'])} != sub ${show(payload.sub)}`)
  check(c['x-hasura-user-is-anonymous'] === 'false',
    `x-hasura-user-is-anonymous is ${show(c['x-hasura-user-is-anonymous'])}, want "false"`)
})

if (harness.failed > 0 && token && !payload) {
  // Help debugging a signature failure: show what the token says without trusting it.
  try {
    console.log(`# unverified header ${show(decodeProtectedHeader(token))} payload ${show(decodeJwt(token))}`)
  } catch {}
}

// Prints "N passed, M failed" and exits.
finish()
