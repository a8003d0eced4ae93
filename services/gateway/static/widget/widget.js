// The visitor widget: a chat bubble, the pre-chat form (or, when the team is closed or away, the
// leave-a-message form of offline.js), the thread with emoji and files, the queue
// position while waiting, the typing indicator, and a rating after close. Lives in a shadow root so the
// host page's styles never leak in (or out).
import { clear, clock, fileSize, h, richText } from '../shared/dom.js';
import { emojiButton } from '../shared/emoji.js';
import { freshView, note } from '../shared/fresh.js';
import { client, connect, loadVisit, saveVisit } from './visitor-api.js';
import { paintTranscriptOffer } from './transcript-email.js';
import { contactForm } from './contact-form.js';
import { backAt, offlineForm, openingHours } from './offline.js';

const LINE_EVENTS = new Set([
  'conversation.message_posted', 'conversation.participant_joined', 'conversation.participant_left',
  'conversation.teammate_invited', 'conversation.closed', 'conversation.reopened', 'conversation.rating_given',
]);
const ACTIVITY = {
  'conversation.participant_joined': 'An agent joined the chat',
  'conversation.participant_left': 'An agent left the chat',
  'conversation.teammate_invited': 'Another agent joined to help',
  'conversation.closed': 'The chat was closed',
  'conversation.reopened': 'The chat was reopened',
  'conversation.rating_given': 'Thanks for rating this chat',
};

