// Toasts, modals and menus: small, keyboard-friendly, built with the DOM helpers (no user HTML).
import { h, popover } from '../shared/dom.js';

const toasts = () => document.getElementById('toasts');

export function toast(message, kind = 'info') {
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts().append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}

/** Shows what went wrong in the API's own words. */
export function showError(error) {
  toast(error?.message || String(error), 'error');
}

/** A modal dialog; resolves when closed. `build(close)` returns the body. Escape or the backdrop closes. */
export function modal(title, build, { wide = false } = {}) {
  const previous = document.activeElement;
  const backdrop = h('div', { class: 'backdrop' });
  const dialog = h('div', { class: `modal${wide ? ' modal-wide' : ''}`, role: 'dialog', 'aria-modal': 'true', 'aria-label': title });
  const close = () => {
    backdrop.remove();
    previous?.focus?.();
  };
  dialog.append(
    h('header', { class: 'modal-header' },
      h('h2', { text: title }),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close dialog', title: 'Close (Esc)', onclick: close }, '✕')),
    build(close),
  );
  backdrop.append(dialog);
  backdrop.addEventListener('mousedown', (event) => { if (event.target === backdrop) close(); });
  backdrop.addEventListener('keydown', (event) => { if (event.key === 'Escape') { event.stopPropagation(); close(); } });
  document.body.append(backdrop);
  (dialog.querySelector('input, textarea, select, .modal-body button') || dialog.querySelector('button')).focus();
  return close;
}

/** A dropdown menu of actions under a button. items: [{label, onSelect, danger?}] */
export function menuButton(label, items, { title } = {}) {
  const wrapper = h('div', { class: 'menu' });
  const list = h('div', { class: 'menu-list', role: 'menu', hidden: true });
  const button = h('button', {
    type: 'button', class: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', title,
    onclick: () => popup.toggle(),
  }, label, ' ▾');
  for (const item of items) {
    list.append(h('button', {
      type: 'button', role: 'menuitem', class: `menu-item${item.danger ? ' danger' : ''}`,
      onclick: () => { popup.close(); item.onSelect(); },
    }, item.label));
  }
  list.addEventListener('keydown', (event) => {
    const entries = [...list.querySelectorAll('.menu-item')];
    const index = entries.indexOf(document.activeElement);
    if (event.key === 'ArrowDown') { event.preventDefault(); entries[(index + 1) % entries.length].focus(); }
    if (event.key === 'ArrowUp') { event.preventDefault(); entries[(index - 1 + entries.length) % entries.length].focus(); }
    if (event.key === 'Escape') { popup.close(); button.focus(); }
  });
  const popup = popover({ wrapper, button, panel: list, focusFirst: '.menu-item' });
  wrapper.append(button, list);
  return wrapper;
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-title', text: title }), text ? h('p', { text }) : null, ...actions);
}

export function statusDot(status) {
  return h('span', { class: `dot dot-${status || 'offline'}`, title: status || 'offline', 'aria-hidden': 'true' });
}

export function avatar(name, url, size = '') {
  const el = h('span', { class: `avatar ${size}`, 'aria-hidden': 'true' });
  const safe = url && /^https?:\/\//.test(url) ? url : null;
  if (safe) el.append(h('img', { src: safe, alt: '' }));
  else el.textContent = (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
  return el;
}
