// "Email me the transcript" under an ended chat. Shown only when the server can send email; the gateway
// allows a few requests per chat, and says so when they are used up.
import { clear, h } from '../shared/dom.js';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Keeps `box` in step with the conversation: an offer while it is closed, nothing while it is open. */
export function paintTranscriptOffer(box, api, conversation) {
  if (conversation.status !== 'closed') {
    box.hidden = true;
    box.dataset.shownFor = '';
    clear(box);
    return;
  }
  if (box.dataset.shownFor === conversation.id) return; // already offered: keep what is being typed
  box.dataset.shownFor = conversation.id;
  api.transcriptEmails().then((offer) => render(box, api, offer)).catch(() => { box.hidden = true; });
}

function render(box, api, offer) {
  if (!offer.email_configured) { box.hidden = true; return; }
  box.hidden = false;
  const sent = offer.items.map((item) => h('p', { class: 'muted', text: describe(item) }));
  if (!offer.can_request) { clear(box, sent); return; }
  const email = h('input', {
    type: 'email', name: 'transcript-email', maxlength: '320', autocomplete: 'email',
    'aria-label': 'Email for the transcript', placeholder: 'you@example.com', value: offer.suggested_recipient || '',
  });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const status = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'secondary', text: 'Email me the transcript' });
  const form = h('form', { class: 'transcript-form', 'aria-label': 'Email the transcript', novalidate: true },
    email, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const address = email.value.trim();
    error.hidden = true;
    if (!EMAIL.test(address)) { error.hidden = false; error.textContent = 'Enter a valid email address.'; return; }
    submit.disabled = true;
    try {
      const requested = await api.emailTranscript(address);
      status.textContent = `We are sending the transcript to ${requested.recipient}.`;
      form.remove();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  clear(box, h('p', { class: 'transcript-title', text: 'Want a copy of this chat?' }), sent, form, error, status);
}

function describe(item) {
  if (item.status === 'sent') return `The transcript was sent to ${item.recipient}.`;
  if (item.status === 'failed' || item.status === 'refused') return `The transcript could not be sent to ${item.recipient}.`;
  return `We are sending the transcript to ${item.recipient}.`;
}
