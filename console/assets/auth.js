// Sign-in. The access token lives in this module's variable only: never in localStorage,
// sessionStorage, a cookie or the URL. Reloading the page therefore signs the merchant out.
//
// Two ways in:
// - a development link `/console#token=<jwt>` (printed by scripts/dev): the fragment is read
//   once and removed from the address bar (and from the history entry) before anything else;
// - OAuth 2.0 authorization code with PKCE against the configured issuer (oauth4webapi, loaded
//   only for that). The code verifier and state must survive the redirect, so they are kept in
//   sessionStorage for the round trip only and deleted before the code is exchanged.

let token = null;

const PENDING = 'console.oauth.pending';

/** The authorization response this page was opened with, once taken out of the address bar. */
let callback = null;

/** The bearer token, or null when signed out. */
export function accessToken() {
  return token;
}

export function signOut() {
  token = null;
}

/** The page's own address for the OAuth redirect: origin + "/console". */
function redirectUri() {
  return `${location.origin}/console`;
}

/**
 * Takes a development token from a `#token=` fragment, once: the fragment leaves the address bar
 * and the history entry at once. Returns true when it held one.
 */
export function adoptFragmentToken() {
  if (!location.hash.startsWith('#token=')) return false;
  const value = new URLSearchParams(location.hash.slice(1)).get('token');
  history.replaceState(null, '', location.pathname + location.search);
  if (value) token = value;
  return Boolean(value);
}

/** http is accepted for a loopback issuer only (a local identity provider). */
function isLoopbackHttp(url) {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

async function authorizationServer(oauth, config) {
  const issuer = new URL(config.issuer);
  const options = isLoopbackHttp(issuer) ? {[oauth.allowInsecureRequests]: true} : {};
  const response = await oauth.discoveryRequest(issuer, {algorithm: 'oidc', ...options});
  return {as: await oauth.processDiscoveryResponse(issuer, response), options};
}

const loadOauth = () => import('./vendor/oauth4webapi.js');

/**
 * Takes an OAuth authorization response (`?code=…&state=…`, or `?error=…`) out of the address bar
 * and the history entry, before anything else: whatever happens next, the code is not left there.
 */
export function adoptRedirectResponse() {
  const query = new URLSearchParams(location.search);
  if (!query.has('code') && !query.has('error')) return;
  callback = new URL(location.href);
  history.replaceState(null, '', location.pathname);
}

/** Completes the sign-in `adoptRedirectResponse` took, if any. Returns true when signed in. */
export async function completeRedirect(config) {
  if (!callback) return false;
  const response = callback;
  callback = null;
  const pending = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (!pending) throw new Error('The sign-in response did not match a sign-in started here. Sign in again.');
  const {verifier, state} = JSON.parse(pending);

  const oauth = await loadOauth();
  const {as, options} = await authorizationServer(oauth, config);
  const client = {client_id: config.clientId};
  const parameters = refusalExplained(oauth, () => oauth.validateAuthResponse(as, client, response, state));
  const grant = await oauth.authorizationCodeGrantRequest(
    as, client, oauth.None(), parameters, redirectUri(), verifier, options);
  const result = await oauth.processAuthorizationCodeResponse(as, client, grant);
  token = result.access_token;
  return true;
}

/** What the common refusals mean, for a provider that gives no description. */
const REFUSALS = Object.assign(Object.create(null), {
  access_denied: 'the sign-in was cancelled or refused',
  login_required: 'you are not signed in there',
  consent_required: 'the console was not granted access',
});

/** An `?error=` response (the merchant cancelled, or the provider refused) in the merchant's words. */
function refusalExplained(oauth, validate) {
  try {
    return validate();
  } catch (error) {
    if (!(error instanceof oauth.AuthorizationResponseError)) throw error;
    const code = String(error.error).slice(0, 64);
    const description = (error.error_description || '').slice(0, 200).replace(/[\s.]+$/, '');
    const reason = description || REFUSALS[code] || 'it refused the request';
    throw new Error(`The identity provider did not sign you in: ${reason} (${code}). Sign in again.`);
  }
}

/** Sends the browser to the identity provider; it comes back to /console?code=…&state=…. */
export async function startSignIn(config) {
  const oauth = await loadOauth();
  const {as} = await authorizationServer(oauth, config);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', config.scopes);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  sessionStorage.setItem(PENDING, JSON.stringify({verifier, state}));
  location.assign(url.href);
}
