// Shown while nobody is signed in: one button that starts the OAuth sign-in.

import {startSignIn} from '../auth.js';
import {h, replace} from '../dom.js';
import {showProblem} from '../problems.js';

export function signInView(ctx) {
  document.title = 'Sign in · Merchant console';
  const button = h('button', {type: 'button'}, 'Sign in');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await startSignIn(ctx.config);
    } catch (error) {
      showProblem(new Error(`Sign-in could not start: ${error.message}`));
      button.disabled = false;
    }
  });
  let provider = '';
  try {
    provider = new URL(ctx.config.issuer).host;
  } catch {
    provider = ctx.config.issuer;
  }
  replace(ctx.main,
    h('section', {class: 'card sign-in', 'aria-labelledby': 'sign-in-heading'},
      h('h1', {id: 'sign-in-heading', tabindex: '-1'}, 'Sign in'),
      h('p', {}, 'Sign in with your merchant account to manage your applications and their API keys.'),
      h('p', {class: 'meta'}, 'You will be sent to ', h('strong', {}, provider), ' and brought back here.'),
      button));
}
