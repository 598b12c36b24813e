// oidc-provider.mjs — a REAL OpenID Connect provider (npm `oidc-provider`, pinned in package.json) for the
// black-box tests of hauth's provider sign-in ("/signin/provider/<name>").
//
// One confidential client:
//   - authorization code flow only (response_type=code), PKCE S256 REQUIRED (a code request without
//     code_challenge gets error=invalid_request; "plain" is not supported by the library at all)
//   - registered token_endpoint_auth_method: client_secret_basic (one method per client). The library treats
//     client_secret_basic and client_secret_post as interchangeable, so both work at the token, revocation
//     and introspection endpoints; anything else (none, *_jwt) is rejected with invalid_client.
//   - id_token signed RS256 with a "kid"; nonce echoed; email, email_verified, name, picture are IN the
//     id_token (conformIdTokenClaims: false) and also served by the userinfo endpoint
//   - scopes openid email profile offline_access; a refresh token is issued when offline_access was granted
//     (see "Refresh tokens" below); refresh tokens rotate on every use; revocation endpoint enabled.
//     Presenting an already-rotated refresh token, or an already-used code, revokes the whole grant.
//   - discovery at /.well-known/openid-configuration
//
// Refresh tokens: the library silently drops offline_access from an authorization request whose `prompt`
// does not contain "consent" (also when there is no prompt parameter). To keep the rule simple, a
// pre-middleware adds "consent" to the prompt of every GET /auth whose scope contains offline_access (unless
// prompt=none). So: send scope "openid email profile offline_access" (response_type=code) with no prompt, or
// prompt=consent, or prompt=login; the consent step (interactive, or OIDC_AUTO_LOGIN) grants every requested
// scope, and issueRefreshToken gives this client a refresh token whenever offline_access was granted.
//
// Interactions: a small login page (fields "login" = email or sub, and "password", checked against
// OIDC_USERS; button "Sign in") and a consent page (button "Continue"). With OIDC_AUTO_LOGIN=<sub> both steps
// complete by themselves (303 redirects) as that user, so a plain HTTP client that follows redirects and keeps
// cookies (path-scoped: /interaction/<uid> and /auth/<uid>) reaches redirect_uri?code=...&state=...&iss=...
//
// Env:
//   OIDC_PORT            port on 127.0.0.1 (default 0 = a free one)
//   OIDC_ISSUER          issuer (default http://127.0.0.1:<port>)
//   OIDC_CLIENT_ID       client id (default "hauth-test")
//   OIDC_CLIENT_SECRET   client secret (default "hauth-test-secret")
//   OIDC_REDIRECT_URIS   comma-separated redirect URIs, matched exactly (required)
//   OIDC_USERS           JSON array [{"sub","email","email_verified","name","password"[,"picture"]}]
//                        (default: one user sub "alice", alice@example.com, password "secret")
//   OIDC_AUTO_LOGIN      a user's sub: log in and consent automatically as that user
//
// Stdout: exactly one line "READY <issuer>" once listening; nothing else (library notices and error events
// go to stderr). Runs until SIGTERM/SIGINT, then exits 0.
//
// Usage: cd tests/sdk && OIDC_REDIRECT_URIS=http://127.0.0.1:4000/signin/provider/acme/callback \
//          node oidc-provider.mjs

