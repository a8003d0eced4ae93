// The agent WebSocket: tenant events, typing, and our heartbeat. Reconnects with backoff; after a
// reconnect, listeners get `ready` with reconnected=true and re-fetch what they show (no gap).
import { logout, token } from './api.js';
import { note } from '../shared/fresh.js';
import { CLOSING_EVENTS, recentlyClosed } from './store.js';

const HEARTBEAT_MS = 20_000;

export class Live extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.status = 'offline';
    this.attempt = 0;
    this.connectedOnce = false;
    this.stopped = false;
    this.heartbeat = null;
    this.connected = false;
  }

  start(status) {
    this.status = status;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.socket?.close(1000, 'signed out');
    this.socket = null;
  }

  connect() {
    if (this.stopped || !token()) return;
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/agent?token=${encodeURIComponent(token())}`);
    this.socket = socket;
    socket.addEventListener('message', (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (data.kind === 'ready') {
        const reconnected = this.connectedOnce;
        this.connectedOnce = true;
        this.attempt = 0;
        this.setConnected(true);
        this.beat();
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
        this.dispatchEvent(new CustomEvent('ready', { detail: { reconnected } }));
      } else if (data.kind === 'event') {
        note(data.event.aggregate_id, data.position);
        if (CLOSING_EVENTS.has(data.event.type)) recentlyClosed.note(data.event.aggregate_id);
        this.dispatchEvent(new CustomEvent('event', { detail: data }));
      } else if (data.kind === 'typing') {
        this.dispatchEvent(new CustomEvent('typing', { detail: data }));
      }
    });
    socket.addEventListener('close', (closed) => {
      clearInterval(this.heartbeat);
      if (this.socket !== socket) return;
      this.setConnected(false);
      if (this.stopped) return;
      // 1008: the server refused the token (signed out elsewhere, revoked, expired): sign in again.
      if (closed.code === 1008) { logout(); return; }
      const delay = Math.min(10_000, 500 * 2 ** this.attempt++) + Math.random() * 300;
      setTimeout(() => this.connect(), delay);
    });
  }

  setConnected(value) {
    if (this.connected === value) return;
    this.connected = value;
    this.dispatchEvent(new CustomEvent('connection', { detail: { connected: value } }));
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  beat() {
    this.send({ type: 'heartbeat', status: this.status });
  }

  setStatus(status) {
    this.status = status;
    this.beat();
  }

  typing(conversationId, typing, mode) {
    this.send({ type: 'typing', conversation_id: conversationId, typing, mode });
  }
}

export const live = new Live();
