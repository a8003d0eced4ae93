// Profile settings (name, avatar, capacity) and the team's canned responses.
import { clear, h } from '../shared/dom.js';
import { api } from './api.js';
import { freshView, myProfile, store } from './store.js';
import { lockedAccountsCard } from './locked-accounts.js';
import { emptyState, showError, toast } from './ui.js';

export const TITLE = 'Profile';

export function render(view) {
  const me = store.me;
  const name = h('input', { type: 'text', required: true, maxlength: '200', value: me.name });
  const avatarUrl = h('input', { type: 'url', placeholder: 'https://…', value: me.avatar_url || '' });
  const limit = me.chat_limit;
  // Empty means "no limit of my own": the department's default applies, else the team's.
  const capacity = h('input', {
    type: 'number', min: '1', max: '100', value: me.max_concurrent_chats == null ? '' : String(me.max_concurrent_chats),
    placeholder: limit ? String(limit.chats) : '', 'aria-describedby': 'chat-limit-source',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const profileForm = h('form', { class: 'card form' },
    h('h3', { text: 'Your profile' }),
    h('p', { class: 'muted small', text: `${me.email} · ${me.role}` }),
    h('label', {}, 'Name', name),
    h('label', {}, 'Avatar URL', avatarUrl),
    h('label', {}, 'Maximum concurrent chats', capacity),
    h('p', { id: 'chat-limit-source', class: 'muted small', text: limitSource(limit) }),
    error,
    h('button', { type: 'submit', class: 'button primary', text: 'Save profile' }));
  profileForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const changes = {};
    if (name.value.trim() !== me.name) changes.name = name.value.trim();
    if ((avatarUrl.value.trim() || null) !== (me.avatar_url || null) && avatarUrl.value.trim()) changes.avatar_url = avatarUrl.value.trim();
    if (capacity.value !== '' && Number(capacity.value) !== me.max_concurrent_chats) changes.max_concurrent_chats = Number(capacity.value);
    if (!Object.keys(changes).length) { toast('Nothing to change'); return; }
    try {
      await api.patch('/api/agent/me', changes);
      toast('Profile saved');
      myProfile.refresh(); // read back once the view has my change
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
    }
  });

  const cannedList = h('div', { class: 'canned-list' });
  const shortcut = h('input', { type: 'text', placeholder: 'shortcut, e.g. refund', pattern: '[a-z0-9][a-z0-9_-]{0,39}', required: true, 'aria-label': 'Shortcut' });
  const text = h('textarea', { rows: '3', placeholder: 'Hi {visitor.name}, {agent.name} here…', required: true, 'aria-label': 'Canned response text' });
  const cannedForm = h('form', { class: 'canned-form' },
    h('div', { class: 'shortcut-field' }, h('span', { class: 'muted', text: '/' }), shortcut), text,
    h('p', { class: 'muted small', text: 'Placeholders: {visitor.name}, {visitor.email}, {agent.name}, {conversation.id}' }),
    h('button', { type: 'submit', class: 'button', text: 'Add canned response' }));
  cannedForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      canned.wantAppended(await api.post('/api/agent/canned-responses', { shortcut: shortcut.value.trim(), text: text.value }));
      shortcut.value = '';
      text.value = '';
      toast('Canned response added');
      canned.refresh();
    } catch (err) { showError(err); }
  });

  const canned = freshView({
    read: (minPosition) => api.get('/api/agent/canned-responses', { min_position: minPosition }),
    paint: ({ items }) => { store.canned = items; paintCanned(items); },
    onError: showError,
  });

  function paintCanned(items) {
    clear(cannedList, items.length ? items.map((c) => h('div', { class: 'canned-row' },
      h('strong', { text: `/${c.shortcut}` }), h('span', { class: 'canned-text', text: c.text }),
      (me.role === 'supervisor' || c.created_by === me.id) ? h('button', {
        type: 'button', class: 'link-button danger', text: 'Delete', 'aria-label': `Delete /${c.shortcut}`,
        onclick: async () => {
          try {
            canned.wantAppended(await api.del(`/api/agent/canned-responses/${encodeURIComponent(c.id)}`));
            toast('Deleted');
            canned.refresh();
          } catch (err) { showError(err); }
        },
      }) : null)) : emptyState('No canned responses', 'Add the answers you type every day; use them in a chat by typing /.'));
  }

  clear(view, h('div', { class: 'profile' }, profileForm,
    h('div', { class: 'card' }, h('h3', { text: 'Canned responses' }), cannedList, cannedForm),
    me.role === 'supervisor' ? lockedAccountsCard() : null));
  canned.refresh();
  return () => canned.stop();
}

/** Which chat limit applies, in words: the router enforces the same rule. */
export function limitSource(limit) {
  if (!limit) return '';
  const chats = `${limit.chats} chat${limit.chats === 1 ? '' : 's'} at once`;
  if (limit.source === 'agent') return `Your own limit applies: ${chats}.`;
  if (limit.source === 'department') return `Your department's default applies: ${chats}. Set a number to use your own.`;
  return `The team default applies: ${chats}. Set a number to use your own.`;
}
