// Departments for supervisors: who is in each team, how its chats are distributed, where overflow goes.
import { clear, debounce, h } from '../shared/dom.js';
import { api } from './api.js';
import { hoursPicker, hoursSummary } from './business-hours.js';
import { freshView, loadAgents, store } from './store.js';
import { emptyState, showError, statusDot, toast } from './ui.js';

export const TITLE = 'Departments';
const STRATEGIES = [
  ['least_busy', 'Least busy', 'The member with the fewest open chats gets the next one.'],
  ['round_robin', 'Round robin', 'Members get chats in turn, in the order listed.'],
  ['pooled', 'Pooled', 'Nobody is assigned automatically: members take chats from the queue.'],
];
const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,49}$/;

export const strategyLabel = (value) => STRATEGIES.find(([v]) => v === value)?.[1] || value;
const memberName = (id) => store.agents.get(id)?.name || id;
const slug = (name) => name.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
  .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50);

export function render(view) {
  if (store.me.role !== 'supervisor') {
    clear(view, emptyState('Departments are for supervisors', 'Ask a supervisor on your team to set up departments or add you to one.'));
    return;
  }
  let confirmed = []; // as the view lists them
  const list = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  // Read back after a save once the view has it: what is listed is what was saved.
  const departments = freshView({
    read: (minPosition) => api.get('/api/agent/departments', { min_position: minPosition }),
    paint: ({ items }) => {
      store.departments = items;
      confirmed = [...items].sort((a, b) => a.name.localeCompare(b.name));
      paint();
    },
    onError: (error) => clear(list, emptyState('Could not load the departments', error.message)),
  });
  const form = departmentForm({ onSaved: (answer) => { departments.wantAppended(answer); departments.refresh(); } });
  clear(view, h('div', { class: 'departments' }, h('div', { class: 'card' }, h('h3', { text: 'Departments' }), list), form.el));

  function paint() {
    const items = confirmed;
    form.refresh(items);
    if (!items.length) {
      clear(list, emptyState('No departments yet', 'Create one with the form: chats visitors start for a department go to its members.'));
      return;
    }
    const nameOf = (id) => items.find((d) => d.id === id)?.name || id;
    clear(list, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['Department', 'Members', 'Strategy', 'Fallback', 'Default max chats', 'Hours', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, items.map((d) => h('tr', { dataset: { id: d.id } },
        h('td', {}, h('strong', { text: d.name }), h('div', { class: 'muted small', text: d.id })),
        h('td', { text: d.members.length ? d.members.map(memberName).join(', ') : 'Nobody yet' }),
        h('td', { text: strategyLabel(d.strategy) }),
        h('td', { text: d.fallback ? nameOf(d.fallback) : 'None' }),
        h('td', { text: d.default_max_chats ?? '—' }),
        h('td', { text: hoursSummary(d.hours) }),
        h('td', {}, h('button', { type: 'button', class: 'link-button', text: 'Edit', 'aria-label': `Edit ${d.name}`, onclick: () => form.edit(d) })))))));
  }

  loadAgents().catch(() => []).finally(() => departments.refresh()); // members are listed by name
  return () => departments.stop();
}

