// The team, for supervisors: every account with its role, chat limit, departments and state; invite a
// teammate (the one-time link to set a password is shown once, to hand over), a new link to reset a
// password, change a role, deactivate or reactivate. Every action is an event; the list reads its own writes.
import { clear, dateTime, h } from '../shared/dom.js';
import { api } from './api.js';
import { live } from './live.js';
import { freshView, loadDepartments, store } from './store.js';
import { emptyState, showError, statusDot, toast } from './ui.js';

export const TITLE = 'Team';
// Events of the agent-events topic, whose positions the agents view (this list) can wait for; the others a
// command appends (a link's, a department's) live in other views.
const LISTED_EVENTS = new Set(['agent.invited', 'agent.role_changed', 'agent.chat_limit_set', 'agent.deactivated', 'agent.reactivated']);
const CONFIRM_MS = 5000;

export function render(view) {
  if (store.me.role !== 'supervisor') {
    clear(view, emptyState('The team is managed by supervisors', 'Ask a supervisor to invite a teammate or change an account.'));
    return;
  }
  const list = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const linkCard = h('div', { class: 'card team-link', role: 'status', hidden: true });
  const team = freshView({
    read: (minPosition) => api.get('/api/agent/team', { min_position: minPosition }),
    paint: ({ items }) => paint(items),
    onError: (error) => clear(list, emptyState('Could not load the team', error.message)),
  });
  const listed = (answer) => {
    for (const e of answer?.events || []) if (LISTED_EVENTS.has(e.type)) team.want(e.aggregate_id, e.position);
    return team.refresh();
  };
  const form = inviteForm({
    onInvited: (answer, invitation) => { showLink(invitation.name, invitation.email, answer.link); listed(answer); },
  });
  clear(view, h('div', { class: 'departments' },
    h('div', {}, h('div', { class: 'card' }, h('h3', { text: 'Team' }), list), linkCard),
    form.el));

  function showLink(name, email, link) {
    linkCard.hidden = false;
    const url = new URL(link.url, window.location.origin).href;
    const field = h('input', { type: 'text', readonly: true, value: url, class: 'team-link-url', 'aria-label': `Link for ${name}` });
    const copy = h('button', {
      type: 'button', class: 'button primary', text: 'Copy link',
      onclick: async () => {
        field.select();
        try {
          await navigator.clipboard.writeText(url);
          toast('Link copied');
        } catch {
          toast('Press Ctrl+C (⌘C) to copy the selected link');
        }
      },
    });
    const what = link.purpose === 'invite' ? 'set their password and sign in' : 'choose a new password';
    clear(linkCard,
      h('h3', { text: `Link for ${name}` }),
      h('p', { class: 'muted small', text: `Shown once: hand it to ${name} (${email}) to ${what}. It works once, until ${dateTime(link.expires_at)}; a newer link replaces it.` }),
      link.emailed ? h('p', { class: 'small', text: `It is also on its way to ${email} by email.` }) : null,
      h('div', { class: 'button-row' }, field, copy));
    field.focus();
    field.select();
  }

  async function act(promise, done) {
    try {
      const answer = await promise;
      toast(done);
      await listed(answer);
      return answer;
    } catch (error) {
      showError(error);
      return null;
    }
  }

  // A second click within CONFIRM_MS confirms; the armed state outlives a repaint of the list.
  const armedUntil = new Map();
  function confirmingButton(id, label, confirmLabel, onConfirm) {
    const button = h('button', { type: 'button', class: 'button small', dataset: { confirm: id } });
    const paintButton = (target, armed) => {
      target.textContent = armed ? confirmLabel : label;
      target.classList.toggle('danger', armed);
    };
    paintButton(button, (armedUntil.get(id) ?? 0) > Date.now());
    button.addEventListener('click', () => {
      if ((armedUntil.get(id) ?? 0) > Date.now()) {
        armedUntil.delete(id);
        onConfirm();
        return;
      }
      armedUntil.set(id, Date.now() + CONFIRM_MS);
      paintButton(button, true);
      setTimeout(() => {
        const current = list.querySelector(`button[data-confirm="${CSS.escape(id)}"]`);
        if (current && (armedUntil.get(id) ?? 0) <= Date.now()) paintButton(current, false);
      }, CONFIRM_MS + 50);
    });
    return button;
  }

  // A role change signs the teammate out (their next token carries the role): it is confirmed first, and
  // demoting yourself says that it signs you out. The pending choice outlives a repaint of the list.
  const pendingRoles = new Map();
  function roleControl(m, base) {
    const isMe = m.id === store.me.id;
    const role = h('select', { 'aria-label': `Role of ${m.name}` },
      h('option', { value: 'agent', text: 'Agent' }),
      h('option', { value: 'supervisor', text: 'Supervisor' }));
    const confirm = h('button', { type: 'button', class: 'button small danger' });
    const cancel = h('button', { type: 'button', class: 'button small', text: 'Cancel' });
    const show = () => {
      const wanted = pendingRoles.get(m.id) ?? m.role;
      role.value = wanted;
      const as = wanted === 'supervisor' ? 'a supervisor' : 'an agent';
      confirm.textContent = isMe ? `Confirm: make me ${as} (signs me out)` : `Confirm: make ${m.name} ${as} (signs them out)`;
      confirm.hidden = wanted === m.role;
      cancel.hidden = confirm.hidden;
    };
    role.addEventListener('change', () => {
      if (role.value === m.role) pendingRoles.delete(m.id);
      else pendingRoles.set(m.id, role.value);
      show();
    });
    cancel.addEventListener('click', () => { pendingRoles.delete(m.id); show(); });
    confirm.addEventListener('click', async () => {
      const wanted = role.value;
      pendingRoles.delete(m.id);
      confirm.hidden = true;
      cancel.hidden = true;
      const answer = await act(api.put(`${base}/role`, { role: wanted }), `${m.name} is now ${wanted === 'supervisor' ? 'a supervisor' : 'an agent'}; they sign in again to use it`);
      if (!answer) role.value = m.role;
    });
    show();
    return [role, confirm, cancel];
  }

  // The teammate's own chat limit; empty: their department's or the team's default.
  function chatLimitControl(m, base) {
    const limit = h('input', {
      type: 'number', min: '1', max: '100', class: 'chat-limit', placeholder: 'default',
      value: m.max_concurrent_chats ?? '', 'aria-label': `Chat limit of ${m.name}`,
    });
    const set = h('button', { type: 'submit', class: 'button small', text: 'Set', 'aria-label': `Set the chat limit of ${m.name}` });
    const form = h('form', { class: 'inline-form', novalidate: true }, limit, set);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = limit.value === '' ? null : Number(limit.value);
      if (value !== null && !(Number.isInteger(value) && value >= 1 && value <= 100)) {
        showError(new Error('A chat limit is a whole number from 1 to 100, or empty for the default'));
        return;
      }
      act(api.put(`${base}/chat-limit`, { max_concurrent_chats: value }),
        value === null ? `${m.name} has the default chat limit` : `${m.name} takes at most ${value} chats at once`);
    });
    return form;
  }

  function actions(m) {
    const base = `/api/agent/team/${encodeURIComponent(m.id)}`;
    const isMe = m.id === store.me.id;
    const row = m.account === 'deactivated' ? [] : roleControl(m, base);
    if (m.account !== 'deactivated') {
      row.push(h('button', {
        type: 'button', class: 'button small', text: m.account === 'invited' ? 'New invitation link' : 'Reset password',
        'aria-label': `${m.account === 'invited' ? 'New invitation link for' : 'Reset the password of'} ${m.name}`,
        onclick: async () => {
          try {
            const answer = await api.post(`${base}/password-link`);
            showLink(m.name, m.email, answer.link);
          } catch (error) { showError(error); }
        },
      }));
      if (m.locked_until) {
        row.push(h('button', {
          type: 'button', class: 'button small', text: 'Unlock', 'aria-label': `Unlock ${m.name}`,
          onclick: () => act(api.post(`/api/agent/agents/${encodeURIComponent(m.id)}/unlock`), `${m.name} can sign in again`),
        }));
      }
      const off = confirmingButton(m.id, isMe ? 'Deactivate me' : 'Deactivate', `Confirm: deactivate ${m.name}`,
        () => act(api.post(`${base}/deactivate`), `${m.name} is deactivated: signed out, their chats go to teammates`));
      off.setAttribute('aria-label', `Deactivate ${m.name}`);
      row.push(off);
    } else {
      row.push(h('button', {
        type: 'button', class: 'button small', text: 'Reactivate', 'aria-label': `Reactivate ${m.name}`,
        onclick: () => act(api.post(`${base}/reactivate`), `${m.name} can sign in again`),
      }));
    }
    return h('div', { class: 'button-row' }, ...row);
  }

  function state(m) {
    if (m.account === 'deactivated') return h('span', { class: 'badge badge-muted', text: 'Deactivated' });
    if (m.account === 'invited') {
      const link = m.password_link;
      const expired = link && new Date(link.expires_at) <= new Date();
      const emailed = link?.emailed;
      const mailNote = !emailed ? null
        : emailed.status === 'sent' ? `Link emailed to ${emailed.recipient}`
          : `Email ${emailed.status === 'retrying' ? 'failed; retrying' : 'failed'}: ${emailed.reason || ''}`;
      return h('span', {}, h('span', { class: 'badge badge-waiting', text: 'Invited' }),
        h('div', { class: 'muted small', text: expired ? 'Link expired: send a new one' : 'Has not set a password yet' }),
        mailNote ? h('div', { class: 'muted small', text: mailNote }) : null);
    }
    return h('span', {}, statusDot(m.status), ` ${m.status}`,
      m.locked_until ? h('div', { class: 'badge badge-waiting', text: `Locked until ${new Date(m.locked_until).toLocaleTimeString()}` }) : null);
  }

  function paint(items) {
    if (!items.length) {
      clear(list, emptyState('Nobody on the team yet', 'Invite a teammate with the form.'));
      return;
    }
    clear(list, h('table', { class: 'table team-table' },
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Chats', 'Departments', 'Status', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, items.map((m) => h('tr', { dataset: { id: m.id, account: m.account } },
        h('td', {}, h('strong', { text: m.name }), h('div', { class: 'muted small', text: m.email })),
        h('td', { text: m.role === 'supervisor' ? 'Supervisor' : 'Agent' }),
        h('td', {},
          h('div', { text: `${m.open_conversations} / ${m.chat_limit.chats}`, title: m.max_concurrent_chats == null ? `the ${m.chat_limit.source}'s limit` : 'their own limit' }),
          m.account === 'deactivated' ? null : chatLimitControl(m, `/api/agent/team/${encodeURIComponent(m.id)}`)),
        h('td', { text: m.departments.length ? m.departments.map((d) => d.name).join(', ') : '—' }),
        h('td', {}, state(m)),
        h('td', {}, actions(m)))))));
  }

  // Another supervisor's change, a teammate's status: read again once the view has it.
  const onEvent = (event) => {
    const { topic, position, event: e } = event.detail;
    if (topic === 'agent') team.saw(e.aggregate_id, position);
  };
  live.addEventListener('event', onEvent);
  team.refresh();
  return () => { live.removeEventListener('event', onEvent); team.stop(); };
}

