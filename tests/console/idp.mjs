// A minimal OpenID provider on loopback, for the browser test's sign-in: discovery, an
// authorization endpoint that approves at once, and a token endpoint that checks PKCE (S256)
// before it hands out the merchant's token. It refuses anything else, so a console that sends a
// wrong redirect URI, no challenge, a verifier of the wrong form, a verifier it already showed
// in the authorization request, or one that does not match the challenge cannot sign in.
// `tamperState` makes the next authorization come back with another state, which the console
// must refuse without exchanging the code; `deny` (`{description}`) makes it come back with
// `error=access_denied`, as when the merchant cancels at the provider.

import {createHash, generateKeyPairSync, randomBytes, sign} from 'node:crypto';
import {createServer} from 'node:http';

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');

export function startIdp({port, clientId, redirectUri, accessToken}) {
  const issuer = `http://127.0.0.1:${port}`;
  const {privateKey} = generateKeyPairSync('rsa', {modulusLength: 2048});
  const codes = new Map(); // code → {challenge, redirectUri, parameters}
  const seen = {authorizations: [], exchanges: 0, refusals: []};
  const control = {tamperState: false, deny: false};

  const idToken = (subject) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({alg: 'RS256', typ: 'JWT', kid: 'test'}));
    const claims = b64url(JSON.stringify({iss: issuer, aud: clientId, sub: subject, iat: now, exp: now + 300}));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), privateKey);
    return `${header}.${claims}.${b64url(signature)}`;
  };

  const json = (response, status, body) => {
    response.writeHead(status, {
      'content-type': 'application/json',
      'access-control-allow-origin': '*',
      'cache-control': 'no-store',
    });
    response.end(JSON.stringify(body));
  };
  const refuse = (response, why) => {
    seen.refusals.push(why);
    json(response, 400, {error: 'invalid_request', error_description: why});
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url, issuer);
    if (request.method === 'OPTIONS') {
      response.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-headers': 'content-type, accept',
        'access-control-allow-methods': 'GET, POST',
      });
      response.end();
      return;
    }
    if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      json(response, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['none'],
      });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      const problem =
        q.get('client_id') !== clientId ? 'client_id'
          : q.get('redirect_uri') !== redirectUri ? 'redirect_uri'
            : q.get('response_type') !== 'code' ? 'response_type'
              : q.get('code_challenge_method') !== 'S256' ? 'code_challenge_method'
                : !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') || '') ? 'code_challenge'
                  : !q.get('state') ? 'state'
                    : !(q.get('scope') || '').split(' ').includes('openid') ? 'scope'
                      : null;
      if (problem) {
        refuse(response, `authorize: ${problem}`);
        return;
      }
      seen.authorizations.push(Object.fromEntries(q));
      if (control.deny) {
        const {description} = control.deny;
        control.deny = false;
        const back = new URL(redirectUri);
        back.searchParams.set('error', 'access_denied');
        if (description) back.searchParams.set('error_description', description);
        back.searchParams.set('state', q.get('state'));
        response.writeHead(302, {location: back.href});
        response.end();
        return;
      }
      const code = b64url(randomBytes(24));
      codes.set(code, {challenge: q.get('code_challenge'), redirectUri: q.get('redirect_uri'), parameters: [...q.values()]});
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', control.tamperState ? 'another-state' : q.get('state'));
      control.tamperState = false;
      response.writeHead(302, {location: back.href});
      response.end();
      return;
    }
    if (request.method === 'POST' && url.pathname === '/token') {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const form = new URLSearchParams(body);
        const issued = codes.get(form.get('code') || '');
        codes.delete(form.get('code') || ''); // a code is used once
        const verifier = form.get('code_verifier') || '';
        const problem =
          form.get('grant_type') !== 'authorization_code' ? 'grant_type'
            : !issued ? 'code'
              : form.get('client_id') !== clientId ? 'client_id'
                : form.get('redirect_uri') !== issued.redirectUri ? 'redirect_uri'
                  : !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ? 'code_verifier form (RFC 7636)'
                    : issued.parameters.some((value) => value.includes(verifier)) ? 'code_verifier sent in the authorization request'
                      : b64url(createHash('sha256').update(verifier).digest()) !== issued.challenge ? 'code_verifier'
                        : null;
        if (problem) {
          seen.refusals.push(`token: ${problem}`);
          json(response, 400, {error: 'invalid_grant', error_description: problem});
          return;
        }
        seen.exchanges += 1;
        json(response, 200, {
          access_token: accessToken,
          token_type: 'Bearer',
          expires_in: 3600,
          id_token: idToken('console-test-user'),
        });
      });
      return;
    }
    refuse(response, `${request.method} ${url.pathname}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({issuer, seen, control, close: () => server.close()}));
  });
}