function departmentForm({ onSaved }) {
  let editing = null; // the department being edited; null while creating one
  let idTouched = false;
  let fallbacks = []; // a fallback must be in the view before a department can name it
  let taken = [];
  const heading = h('h3');
  const name = h('input', { type: 'text', maxlength: '200', placeholder: 'e.g. Sales' });
  const id = h('input', { type: 'text', maxlength: '50', placeholder: 'e.g. sales' });
  const idField = h('label', {}, 'ID', id, h('span', { class: 'muted small', text: 'Lower-case letters, digits, - and _; it cannot change later.' }));
  const members = memberPicker();
  const strategy = h('select', {}, STRATEGIES.map(([value, label]) => h('option', { value, text: label })));
  const strategyHint = h('span', { class: 'muted small' });
  const fallback = h('select', {});
  const maxChats = h('input', { type: 'number', min: '1', max: '100', placeholder: 'Each agent’s own setting' });
  const hours = hoursPicker();
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button primary' });
  const cancel = h('button', { type: 'button', class: 'button', text: 'Cancel', onclick: () => reset() });
  const el = h('form', { class: 'card department-form', novalidate: true, 'aria-label': 'Department' },
    heading,
    h('label', {}, 'Name', name),
    idField,
    members.el,
    h('label', {}, 'Strategy', strategy, strategyHint),
    h('label', {}, 'Fallback department', fallback, h('span', { class: 'muted small', text: 'Takes the chats nobody here can take.' })),
    h('label', {}, 'Default max chats', maxChats, h('span', { class: 'muted small', text: 'For members with no limit of their own (1 to 100).' })),
    hours.el,
    error,
    h('div', { class: 'button-row' }, submit, cancel));

  const fail = (message) => { error.hidden = false; error.textContent = message; };
  const paintHint = () => { strategyHint.textContent = STRATEGIES.find(([v]) => v === strategy.value)?.[2] || ''; };
  function paintFallbacks(selected = fallback.value) {
    clear(fallback, h('option', { value: '', text: 'None' }),
      fallbacks.filter((d) => d.id !== editing?.id).map((d) => h('option', { value: d.id, text: d.name, selected: d.id === selected })));
  }
  function paintMode() {
    heading.textContent = editing ? `Edit ${editing.name}` : 'New department';
    idField.hidden = Boolean(editing);
    submit.textContent = editing ? 'Save changes' : 'Create department';
    cancel.hidden = !editing;
    error.hidden = true;
    paintHint();
  }
  function reset() {
    editing = null;
    idTouched = false;
    name.value = id.value = maxChats.value = '';
    strategy.value = 'least_busy';
    members.set([]);
    hours.set(null);
    paintFallbacks('');
    paintMode();
  }
  function edit(department) {
    editing = department;
    name.value = department.name;
    strategy.value = department.strategy;
    maxChats.value = department.default_max_chats ?? '';
    members.set(department.members);
    hours.set(department.hours || null);
    paintFallbacks(department.fallback || '');
    paintMode();
    name.focus();
  }

  name.addEventListener('input', () => { if (!editing && !idTouched) id.value = slug(name.value); });
  id.addEventListener('input', () => { idTouched = true; });
  strategy.addEventListener('change', paintHint);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const departmentId = editing ? editing.id : id.value.trim();
    if (!name.value.trim()) { fail('Give the department a name.'); return; }
    if (!ID_PATTERN.test(departmentId)) { fail('The ID takes 1 to 50 lower-case letters, digits, - or _, starting with a letter or digit.'); return; }
    if (!editing && taken.includes(departmentId)) { fail(`There is already a department “${departmentId}”: edit it in the list instead.`); return; }
    let schedule;
    try {
      schedule = hours.get();
    } catch (err) {
      fail(err.message);
      return;
    }
    const body = {
      hours: schedule,
      name: name.value.trim(),
      members: members.get(),
      strategy: strategy.value,
      fallback: fallback.value || null,
      default_max_chats: maxChats.value === '' ? null : Number(maxChats.value),
    };
    submit.disabled = true;
    try {
      const answer = await api.put(`/api/agent/departments/${encodeURIComponent(departmentId)}`, body);
      toast(editing ? `${body.name} saved` : `${body.name} created`);
      reset();
      onSaved(answer);
    } catch (err) {
      fail(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  reset();
  return {
    el,
    edit,
    refresh(listed) {
      fallbacks = listed;
      taken = listed.map((d) => d.id);
      paintFallbacks();
    },
  };
}

/** Members picked from the team with the teammate search (the same endpoint as "start a new chat"). */
function memberPicker() {
  let chosen = [];
  const chips = h('div', { class: 'member-chips' });
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Add a member: search by name or email', 'aria-label': 'Add member' });
  const results = h('div', { class: 'search-results', role: 'listbox', 'aria-label': 'Teammates', hidden: true });
  const el = h('fieldset', { class: 'members-field' }, h('legend', { text: 'Members' }), chips, h('div', { class: 'member-search' }, search, results));

  function paint() {
    clear(chips, chosen.length
      ? chosen.map((agentId) => h('span', { class: 'member-chip' }, memberName(agentId), h('button', {
        type: 'button', class: 'tag-remove', 'aria-label': `Remove ${memberName(agentId)}`,
        onclick: () => { chosen = chosen.filter((m) => m !== agentId); paint(); },
      }, '✕')))
      : h('span', { class: 'muted small', text: 'No members yet.' }));
  }
  function add(agent) {
    if (!chosen.includes(agent.id)) chosen = [...chosen, agent.id];
    search.value = '';
    results.hidden = true;
    paint();
    search.focus();
  }
  const lookup = debounce(async () => {
    const q = search.value.trim();
    try {
      const found = (await loadAgents(q)).filter((a) => !chosen.includes(a.id));
      clear(results, found.length
        ? found.map((a) => h('button', { type: 'button', role: 'option', class: 'search-result', onclick: () => add(a) },
          statusDot(a.status), h('span', { text: a.name }), h('span', { class: 'muted small', text: ` ${a.email}` })))
        : h('div', { class: 'muted small pad', text: q ? `No teammate matches “${q}”.` : 'Everyone on the team is a member.' }));
      results.hidden = document.activeElement !== search && !results.contains(document.activeElement);
    } catch (error) {
      showError(error);
    }
  }, 200);
  search.addEventListener('input', lookup);
  search.addEventListener('focus', lookup);
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.preventDefault(); search.value = ''; results.hidden = true; }
    if (event.key === 'Enter') { event.preventDefault(); results.querySelector('.search-result')?.click(); }
    if (event.key === 'ArrowDown') { event.preventDefault(); results.querySelector('.search-result')?.focus(); }
  });
  search.addEventListener('blur', () => setTimeout(() => { if (!results.contains(document.activeElement)) results.hidden = true; }, 200));
  paint();
  return { el, get: () => [...chosen], set(ids) { chosen = [...ids]; paint(); } };
}
