// The composer: reply or internal note, Enter sends and Shift+Enter breaks the line, emoji, files with
// preview, and canned responses by typing `/`.
import { emojiButton } from '../shared/emoji.js';
import { clear, fileSize, h } from '../shared/dom.js';
import { api } from './api.js';
import { loadCanned, store } from './store.js';
import { showError } from './ui.js';

const VARIABLE = /\{(visitor|agent|conversation)\.(\w+)\}/g;

/** Fill a canned response's placeholders the way the server does, so the agent sees what will be sent. */
export function renderCanned(text, conversation) {
  const visitor = conversation.visitor || {};
  const values = {
    'visitor.name': visitor.name || 'there',
    'visitor.email': visitor.email || '',
    'agent.name': store.me?.name || '',
    'agent.email': store.me?.email || '',
    'conversation.id': conversation.id,
  };
  return text.replace(VARIABLE, (_, scope, key) => values[`${scope}.${key}`] ?? '');
}

export function createComposer({ getConversation, allowFiles, onTyping, onSent }) {
  let mode = 'message';
  let pending = []; // {file, url, attachment_id?, uploading, error}
  let canned = null; // {id, text} picked from the `/` menu
  let popupItems = [];
  let popupIndex = 0;
  let typingSent = false;
  let typingTimer = null;

  const field = h('textarea', {
    class: 'composer-input', rows: '1', 'aria-label': 'Message',
    placeholder: 'Type a reply… (Enter sends, Shift+Enter new line, / for canned responses)',
  });
  const popup = h('div', { class: 'canned-popup', role: 'listbox', 'aria-label': 'Canned responses', hidden: true });
  const previews = h('div', { class: 'previews', hidden: true });
  const fileInput = h('input', { type: 'file', hidden: true, multiple: true, 'aria-label': 'Attach files' });
  const attach = allowFiles
    ? h('button', { type: 'button', class: 'icon-button', title: 'Attach an image or file', 'aria-label': 'Attach file', onclick: () => fileInput.click() }, '📎')
    : null;
  const send = h('button', { type: 'button', class: 'button primary', text: 'Send', onclick: () => submit() });
  const replyTab = h('button', { type: 'button', class: 'mode-tab', 'aria-pressed': 'true', onclick: () => setMode('message') }, 'Reply');
  const noteTab = h('button', { type: 'button', class: 'mode-tab', 'aria-pressed': 'false', onclick: () => setMode('note') }, 'Private note');
  const el = h('div', { class: 'composer' },
    h('div', { class: 'composer-modes' }, replyTab, noteTab),
    popup,
    previews,
    field,
    h('div', { class: 'composer-tools' }, emojiButton(field), attach, fileInput, h('span', { class: 'composer-hint muted small' }), send));
  const hint = el.querySelector('.composer-hint');

  function setMode(next) {
    mode = next;
    el.classList.toggle('note-mode', mode === 'note');
    replyTab.setAttribute('aria-pressed', String(mode === 'message'));
    noteTab.setAttribute('aria-pressed', String(mode === 'note'));
    field.placeholder = mode === 'note'
      ? 'Write an internal note: only your teammates see it'
      : 'Type a reply… (Enter sends, Shift+Enter new line, / for canned responses)';
    send.textContent = mode === 'note' ? 'Add note' : 'Send';
    if (attach) attach.hidden = mode === 'note';
    hint.textContent = mode === 'note' ? 'Not visible to the visitor' : '';
    field.focus();
  }

  function autosize() {
    field.style.height = 'auto';
    field.style.height = `${Math.min(field.scrollHeight, 200)}px`;
  }

  function typing(active) {
    if (active && !typingSent) { typingSent = true; onTyping(true, mode); }
    clearTimeout(typingTimer);
    if (active) typingTimer = setTimeout(() => typing(false), 4000);
    else if (typingSent) { typingSent = false; onTyping(false, mode); }
  }

  // --- canned responses -------------------------------------------------------------------------
  async function updatePopup() {
    const match = mode === 'message' && /^\/(\S*)$/.exec(field.value);
    if (!match) { popup.hidden = true; return; }
    const all = store.canned || await loadCanned().catch(() => []);
    const q = match[1].toLowerCase();
    popupItems = all.filter((c) => c.shortcut.includes(q) || c.text.toLowerCase().includes(q)).slice(0, 8);
    popupIndex = Math.min(popupIndex, Math.max(popupItems.length - 1, 0));
    clear(popup, popupItems.length
      ? popupItems.map((c, i) => h('div', {
        class: `canned-item${i === popupIndex ? ' active' : ''}`, role: 'option', 'aria-selected': String(i === popupIndex),
        onmousedown: (event) => { event.preventDefault(); pick(c); },
      }, h('strong', { text: `/${c.shortcut}` }), h('span', { class: 'muted', text: ` ${c.text}` })))
      : h('div', { class: 'canned-empty muted', text: all.length ? 'No canned response matches.' : 'No canned responses yet: add some in Profile.' }));
    popup.hidden = false;
  }

  function pick(item) {
    const text = renderCanned(item.text, getConversation());
    canned = { id: item.id, text };
    field.value = text;
    popup.hidden = true;
    autosize();
    field.focus();
  }

  // --- files ------------------------------------------------------------------------------------
  function paintPreviews() {
    previews.hidden = pending.length === 0;
    clear(previews, pending.map((p) => h('div', { class: `preview${p.error ? ' failed' : ''}` },
      p.file.type.startsWith('image/') ? h('img', { src: p.url, alt: p.file.name }) : h('span', { class: 'file-icon', 'aria-hidden': 'true', text: '📄' }),
      h('span', { class: 'preview-name' }, h('span', { text: p.file.name }), h('span', { class: 'muted small', text: p.error || (p.uploading ? ' uploading…' : ` ${fileSize(p.file.size)}`) })),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': `Remove ${p.file.name}`, onclick: () => remove(p) }, '✕'))));
  }

  function remove(p) {
    URL.revokeObjectURL(p.url);
    pending = pending.filter((x) => x !== p);
    paintPreviews();
  }

  function addFiles(files) {
    for (const file of files) {
      const p = { file, url: URL.createObjectURL(file), uploading: true };
      pending.push(p);
      p.done = api.upload(`/api/agent/conversations/${encodeURIComponent(getConversation().id)}/attachments`, file)
        .then((stored) => { p.attachment_id = stored.attachment_id; })
        .catch((error) => { p.error = ` ${error.message}`; showError(error); })
        .finally(() => { p.uploading = false; paintPreviews(); });
    }
    paintPreviews();
  }
  fileInput.addEventListener('change', () => { addFiles([...fileInput.files]); fileInput.value = ''; });
  if (allowFiles) {
    field.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (files.length) { event.preventDefault(); addFiles(files); }
    });
  }

  // --- sending ----------------------------------------------------------------------------------
  async function submit() {
    const text = field.value.trim();
    if (!text && !pending.length) { field.focus(); return; }
    send.disabled = true;
    if (pending.some((p) => p.uploading)) {
      hint.textContent = 'Sending when the upload finishes…';
      await Promise.all(pending.map((p) => p.done));
      hint.textContent = '';
    }
    const ready = pending.filter((p) => p.attachment_id);
    if (!text && !ready.length) { send.disabled = false; return; }
    const id = encodeURIComponent(getConversation().id);
    try {
      let result;
      if (mode === 'note') {
        result = await api.post(`/api/agent/conversations/${id}/notes`, { text });
      } else if (canned && canned.text === field.value && !ready.length) {
        result = await api.post(`/api/agent/conversations/${id}/messages`, { canned_response_id: canned.id });
      } else {
        result = await api.post(`/api/agent/conversations/${id}/messages`, { text, attachment_ids: ready.map((p) => p.attachment_id) });
      }
      onSent(result.events || []);
      field.value = '';
      canned = null;
      pending.forEach((p) => URL.revokeObjectURL(p.url));
      pending = [];
      paintPreviews();
      autosize();
      typing(false);
    } catch (error) {
      showError(error);
    } finally {
      send.disabled = false;
      field.focus();
    }
  }

  field.addEventListener('input', () => {
    autosize();
    if (canned && field.value !== canned.text) canned = null;
    typing(field.value.length > 0);
    popupIndex = 0;
    updatePopup();
  });
  field.addEventListener('keydown', (event) => {
    if (!popup.hidden && popupItems.length) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        popupIndex = (popupIndex + (event.key === 'ArrowDown' ? 1 : -1) + popupItems.length) % popupItems.length;
        updatePopup();
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') { event.preventDefault(); pick(popupItems[popupIndex]); return; }
    }
    if (event.key === 'Escape' && !popup.hidden) { popup.hidden = true; return; }
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  field.addEventListener('blur', () => setTimeout(() => { popup.hidden = true; }, 150));

  return {
    el,
    focus: () => field.focus(),
    stopTyping: () => typing(false),
    disable(reason) {
      field.disabled = true;
      send.disabled = true;
      if (attach) attach.disabled = true;
      field.placeholder = reason;
    },
    enable() {
      if (!field.disabled) return;
      field.disabled = false;
      send.disabled = false;
      if (attach) attach.disabled = false;
      setMode(mode);
    },
  };
}
