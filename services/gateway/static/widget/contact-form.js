// The form both ways of writing to the team share: name, email and message, checked in the browser first,
// sent by `submit(fields)`; the pre-chat form starts a chat with it, the leave-a-message form (offline.js)
// leaves a message.
import { h } from '../shared/dom.js';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** What the form still needs, in words; null when name, email and message are there. */
function missing(name, email, message) {
  const problems = [];
  if (!name.trim()) problems.push('your name');
  if (!EMAIL.test(email.trim())) problems.push('a valid email');
  if (!message.trim()) problems.push('a message');
  return problems.length ? `Please enter ${problems.join(', ')}.` : null;
}

/**
 * `before`: nodes above the fields; `emailLabel`, `placeholder`, `rows`: the wording; `department`: the
 * department select (or null); `after`: nodes between the message and the submit button; `notice`: an
 * error shown at first; `submit(fields)` rejects with an Error whose message the form shows.
 */
export function contactForm({ label, before = [], emailLabel = 'Email', department = null, placeholder, rows = '3', after = [], submitText, busyText, notice, submit }) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: '200', autocomplete: 'name' });
  const email = h('input', { type: 'email', name: 'email', required: true, maxlength: '320', autocomplete: 'email' });
  const message = h('textarea', { name: 'message', rows, required: true, maxlength: '5000', placeholder });
  const error = h('p', { class: 'error', role: 'alert', hidden: !notice, text: notice || '' });
  const button = h('button', { type: 'submit', class: 'primary', text: submitText });
  const form = h('form', { class: 'prechat', novalidate: true, 'aria-label': label },
    before,
    h('label', {}, 'Your name', name),
    h('label', {}, emailLabel, email),
    department ? h('label', { class: 'department-box' }, 'Department (optional)', department) : null,
    h('label', {}, 'Message', message),
    after,
    error, button);
  form.addEventListener('input', () => { error.hidden = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problem = missing(name.value, email.value, message.value);
    if (problem) {
      error.hidden = false;
      error.textContent = problem;
      return;
    }
    button.disabled = true;
    button.textContent = busyText;
    try {
      await submit({ name: name.value.trim(), email: email.value.trim(), message: message.value.trim() });
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      button.disabled = false;
      button.textContent = submitText;
    }
  });
  return form;
}