import http from 'node:http'
import { generateKeyPairSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { once } from 'node:events'

// oidc-provider prints its "NOTICE"s with console.info (stdout); stdout carries only the READY line.
console.log = console.info = console.debug = (...args) => console.error(...args)

function fail(message) {
  process.stderr.write(`oidc-provider.mjs: ${message}\n`)
  process.exit(2)
}

// oidc-provider 9 targets Node 22 LTS (it warns "Unsupported runtime" on 20, on stderr) but runs on Node 20
// from 20.18 on (it needs URL.parse and crypto.hash).
if (typeof URL.parse !== 'function') fail(`Node ${process.version} lacks URL.parse; oidc-provider needs Node >= 20.18`)

const { default: Provider } = await import('oidc-provider')

// ---------------------------------------------------------------- configuration

const CLIENT_ID = process.env.OIDC_CLIENT_ID || 'hauth-test'
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || 'hauth-test-secret'
const REDIRECT_URIS = (process.env.OIDC_REDIRECT_URIS || '').split(',').map((s) => s.trim()).filter(Boolean)
if (!REDIRECT_URIS.length) fail('OIDC_REDIRECT_URIS is not set (comma-separated redirect URIs)')
const AUTH_METHOD = 'client_secret_basic'

let users
try {
  users = JSON.parse(process.env.OIDC_USERS || 'null') || [
    { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', password: 'secret' }
  ]
} catch (e) {
  fail(`OIDC_USERS is not JSON: ${e.message}`)
}
if (!Array.isArray(users) || !users.every((u) => u && typeof u.sub === 'string' && u.sub)) {
  fail('OIDC_USERS must be a JSON array of objects with a non-empty "sub"')
}

const AUTO_LOGIN = process.env.OIDC_AUTO_LOGIN || ''
if (AUTO_LOGIN && !users.some((u) => u.sub === AUTO_LOGIN)) fail(`OIDC_AUTO_LOGIN=${AUTO_LOGIN} is not a sub in OIDC_USERS`)

// Listen first (the port may be 0), then build the provider for the actual issuer.
const server = http.createServer()
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1')
await once(server, 'listening')
const ISSUER = (process.env.OIDC_ISSUER || `http://127.0.0.1:${server.address().port}`).replace(/\/+$/, '')

const findUser = (sub) => users.find((u) => u.sub === sub)
const userByLogin = (login) => users.find((u) => u.email === login) || findUser(login)

function sameSecret(a, b) {
  const h = (s) => createHash('sha256').update(String(s)).digest()
  return timingSafeEqual(h(a), h(b))
}

// ---------------------------------------------------------------- the provider

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `rs256-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: AUTH_METHOD,
      id_token_signed_response_alg: 'RS256',
      scope: 'openid email profile offline_access'
    }
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture']
  },
  // Scope-requested claims go into the id_token too, not only to userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client, source) =>
    client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true }
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  clientBasedCORS: () => false,
  async findAccount(_ctx, sub) {
    const user = findUser(sub)
    if (!user) return undefined
    return {
      accountId: user.sub,
      async claims() {
        return {
          sub: user.sub,
          email: user.email,
          email_verified: user.email_verified !== false,
          name: user.name,
          picture: user.picture || `${ISSUER}/avatars/${encodeURIComponent(user.sub)}.png`
        }
      }
    }
  },
  async renderError(ctx, out) {
    ctx.type = 'html'
    ctx.body = page('Error', `<h1>Error</h1><pre id="error">${esc(JSON.stringify(out, null, 2))}</pre>`)
  }
})

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'revocation.error',
  'introspection.error', 'end_session.error']) {
  provider.on(event, (ctx, err) => {
    const detail = [err && err.error_description, err && err.error_detail].filter(Boolean).join('; ')
    process.stderr.write(`oidc-provider ${event}: ${err && err.message}${detail ? ` (${detail})` : ''}\n`)
  })
}

// ---------------------------------------------------------------- interactions

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><link rel="icon" href="data:,"></head><body>${body}</body></html>`
}

function loginPage(uid, clientId, error, login) {
  return page('Sign in', `<h1>Sign in to ${esc(clientId)}</h1>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
  <label>Email <input type="text" name="login" id="login-input" value="${esc(login)}" autocomplete="username" required autofocus></label>
  <label>Password <input type="password" name="password" id="password-input" autocomplete="current-password" required></label>
  <button type="submit" id="sign-in">Sign in</button>
</form>
<a href="/interaction/${esc(uid)}/abort">Cancel</a>`)
}

function consentPage(uid, clientId, scopes, accountId) {
  return page('Authorize', `<h1>Authorize ${esc(clientId)}</h1>
<p>Signed in as <span id="account">${esc(accountId)}</span>. Requested scopes:</p>
<ul id="scopes">${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm">
  <button type="submit" id="continue" autofocus>Continue</button>
</form>
<a href="/interaction/${esc(uid)}/abort">Cancel</a>`)
}

async function formBody(req) {
  let raw = ''
  req.setEncoding('utf8')
  for await (const chunk of req) {
    raw += chunk
    if (raw.length > 65536) throw new Error('form body too large')
  }
  return Object.fromEntries(new URLSearchParams(raw))
}

// Grants every scope and claim the consent prompt says is missing.
async function grantAll(details) {
  const { prompt: { details: missing }, params, session: { accountId } } = details
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id })
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '))
    }
  }
  const grantId = await grant.save()
  return { consent: details.grantId ? {} : { grantId } }
}

