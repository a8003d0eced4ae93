// Chat: my chats on the left, the thread in the middle, the conversation's sidebar (tags, the X) on the right.
import { clear, h } from '../shared/dom.js';
import { api } from './api.js';
import { chatList } from './chatlist.js';
import { chats, chatTitle } from './chats.js';
import { createComposer } from './composer.js';
import { strategyLabel } from './departments.js';
import { renderLine } from './lines.js';
import { live } from './live.js';
import { assignmentLabel, conversationInfo } from './sidebar.js';
import { agentName, freshView, LINE_EVENTS, loadAgents, loadDepartments, store } from './store.js';
import { emptyState, menuButton, modal, showError, statusDot, toast } from './ui.js';
import { emailTranscriptItem, loadEmailConfigured, transcriptEmailsInfo } from './transcript-email.js';

export const TITLE = 'Chats';

export function render(view, [conversationId]) {
  const sidebar = chatList(conversationId);
  const center = h('section', { class: 'thread-pane' });
  const right = h('aside', { class: 'right-sidebar', 'aria-label': 'Conversation details' });
  clear(view, h('div', { class: 'chat-layout' }, sidebar.el, center, conversationId ? right : null));
  if (!conversationId) {
    clear(center, emptyState('Pick a chat', 'Your open conversations are on the left. Join new ones from the Monitor, or search a teammate to start a team chat.',
      h('a', { class: 'button', href: '#/monitor', text: 'Go to the Monitor' })));
    return () => sidebar.destroy();
  }
  const thread = openThread(center, right, conversationId);
  return () => { sidebar.destroy(); thread.destroy(); };
}

