// Shared dashboard state: who I am, the team and departments (for names), helpers for eventually consistent views.
import { api } from './api.js';

export const store = {
  me: null,
  agents: new Map(), // id -> agent card
  canned: null,
  departments: [],
};

export async function loadMe() {
  store.me = await api.get('/api/agent/me');
  store.agents.set(store.me.id, store.me);
  return store.me;
}

export async function loadAgents(q) {
  const result = await api.get('/api/agent/agents', { q });
  for (const agent of result.items) store.agents.set(agent.id, agent);
  return result.items;
}

export function agentName(id) {
  if (!id) return 'Someone';
  if (id === store.me?.id) return 'You';
  return store.agents.get(id)?.name || 'A teammate';
}

export async function loadDepartments() {
  store.departments = (await api.get('/api/agent/departments')).items;
  return store.departments;
}

/** A department's name, or its id when it is not (yet) configured: a widget may name any department. */
export function departmentName(id) {
  return store.departments.find((d) => d.id === id)?.name || id;
}

export async function loadCanned() {
  store.canned = (await api.get('/api/agent/canned-responses')).items;
  return store.canned;
}

/**
 * Views catch up with an event within ~100 ms: run `fn` shortly after an event and once more a little
 * later, coalescing bursts. Returns a trigger function. For conversation views use `catchUp`.
 */
export function refresher(fn, delays = [120, 900]) {
  let timers = [];
  return () => {
    timers.forEach(clearTimeout);
    timers = delays.map((ms) => setTimeout(fn, ms));
  };
}

/**
 * Like `refresher`, for conversation views, which under load can lag by seconds. `fn` loads and paints,
 * and returns true when what it got is at least as new as every event pushed so far (`pushed.caughtUp`).
 * It runs shortly after a trigger, then every 250 ms while it returns false, for 10 s at most; a newer
 * trigger takes over from an older one, so bursts coalesce and a stale answer never sticks.
 */
export function catchUp(fn, { first = 120, every = 250, attempts = 40 } = {}) {
  let run = 0;
  return () => {
    const mine = ++run;
    const attempt = async (n) => {
      if (mine !== run) return;
      let fresh = false;
      try { fresh = await fn(); } catch { /* keep what we show; try again */ }
      if (!fresh && n + 1 < attempts && mine === run) setTimeout(() => attempt(n + 1), every);
    };
    setTimeout(() => attempt(0), first);
  };
}

/** The latest position pushed per conversation: a view document behind it is stale. */
export const pushed = {
  positions: new Map(),
  note(conversationId, position) {
    this.positions.set(conversationId, Math.max(this.positions.get(conversationId) ?? -1, position));
  },
  /** True when no conversation in `docs` (view documents with `id` and `position`) is behind. */
  caughtUp(docs) {
    return docs.every((d) => !d || (d.position ?? -1) >= (this.positions.get(d.id) ?? -1));
  },
};

/** Event types that add a line to a transcript (the others change only the conversation's state). */
export const LINE_EVENTS = new Set([
  'conversation.started',
  'conversation.message_posted',
  'conversation.note_added',
  'conversation.participant_joined',
  'conversation.participant_left',
  'conversation.teammate_invited',
  'conversation.assignment_decided',
  'conversation.tag_added',
  'conversation.tag_removed',
  'conversation.closed',
  'conversation.reopened',
  'conversation.rating_given',
]);
