// Transcripts by email, the agent's side: "Email transcript…" in a conversation's Actions menu, and the
// state of each transcript email in the sidebar ("Transcript sent to …", "failed …; retrying").
import { dateTime, h } from '../shared/dom.js';
import { api } from './api.js';
import { agentName } from './store.js';
import { modal, showError, toast } from './ui.js';

let configured = null; // whether the server has SMTP: a setting, so asked once per page load

/** Resolves to whether transcripts can be emailed (the menu item is hidden otherwise). */
export async function loadEmailConfigured(path) {
  if (configured === null) {
    try {
      configured = Boolean((await api.get(`${path}/transcript-emails`)).email_configured);
    } catch {
      return false;
    }
  }
  return configured;
}

/** The Actions menu's item, if emails can be sent; `current()` is the conversation when it is chosen. */
export function emailTranscriptItem(path, current) {
  if (!configured || current().kind !== 'visitor') return [];
  return [{ label: 'Email transcript…', onSelect: () => emailTranscriptDialog(path, current()) }];
}

function emailTranscriptDialog(path, detail) {
  modal('Email the transcript', (close) => {
    const email = h('input', {
      type: 'email', required: true, maxlength: '320', 'aria-label': 'Recipient email',
      placeholder: 'name@example.com', value: detail.visitor?.email || '',
    });
    const send = async () => {
      const address = email.value.trim();
      if (!address || !email.checkValidity()) { toast('Enter a valid email address.', 'error'); return; }
      try {
        const requested = await api.post(`${path}/transcript-emails`, { email: address });
        toast(`Sending the transcript to ${requested.recipient}`);
        close();
      } catch (error) { showError(error); }
    };
    email.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); send(); } });
    return h('div', { class: 'modal-body' },
      h('p', { text: 'The messages the visitor saw and the names of attached files are sent. Internal notes never are.' }),
      email,
      h('div', { class: 'modal-actions' },
        h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: close }),
        h('button', { type: 'button', class: 'button primary', text: 'Send transcript', onclick: send })));
  });
}

const STATES = {
  pending: (e) => `Sending the transcript to ${e.recipient}…`,
  sent: (e) => `Transcript sent to ${e.recipient}`,
  retrying: (e) => `Sending to ${e.recipient} failed (${e.reason}); retrying`,
  failed: (e) => `Transcript not sent to ${e.recipient}: ${e.reason}`,
  refused: (e) => `Not sent to ${e.recipient}: ${e.reason}`,
};

/** The sidebar section: every transcript email of the conversation and how it went. */
export function transcriptEmailsInfo(detail) {
  const emails = detail.transcript_emails || [];
  if (!emails.length) return null;
  return h('div', { class: 'info-section' },
    h('div', { class: 'section-title', text: 'Transcript emails' }),
    h('ul', { class: 'transcript-emails', 'aria-label': 'Transcript emails' }, emails.map((e) => h('li', { class: `transcript-email ${e.status}` },
      h('div', { text: (STATES[e.status] || (() => e.status))(e) }),
      h('div', { class: 'muted small', text: `${e.requested_by === 'visitor' ? 'Asked by the visitor' : `Sent by ${agentName(e.requested_by_id)}`} · ${dateTime(e.updated_at || e.requested_at)}` })))));
}
