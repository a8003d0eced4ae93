// The agent dashboard: sign-in, the shell (navigation, availability switch), and a small hash router.
import { clear, h } from '../shared/dom.js';
import { api, getSession, login, onSignedOut, signOut } from './api.js';
import { chats } from './chats.js';
import { live } from './live.js';
import { changes, freshView, loadAgents, loadDepartments, loadMe, myProfile, QUEUE_EVENTS, store } from './store.js';
import { avatar, showError, toast } from './ui.js';
import * as monitor from './monitor.js';
import * as chat from './chat.js';
import * as history from './history.js';
import * as reports from './reports.js';
import * as departments from './departments.js';
import * as teamPage from './team.js';
import * as webhooks from './webhooks.js';
import * as profile from './profile.js';

const root = document.getElementById('app');
const VIEWS = { monitor, chats: chat, history, reports, team: teamPage, departments, webhooks, profile };
const STATUSES = [
  ['available', 'Available'],
  ['away', 'Away'],
  ['offline', 'Offline'],
];
let cleanup = null;
let shell = null;

onSignedOut(() => {
  live.stop();
  cleanup?.();
  cleanup = null;
  shell = null;
  renderLogin('You have been signed out. Sign in again to continue.');
});

function renderLogin(notice) {
  document.title = 'Sign in · Parley';
  const error = h('p', { class: 'form-error', role: 'alert', hidden: !notice, text: notice || '' });
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, placeholder: 'you@company.com' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: 'Sign in' });
  const form = h('form', { class: 'login-card', novalidate: true },
    h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', text: 'P' }), 'Parley'),
    h('p', { class: 'muted', text: 'Sign in to answer your visitors.' }),
    h('label', {}, 'Email', email),
    h('label', {}, 'Password', password),
    error,
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!email.value || !password.value) {
      error.hidden = false;
      error.textContent = 'Enter your email and password.';
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await login(email.value.trim(), password.value);
      await start();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  clear(root, h('div', { class: 'login' }, form));
  email.focus();
}

function statusSwitch() {
  const group = h('div', { class: 'status-switch', role: 'group', 'aria-label': 'Availability' });
  const paint = () => {
    for (const button of group.children) {
      const active = button.dataset.status === store.me.status;
      button.setAttribute('aria-pressed', String(active));
    }
  };
  for (const [status, label] of STATUSES) {
    group.append(h('button', {
      type: 'button', class: `status-option status-${status}`, dataset: { status }, title: `Set yourself ${label.toLowerCase()}`,
      onclick: async () => {
        if (store.me.status === status) return;
        const before = store.me.status;
        store.me.status = status;
        paint();
        try {
          await api.put('/api/agent/me/status', { status });
          live.setStatus(status);
          toast(`You are ${label.toLowerCase()}`);
        } catch (error) {
          store.me.status = before;
          paint();
          showError(error);
        }
      },
    }, h('span', { class: `dot dot-${status}`, 'aria-hidden': 'true' }), label));
  }
  paint();
  return { el: group, paint };
}

