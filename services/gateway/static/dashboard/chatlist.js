// The Chat section's left sidebar: my open chats with unread badges, and a search to start a team chat.
import { clear, debounce, h, timeAgo } from '../shared/dom.js';
import { api } from './api.js';
import { chats, chatTitle } from './chats.js';
import { loadAgents, store } from './store.js';
import { avatar, emptyState, showError, statusDot } from './ui.js';

export function chatList(currentId) {
  const search = h('input', { type: 'search', class: 'search', placeholder: 'New chat: search a teammate…', 'aria-label': 'Start a new chat with a teammate' });
  const results = h('div', { class: 'search-results', role: 'listbox', hidden: true });
  const list = h('div', { class: 'chat-list', role: 'list', 'aria-label': 'My chats' });
  const el = h('aside', { class: 'left-sidebar' }, h('div', { class: 'search-box' }, search, results), list);

  async function start(agent) {
    results.hidden = true;
    search.value = '';
    try {
      const created = await api.post('/api/agent/direct-conversations', { agent_ids: [agent.id] });
      window.location.hash = `#/chats/${encodeURIComponent(created.conversation_id)}`;
    } catch (error) {
      showError(error);
    }
  }

  const lookup = debounce(async () => {
    const q = search.value.trim();
    if (!q) { results.hidden = true; return; }
    try {
      const found = (await loadAgents(q)).filter((a) => a.id !== store.me.id);
      if (q !== search.value.trim()) return; // typed on meanwhile: a newer lookup paints
      clear(results, found.length
        ? found.map((a) => h('button', { type: 'button', role: 'option', class: 'search-result', onclick: () => start(a) },
          statusDot(a.status), h('span', { text: a.name }), h('span', { class: 'muted small', text: ` ${a.email}` })))
        : h('div', { class: 'muted small pad', text: `No teammate matches “${q}”.` }));
      results.hidden = false;
    } catch (error) {
      showError(error);
    }
  }, 200);
  search.addEventListener('input', lookup);
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { search.value = ''; results.hidden = true; }
    if (event.key === 'Enter') { event.preventDefault(); results.querySelector('.search-result')?.click(); }
    if (event.key === 'ArrowDown') { event.preventDefault(); results.querySelector('.search-result')?.focus(); }
  });
  search.addEventListener('blur', () => setTimeout(() => { if (!results.contains(document.activeElement)) results.hidden = true; }, 200));

  function paint() {
    if (!chats.loaded) return;
    if (!chats.items.length) {
      clear(list, emptyState('No open chats', 'Join a conversation from the Monitor, or search a teammate above to start a team chat.'));
      return;
    }
    clear(list, chats.items.map((c) => {
      const unread = chats.unreadOf(c);
      const last = c.last_message;
      return h('a', {
        href: `#/chats/${encodeURIComponent(c.id)}`, role: 'listitem', dataset: { id: c.id },
        class: `chat-item${c.id === currentId ? ' active' : ''}${unread ? ' unread' : ''}`,
      },
      avatar(c.kind === 'direct' ? '👥' : c.visitor?.name),
      h('span', { class: 'row-main' },
        h('span', { class: 'row-top' }, h('strong', { class: 'row-name', text: chatTitle(c) }), h('span', { class: 'muted small row-time', text: timeAgo(c.last_activity_at) })),
        h('span', { class: 'row-preview', text: last ? (last.text || '📎 Attachment') : (c.kind === 'direct' ? 'Team chat' : 'No messages yet') })),
      unread ? h('span', { class: 'badge', 'aria-label': `${unread} unread`, text: String(unread) }) : null);
    }));
  }
  chats.addEventListener('change', paint);
  paint();
  chats.load();
  return { el, destroy: () => chats.removeEventListener('change', paint) };
}
