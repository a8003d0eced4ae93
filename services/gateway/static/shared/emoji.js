// A small emoji picker: a curated grid of the emoji support teams actually send. No library.
import { h, insertAtCaret, popover } from './dom.js';

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
    onclick: () => popup.toggle(),
  }, '😊');
  for (const [group, list] of Object.entries(EMOJI)) {
    grid.append(h('div', { class: 'emoji-group', text: group }));
    const row = h('div', { class: 'emoji-row' });
    for (const emoji of list) {
      row.append(h('button', {
        type: 'button', class: 'emoji-cell', title: emoji, 'aria-label': emoji,
        onclick: () => { insertAtCaret(field, emoji); popup.close(); },
      }, emoji));
    }
    grid.append(row);
  }
  grid.addEventListener('keydown', (event) => {
    const cells = [...grid.querySelectorAll('.emoji-cell')];
    const index = cells.indexOf(grid.getRootNode().activeElement);
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 };
    if (event.key === 'Escape') { event.preventDefault(); popup.close(); field.focus(); }
    else if (event.key in moves && index >= 0) {
      event.preventDefault();
      cells[Math.max(0, Math.min(cells.length - 1, index + moves[event.key]))].focus();
    }
  });
  const popup = popover({ wrapper, button, panel: grid, focusFirst: '.emoji-cell' });
  wrapper.append(button, grid);
  return wrapper;
}
