// Webhooks for supervisors: register endpoints, see why one was disabled and enable it again, read its delivery log.
import { clear, dateTime, h } from '../shared/dom.js';
import { api } from './api.js';
import { store } from './store.js';
import { emptyState, showError, toast } from './ui.js';

export const TITLE = 'Webhooks';
const NOTES = 'conversation.note_added';
const REFRESH_MS = 2000;

export function render(view) {
  if (store.me.role !== 'supervisor') {
    clear(view, emptyState('Webhooks are for supervisors', 'Ask a supervisor on your team to connect other tools.'));
    return;
  }
  let destroyed = false;
  let timer = null;
  let selected = null; // the endpoint whose delivery log is open
  const list = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const log = h('div', { class: 'card', hidden: true });
  const form = endpointForm({ onCreated: () => load() });
  clear(view, h('div', { class: 'departments' },
    h('div', {}, h('div', { class: 'card' }, h('h3', { text: 'Endpoints' }), list), log),
    form.el));

  async function load() {
    clearTimeout(timer);
    try {
      const { items } = await api.get('/api/agent/webhooks');
      if (destroyed) return;
      paint(items);
      if (selected) await paintLog(items.find((e) => e.id === selected.id) || selected);
    } catch (error) {
      if (!destroyed) clear(list, emptyState('Could not load the webhooks', error.message));
    }
    if (!destroyed) timer = setTimeout(load, REFRESH_MS);
  }

  function paint(items) {
    if (!items.length) {
      clear(list, emptyState('No endpoints yet', 'Register one with the form: it receives the events it subscribes to, signed.'));
      return;
    }
    clear(list, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['URL', 'Events', 'Status', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, items.map((e) => h('tr', { dataset: { id: e.id } },
        h('td', {}, h('strong', { text: e.url }), e.description ? h('div', { class: 'muted small', text: e.description }) : null),
        h('td', { text: e.event_types.join(', ') }),
        h('td', {}, e.enabled ? 'Enabled' : h('span', {}, 'Disabled', h('div', { class: 'muted small', text: e.disabled_reason || 'by a supervisor' }))),
        h('td', {}, h('div', { class: 'button-row' },
          h('button', { type: 'button', class: 'button small', text: 'Deliveries', 'aria-label': `Deliveries of ${e.url}`, onclick: () => { selected = e; load(); } }),
          h('button', {
            type: 'button', class: 'button small', text: e.enabled ? 'Disable' : 'Enable', 'aria-label': `${e.enabled ? 'Disable' : 'Enable'} ${e.url}`,
            onclick: () => api.patch(`/api/agent/webhooks/${encodeURIComponent(e.id)}`, { enabled: !e.enabled })
              .then(() => toast(e.enabled ? 'Disabled' : 'Enabled: waiting deliveries resume in order')).then(load).catch(showError),
          }))))))));
  }

  async function paintLog(endpoint) {
    const { items } = await api.get(`/api/agent/webhooks/${encodeURIComponent(endpoint.id)}/deliveries`, { limit: 50 });
    if (destroyed) return;
    log.hidden = false;
    const base = `/api/agent/webhooks/${encodeURIComponent(endpoint.id)}`;
    const since = h('input', { type: 'datetime-local', 'aria-label': 'Replay since' });
    const replay = h('form', { class: 'button-row', 'aria-label': 'Replay' }, since,
      h('button', { type: 'submit', class: 'button small', text: 'Replay since' }));
    replay.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!since.value) return showError(new Error('Choose the time to replay from.'));
      api.post(`${base}/replay`, { since: new Date(since.value).toISOString() })
        .then(() => toast('Replay requested: the events go out again, in order')).catch(showError);
    });
    clear(log, h('h3', { text: `Deliveries to ${endpoint.url}` }), replay,
      items.length ? h('table', { class: 'table', 'aria-label': 'Delivery log' },
        h('thead', {}, h('tr', {}, ['Time', 'Event', 'Attempt', 'Status', 'Latency', 'Outcome', 'Answer', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, items.map((d) => h('tr', {},
          h('td', { text: dateTime(d.at) }),
          h('td', { text: d.event_type }),
          h('td', { text: d.attempt }),
          h('td', { text: d.status_code ?? (d.error || 'no answer') }),
          h('td', { text: `${Math.round(d.latency_ms)} ms` }),
          h('td', { text: d.outcome.replace('_', ' ') }),
          h('td', { class: 'muted small', text: (d.response_excerpt || '').slice(0, 120) }),
          h('td', {}, h('button', {
            type: 'button', class: 'button small', text: 'Send again', 'aria-label': `Send ${d.event_type} again`,
            onclick: () => api.post(`${base}/deliveries/${encodeURIComponent(d.id)}/resend`).then(() => toast('Sent again')).catch(showError),
          }))))))
        : h('p', { class: 'muted', text: 'Nothing delivered yet.' }));
  }

  load();
  return () => { destroyed = true; clearTimeout(timer); };
}

function endpointForm({ onCreated }) {
  const url = h('input', { type: 'url', maxlength: '2000', placeholder: 'https://crm.example.com/parley' });
  const types = h('input', { type: 'text', value: 'conversation.*', placeholder: 'conversation.*' });
  const notes = h('input', { type: 'checkbox' });
  const description = h('input', { type: 'text', maxlength: '500', placeholder: 'e.g. CRM sync' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const secret = h('div', { class: 'card', role: 'status', hidden: true });
  const el = h('form', { class: 'card department-form', novalidate: true, 'aria-label': 'New webhook endpoint' },
    h('h3', { text: 'New endpoint' }),
    h('label', {}, 'URL', url),
    h('label', {}, 'Event types', types, h('span', { class: 'muted small', text: 'Comma-separated: conversation.* or e.g. conversation.closed.' })),
    h('label', { class: 'inline-check' }, notes, 'Also internal notes'),
    h('p', { class: 'muted small', text: 'Whoever runs this endpoint will read your team’s internal notes.' }),
    h('label', {}, 'Description', description),
    error,
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'button primary', text: 'Register endpoint' })),
    secret);

  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const eventTypes = types.value.split(',').map((t) => t.trim()).filter(Boolean);
    if (notes.checked && !eventTypes.includes(NOTES)) eventTypes.push(NOTES);
    try {
      const created = await api.post('/api/agent/webhooks', { url: url.value.trim(), event_types: eventTypes, description: description.value.trim() });
      secret.hidden = false;
      clear(secret, h('strong', { text: 'Signing secret (shown once: copy it now)' }), h('code', { class: 'webhook-secret', text: created.secret }));
      url.value = '';
      description.value = '';
      onCreated();
    } catch (failure) {
      error.hidden = false;
      error.textContent = failure.message;
    }
  });
  return { el };
}
