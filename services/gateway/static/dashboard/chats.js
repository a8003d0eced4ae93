// My open chats (visitor and agent-to-agent) with unread counts, kept live for the sidebar and the badge.
import { api } from './api.js';
import { live } from './live.js';
import { catchUp, pushed, store } from './store.js';

class Chats extends EventTarget {
  constructor() {
    super();
    this.items = [];
    this.loaded = false;
    this.refresh = catchUp(() => this.load());
  }

  start() {
    this.load();
    live.addEventListener('event', (event) => {
      if (event.detail.topic === 'conversation') this.refresh();
    });
    live.addEventListener('ready', (event) => { if (event.detail.reconnected) this.load(); });
  }

  /** Returns true when every chat listed is as new as the events pushed for it. */
  async load() {
    const mine = (this.loads = (this.loads || 0) + 1);
    try {
      const { items } = await api.get('/api/agent/chats');
      if (mine !== this.loads) return false; // a slower answer to an older request: the newer one paints
      this.items = items;
      this.loaded = true;
      this.dispatchEvent(new Event('change'));
      return pushed.caughtUp(this.items);
    } catch {
      return false; // the sidebar keeps what it has and tries again
    }
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
