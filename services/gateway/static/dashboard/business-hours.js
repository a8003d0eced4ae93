// The business-hours part of the department form: a time zone, each day's openings as text
// ("09:00-12:00, 13:00-17:00"; a close before the open runs past midnight), holidays, the offline text.
import { h } from '../shared/dom.js';

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const INTERVAL = /^([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00)$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** "Mon–Fri · Europe/Paris" style summary for the departments table. */
export function hoursSummary(hours) {
  if (!hours) return 'Always open';
  const days = DAYS.filter(([day]) => hours.weekly.some((i) => i.day === day)).map(([, label]) => label.slice(0, 3));
  return `${days.length ? days.join(', ') : 'Closed'} · ${hours.timezone}`;
}

export function hoursPicker() {
  const localZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const always = h('input', { type: 'checkbox', checked: true });
  const zone = h('input', { type: 'text', maxlength: '64', list: 'parley-time-zones', value: localZone });
  const zones = h('datalist', { id: 'parley-time-zones' },
    (Intl.supportedValuesOf?.('timeZone') || []).map((z) => h('option', { value: z })));
  const days = Object.fromEntries(DAYS.map(([day, label]) => [day, h('input', { type: 'text', maxlength: '200', placeholder: 'Closed', 'aria-label': `${label.slice(0, 3)} hours` })]));
  const holidays = h('textarea', { rows: '2', placeholder: '2026-12-25, 2027-01-01' });
  const offlineText = h('textarea', { rows: '2', maxlength: '1000', placeholder: 'We’re away right now. Leave a message and we’ll reply by email.' });
  const formWhenAway = h('input', { type: 'checkbox' });
  const details = h('div', { class: 'hours-details' },
    h('label', {}, 'Time zone', zone, zones),
    h('div', { class: 'hours-days' }, DAYS.map(([day, label]) => h('label', { class: 'hours-day' }, label.slice(0, 3), days[day]))),
    h('span', { class: 'muted small', text: 'Openings as 09:00-17:00, several separated by commas; empty: closed that day.' }),
    h('label', {}, 'Closed dates', holidays, h('span', { class: 'muted small', text: 'Closed all day on these dates (YYYY-MM-DD).' })),
    h('label', {}, 'Offline text', offlineText, h('span', { class: 'muted small', text: 'Shown to visitors above the leave-a-message form.' })),
    h('label', { class: 'check' }, formWhenAway, 'Offer the message form while open when nobody is available'));
  const el = h('fieldset', { class: 'hours-field' },
    h('legend', { text: 'Business hours' }),
    h('label', { class: 'check' }, always, 'Always open (or as the department “default”)'),
    details);
  const paint = () => { details.hidden = always.checked; };
  always.addEventListener('change', paint);

  return {
    el,
    set(hours) {
      always.checked = !hours;
      zone.value = hours?.timezone || localZone;
      for (const [day] of DAYS) {
        days[day].value = (hours?.weekly || []).filter((i) => i.day === day).map((i) => `${i.open}-${i.close}`).join(', ');
      }
      holidays.value = (hours?.holidays || []).join(', ');
      offlineText.value = hours?.offline_text || '';
      formWhenAway.checked = Boolean(hours?.offline_form_when_unavailable);
      paint();
    },
    /** The hours to send, or a message saying what to fix (thrown as an Error). */
    get() {
      if (always.checked) return null;
      const weekly = [];
      for (const [day, label] of DAYS) {
        for (const part of days[day].value.split(',').map((p) => p.trim()).filter(Boolean)) {
          if (!INTERVAL.test(part)) throw new Error(`${label}: write openings as 09:00-17:00 (got “${part}”).`);
          const [open, close] = part.split('-').map((p) => p.trim());
          weekly.push({ day, open, close });
        }
      }
      const dates = holidays.value.split(/[\s,]+/).filter(Boolean);
      const wrong = dates.find((d) => !DATE.test(d));
      if (wrong) throw new Error(`Closed dates: write them as YYYY-MM-DD (got “${wrong}”).`);
      const hours = { timezone: zone.value.trim(), weekly, holidays: dates, offline_form_when_unavailable: formWhenAway.checked };
      if (offlineText.value.trim()) hours.offline_text = offlineText.value.trim();
      return hours;
    },
  };
}
