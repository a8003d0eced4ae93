// Transcript downloads, generated in the browser: plain text, or a standalone HTML page (escaped).
import { activityText, authorName } from './lines.js';

function title(conversation) {
  return conversation.kind === 'direct' ? (conversation.subject || 'Team chat') : `Chat with ${conversation.visitor?.name || 'a visitor'}`;
}

function stamp(iso) {
  return iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '';
}

function describe(line, ctx) {
  if (line.kind === 'activity') return { who: '', text: activityText(line, ctx) };
  const files = (line.attachments || []).map((a) => `[file: ${a.filename}]`).join(' ');
  return {
    who: `${authorName(line, ctx)}${line.kind === 'note' ? ' (internal note)' : ''}`,
    text: [line.text, files].filter(Boolean).join(' '),
  };
}

export function asText(conversation, lines) {
  const ctx = { visitorName: conversation.visitor?.name, plain: true };
  const head = [
    title(conversation),
    conversation.visitor?.email ? `Visitor email: ${conversation.visitor.email}` : null,
    `Started: ${stamp(conversation.created_at)}`,
    conversation.closed_at ? `Closed: ${stamp(conversation.closed_at)}` : null,
    conversation.tags?.length ? `Tags: ${conversation.tags.join(', ')}` : null,
    '',
  ].filter((x) => x !== null);
  const body = lines.map((line) => {
    const { who, text } = describe(line, ctx);
    return who ? `[${stamp(line.created_at)}] ${who}: ${text}` : `[${stamp(line.created_at)}] -- ${text} --`;
  });
  return [...head, ...body, ''].join('\n');
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** A self-contained HTML file. Built as a string for download only, so every value is escaped. */
export function asHtml(conversation, lines) {
  const ctx = { visitorName: conversation.visitor?.name, plain: true };
  const rows = lines.map((line) => {
    const { who, text } = describe(line, ctx);
    const cls = line.kind === 'activity' ? 'activity' : line.kind === 'note' ? 'note' : line.author?.kind === 'visitor' ? 'visitor' : 'agent';
    return `<div class="line ${cls}"><div class="meta">${esc(who)} <time>${esc(stamp(line.created_at))}</time></div><div class="text">${esc(text)}</div></div>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title(conversation))}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2rem auto;padding:0 1rem;color:#1f2937}
h1{font-size:1.3rem}.facts{color:#6b7280}.line{margin:.6rem 0;padding:.5rem .75rem;border-radius:8px;background:#f3f4f6;white-space:pre-wrap}
.line.agent{background:#e8f0fe}.line.note{background:#fff7d6;border:1px dashed #e0b400}.line.activity{background:none;color:#6b7280;text-align:center;font-size:.85rem}
.meta{font-size:.8rem;color:#6b7280}
</style></head><body>
<h1>${esc(title(conversation))}</h1>
<p class="facts">${esc(conversation.visitor?.email || '')} · started ${esc(stamp(conversation.created_at))}${conversation.closed_at ? ` · closed ${esc(stamp(conversation.closed_at))}` : ''}${conversation.tags?.length ? ` · tags: ${esc(conversation.tags.join(', '))}` : ''}</p>
${rows}
</body></html>
`;
}

export function download(filename, content, type) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
