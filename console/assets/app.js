// Boot and routing. The views are hash routes, since the function serves the page at /console
// only: #/applications[?page=N], #/applications/<id>, #/applications/<id>/events.

import {accessToken, adoptFragmentToken, adoptRedirectResponse, completeRedirect, signOut} from './auth.js';
import {whenUnauthorized} from './api.js';
import {focus, h} from './dom.js';
import {clearAlert, showAlert, showProblem} from './problems.js';
import {applicationView} from './views/application.js';
import {applicationsView} from './views/applications.js';
import {eventsView} from './views/events.js';
import {signInView} from './views/sign-in.js';

// First of all, before any await: a development token or an OAuth code leaves the address bar.
adoptFragmentToken();
adoptRedirectResponse();

const main = document.getElementById('main');
const signOutButton = document.getElementById('sign-out');
const nav = document.getElementById('nav');
let config = null;
let generation = 0;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An address the console has no page for: it says so, and calls nothing. */
function notFoundView({main}) {
  document.title = 'Not found · Merchant console';
  main.replaceChildren(
    h('h1', {tabindex: '-1'}, 'Not found'),
    h('p', {}, 'The console has no page at this address. ',
      h('a', {href: '#/applications'}, 'Back to your applications'), '.'));
}

function parse(hash) {
  // `#/…` is a route; any other fragment (`#main`, the skip link's target) is an in-page anchor
  // of the list's first page.
  if (!hash.startsWith('#/')) return {view: applicationsView, params: {page: 1}};
  const [path, query = ''] = hash.slice(2).split('?');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'applications' && parts.length > 1) {
    if (!UUID.test(parts[1])) return {view: notFoundView, params: {}};
    if (parts.length === 2) return {view: applicationView, params: {id: parts[1]}};
    if (parts.length === 3 && parts[2] === 'events') return {view: eventsView, params: {id: parts[1]}};
    return {view: notFoundView, params: {}};
  }
  if (parts.length > 0 && parts[0] !== 'applications') return {view: notFoundView, params: {}};
  const page = Number.parseInt(new URLSearchParams(query).get('page') || '1', 10);
  return {view: applicationsView, params: {page: Number.isInteger(page) && page > 0 ? page : 1}};
}

function showSignedIn(signedIn) {
  signOutButton.hidden = !signedIn;
  nav.hidden = !signedIn;
}

async function route({moveFocus = true} = {}) {
  generation += 1;
  const mine = generation;
  const ctx = {
    main, config,
    isCurrent: () => mine === generation,
    navigate: (hash) => {
      location.hash = hash;
    },
  };
  if (!accessToken()) {
    showSignedIn(false);
    signInView(ctx);
    if (moveFocus) focus(main.querySelector('h1'));
    return;
  }
  showSignedIn(true);
  const {view, params} = parse(location.hash);
  try {
    await view(ctx, params);
  } catch (error) {
    if (ctx.isCurrent()) showProblem(error);
  }
  if (ctx.isCurrent() && moveFocus) focus(main.querySelector('h1'));
}

async function boot() {
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    focus(main);
  });
  signOutButton.addEventListener('click', () => {
    signOut();
    clearAlert();
    history.replaceState(null, '', location.pathname);
    route();
  });
  whenUnauthorized((problem) => {
    signOut();
    route({moveFocus: false});
    showAlert('You are signed out', problem.detail || 'Your session has ended. Sign in again.');
  });
  try {
    const response = await fetch('/console/config.json', {cache: 'no-store', credentials: 'omit'});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    main.replaceChildren();
    showAlert('The console could not start', `Its settings could not be loaded (${error.message}). Reload the page to try again.`);
    return;
  }
  try {
    await completeRedirect(config);
  } catch (error) {
    showAlert('Sign-in failed', error.message);
  }
  window.addEventListener('hashchange', () => route());
  await route({moveFocus: false});
}

boot();
