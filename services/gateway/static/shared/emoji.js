// A small emoji picker: a curated grid of the emoji support teams actually send. No library.
import { h, insertAtCaret } from './dom.js';

export const EMOJI = {
  Smileys: ['😀', '😃', '😄', '😁', '😊', '🙂', '😉', '😍', '🥰', '😘', '😎', '🤩', '🤔', '🤗', '😅', '😂', '🤣', '😇', '🙃', '😌', '😴', '😬', '😢', '😭', '😮', '😱', '😡', '🥳'],
  Gestures: ['👋', '👍', '👎', '👏', '🙌', '🙏', '🤝', '💪', '👌', '✌️', '🤞', '👀'],
  Symbols: ['❤️', '💙', '💚', '⭐', '✨', '🔥', '🎉', '✅', '❌', '⚠️', '❓', '💡', '📦', '🚚', '💳', '📧', '📞', '⏰', '🔒', '🎁'],
};

/**
 * A toggle button with a popover grid; picking an emoji inserts it at the caret of `field`.
 * Keyboard: Enter/Space opens, arrows move in the grid, Escape closes.
 */
export function emojiButton(field, { label = 'Insert emoji' } = {}) {
  const wrapper = h('div', { class: 'emoji' });
  const grid = h('div', { class: 'emoji-grid', role: 'dialog', 'aria-label': 'Emoji', hidden: true });
  const button = h('button', {
    type: 'button', class: 'icon-button', title: label, 'aria-label': label, 'aria-expanded': 'false',
    onclick: () => (grid.hidden ? open() : close()),
  }, '😊');
  for (const [group, list] of Object.entries(EMOJI)) {
    grid.append(h('div', { class: 'emoji-group', text: group }));
    const row = h('div', { class: 'emoji-row' });
    for (const emoji of list) {
      row.append(h('button', {
        type: 'button', class: 'emoji-cell', title: emoji, 'aria-label': emoji,
        onclick: () => { insertAtCaret(field, emoji); close(); },
      }, emoji));
    }
    grid.append(row);
  }
  grid.addEventListener('keydown', (event) => {
    const cells = [...grid.querySelectorAll('.emoji-cell')];
    const index = cells.indexOf(grid.getRootNode().activeElement);
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 };
    if (event.key === 'Escape') { event.preventDefault(); close(); field.focus(); }
    else if (event.key in moves && index >= 0) {
      event.preventDefault();
      cells[Math.max(0, Math.min(cells.length - 1, index + moves[event.key]))].focus();
    }
  });
  // composedPath: inside the widget's shadow root, event.target is retargeted to the host element.
  const outside = (event) => { if (!event.composedPath().includes(wrapper)) close(); };
  function open() {
    grid.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    grid.querySelector('.emoji-cell').focus();
    document.addEventListener('mousedown', outside);
  }
  function close() {
    grid.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside);
  }
  wrapper.append(button, grid);
  return wrapper;
}