export function mount({ origin, title, departments }) {
  const host = document.createElement('div');
  host.id = 'parley-widget';
  const shadow = host.attachShadow({ mode: 'open' });
  shadow.append(h('link', { rel: 'stylesheet', href: `${origin}/static/widget/widget.css` }));
  document.body.append(host);

  let visit = loadVisit(); // {token, conversation_id, name}
  const api = client(origin, () => visit?.token);
  let socket = null;
  let conversation = null;
  let lines = new Map();
  let last = -1;
  let pending = [];
  let typingSent = false;
  let typingTimer = null;
  let agentTypingTimer = null;

  const bubbleIcon = h('span', { class: 'bubble-icon', 'aria-hidden': 'true', text: '💬' });
  const unreadDot = h('span', { class: 'unread-dot', hidden: true });
  const bubble = h('button', { type: 'button', class: 'launcher', 'aria-label': 'Open chat', 'aria-expanded': 'false', onclick: () => toggle() }, bubbleIcon, unreadDot);
  const subtitle = h('div', { class: 'subtitle', text: 'We usually reply in a few minutes' });
  const body = h('div', { class: 'body' });
  const panel = h('section', { class: 'panel', role: 'dialog', 'aria-label': title, hidden: true },
    h('header', { class: 'header' },
      h('div', {}, h('div', { class: 'title', text: title }), subtitle),
      h('button', { type: 'button', class: 'header-close', 'aria-label': 'Minimize chat', onclick: () => toggle(false) }, '–')),
    body);
  shadow.append(panel, bubble);
  panel.addEventListener('keydown', (event) => { if (event.key === 'Escape') toggle(false); });

  function toggle(force) {
    const open = force ?? panel.hidden;
    panel.hidden = !open;
    bubble.setAttribute('aria-expanded', String(open));
    bubble.setAttribute('aria-label', open ? 'Close chat' : 'Open chat');
    bubbleIcon.textContent = open ? '✕' : '💬';
    sessionStorage.setItem('parley.widget.open', open ? '1' : '');
    if (open) {
      unreadDot.hidden = true;
      setTimeout(() => body.querySelector('textarea, input')?.focus(), 0);
    }
  }

  // --- pre-chat form ----------------------------------------------------------------------------
  const REPLY_TIME = 'We usually reply in a few minutes';
  let fileProblem = null; // a left message's file that could not be sent
  let asked = 0; // the latest availability question: an older answer arriving late is dropped

  async function startChat(fields, department) {
    const page = /^https?:/.test(window.location.href) ? window.location.href.slice(0, 2000) : null;
    const started = await api.start({ ...fields, page_url: page, department: department || null, locale: navigator.language?.slice(0, 35) || null });
    visit = { token: started.visitor_token, conversation_id: started.conversation_id, name: fields.name };
    saveVisit(visit);
    fileProblem = null;
  }

  // Open or closed, anyone there: the pre-chat form, else the leave-a-message form.
  async function checkAvailability(prechat, department) {
    const question = ++asked;
    let info;
    try {
      info = await api.availability(department?.value);
    } catch {
      return; // the chat form stays: better a chat that waits than no way to write
    }
    if (question !== asked || visit) return;
    const hours = openingHours(info.opening_hours);
    prechat.querySelector('.opening-hours-box')?.replaceChildren(...(hours ? [h('details', {}, h('summary', { text: 'Opening hours' }), hours)] : []));
    if (!info.offer_offline_form) {
      subtitle.textContent = REPLY_TIME;
      if (!body.contains(prechat)) clear(body, prechat);
      if (department && !prechat.contains(department)) prechat.querySelector('.department-box')?.append(department);
      return;
    }
    subtitle.textContent = info.open ? 'Nobody is available right now' : backAt(info.next_opening);
    clear(body, offlineForm(info, {
      department,
      send: async (fields, file) => {
        await startChat({ ...fields, offline: true }, department?.value);
        if (file) {
          try {
            const stored = await api.upload(file);
            await api.send('', [stored.attachment_id]);
          } catch (err) {
            fileProblem = err.message; // the message is sent: say so, and that the file can go from the composer
          }
        }
        openConversation();
      },
    }));
  }

  function renderPrechat(notice) {
    subtitle.textContent = REPLY_TIME;
    const department = departments.length
      ? h('select', { name: 'department' }, h('option', { value: '', text: 'No preference' }), departments.map((d) => h('option', { value: d, text: d })))
      : null;
    const form = contactForm({
      label: 'Start a chat',
      before: [h('p', { class: 'intro', text: 'Hi there 👋 Tell us who you are and we will get right back to you.' })],
      department,
      placeholder: 'How can we help?',
      after: [h('div', { class: 'opening-hours-box' })],
      submitText: 'Start chat',
      busyText: 'Starting…',
      notice,
      submit: async (fields) => {
        await startChat(fields, department?.value);
        openConversation();
      },
    });
    clear(body, form);
    department?.addEventListener('change', () => checkAvailability(form, department));
    checkAvailability(form, department);
  }

  // --- conversation -----------------------------------------------------------------------------
  const notice = h('div', { class: 'notice', hidden: true, role: 'status' });
  const thread = h('div', { class: 'thread', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typingEl = h('div', { class: 'typing', 'aria-live': 'polite' });
  const footer = h('div', { class: 'footer' });
  const transcriptBox = h('div', { class: 'transcript-email', hidden: true });

  // The conversation and its lines, each read once its view has every event we wrote or were pushed.
  const mine = () => (visit ? [visit.conversation_id] : []);
  const status = freshView({
    documents: mine,
    read: (minPosition) => api.conversation(minPosition),
    paint: (answer) => { conversation = answer; paintStatus(); },
    onError: (err) => { if (err.status === 401) forget('Your previous chat has expired. Start a new one below.'); },
  });
  const transcript = freshView({
    documents: mine,
    read: (minPosition) => api.messages(last >= 0 ? last : undefined, minPosition),
    paint: (page) => {
      appendLines(page.items);
      if (page.items.length === 200) transcript.refresh(); // more than a page: read on
    },
    onError: (err) => { if (err.status === 401) forget('Your previous chat has expired. Start a new one below.'); },
  });

  function openConversation() {
    lines = new Map();
    last = -1;
    clear(thread);
    transcriptBox.dataset.shownFor = '';
    clear(body, notice, thread, typingEl, footer, transcriptBox);
    renderComposer();
    socket?.close();
    socket = connect(origin, visit.token, {
      onEvent: ({ position, event }) => {
        note(visit.conversation_id, position); // this socket carries our conversation only
        // A line at or past this position is shown: the view had applied this event when it answered.
        if (LINE_EVENTS.has(event.type) && position > last) transcript.saw(visit.conversation_id, position);
        if (event.type === 'conversation.message_posted') {
          if (event.author.kind === 'agent') showAgentTyping(false);
        } else {
          status.saw(visit.conversation_id, position); // a message changes nothing of the status shown
        }
      },
      onTyping: showAgentTyping,
      // Whatever happened before the socket was ready (or while it was down) comes over REST, from a view
      // that has applied the last event the socket was too late for (the router may queue the chat first).
      onReady: (reconnected, position) => {
        note(visit.conversation_id, position);
        transcript.refresh();
        status.refresh();
      },
    });
    status.reload();
    transcript.reload();
  }

  function forget(message) {
    status.stop();
    transcript.stop();
    socket?.close();
    socket = null;
    visit = null;
    conversation = null;
    saveVisit(null);
    renderPrechat(message);
  }

  function paintStatus() {
    if (!conversation) return;
    const closed = conversation.status === 'closed';
    if (closed) subtitle.textContent = 'This chat has ended';
    else if (conversation.assignment === 'assigned' && conversation.agent) subtitle.textContent = `${conversation.agent.name} is here to help`;
    else subtitle.textContent = conversation.offline ? 'Message sent' : 'Waiting for an agent…';
    notice.hidden = closed || conversation.assignment === 'assigned';
    if (!notice.hidden && conversation.offline) {
      notice.textContent = 'Thanks, we got your message and will reply by email. Any answer also shows here.'
        + (fileProblem ? ` Your file was not sent (${fileProblem}); you can attach it below.` : '');
    } else if (!notice.hidden) {
      notice.textContent = conversation.assignment === 'queued'
        ? `No agent is available right now. You are #${conversation.queue_position || 1} in line: we will answer here as soon as someone is free. You can keep browsing; this chat stays open.`
        : 'Connecting you with an agent…';
    }
    if (closed) renderRating();
    else if (!footer.querySelector('.composer')) renderComposer();
    paintTranscriptOffer(transcriptBox, api, conversation);
  }

  function appendLines(items) {
    let agentWrote = false;
    for (const line of items) {
      if (lines.has(line.position)) continue;
      lines.set(line.position, line);
      last = Math.max(last, line.position);
      thread.append(renderLine(line));
      if (line.kind === 'message' && line.author.kind === 'agent') agentWrote = true;
    }
    if (items.length) thread.scrollTop = thread.scrollHeight;
    if (agentWrote && panel.hidden) unreadDot.hidden = false;
  }

  function renderLine(line) {
    if (line.kind !== 'message') {
      return h('div', { class: 'activity', dataset: { position: line.position } }, ACTIVITY[line.event_type] || 'Update');
    }
    const mine = line.author.kind === 'visitor';
    // An agent line carries its author's display name; the team's name stands in if the agent was removed.
    const who = mine ? 'You' : (line.author.name || title);
    return h('div', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { position: line.position } },
      h('div', { class: 'meta' }, h('span', { text: who }), ' · ', h('time', { text: clock(line.created_at) })),
      h('div', { class: 'msg-bubble' },
        line.text ? h('div', { class: 'text' }, richText(line.text)) : null,
        line.attachments?.length ? h('div', { class: 'files' }, line.attachments.map((a) => {
          const url = api.attachmentUrl(a.attachment_id);
          return a.content_type.startsWith('image/')
            ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'image' }, h('img', { src: url, alt: a.filename }))
            : h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'file', download: a.filename }, `📄 ${a.filename} (${fileSize(a.size)})`);
        })) : null));
  }

  function showAgentTyping(typing) {
    clearTimeout(agentTypingTimer);
    typingEl.textContent = typing ? `${conversation?.agent?.name || 'An agent'} is typing…` : '';
    if (typing) agentTypingTimer = setTimeout(() => { typingEl.textContent = ''; }, 6000);
  }

  function renderComposer() {
    pending = [];
    const field = h('textarea', { rows: '1', placeholder: 'Write a message…', 'aria-label': 'Message', maxlength: '5000' });
    const previews = h('div', { class: 'previews', hidden: true });
    const fileInput = h('input', { type: 'file', hidden: true, accept: 'image/*,.pdf,.txt,.csv,.zip,.docx,.xlsx' });
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const sendButton = h('button', { type: 'button', class: 'send', 'aria-label': 'Send', title: 'Send (Enter)', onclick: () => send() }, '➤');
    const paintPreviews = () => {
      previews.hidden = !pending.length;
      clear(previews, pending.map((p) => h('div', { class: 'preview' },
        p.file.type.startsWith('image/') ? h('img', { src: p.url, alt: p.file.name }) : h('span', { text: '📄' }),
        h('span', { class: 'preview-name', text: p.uploading ? `${p.file.name} · uploading…` : p.file.name }),
        h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${p.file.name}`, onclick: () => { pending = pending.filter((x) => x !== p); paintPreviews(); } }, '✕'))));
    };
    fileInput.addEventListener('change', async () => {
      const files = [...fileInput.files];
      fileInput.value = '';
      for (const file of files) {
        const p = { file, url: URL.createObjectURL(file), uploading: true };
        pending.push(p);
        p.done = api.upload(file)
          .then((stored) => { p.attachment_id = stored.attachment_id; error.hidden = true; })
          .catch((err) => {
            pending = pending.filter((x) => x !== p);
            error.hidden = false;
            error.textContent = err.message;
          })
          .finally(() => { p.uploading = false; paintPreviews(); });
      }
      paintPreviews();
    });
    async function send() {
      const text = field.value.trim();
      if (!text && !pending.length) return;
      sendButton.disabled = true;
      await Promise.all(pending.map((p) => p.done)); // an upload still running: send when it is stored
      const ids = pending.map((p) => p.attachment_id).filter(Boolean);
      if (!text && !ids.length) { sendButton.disabled = false; return; }
      try {
        await api.send(text, ids); // the client notes the positions it appended
        transcript.refresh();
        field.value = '';
        field.style.height = 'auto';
        pending = [];
        paintPreviews();
        error.hidden = true;
        stopTyping();
      } catch (err) {
        error.hidden = false;
        error.textContent = err.message;
      } finally {
        sendButton.disabled = false;
        field.focus();
      }
    }
    function stopTyping() {
      clearTimeout(typingTimer);
      if (typingSent) { typingSent = false; socket?.typing(false); }
    }
    field.addEventListener('input', () => {
      field.style.height = 'auto';
      field.style.height = `${Math.min(field.scrollHeight, 120)}px`;
      if (!typingSent && field.value) { typingSent = true; socket?.typing(true); }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, 4000);
    });
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
    });
    clear(footer, error, previews, h('div', { class: 'composer' },
      field,
      emojiButton(field),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Attach a file', title: 'Attach an image or file', onclick: () => fileInput.click() }, '📎'),
      fileInput, sendButton));
  }

  function renderRating() {
    if (footer.querySelector('.rating')) return;
    const rated = conversation.rating;
    const restart = h('button', { type: 'button', class: 'secondary', text: 'Start a new chat', onclick: () => forget() });
    if (rated) {
      clear(footer, h('div', { class: 'rating done' }, h('p', { text: `Thanks for your feedback! You rated this chat ${'★'.repeat(rated.score)}.` }), restart));
      return;
    }
    let score = 0;
    const stars = h('div', { class: 'stars', role: 'radiogroup', 'aria-label': 'Rating' });
    const paintStars = () => [...stars.children].forEach((star, i) => {
      star.textContent = i < score ? '★' : '☆';
      star.setAttribute('aria-checked', String(i + 1 === score));
    });
    for (let i = 1; i <= 5; i++) {
      stars.append(h('button', { type: 'button', role: 'radio', class: 'star', 'aria-label': `${i} out of 5`, onclick: () => { score = i; paintStars(); } }, '☆'));
    }
    const comment = h('textarea', { rows: '2', maxlength: '2000', placeholder: 'Anything we could do better? (optional)', 'aria-label': 'Comment' });
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const submit = h('button', {
      type: 'button', class: 'primary', text: 'Send rating',
      onclick: async () => {
        if (!score) { error.hidden = false; error.textContent = 'Pick from 1 to 5 stars.'; return; }
        submit.disabled = true;
        try {
          await api.rate(score, comment.value.trim());
          conversation.rating = { score };
          clear(footer, h('div', { class: 'rating done' }, h('p', { text: `Thanks for your feedback! You rated this chat ${'★'.repeat(score)}.` }), restart));
        } catch (err) {
          error.hidden = false;
          error.textContent = err.message;
          submit.disabled = false;
        }
      },
    });
    clear(footer, h('div', { class: 'rating' }, h('p', { class: 'rating-title', text: 'How was this chat?' }), stars, comment, error, h('div', { class: 'row' }, restart, submit)));
  }

  if (visit?.token) openConversation();
  else renderPrechat();
  if (sessionStorage.getItem('parley.widget.open')) toggle(true);
}