function openThread(center, right, id) {
  const path = `/api/agent/conversations/${encodeURIComponent(id)}`;
  const lines = new Map(); // position -> line: dedupes pushed and fetched lines
  let last = -1;
  let readSent = -1;
  let detail = null;
  let composer = null;
  let destroyed = false;
  let typingTimer = null;

  const header = h('header', { class: 'thread-header' });
  const list = h('div', { class: 'thread', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typingEl = h('div', { class: 'typing', 'aria-live': 'polite' });
  const banner = h('div', { class: 'banner', hidden: true });
  const composerSlot = h('div', { class: 'composer-slot' });
  clear(center, header, list, typingEl, banner, composerSlot);
  clear(right, h('p', { class: 'muted pad', text: 'Loading…' }));

  const ctx = () => ({ visitorName: detail?.visitor?.name });
  const participant = () => detail?.participants.some((p) => p.id === store.me.id);
  const current = () => detail; // for menu items: the chat as it is when one is chosen, not when painted

  // The header's text is updated in place and its Actions menu rebuilt only when its items change: events
  // about this chat arrive while the agent may have the menu open, and a rebuilt menu opens closed.
  const titleEl = h('h2');
  const subtitleEl = h('span', { class: 'muted small' });
  const menuSlot = h('div');
  clear(header, h('div', { class: 'thread-title' }, titleEl, subtitleEl), menuSlot);
  let menuItems = '';

  function paintHeader() {
    const items = detail.status === 'closed' ? emailTranscriptItem(path, current) : [
      ...(detail.kind === 'visitor' ? [{ label: 'Reassign…', onSelect: reassign }, { label: 'Transfer to department…', onSelect: transfer }] : []),
      { label: 'Add Teammate…', onSelect: addTeammate },
      ...emailTranscriptItem(path, current),
      { label: 'Leave', onSelect: leave, danger: true },
    ];
    titleEl.textContent = chatTitle(detail);
    subtitleEl.textContent = detail.kind === 'direct' ? `Team chat · ${detail.participants.map((p) => p.name).join(', ')}` : assignmentLabel(detail);
    const labels = items.map((item) => item.label).join('\n');
    if (labels === menuItems) return;
    menuItems = labels;
    clear(menuSlot, items.length ? menuButton('Actions', items, { title: 'Reassign, transfer, add a teammate, email the transcript, or leave' }) : null);
  }

  function paintSidebar() {
    const close = detail.status === 'closed' ? null : h('button', {
      type: 'button', class: 'close-x', title: 'Close this conversation', 'aria-label': 'Close conversation', onclick: closeConversation,
    }, '✕');
    const typing = document.activeElement === tagInput;
    clear(right, h('div', { class: 'sidebar-top' }, h('span', { class: 'section-title', text: 'Conversation' }), close), conversationInfo(detail, { showTags: false }), tagsEditor(), transcriptEmailsInfo(detail));
    if (typing) tagInput.focus(); // moving the input in the page drops its focus
  }

  function paintComposer() {
    if (!composer) {
      composer = createComposer({
        getConversation: () => detail,
        allowFiles: detail.kind === 'visitor',
        onTyping: (typing, mode) => live.typing(id, typing, mode),
        // Show my own line as soon as the view has it, even if the socket is reconnecting.
        onSent: () => transcript.refresh(),
      });
      clear(composerSlot, composer.el);
    }
    banner.hidden = true;
    if (detail.status !== 'closed') composer.enable(); // a visitor writing again reopens it
    if (detail.status === 'closed') {
      composer.disable('This conversation is closed.');
      banner.hidden = false;
      clear(banner, 'This conversation is closed. It is in the ', h('a', { href: '#/history', text: 'history' }), '.');
    } else if (!participant()) {
      banner.hidden = false;
      clear(banner, 'You are not in this conversation. ', h('button', {
        type: 'button', class: 'button small', text: 'Join to chat',
        onclick: () => api.post(`${path}/join`).catch(showError),
      }));
    }
  }

  // One tag input for the chat's lifetime: a repaint (any pushed event) must not wipe what is being typed.
  const tagInput = h('input', { type: 'text', class: 'tag-input', placeholder: 'Add a tag and press Enter', 'aria-label': 'Add tag', maxlength: '50' });
  tagInput.addEventListener('keydown', async (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    const tag = tagInput.value.trim();
    if (!tag) return;
    try {
      await api.post(`${path}/tags`, { tag }); // later reads of this chat wait for the view to have it
      tagInput.value = '';
      detail.tags = [...new Set([...detail.tags, tag])];
      paintSidebar();
    } catch (error) {
      showError(error);
    }
  });

  function tagsEditor() {
    return h('div', { class: 'info-section' },
      h('div', { class: 'section-title', text: 'Tags' }),
      h('div', { class: 'tags editable' }, detail.tags.map((tag) => h('span', { class: 'tag' }, tag,
        detail.status === 'closed' ? null : h('button', {
          type: 'button', class: 'tag-remove', 'aria-label': `Remove tag ${tag}`,
          onclick: async () => {
            try {
              await api.del(`${path}/tags/${encodeURIComponent(tag)}`);
              detail.tags = detail.tags.filter((t) => t !== tag);
              paintSidebar();
            } catch (error) { showError(error); }
          },
        }, '✕')))),
      detail.status === 'closed' ? null : tagInput);
  }

  // The sidebar and the thread, each as new as every event known of this chat: pushed, or written by me
  // (a conversation I just started waits until the view has it instead of answering 404).
  const thisChat = () => [id];
  const sidebarView = freshView({
    documents: thisChat,
    read: (minPosition) => api.get(path, { min_position: minPosition }),
    paint: (fetched) => {
      const first = !detail;
      detail = fetched;
      for (const p of detail.participants) store.agents.set(p.id, { ...store.agents.get(p.id), ...p });
      paintHeader();
      paintSidebar();
      paintComposer();
      loadEmailConfigured(path).then((yes) => { if (yes && !destroyed) paintHeader(); });
      if (first) {
        transcript.refresh();
        composer?.focus();
      }
    },
    onError: (error) => {
      if (detail) return; // keep what is shown; the next event reads again
      clear(center, emptyState('Cannot open this conversation', error.message, h('a', { class: 'button', href: '#/chats', text: 'Back to chats' })));
      clear(right);
    },
  });
  const transcript = freshView({
    documents: thisChat,
    read: (minPosition) => api.get(`${path}/messages`, { after: last >= 0 ? last : undefined, limit: 200, min_position: minPosition }),
    paint: (page) => {
      append(page.items);
      if (page.items.length === 200) transcript.refresh(); // more than a page: read on
      markRead();
    },
    onError: (error) => { if (error.status !== 404) showError(error); },
  });

  function append(items) {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    let added = false;
    for (const line of items) {
      if (lines.has(line.position)) continue;
      lines.set(line.position, line);
      last = Math.max(last, line.position);
      if (list.querySelector('.empty')) clear(list);
      list.append(renderLine(line, ctx()));
      added = true;
    }
    if (!lines.size) clear(list, emptyState('No messages yet', detail?.kind === 'direct' ? 'Say hello to your teammates.' : 'The visitor has not written yet.'));
    if (added && (nearBottom || items.length > 5)) list.scrollTop = list.scrollHeight;
  }

  function markRead() {
    if (destroyed || document.hidden || !participant() || last <= readSent) return;
    readSent = last;
    api.post(`${path}/read`, { up_to_position: last }).catch(() => { readSent = -1; });
    chats.markRead(id);
  }

  // --- actions ----------------------------------------------------------------------------------
  function pickAgent(title, { actionLabel, onPick, exclude = [] }) {
    modal(title, (close) => {
      const search = h('input', { type: 'search', class: 'search', placeholder: 'Search by name or email', 'aria-label': 'Search agents' });
      const results = h('div', { class: 'agent-picker', role: 'list' });
      const paint = async () => {
        const found = (await loadAgents(search.value.trim()).catch((error) => { showError(error); return []; }))
          .filter((a) => !exclude.includes(a.id));
        clear(results, found.length ? found.map((a) => h('div', { class: 'agent-row', role: 'listitem' },
          statusDot(a.status),
          h('span', { class: 'agent-name' }, h('strong', { text: a.name }), h('span', { class: 'muted small', text: ` ${a.status} · ${a.open_conversations ?? 0}/${a.chat_limit?.chats ?? a.max_concurrent_chats} chats` })),
          h('button', {
            type: 'button', class: 'link-button', text: actionLabel,
            onclick: async () => { if (await onPick(a)) close(); },
          }))) : h('p', { class: 'muted pad', text: 'No agent matches.' }));
      };
      search.addEventListener('input', paint);
      paint();
      return h('div', { class: 'modal-body' }, search, results);
    });
  }

  function reassign() {
    pickAgent('Reassign conversation', {
      actionLabel: 'Reassign',
      exclude: detail.assignee ? [detail.assignee.id] : [],
      onPick: async (agent) => {
        try {
          const result = await api.post(`${path}/reassign`, { agent_id: agent.id });
          toast(result.unchanged || `Reassigned to ${agent.name}`);
          return true;
        } catch (error) { showError(error); return false; }
      },
    });
  }

  function addTeammate() {
    pickAgent('Add Teammate', {
      actionLabel: 'Assign to',
      exclude: detail.participants.map((p) => p.id),
      onPick: async (agent) => {
        try {
          const result = await api.post(`${path}/teammates`, { agent_id: agent.id });
          toast(result.unchanged || `${agent.name} was added to the conversation`);
          return true;
        } catch (error) { showError(error); return false; }
      },
    });
  }

  function transfer() {
    modal('Transfer to department', (close) => {
      const reason = h('input', { type: 'text', placeholder: 'Reason (optional), e.g. “billing question”', 'aria-label': 'Reason', maxlength: '500' });
      const results = h('div', { class: 'agent-picker', role: 'list' }, h('p', { class: 'muted pad', text: 'Loading…' }));
      const move = async (department) => {
        try {
          const text = reason.value.trim();
          await api.post(`${path}/transfer`, text ? { department: department.id, reason: text } : { department: department.id });
          toast(`Transferred to ${department.name}`);
          close();
        } catch (error) { showError(error); }
      };
      loadDepartments().then((items) => clear(results, items.length ? items.map((d) => h('div', { class: 'agent-row', role: 'listitem' },
        h('span', { class: 'agent-name' }, h('strong', { text: d.name }),
          h('span', { class: 'muted small', text: ` ${d.members.length} member${d.members.length === 1 ? '' : 's'} · ${strategyLabel(d.strategy)}` })),
        d.id === detail.department
          ? h('span', { class: 'muted small', text: 'Current' })
          : h('button', { type: 'button', class: 'link-button', text: 'Transfer', onclick: () => move(d) })))
        : emptyState('No departments yet', 'A supervisor sets them up on the Departments page.')))
        .catch((error) => clear(results, emptyState('Could not load the departments', error.message)));
      return h('div', { class: 'modal-body' },
        h('p', { text: 'The department’s routing picks who takes the conversation next.' }), reason, results);
    });
  }

  function leave() {
    modal('Leave this conversation?', (close) => {
      const outcome = h('p', { text: 'Checking who takes over…' });
      // Statuses change without touching the conversation: ask afresh rather than trust the open view.
      api.get(path).then((fresh) => { outcome.textContent = leaveOutcome(fresh, store.me.id); })
        .catch(() => { outcome.textContent = 'A teammate in the chat takes over; without one it goes back to the queue.'; });
      const confirm = async () => {
        try {
          await api.post(`${path}/leave`);
          toast('You left the conversation');
          close();
          window.location.hash = '#/chats';
        } catch (error) { showError(error); }
      };
      return h('div', { class: 'modal-body' }, outcome,
        h('div', { class: 'modal-actions' },
          h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: close }),
          h('button', { type: 'button', class: 'button danger', text: 'Leave', onclick: confirm })));
    });
  }

  function closeConversation() {
    modal('Close this conversation?', (close) => {
      const reason = h('input', { type: 'text', placeholder: 'Resolution (optional), e.g. “refund issued”', 'aria-label': 'Reason', maxlength: '500' });
      const confirm = async () => {
        try {
          await api.post(`${path}/close`, reason.value.trim() ? { reason: reason.value.trim() } : {});
          toast('Conversation closed');
          close();
        } catch (error) { showError(error); }
      };
      reason.addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); confirm(); } });
      return h('div', { class: 'modal-body' },
        h('p', { text: detail.kind === 'visitor' ? 'The visitor will be asked to rate the conversation. It moves to the history.' : 'The chat moves to the history.' }),
        reason,
        h('div', { class: 'modal-actions' },
          h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: close }),
          h('button', { type: 'button', class: 'button danger', text: 'Close conversation', onclick: confirm })));
    });
  }

  // --- live -------------------------------------------------------------------------------------
  const onEvent = (event) => {
    const { topic, position, event: e } = event.detail;
    if (topic !== 'conversation' || e.aggregate_id !== id || !detail) return;
    // A line at or past this position is shown: the view had applied this event when it answered.
    if (LINE_EVENTS.has(e.type) && position > last) transcript.saw(id, position);
    if (e.type !== 'conversation.read') sidebarView.saw(id, position);
  };
  const onTyping = (event) => {
    const { conversation_id: cid, typing, sender } = event.detail;
    if (cid !== id) return;
    clearTimeout(typingTimer);
    if (!typing) { typingEl.textContent = ''; return; }
    const who = sender.kind === 'visitor' ? (detail?.visitor?.name || 'The visitor') : agentName(sender.id);
    typingEl.textContent = `${who} is typing…`;
    typingTimer = setTimeout(() => { typingEl.textContent = ''; }, 6000);
  };
  const onReady = (event) => { if (event.detail.reconnected) { transcript.refresh(); sidebarView.refresh(); } };
  const onVisible = () => markRead();
  live.addEventListener('event', onEvent);
  live.addEventListener('typing', onTyping);
  live.addEventListener('ready', onReady);
  document.addEventListener('visibilitychange', onVisible);

  sidebarView.refresh();

  return {
    destroy() {
      destroyed = true;
      sidebarView.stop();
      transcript.stop();
      composer?.stopTyping();
      clearTimeout(typingTimer);
      live.removeEventListener('event', onEvent);
      live.removeEventListener('typing', onTyping);
      live.removeEventListener('ready', onReady);
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

/** What Leave will do, as the router decides it: a present teammate takes over, even a busy one; with
 * only offline teammates (or none) the chat goes back to the queue. */
export function leaveOutcome(detail, meId) {
  const others = detail.participants.filter((p) => p.id !== meId);
  const names = (people) => people.map((p) => p.name).join(', ');
  if (detail.kind === 'direct') return 'You leave this team chat; the others keep it.';
  if (detail.assignee?.id !== meId) return 'You stop following this conversation; its assignee keeps it.';
  const present = others.filter((p) => p.status !== 'offline');
  if (present.length === 1) return `${present[0].name} will take over the chat.`;
  if (present.length > 1) return `${names(present)} are in the chat: the least busy of them will take over.`;
  if (others.length) return `${names(others)} ${others.length === 1 ? 'is' : 'are'} offline: the chat will go back to the queue.`;
  return 'Nobody else is in this chat: it will go back to the queue.';
}
