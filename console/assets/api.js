// The public API, same origin, with the signed-in merchant's bearer token. Every POST carries an
// Idempotency-Key; a POST that met a network failure, a 503 or an `idempotency_key_in_use` is
// retried with the same key, so a lost answer never creates a second application or key.

import {accessToken} from './auth.js';

/** A refused request: `problem` is the problem+json body (or API Gateway's message made into one). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** `name_taken` from `/errors/name_taken`; '' for API Gateway's own answers. */
  get code() {
    return this.problem.code || '';
  }
}

/** Called on a 401: the token expired or was refused, so the console signs out. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

const RETRIES = 2;

async function problemOf(response) {
  const type = response.headers.get('content-type') || '';
  let body = {};
  if (type.includes('json')) {
    try {
      body = await response.json();
    } catch {
      body = {};
    }
  }
  if (typeof body !== 'object' || body === null) body = {};
  const code = typeof body.type === 'string' && body.type.startsWith('/errors/') ? body.type.slice(8) : '';
  return {
    type: body.type || '',
    code,
    status: response.status,
    // API Gateway answers {"message": "Forbidden"} for a missing scope or a bad token.
    title: body.title || body.message || response.statusText || 'Request failed',
    detail: body.detail || gatewayDetail(response.status),
    errors: Array.isArray(body.errors) ? body.errors : [],
  };
}

function gatewayDetail(status) {
  if (status === 401) return 'Your session has ended. Sign in again.';
  if (status === 403) return 'Your account is not allowed to do this (the token lacks the scope).';
  if (status >= 500) return 'The service could not answer. Try again in a moment.';
  return '';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds from Retry-After, between 1 and 5. */
function retryDelay(response) {
  const seconds = Number(response?.headers.get('retry-after'));
  return Math.min(Math.max(Number.isFinite(seconds) ? seconds : 1, 1), 5) * 1000;
}

async function request(method, path, body) {
  const headers = {Accept: 'application/json, application/problem+json'};
  const token = accessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
  const init = {method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error'};
  if (body !== undefined) init.body = JSON.stringify(body);

  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (method === 'POST' && attempt < RETRIES) {
        await sleep(1000);
        continue;
      }
      throw new ApiError(0, {
        code: 'network', status: 0, title: 'No answer',
        detail: 'The API could not be reached. Check your connection and try again.', errors: [],
      });
    }
    if (response.ok) {
      return response.status === 204 ? null : response.json();
    }
    const problem = await problemOf(response);
    const retriable = response.status === 503 || problem.code === 'idempotency_key_in_use';
    if (method === 'POST' && retriable && attempt < RETRIES) {
      await sleep(retryDelay(response));
      continue;
    }
    if (response.status === 401) onUnauthorized(problem);
    throw new ApiError(response.status, problem);
  }
}

const base = '/api/v1/applications';
const app = (id) => `${base}/${encodeURIComponent(id)}`;
const key = (id, keyId) => `${app(id)}/api-keys/${encodeURIComponent(keyId)}`;

export const api = {
  listApplications: (page, limit) =>
    request('GET', `${base}?include=apiKeys&page=${page}&limit=${limit}`),
  createApplication: (body) => request('POST', base, body),
  getApplication: (id) => request('GET', app(id)),
  setApplicationStatus: (id, isEnabled) => request('PATCH', `${app(id)}/status`, {isEnabled}),
  createKey: (id, body) => request('POST', `${app(id)}/api-keys`, body),
  rollKey: (id, keyId, body) => request('POST', `${key(id, keyId)}/roll`, body),
  revokeKey: (id, keyId) => request('DELETE', key(id, keyId)),
  updateKey: (id, keyId, body) => request('PATCH', key(id, keyId), body),
  listEvents: (id, limit, startingAfter) =>
    request('GET', `${app(id)}/events?limit=${limit}${startingAfter ? `&startingAfter=${encodeURIComponent(startingAfter)}` : ''}`),
};
