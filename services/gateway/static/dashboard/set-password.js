// Where an invitation's or a password reset's one-time link leads: choose a password, then sign in. The
// token is in the URL's fragment, never sent to the server but in this form's POST, and dropped from the
// address bar at once (history, screen shares).
import { clear, h } from '../shared/dom.js';

const root = document.getElementById('app');
const token = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token') || '';
window.history.replaceState(null, '', window.location.pathname);
const MIN_LENGTH = 8;

function card(...children) {
  clear(root, h('div', { class: 'login' }, h('div', { class: 'login-card' },
    h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', text: 'P' }), 'Parley'), ...children)));
}

function done(email) {
  card(h('h2', { text: 'Your password is set' }),
    h('p', { class: 'muted', text: `Sign in as ${email} with your new password.` }),
    h('a', { class: 'button primary wide', href: '/', text: 'Sign in' }));
}

function form() {
  const password = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: String(MIN_LENGTH) });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Set password' });
  const el = h('form', { novalidate: true, 'aria-label': 'Set your password' },
    h('h2', { text: 'Choose your password' }),
    h('label', {}, 'New password', password, h('span', { class: 'muted small', text: `At least ${MIN_LENGTH} characters.` })),
    h('label', {}, 'Repeat it', again),
    error,
    submit);
  const fail = (message) => { error.hidden = false; error.textContent = message; };
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (password.value.length < MIN_LENGTH) return fail(`The password needs at least ${MIN_LENGTH} characters.`);
    if (password.value !== again.value) return fail('The two passwords differ.');
    submit.disabled = true;
    try {
      const response = await fetch('/api/set-password', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, password: password.value }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer?.error?.message || `The link could not be used (${response.status}).`);
      done(answer.email);
    } catch (failure) {
      fail(failure.message);
      submit.disabled = false;
    }
  });
  card(el);
  password.focus();
}

if (token) form();
else card(h('h2', { text: 'This link is incomplete' }), h('p', { class: 'muted', text: 'Open the whole link you were given, or ask a supervisor for a new one.' }));
