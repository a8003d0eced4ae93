// My open chats (visitor and agent-to-agent) with unread counts, kept live for the sidebar and the badge.
import { api } from './api.js';
import { live } from './live.js';
import { freshView, store } from './store.js';

class Chats extends EventTarget {
  constructor() {
    super();
    this.items = [];
    this.loaded = false;
    // On a failure the sidebar keeps what it has; the next event reads again.
    this.view = freshView({
      read: (minPosition) => api.get('/api/agent/chats', { min_position: minPosition }),
      paint: ({ items }) => {
        this.items = items;
        this.loaded = true;
        this.dispatchEvent(new Event('change'));
      },
    });
  }

  start() {
    this.load();
    live.addEventListener('event', (event) => {
      const { topic, position, event: e } = event.detail;
      if (topic !== 'conversation') return;
      // Only my unread counts are shown: someone else's read receipt changes nothing here.
      if (e.type === 'conversation.read' && e.payload.agent_id !== store.me?.id) return;
      this.view.saw(e.aggregate_id, position);
    });
    live.addEventListener('ready', (event) => { if (event.detail.reconnected) this.load(); });
  }

  load() {
    return this.view.refresh();
  }

  unreadOf(conversation) {
    return (conversation.unread || {})[store.me?.id] || 0;
  }

  totalUnread() {
    return this.items.reduce((sum, c) => sum + this.unreadOf(c), 0);
  }

  /** Forget the unread count of a conversation I just read (the read receipt catches up on the server). */
  markRead(conversationId) {
    const item = this.items.find((c) => c.id === conversationId);
    if (item && this.unreadOf(item)) {
      item.unread = { ...item.unread, [store.me.id]: 0 };
      this.dispatchEvent(new Event('change'));
    }
  }
}

export const chats = new Chats();

export function chatTitle(conversation) {
  if (conversation.kind === 'direct') {
    const others = (conversation.participants || [])
      .map((p) => (typeof p === 'string' ? p : p.id))
      .filter((id) => id !== store.me?.id)
      .map((id) => store.agents.get(id)?.name || 'Teammate');
    return conversation.subject || `Chat with ${others.join(', ') || 'teammates'}`;
  }
  return conversation.visitor?.name || 'Visitor';
}
