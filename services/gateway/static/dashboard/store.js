// Shared dashboard state: who I am, the team and departments (for names), and the conversations whose
// closing the history and reports must show.
import { freshView } from '../shared/fresh.js';
import { api } from './api.js';

export { freshView };

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

/** `me` fires when my profile was read again (the switch and the profile page repaint). */
export const changes = new EventTarget();

/** My profile, read back as new as every event known of me (my own writes, pushed events). */
export const myProfile = freshView({
  documents: () => (store.me ? [store.me.id] : []),
  read: (minPosition) => api.get('/api/agent/me', { min_position: minPosition }),
  paint: (answer) => {
    store.me = answer;
    store.agents.set(answer.id, answer);
    changes.dispatchEvent(new Event('me'));
  },
});

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

/** The only event types that change a conversation's status or assignment, so who waits (the fold in
 * services/conversation/domain.py): the waiting badge reads again after these only. */
export const QUEUE_EVENTS = new Set(['conversation.started', 'conversation.assignment_decided', 'conversation.closed', 'conversation.reopened']);

/** Event types that change what the history and reports show. */
export const CLOSING_EVENTS = new Set(['conversation.closed', 'conversation.reopened', 'conversation.rating_given']);

/** Conversations closed, reopened or rated while the dashboard was open, newest last: the history and the
 * reports read them at the positions pushed, so a page opened just after a close already shows it. */
export const recentlyClosed = {
  ids: new Set(),
  note(conversationId) {
    this.ids.delete(conversationId);
    this.ids.add(conversationId);
    if (this.ids.size > 20) this.ids.delete(this.ids.values().next().value);
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
