// History: closed conversations, searchable; a transcript view with text and HTML downloads.
import { clear, dateTime, debounce, duration, h } from '../shared/dom.js';
import { api } from './api.js';
import { live } from './live.js';
import { renderLine } from './lines.js';
import { agentName, CLOSING_EVENTS, freshView, recentlyClosed } from './store.js';
import { asHtml, asText, download } from './transcript.js';
import { emptyState, showError } from './ui.js';

export const TITLE = 'History';
const PAGE_SIZE = 20;

export function render(view, [openId]) {
  let q = sessionStorage.getItem('parley.history.q') || '';
  let pages = 1;
  let next = null; // where the page after the last one shown starts (null: nothing older)
  let items = [];
  let selected = openId || null;
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search whole words: visitor, email, tag, messages, notes…', 'aria-label': 'Search history', value: q });
  const summary = h('div', { class: 'muted small pad-x' });
  const list = h('div', { class: 'history-list', role: 'list' });
  const more = h('button', { type: 'button', class: 'button wide', hidden: true, text: 'Load more', onclick: () => loadOlder() });
  const pane = h('section', { class: 'transcript-pane' });
  clear(view, h('div', { class: 'history' },
    h('section', { class: 'history-main' }, h('div', { class: 'search-box' }, search), summary, list, more),
    pane));

  let shown = '';
  const failed = (error) => clear(list, emptyState('Could not search the history', error.message));
  /** The newest page, as new as every closing pushed while the dashboard was open; a new search drops an
   * answer to an older one still in flight. */
  const newest = freshView({
    documents: () => [...recentlyClosed.ids],
    read: (minPosition) => api.get('/api/agent/history', { q: q || undefined, page_size: PAGE_SIZE, min_position: minPosition }),
    paint: (result) => {
      const signature = JSON.stringify([q, result.next, result.items.map((c) => [c.id, c.rating, c.tags])]);
      if (signature === shown) return; // unchanged: keep the list (and the focus) as it is
      shown = signature;
      pages = 1;
      next = result.next;
      items = result.items;
      paint();
    },
    onError: failed,
  });
  /** The page after the shown ones, with the last answer's `next`. */
  async function loadOlder() {
    const asked = q;
    try {
      const result = await api.get('/api/agent/history', { q: q || undefined, before: next || undefined, page_size: PAGE_SIZE });
      if (asked !== q) return; // searched meanwhile: the new search paints
      shown = '';
      pages += 1;
      next = result.next;
      items = [...items, ...result.items];
      paint();
    } catch (error) {
      failed(error);
    }
  }

  function paint() {
    // No total: counting every match would cost what the whole history holds, on every search.
    const count = `${items.length}${next ? '+' : ''} closed conversation${items.length === 1 && !next ? '' : 's'}`;
    summary.textContent = q ? `${count} match “${q}”, newest first` : `${count}, newest first`;
    more.hidden = !next;
    if (!items.length) {
      clear(list, emptyState(q ? 'Nothing found' : 'No closed conversations yet', q ? 'Search finds whole words: try a visitor’s name, their email, a tag or words from the chat.' : 'Conversations you close with the X show up here.'));
      return;
    }
    clear(list, items.map((c) => h('button', {
      type: 'button', role: 'listitem', class: `history-row${c.id === selected ? ' selected' : ''}`, dataset: { id: c.id },
      onclick: () => open(c.id),
    },
    h('span', { class: 'row-top' },
      h('strong', { class: 'row-name', text: c.kind === 'direct' ? (c.subject || 'Team chat') : (c.visitor?.name || 'Visitor') }),
      h('span', { class: 'muted small', text: dateTime(c.closed_at) })),
    h('span', { class: 'row-preview', text: c.last_message_preview || '' }),
    h('span', { class: 'row-bottom muted small' },
      (c.agent_ids || []).map(agentName).join(', ') || 'No agent',
      c.rating ? ` · ${'★'.repeat(c.rating.score)}` : '',
      c.tags?.length ? h('span', { class: 'tags inline' }, c.tags.map((t) => h('span', { class: 'tag', text: t }))) : null))));
  }

  async function open(id) {
    selected = id;
    for (const el of list.querySelectorAll('.history-row')) el.classList.toggle('selected', el.dataset.id === id);
    history.replaceState(null, '', `#/history/${encodeURIComponent(id)}`);
    clear(pane, h('p', { class: 'muted pad', text: 'Loading transcript…' }));
    try {
      const path = `/api/agent/conversations/${encodeURIComponent(id)}`;
      const [conversation, messages] = await Promise.all([api.get(path), api.get(`${path}/messages`, { limit: 500 })]);
      const lines = messages.items;
      const ctx = { visitorName: conversation.visitor?.name };
      const base = `transcript-${(conversation.visitor?.name || 'chat').replace(/[^\w-]+/g, '-').toLowerCase()}-${id.slice(0, 8)}`;
      clear(pane,
        h('header', { class: 'transcript-header' },
          h('div', {},
            h('h2', { text: conversation.kind === 'direct' ? (conversation.subject || 'Team chat') : `Chat with ${conversation.visitor?.name || 'visitor'}` }),
            h('span', { class: 'muted small', text: `Closed ${dateTime(conversation.closed_at)} · first reply ${duration(conversation.waiting_seconds)}` })),
          h('div', { class: 'button-row' },
            h('button', { type: 'button', class: 'button', text: 'Download .txt', onclick: () => download(`${base}.txt`, asText(conversation, lines), 'text/plain;charset=utf-8') }),
            h('button', { type: 'button', class: 'button', text: 'Download .html', onclick: () => download(`${base}.html`, asHtml(conversation, lines), 'text/html;charset=utf-8') }))),
        h('div', { class: 'thread transcript' }, lines.length ? lines.map((line) => renderLine(line, ctx)) : emptyState('Empty transcript', 'Nobody wrote anything.')));
    } catch (error) {
      clear(pane, emptyState('Cannot open this transcript', error.message));
      showError(error);
    }
  }

  search.addEventListener('input', debounce(() => {
    q = search.value.trim();
    sessionStorage.setItem('parley.history.q', q);
    newest.reload();
  }, 250));
  // A closing reaches the history view a moment after its event: the first page is read as new as it.
  const onEvent = (event) => {
    const { position, event: e } = event.detail;
    if (CLOSING_EVENTS.has(e.type) && pages === 1) newest.saw(e.aggregate_id, position);
  };
  live.addEventListener('event', onEvent);
  clear(pane, emptyState('Pick a conversation', 'Its transcript opens here; download it as text or HTML.'));
  newest.reload();
  if (selected) open(selected);
  search.focus();
  return () => {
    newest.stop();
    live.removeEventListener('event', onEvent);
  };
}
