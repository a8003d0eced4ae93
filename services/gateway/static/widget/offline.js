// The widget's closed state: the team's offline text, the opening hours in the visitor's own time zone,
// and the leave-a-message form (name, email, message, an optional file). Every text goes in as text.
import { h } from '../shared/dom.js';
import { contactForm } from './contact-form.js';

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
  const file = h('input', { type: 'file', name: 'attachment', accept: 'image/*,.pdf,.txt,.csv,.zip,.docx,.xlsx' });
  return contactForm({
    label: 'Leave a message',
    before: [
      h('p', { class: 'offline-text', text: info.offline_text || 'We are away right now. Leave a message and we will reply by email.' }),
      openingHours(info.opening_hours),
    ],
    emailLabel: 'Email (we reply here)',
    department,
    placeholder: 'Your message',
    rows: '4',
    after: [h('label', {}, 'Attachment (optional)', file)],
    submitText: 'Send message',
    busyText: 'Sending…',
    submit: (fields) => send(fields, file.files[0] || null),
  });
}
