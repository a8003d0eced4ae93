// Shared dashboard state: who I am, the team and departments (for names), helpers for eventually consistent views.
import { api } from './api.js';

export { catchUp } from '../shared/catchup.js';

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
 * later, coalescing bursts. Returns a trigger function. For conversation views use `catchUp`
 * (../shared/catchup.js), which retries until the view has caught up.
 */
export function refresher(fn, delays = [120, 900]) {
  let timers = [];
  return () => {
    timers.forEach(clearTimeout);
    timers = delays.map((ms) => setTimeout(fn, ms));
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
