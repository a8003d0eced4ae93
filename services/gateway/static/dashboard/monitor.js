// Monitor: every open visitor conversation, live, with the unassigned / assigned / mine / offline / all filters.
import { clear, h, timeAgo } from '../shared/dom.js';
import { api } from './api.js';
import { live } from './live.js';
import { assignmentBadge, conversationInfo } from './sidebar.js';
import { departmentName, freshView, store } from './store.js';
import { avatar, emptyState, showError } from './ui.js';

export const TITLE = 'Monitor';
const FILTERS = [
  ['unassigned', 'Unassigned'],
  ['assigned', 'Assigned'],
  ['mine', 'Mine'],
  ['offline', 'Offline messages'],
  ['all', 'All'],
];
const EMPTY = {
  unassigned: 'Nobody is waiting. New chats from your website show up here the moment a visitor writes.',
  assigned: 'No conversation is assigned right now.',
  mine: 'You have no open conversations. Pick one from Unassigned, or set yourself Available to get chats.',
  offline: 'No offline messages. Messages visitors leave while you are closed or away show up here.',
  all: 'No open conversations. New chats from your website show up here the moment a visitor writes.',
};

let filter = sessionStorage.getItem('parley.monitor.filter') || 'unassigned';

export function render(view) {
  let selected = null;
  let detail = null;
  let joining = false;
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Filter conversations' });
  const list = h('div', { class: 'monitor-list', role: 'list', 'aria-label': 'Open conversations' });
  const side = h('aside', { class: 'right-sidebar', 'aria-label': 'Conversation details' });
  clear(view, h('div', { class: 'monitor' }, h('section', { class: 'monitor-main' }, tabs, list), side));

  function paintTabs(counts = {}) {
    clear(tabs, FILTERS.map(([name, label]) => h('button', {
      type: 'button', role: 'tab', class: 'tab', 'aria-selected': String(name === filter), dataset: { filter: name },
      onclick: () => { filter = name; sessionStorage.setItem('parley.monitor.filter', name); rows.reload(); },
    }, label, h('span', { class: 'count', text: String(counts[name] ?? 0) }))));
  }

  function paintList(items) {
    if (!items.length) {
      clear(list, emptyState('All clear', EMPTY[filter], filter !== 'mine' ? h('a', { href: '/demo', target: '_blank', class: 'button', text: 'Open the demo shop to try it' }) : null));
      return;
    }
    clear(list, items.map((c) => {
      const last = c.last_message;
      const rowEl = h('button', {
        type: 'button', role: 'listitem', class: `monitor-row${c.id === selected ? ' selected' : ''}`, dataset: { id: c.id },
        onclick: () => select(c.id),
      },
      avatar(c.visitor?.name),
      h('span', { class: 'row-main' },
        h('span', { class: 'row-top' }, h('strong', { class: 'row-name', text: c.visitor?.name || 'Visitor' }), c.department ? h('span', { class: 'chip', text: departmentName(c.department) }) : null, c.offline ? h('span', { class: 'chip offline-chip', text: 'Offline message' }) : null, c.offline && c.visitor?.email ? h('span', { class: 'muted small row-email', text: c.visitor.email }) : null, h('span', { class: 'muted small row-time', text: timeAgo(c.last_activity_at) })),
        h('span', { class: 'row-preview', text: last ? `${last.author_kind === 'agent' ? 'Agent: ' : ''}${last.text || (last.has_attachments ? '📎 Attachment' : '')}` : 'No messages yet' })),
      assignmentBadge(c));
      return rowEl;
    }));
  }

  function paintSide() {
    if (!selected || !detail) {
      clear(side, emptyState('No conversation selected', 'Pick a conversation to see who it is, where they are and who is on it.'));
      return;
    }
    const me = store.me.id;
    const participant = detail.participants.some((p) => p.id === me);
    const actions = h('div', { class: 'side-actions' });
    if (detail.status === 'closed') {
      actions.append(h('p', { class: 'muted', text: 'This conversation is closed.' }));
    } else if (participant) {
      actions.append(h('a', { class: 'button primary wide', href: `#/chats/${encodeURIComponent(detail.id)}`, text: 'Open the chat' }));
    } else {
      actions.append(h('button', {
        type: 'button', class: 'button primary wide', disabled: joining, text: joining ? 'Joining…' : 'Join to chat',
        onclick: async () => {
          joining = true;
          paintSide();
          try {
            await api.post(`/api/agent/conversations/${encodeURIComponent(detail.id)}/join`);
          } catch (error) {
            joining = false;
            showError(error);
          }
          paintSide();
        },
      }));
      actions.append(h('a', { class: 'button wide', href: `#/chats/${encodeURIComponent(detail.id)}`, text: 'View without joining' }));
    }
    clear(side, actions, conversationInfo(detail));
  }

  function select(id) {
    selected = id;
    joining = false;
    for (const el of list.querySelectorAll('.monitor-row')) el.classList.toggle('selected', el.dataset.id === id);
    shown.reload();
  }

  // The selected conversation, as new as every event known of it.
  const shown = freshView({
    documents: () => (selected ? [selected] : []),
    read: (minPosition) => (selected ? api.get(`/api/agent/conversations/${encodeURIComponent(selected)}`, { min_position: minPosition }) : null),
    paint: (answer) => {
      detail = answer;
      if (detail?.participants.some((p) => p.id === store.me.id)) joining = false;
      paintSide();
    },
    onError: (error) => {
      detail = null;
      if (error.status !== 404) showError(error);
      paintSide();
    },
  });
  // The list, as new as every event pushed about a conversation; a new filter drops an answer in flight.
  const rows = freshView({
    read: (minPosition) => api.get('/api/agent/monitor', { filter, min_position: minPosition }),
    paint: (page) => {
      paintTabs(page.counts);
      paintList(page.items);
    },
    onError: (error) => clear(list, emptyState('Could not load the Monitor', error.message, h('button', { type: 'button', class: 'button', onclick: () => rows.reload(), text: 'Try again' }))),
  });
  const onEvent = (event) => {
    const { topic, position, event: e } = event.detail;
    if (topic !== 'conversation') return;
    if (e.aggregate_id === selected) shown.saw(e.aggregate_id, position);
    if (e.type === 'conversation.read') return; // unread counts are not on the Monitor
    rows.saw(e.aggregate_id, position);
  };
  const onReady = (event) => { if (event.detail.reconnected) { rows.refresh(); shown.refresh(); } };
  live.addEventListener('event', onEvent);
  live.addEventListener('ready', onReady);
  // Waiting times tick on: repaint the list every 30 s (a clock, not a wait for the views).
  const ticker = setInterval(() => rows.refresh(), 30_000);
  paintTabs();
  paintSide();
  rows.reload();
  return () => {
    rows.stop();
    shown.stop();
    live.removeEventListener('event', onEvent);
    live.removeEventListener('ready', onReady);
    clearInterval(ticker);
  };
}