function inviteForm({ onInvited }) {
  const name = h('input', { type: 'text', maxlength: '200', required: true, autocomplete: 'off' });
  const email = h('input', { type: 'email', maxlength: '320', required: true, autocomplete: 'off', placeholder: 'name@company.com' });
  const role = h('select', {}, h('option', { value: 'agent', text: 'Agent' }), h('option', { value: 'supervisor', text: 'Supervisor' }));
  const maxChats = h('input', { type: 'number', min: '1', max: '100', placeholder: 'Department or team default' });
  const departments = h('fieldset', { class: 'members-field' }, h('legend', { text: 'Departments' }));
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button primary', text: 'Invite' });
  const el = h('form', { class: 'card department-form', novalidate: true, 'aria-label': 'Invite a teammate' },
    h('h3', { text: 'Invite a teammate' }),
    h('label', {}, 'Name', name),
    h('label', {}, 'Email', email),
    h('label', {}, 'Role', role),
    h('label', {}, 'Max chats at once', maxChats),
    departments,
    error,
    h('div', { class: 'button-row' }, submit));

  loadDepartments().then((items) => {
    clear(departments, h('legend', { text: 'Departments' }),
      items.length ? items.map((d) => h('label', { class: 'inline-check' }, h('input', { type: 'checkbox', value: d.id }), d.name))
        : h('p', { class: 'muted small', text: 'No departments yet: they take chats for everyone.' }));
  }).catch(showError);

  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const invitation = {
      name: name.value.trim(),
      email: email.value.trim(),
      role: role.value,
      max_concurrent_chats: maxChats.value === '' ? null : Number(maxChats.value),
      departments: [...departments.querySelectorAll('input:checked')].map((box) => box.value),
    };
    if (!invitation.name || !email.checkValidity() || !invitation.email) {
      error.hidden = false;
      error.textContent = 'Enter the teammate’s name and a valid email.';
      return;
    }
    submit.disabled = true;
    try {
      const answer = await api.post('/api/agent/team/invitations', invitation);
      toast(`${invitation.name} is invited`);
      el.reset();
      onInvited(answer, invitation);
    } catch (failure) {
      error.hidden = false;
      error.textContent = failure.message;
    } finally {
      submit.disabled = false;
    }
  });
  return { el };
}
