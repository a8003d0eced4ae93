// The right sidebar's essentials about a conversation, shared by Monitor and Chat.
import { dateTime, duration, h, safeUrl } from '../shared/dom.js';
import { agentName, departmentName, store } from './store.js';
import { avatar, statusDot } from './ui.js';

export function assignmentLabel(c) {
  if (c.status === 'closed') return 'Closed';
  if (c.assignment === 'assigned') return `Assigned to ${c.assignee?.name || agentName(c.assignee_id)}`;
  if (c.assignment === 'queued') return c.queue_position ? `Queued · #${c.queue_position} in line` : 'Queued';
  return 'Unassigned';
}

export function assignmentBadge(c) {
  const kind = c.status === 'closed' ? 'closed' : c.assignment;
  return h('span', { class: `pill pill-${kind}`, text: assignmentLabel(c) });
}

function row(label, value) {
  if (value === null || value === undefined || value === '') return null;
  return [h('dt', { text: label }), h('dd', {}, value)];
}

export function conversationInfo(c, { showTags = true } = {}) {
  const people = c.participants || [];
  const page = c.page_url ? safeUrl(c.page_url) : null;
  const visitor = c.visitor || {};
  const head = c.kind === 'direct'
    ? h('div', { class: 'info-head' }, h('div', { class: 'info-name', text: c.subject || 'Team chat' }), h('div', { class: 'muted small', text: 'Agent-to-agent chat (no visitor)' }))
    : h('div', { class: 'info-head' },
      avatar(visitor.name, null, 'large'),
      h('div', {},
        h('div', { class: 'info-name', text: visitor.name || 'Visitor' }),
        visitor.email ? h('a', { class: 'small', href: `mailto:${visitor.email}`, text: visitor.email }) : h('span', { class: 'muted small', text: 'No email given' })));
  return h('div', { class: 'info' },
    head,
    h('dl', { class: 'facts' },
      row('Status', assignmentBadge(c)),
      row('Page', page ? h('a', { href: page, target: '_blank', rel: 'noopener noreferrer', class: 'break', text: c.page_url }) : null),
      row('Department', c.department ? departmentName(c.department) : null),
      row('Started', dateTime(c.created_at)),
      c.kind === 'visitor' ? row(c.first_response_at ? 'First reply after' : 'Waiting', duration(c.waiting_seconds)) : null,
      row('Closed', c.closed_at ? dateTime(c.closed_at) : null),
      row('Messages', c.message_count ? String(c.message_count) : null),
      row('Rating', c.rating ? `${'★'.repeat(c.rating.score)}${'☆'.repeat(5 - c.rating.score)}${c.rating.comment ? ` “${c.rating.comment}”` : ''}` : null),
      showTags && row('Tags', c.tags?.length ? h('span', { class: 'tags' }, c.tags.map((t) => h('span', { class: 'tag', text: t }))) : null)),
    h('div', { class: 'info-section' },
      h('div', { class: 'section-title', text: 'Agents' }),
      people.length
        ? h('ul', { class: 'people' }, people.map((p) => h('li', {}, statusDot(p.status), h('span', { text: p.id === store.me?.id ? `${p.name} (you)` : p.name }), p.id === c.assignee?.id ? h('span', { class: 'muted small', text: ' · assignee' }) : null)))
        : h('p', { class: 'muted small', text: 'Nobody has joined yet.' })));
}
