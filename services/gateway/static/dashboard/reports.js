// Reports for supervisors: handled conversations, first response and resolution times, CSAT.
import { clear, duration, h } from '../shared/dom.js';
import { api } from './api.js';
import { live } from './live.js';
import { agentName, CLOSING_EVENTS, freshView, recentlyClosed, store } from './store.js';
import { emptyState } from './ui.js';

export const TITLE = 'Reports';
const RANGES = [[7, 'Last 7 days'], [30, 'Last 30 days'], [90, 'Last 90 days']];

const csat = (value) => (value === null || value === undefined ? '—' : `${value.toFixed(2)} / 5`);

export function render(view) {
  if (store.me.role !== 'supervisor') {
    clear(view, emptyState('Reports are for supervisors', 'Ask a supervisor on your team for access.'));
    return;
  }
  let days = 30;
  const range = h('select', { 'aria-label': 'Period' }, RANGES.map(([n, label]) => h('option', { value: String(n), selected: n === days, text: label })));
  const body = h('div', { class: 'reports-body' }, h('p', { class: 'muted', text: 'Loading…' }));
  range.addEventListener('change', () => { days = Number(range.value); figures.reload(); });
  clear(view, h('div', { class: 'reports' }, h('div', { class: 'toolbar' }, h('span', { class: 'muted', text: 'Closed conversations in' }), range), body));

  // Figures change when a conversation closes or is rated: read them as new as those events.
  const figures = freshView({
    documents: () => [...recentlyClosed.ids],
    read: (minPosition) => {
      const until = new Date();
      const since = new Date(until.getTime() - days * 86400 * 1000);
      return api.get('/api/agent/reports', { since: since.toISOString(), until: until.toISOString(), min_position: minPosition });
    },
    paint: (report) => paint(report),
    onError: (error) => clear(body, emptyState('Could not load the reports', error.message)),
  });

  function card(label, value, note) {
    return h('div', { class: 'card stat' }, h('div', { class: 'stat-label', text: label }), h('div', { class: 'stat-value', text: value }), note ? h('div', { class: 'muted small', text: note }) : null);
  }

  function table(caption, rows, first) {
    if (!rows.length) return h('div', { class: 'card' }, h('h3', { text: caption }), h('p', { class: 'muted', text: 'Nothing in this period.' }));
    return h('div', { class: 'card' }, h('h3', { text: caption }), h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, [first, 'Conversations', 'Median first response', 'Median resolution', 'CSAT'].map((t) => h('th', { text: t })))),
      h('tbody', {}, rows.map((r) => h('tr', {},
        h('td', { text: r.label }), h('td', { text: String(r.conversations) }),
        h('td', { text: duration(r.median_first_response_seconds) }), h('td', { text: duration(r.median_resolution_seconds) }),
        h('td', { text: csat(r.csat_average) }))))));
  }

  function paint(report) {
    const t = report.totals;
    const peak = Math.max(1, ...report.by_day.map((d) => d.conversations));
    const chart = h('div', { class: 'bars', role: 'img', 'aria-label': 'Closed conversations per day' }, report.by_day.map((d) => {
      const bar = h('div', { class: 'bar', title: `${d.day}: ${d.conversations}` });
      bar.style.height = `${(d.conversations / peak) * 100}%`;
      return h('div', { class: 'bar-slot' }, bar);
    }));
    clear(body,
      h('div', { class: 'stats' },
        card('Conversations closed', String(t.conversations)),
        card('Median first response', duration(t.median_first_response_seconds), `average ${duration(t.avg_first_response_seconds)} · in business hours ${duration(t.median_first_response_business_seconds)}`),
        card('Median resolution', duration(t.median_resolution_seconds), `average ${duration(t.avg_resolution_seconds)} · in business hours ${duration(t.median_resolution_business_seconds)}`),
        card('Customer satisfaction', csat(t.csat_average), `${t.csat_count} rating${t.csat_count === 1 ? '' : 's'}`)),
      h('div', { class: 'card' }, h('h3', { text: 'Per day' }), chart),
      table('Per agent', report.by_agent.map((r) => ({ ...r, label: agentName(r.agent_id) === 'You' ? store.me.name : agentName(r.agent_id) })), 'Agent'),
      table('Per tag', report.by_tag.map((r) => ({ ...r, label: r.tag })), 'Tag'));
  }
  const onEvent = (event) => {
    const { position, event: e } = event.detail;
    if (CLOSING_EVENTS.has(e.type)) figures.saw(e.aggregate_id, position);
  };
  live.addEventListener('event', onEvent);
  figures.reload();
  return () => { figures.stop(); live.removeEventListener('event', onEvent); };
}