async function finish(ctx, result, merge = true) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge })
  ctx.status = 303
  ctx.redirect(returnTo)
}

// Pre-middleware (provider.use runs before the library's routes): offline_access => prompt includes consent.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/auth') {
    const { scope, prompt = '' } = ctx.query
    if (typeof scope === 'string' && typeof prompt === 'string' && scope.split(' ').includes('offline_access')) {
      const prompts = prompt.split(' ').filter(Boolean)
      if (!prompts.includes('consent') && !prompts.includes('none')) {
        ctx.query = { ...ctx.query, prompt: [...prompts, 'consent'].join(' ') }
      }
    }
  }
  return next()
})

provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path)
  if (!m) return next()
  const [, , action] = m
  ctx.set('Cache-Control', 'no-store')
  const details = await provider.interactionDetails(ctx.req, ctx.res)
  const { uid, prompt, params, session } = details

  if (!action && ctx.method === 'GET') {
    if (AUTO_LOGIN) {
      if (prompt.name === 'login') return finish(ctx, { login: { accountId: AUTO_LOGIN } }, false)
      return finish(ctx, await grantAll(details))
    }
    ctx.type = 'html'
    ctx.body = prompt.name === 'login'
      ? loginPage(uid, params.client_id, '', params.login_hint || '')
      : consentPage(uid, params.client_id, String(params.scope || '').split(' ').filter(Boolean), session && session.accountId)
    return
  }

  if (action === 'login' && ctx.method === 'POST') {
    if (prompt.name !== 'login') ctx.throw(400, `expected the ${prompt.name} prompt, not login`)
    const { login = '', password = '' } = await formBody(ctx.req)
    const user = userByLogin(login)
    if (!user || !sameSecret(password, user.password ?? randomBytes(16).toString('hex'))) {
      ctx.status = 401
      ctx.type = 'html'
      ctx.body = loginPage(uid, params.client_id, 'Invalid email or password.', login)
      return
    }
    return finish(ctx, { login: { accountId: user.sub } }, false)
  }

  if (action === 'confirm' && ctx.method === 'POST') {
    if (prompt.name !== 'consent') ctx.throw(400, `expected the ${prompt.name} prompt, not consent`)
    await formBody(ctx.req)
    return finish(ctx, await grantAll(details))
  }

  if (action === 'abort') {
    return finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false)
  }

  ctx.throw(405)
})

// ---------------------------------------------------------------- serve

server.on('request', provider.callback())
process.stdout.write(`READY ${ISSUER}\n`)
process.stderr.write(`oidc-provider.mjs: issuer ${ISSUER}, client ${CLIENT_ID} (${AUTH_METHOD}), redirect_uris ${REDIRECT_URIS.join(' ')}${AUTO_LOGIN ? `, auto-login as ${AUTO_LOGIN}` : ''}\n`)

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close()
    server.closeAllConnections()
    process.exit(0)
  })
}
