// The widget's closed state: the team's offline text, the opening hours in the visitor's own time zone,
// and the leave-a-message form (name, email, message, an optional file). Every text goes in as text.
import { h } from '../shared/dom.js';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function visitorZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time';
}

/** "Thu 15 Jan, 09:00 – 17:00" for each opening (UTC instants from the server), in the visitor's zone. */
export function openingHours(items) {
  if (!items?.length) return null;
  const day = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
  const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return h('div', { class: 'opening-hours' },
    h('p', { class: 'opening-title', text: `Opening hours (your time, ${visitorZone()})` }),
    h('ul', {}, items.map(({ opens, closes }) => {
      const start = new Date(opens);
      const end = new Date(closes);
      return h('li', { text: `${day.format(start)}, ${time.format(start)} – ${time.format(end)}` });
    })));
}

/** When the team is back, in the visitor's words: "Back Thu 15 Jan, 09:00". */
export function backAt(nextOpening) {
  if (!nextOpening) return 'We are away right now';
  const when = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  return `Back ${when.format(new Date(nextOpening))}`;
}

/** The leave-a-message form; `send({name, email, message}, file)` starts the conversation. */
export function offlineForm(info, { department, send }) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: '200', autocomplete: 'name' });
  const email = h('input', { type: 'email', name: 'email', required: true, maxlength: '320', autocomplete: 'email' });
  const message = h('textarea', { name: 'message', rows: '4', required: true, maxlength: '5000', placeholder: 'Your message' });
  const file = h('input', { type: 'file', name: 'attachment', accept: 'image/*,.pdf,.txt,.csv,.zip,.docx,.xlsx' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Send message' });
  const form = h('form', { class: 'prechat offline-form', novalidate: true, 'aria-label': 'Leave a message' },
    h('p', { class: 'offline-text', text: info.offline_text || 'We are away right now. Leave a message and we will reply by email.' }),
    openingHours(info.opening_hours),
    h('label', {}, 'Your name', name),
    h('label', {}, 'Email (we reply here)', email),
    department ? h('label', {}, 'Department (optional)', department) : null,
    h('label', {}, 'Message', message),
    h('label', {}, 'Attachment (optional)', file),
    error, submit);
  form.addEventListener('input', () => { error.hidden = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problems = [];
    if (!name.value.trim()) problems.push('your name');
    if (!EMAIL.test(email.value.trim())) problems.push('a valid email');
    if (!message.value.trim()) problems.push('a message');
    if (problems.length) {
      error.hidden = false;
      error.textContent = `Please enter ${problems.join(', ')}.`;
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Sending…';
    try {
      await send({ name: name.value.trim(), email: email.value.trim(), message: message.value.trim() }, file.files[0] || null);
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      submit.disabled = false;
      submit.textContent = 'Send message';
    }
  });
  return form;
}
