// The visitor API and socket, scoped by the visitor token to exactly one conversation.
import { noteAppended } from '../shared/fresh.js';

const STORAGE_KEY = 'parley.visitor';

export class VisitorApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function loadVisit() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
  } catch {
    return null;
  }
}

export function saveVisit(visit) {
  if (visit) localStorage.setItem(STORAGE_KEY, JSON.stringify(visit));
  else localStorage.removeItem(STORAGE_KEY);
}

export function client(origin, getToken) {
  async function request(method, path, { json, form, query } = {}) {
    const url = new URL(path, origin);
    for (const [key, value] of Object.entries(query || {})) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined && one !== null) url.searchParams.append(key, one);
      }
    }
    const headers = {};
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body = form;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body });
    } catch {
      throw new VisitorApiError(0, 'We cannot reach the chat right now. Check your connection and try again.');
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const failed = new VisitorApiError(response.status, data?.error?.message || `Something went wrong (${response.status}).`);
      failed.code = data?.error?.code;
      failed.retryAfter = Number(response.headers.get('Retry-After')) || null;
      throw failed;
    }
    if (method !== 'GET') noteAppended(data); // what we wrote: later reads wait for the views to have it
    return data;
  }
  return {
    start: (form) => request('POST', '/api/visitor/conversations', { json: form }),
    availability: (department) => request('GET', '/api/visitor/availability', { query: { department: department || undefined } }),
    conversation: (minPosition) => request('GET', '/api/visitor/conversation', { query: { min_position: minPosition } }),
    messages: (after, minPosition) => request('GET', '/api/visitor/conversation/messages', { query: { after, limit: 200, min_position: minPosition } }),
    send: (text, attachmentIds) => request('POST', '/api/visitor/conversation/messages', { json: { text, attachment_ids: attachmentIds } }),
    upload: (file) => {
      const form = new FormData();
      form.append('file', file);
      return request('POST', '/api/visitor/conversation/attachments', { form });
    },
    rate: (score, comment) => request('POST', '/api/visitor/conversation/rating', { json: { score, comment: comment || null } }),
    transcriptEmails: () => request('GET', '/api/visitor/conversation/transcript-emails'),
    emailTranscript: (email) => request('POST', '/api/visitor/conversation/transcript-emails', { json: { email } }),
    attachmentUrl: (id) => `${origin}/api/attachments/${encodeURIComponent(id)}?access_token=${encodeURIComponent(getToken() || '')}`,
  };
}

/**
 * The visitor socket with reconnects; `onReady(reconnected, position)` lets the widget fetch what it missed:
 * `position`, when given, is the newest event of the chat pushed before this socket joined, which the
 * fetch must include.
 */
export function connect(origin, token, { onEvent, onTyping, onReady }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let opened = false;
  const url = `${origin.replace(/^http/, 'ws')}/ws/visitor?token=${encodeURIComponent(token)}`;
  function open() {
    if (stopped) return;
    const current = new WebSocket(url);
    socket = current;
    current.addEventListener('message', (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (data.kind === 'ready') { onReady(opened, data.position); opened = true; attempt = 0; }
      else if (data.kind === 'event') onEvent(data);
      else if (data.kind === 'typing') onTyping(Boolean(data.typing));
    });
    current.addEventListener('close', (event) => {
      if (stopped || socket !== current) return;
      if (event.code === 1008) return; // the token was refused: nothing to retry
      setTimeout(open, Math.min(10_000, 500 * 2 ** attempt++));
    });
  }
  open();
  return {
    typing: (typing) => { if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'typing', typing })); },
    close: () => { stopped = true; socket?.close(1000); },
  };
}