function buildShell() {
  const me = store.me;
  const chatsBadge = h('span', { class: 'badge', hidden: true });
  const waitingBadge = h('span', { class: 'badge badge-waiting', hidden: true });
  const link = (route, label, icon, extra) =>
    h('a', { href: `#/${route}`, class: 'rail-link', dataset: { route } }, h('span', { class: 'rail-icon', 'aria-hidden': 'true', text: icon }), h('span', { text: label }), extra);
  const links = [
    link('monitor', 'Monitor', '◉', waitingBadge),
    link('chats', 'Chats', '💬', chatsBadge),
    link('history', 'History', '🕘'),
    me.role === 'supervisor' ? link('reports', 'Reports', '📊') : null,
    me.role === 'supervisor' ? link('team', 'Team', '👥') : null,
    me.role === 'supervisor' ? link('departments', 'Departments', '🏢') : null,
    me.role === 'supervisor' ? link('webhooks', 'Webhooks', '🔗') : null,
    link('profile', 'Profile', '⚙'),
  ];
  const connection = h('span', { class: 'connection', hidden: true, role: 'status', text: 'Reconnecting…' });
  const switcher = statusSwitch();
  const title = h('h1', { class: 'page-title' });
  const view = h('main', { id: 'view', class: 'view' });
  const rail = h('nav', { class: 'rail', 'aria-label': 'Main' },
    h('div', { class: 'brand' }, h('span', { class: 'brand-mark', text: 'P' }), h('span', { text: 'Parley' })),
    ...links,
    h('div', { class: 'rail-spacer' }),
    h('div', { class: 'rail-me', title: me.email }, avatar(me.name, me.avatar_url), h('span', { class: 'rail-me-name', text: me.name })),
    h('button', { type: 'button', class: 'rail-link rail-signout', onclick: () => signOut() }, h('span', { class: 'rail-icon', 'aria-hidden': 'true', text: '⎋' }), 'Sign out'));
  const topbar = h('header', { class: 'topbar' }, title, connection, h('div', { class: 'topbar-spacer' }), h('span', { class: 'muted small', text: 'Availability' }), switcher.el);
  clear(root, h('div', { class: 'app' }, rail, h('div', { class: 'content' }, topbar, view)));

  chats.addEventListener('change', () => {
    const unread = chats.totalUnread();
    chatsBadge.hidden = unread === 0;
    chatsBadge.textContent = unread > 99 ? '99+' : String(unread);
    document.title = `${unread ? `(${unread}) ` : ''}${title.textContent} · Parley`;
  });
  live.addEventListener('connection', (event) => { connection.hidden = event.detail.connected; });
  // How many visitors wait for someone, wherever I am in the dashboard.
  const waiting = freshView({
    read: (minPosition) => api.get('/api/agent/monitor', { filter: 'unassigned', min_position: minPosition }),
    paint: ({ counts }) => {
      waitingBadge.hidden = counts.unassigned === 0;
      waitingBadge.textContent = String(counts.unassigned);
      waitingBadge.setAttribute('aria-label', `${counts.unassigned} waiting`);
    },
  });
  live.addEventListener('event', (event) => {
    const { topic, position, event: e } = event.detail;
    if (topic !== 'conversation' || !QUEUE_EVENTS.has(e.type)) return;
    waiting.saw(e.aggregate_id, position);
  });
  live.addEventListener('ready', () => waiting.refresh());
  return { view, title, links, switcher };
}

function route() {
  if (!shell) return;
  const [name = 'monitor', ...rest] = window.location.hash.replace(/^#\/?/, '').split('/');
  const module = VIEWS[name] ? name : 'monitor';
  for (const el of shell.links) el?.classList.toggle('active', el.dataset.route === module);
  cleanup?.();
  clear(shell.view);
  shell.title.textContent = VIEWS[module].TITLE;
  document.title = `${VIEWS[module].TITLE} · Parley`;
  cleanup = VIEWS[module].render(shell.view, rest.map(decodeURIComponent)) || null;
}

async function start() {
  try {
    await loadMe();
    await Promise.all([loadAgents().catch(() => []), loadDepartments().catch(() => [])]);
  } catch (error) {
    if (getSession()) renderLogin(error.message);
    return;
  }
  shell = buildShell();
  live.start(store.me.status);
  chats.start();
  // My own status can change elsewhere (another tab, the router's presence rules): keep the switch true.
  changes.addEventListener('me', () => shell?.switcher.paint());
  const team = freshView({
    read: (minPosition) => api.get('/api/agent/agents', { min_position: minPosition }),
    paint: ({ items }) => { for (const agent of items) store.agents.set(agent.id, agent); },
  });
  live.addEventListener('event', (event) => {
    const { topic, position, event: e } = event.detail;
    if (topic !== 'agent') return;
    if (e.aggregate_id === store.me?.id) myProfile.refresh();
    else team.saw(e.aggregate_id, position);
  });
  if (!window.location.hash) window.location.hash = '#/monitor';
  route();
}

window.addEventListener('hashchange', route);
if (getSession()) start();
else renderLogin();
