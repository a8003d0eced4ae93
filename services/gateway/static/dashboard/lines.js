// Transcript lines: messages, internal notes and activity, as DOM (escaped) or as plain text.
import { clock, fileSize, h, richText } from '../shared/dom.js';
import { attachmentUrl } from './api.js';
import { agentName, store } from './store.js';
import { avatar } from './ui.js';

const REASONS = {
  no_agent_available: 'no agent is available',
};

/** Who wrote a line, for people: the visitor's name, "You", or the teammate's name. */
export function authorName(line, ctx) {
  const author = line.author || {};
  if (author.kind === 'visitor') return ctx.visitorName || 'Visitor';
  if (author.kind === 'agent') return ctx.plain && author.id === store.me?.id ? store.me.name : agentName(author.id);
  return 'Parley';
}

/** Activity in words, built from the line's structured data. */
export function activityText(line, ctx = {}) {
  const d = line.data || {};
  const who = authorName(line, ctx);
  const name = (id) => (ctx.plain && id === store.me?.id ? store.me.name : agentName(id));
  switch (line.event_type) {
    case 'conversation.participant_joined': return `${name(d.agent_id)} joined the conversation`;
    case 'conversation.participant_left': return `${name(d.agent_id)} left the conversation`;
    case 'conversation.teammate_invited': return `${who} added ${name(d.agent_id)} to the conversation`;
    case 'conversation.tag_added': return `${who} tagged it “${d.tag}”`;
    case 'conversation.tag_removed': return `${who} removed the tag “${d.tag}”`;
    case 'conversation.closed': return `${who} closed the conversation${d.reason ? `: ${d.reason}` : ''}`;
    case 'conversation.reopened': return 'The conversation was reopened';
    case 'conversation.rating_given': return `Visitor rated it ${'★'.repeat(d.score)}${'☆'.repeat(5 - d.score)}${d.comment ? ` “${d.comment}”` : ''}`;
    case 'conversation.assignment_decided':
      if (d.outcome === 'assigned') return `Assigned to ${name(d.agent_id)}`;
      if (d.outcome === 'queued') return `Queued${d.queue_position ? ` (#${d.queue_position})` : ''}: ${REASONS[d.reason] || String(d.reason || '').replaceAll('_', ' ')}`;
      return 'Unassigned';
    default: return String(line.event_type || 'activity').replace('conversation.', '').replaceAll('_', ' ');
  }
}

function attachmentView(ref) {
  const url = attachmentUrl(ref.attachment_id);
  if (ref.content_type?.startsWith('image/')) {
    return h('a', { class: 'attachment image', href: url, target: '_blank', rel: 'noopener noreferrer', title: ref.filename },
      h('img', { src: url, alt: ref.filename, loading: 'lazy' }));
  }
  return h('a', { class: 'attachment file', href: url, target: '_blank', rel: 'noopener noreferrer', download: ref.filename },
    h('span', { class: 'file-icon', 'aria-hidden': 'true', text: '📄' }),
    h('span', {}, h('span', { class: 'file-name', text: ref.filename }), h('span', { class: 'muted small', text: ` ${fileSize(ref.size)}` })));
}

export function renderLine(line, ctx) {
  if (line.kind === 'activity') {
    return h('div', { class: `line activity${line.internal ? ' internal' : ''}`, dataset: { position: line.position } },
      h('span', { text: activityText(line, ctx) }), h('time', { class: 'muted small', text: ` · ${clock(line.created_at)}` }));
  }
  const mine = line.author?.kind === 'agent' && line.author.id === store.me?.id;
  const fromVisitor = line.author?.kind === 'visitor';
  const note = line.kind === 'note';
  const classes = ['line', 'message', note ? 'note' : '', mine ? 'mine' : '', fromVisitor ? 'from-visitor' : 'from-agent'].filter(Boolean).join(' ');
  const bubble = h('div', { class: 'bubble' },
    note ? h('div', { class: 'note-label', text: '🔒 Internal note · only agents see this' }) : null,
    line.text ? h('div', { class: 'text' }, richText(line.text)) : null,
    line.attachments?.length ? h('div', { class: 'attachments' }, line.attachments.map(attachmentView)) : null);
  return h('div', { class: classes, dataset: { position: line.position } },
    mine ? null : avatar(authorName(line, ctx)),
    h('div', { class: 'line-body' },
      h('div', { class: 'line-meta' }, h('span', { class: 'author', text: authorName(line, ctx) }), h('time', { class: 'muted small', text: clock(line.created_at) })),
      bubble));
}
