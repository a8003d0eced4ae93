// Supervisors: teammates whose sign-in is locked after too many wrong passwords, with Unlock.
import { clear, h } from '../shared/dom.js';
import { api } from './api.js';
import { loadAgents } from './store.js';
import { emptyState, showError, toast } from './ui.js';

export function lockedAccountsCard() {
  const list = h('div', { class: 'locked-list' });
  // Locks lifted from this page: the view may still show them for a moment; a newer lock shows again.
  const lifted = new Map();
  async function paint() {
    const agents = await loadAgents().catch((err) => { showError(err); return []; });
    const locked = agents.filter((a) => a.locked_until && new Date(a.locked_until) > new Date() && lifted.get(a.id) !== a.locked_until);
    clear(list, locked.length ? locked.map((a) => h('div', { class: 'canned-row locked-row' },
      h('strong', { text: a.name }), h('span', { class: 'muted small', text: a.email }),
      h('span', { class: 'badge badge-waiting', text: `Locked until ${new Date(a.locked_until).toLocaleTimeString()}` }),
      h('button', {
        type: 'button', class: 'link-button', text: 'Unlock', 'aria-label': `Unlock ${a.name}`,
        onclick: async () => {
          try {
            await api.post(`/api/agent/agents/${encodeURIComponent(a.id)}/unlock`);
            lifted.set(a.id, a.locked_until);
            toast(`${a.name} can sign in again`);
            paint();
          } catch (err) { showError(err); }
        },
      }))) : emptyState('No locked accounts', 'Too many wrong passwords lock an account for a while; it shows here.'));
  }
  paint();
  return h('div', { class: 'card' }, h('h3', { text: 'Locked accounts' }), list);
}
