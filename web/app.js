// The jobs dashboard: one page, hash routes, the HTTP API of jobsd (/api/v2, jobsd(8)).
// No third-party code. Text from the API goes into the page as text (textContent), never as
// markup. The token lives in sessionStorage only: it is gone when the tab is closed.

const API = '/api/v2';
const TOKEN_KEY = 'jobs.token';
const PAGE = 50;
const STATUSES = ['success', 'failed', 'partial_success', 'timeout', 'cancelled', 'interrupted',
  'skipped', 'running', 'paused', 'never'];

let me = null; // GET /whoami: the token's name, role and job glob
let route = null;
let disposers = []; // what the current page started (streams, timers), stopped on leaving it
// By list and filter, a map from a page's cursor to the cursor of the page before it, as the
// Next buttons found them: the hash holds the page's own cursor and first row (`from`), so that
// Back, Forward and a reload show the right page and numbers.
const previousCursors = new Map();

// --- Elements

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAll(e, attrs, children);
  return e;
}

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAll(e, attrs, children);
  return e;
}

function setAll(e, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) {
      continue;
    }
    if (k.startsWith('on')) {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) {
      e.append(c instanceof Node ? c : String(c));
    }
  }
}

function badge(status) {
  return el('span', { class: `badge ${status}` }, status.replace('_', ' '));
}

function table(headers, rows, cls) {
  return el('div', { class: 'scroll' },
    el('table', { class: cls },
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)));
}

// A row whose cells carry their column's name (shown before each cell at phone width).
function row(headers, cells) {
  return el('tr', {}, cells.map((c, i) => el('td', { 'data-label': headers[i] }, c)));
}

// --- Times

const formats = new Map();
function format(zone, options) {
  const key = `${zone}|${JSON.stringify(options)}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat('en-GB', { timeZone: zone, ...options }));
  }
  return formats.get(key);
}

// An ISO time in a zone (the browser's when none): "2026-12-08 02:30:00 CET".
function when(iso, zone) {
  if (!iso) {
    return '—';
  }
  try {
    const parts = format(zone, {
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
      second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
    }).formatToParts(new Date(iso));
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
  } catch {
    return iso;
  }
}

function span(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) {
    return `${d}d ${h}h`;
  }
  if (h) {
    return `${h}h ${m}m`;
  }
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

function relative(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  return seconds >= 0 ? `in ${span(seconds)}` : `${span(seconds)} ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) {
    return '—';
  }
  return seconds < 60 ? `${seconds.toFixed(seconds < 10 ? 2 : 1)}s` : span(seconds);
}

function offsetAt(ms, zone) {
  const p = format(zone, { timeZoneName: 'longOffset' }).formatToParts(new Date(ms));
  return p.find((x) => x.type === 'timeZoneName').value;
}

// Whether the zone's offset changes within 3 hours of a time: a fire there may carry a DST note.
function nearTransition(iso, zone) {
  const t = Date.parse(iso);
  const hours3 = 3 * 3600 * 1000;
  try {
    return offsetAt(t - hours3, zone) !== offsetAt(t + hours3, zone);
  } catch {
    return false;
  }
}

// --- Schedules in words (the common shapes; others are shown as the expression alone)

const MONTHS = ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const NAMES = Object.fromEntries([
  ...MONTHS.slice(1).map((m, i) => [m.slice(0, 3).toLowerCase(), i + 1]),
  ...DAYS.slice(0, 7).map((d, i) => [d.slice(0, 3).toLowerCase(), i]),
]);
const MACROS = {
  '@yearly': 'every year on 1 January at 00:00',
  '@annually': 'every year on 1 January at 00:00',
  '@monthly': 'on the 1st of every month at 00:00',
  '@weekly': 'every Sunday at 00:00',
  '@daily': 'every day at 00:00',
  '@midnight': 'every day at 00:00',
  '@hourly': 'every hour at :00',
  '@reboot': 'once at each boot',
};

const two = (n) => String(n).padStart(2, '0');
const num = (f) => /^\d+$/.test(f);
const nums = (f) => /^\d+(,\d+)*$/.test(f);

function list(f, names) {
  return f.split(',').map((x) => {
    const r = /^(\d+)-(\d+)$/.exec(x);
    return r ? `${names[+r[1]]} to ${names[+r[2]]}` : names[+x];
  }).join(', ');
}

function timeWords(s, mi, h) {
  const step = (f) => /^\*\/(\d+)$/.exec(f);
  if (s === '*' && mi === '*' && h === '*') {
    return 'every second';
  }
  if (step(s) && mi === '*' && h === '*') {
    return `every ${step(s)[1]} seconds`;
  }
  if (s !== '0') {
    return num(s) && num(mi) && num(h) ? `at ${two(h)}:${two(mi)}:${two(s)}` : null;
  }
  if (mi === '*' && h === '*') {
    return 'every minute';
  }
  if (step(mi) && h === '*') {
    return `every ${step(mi)[1]} minutes`;
  }
  if (num(mi) && h === '*') {
    return `every hour at :${two(mi)}`;
  }
  if (num(mi) && step(h)) {
    return `every ${step(h)[1]} hours at :${two(mi)}`;
  }
  if (num(mi) && /^\d+-\d+$/.test(h)) {
    const [a, b] = h.split('-');
    return `every hour from ${two(a)}:${two(mi)} to ${two(b)}:${two(mi)}`;
  }
  if (nums(mi) && nums(h)) {
    const times = [];
    for (const hh of h.split(',')) {
      for (const mm of mi.split(',')) {
        times.push(`${two(hh)}:${two(mm)}`);
      }
    }
    return times.length <= 6 ? `at ${times.join(', ')}` : null;
  }
  return null;
}

function describe(expr) {
  const text = expr.trim();
  const low = text.toLowerCase();
  if (MACROS[low]) {
    return MACROS[low];
  }
  const every = /^@every\s+(.+)$/i.exec(text);
  if (every) {
    return `every ${every[1]}`;
  }
  if (low.startsWith('at ')) {
    return `once, ${text}`;
  }
  let f = text.replace(/^CRON_TZ=\S+\s+/, '').split(/\s+/)
    .map((x) => x.toLowerCase().replace(/[a-z]{3}/g, (n) => (n in NAMES ? NAMES[n] : n)))
    .map((x) => (x === '?' ? '*' : x));
  if (f.length === 5) {
    f = ['0', ...f];
  }
  if (f.length !== 6 || f.some((x) => /[^\d*,/-]/.test(x))) {
    return null;
  }
  const [s, mi, h, dom, mon, dow] = f;
  const time = timeWords(s, mi, h);
  const simple = (x) => /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(x);
  if (!time || ![dom, mon, dow].every((x) => x === '*' || simple(x)) || (dom !== '*' && dow !== '*')) {
    return null;
  }
  const words = [time];
  if (dow !== '*') {
    words.push(`on ${list(dow, DAYS)}`);
  } else if (dom !== '*') {
    words.push(`on day ${dom.replaceAll(',', ', ')} of the month`);
  } else if (mon === '*' && time.startsWith('at ')) {
    words.unshift('every day');
  }
  if (mon !== '*') {
    words.push(`in ${list(mon, MONTHS)}`);
  }
  return words.join(' ');
}

function scheduleCell(schedule, zone) {
  return el('div', {}, schedule.map((expr) => {
    const words = describe(expr);
    return el('div', {}, words ? el('span', {}, words, ' ') : null,
      el('code', {}, expr));
  }), zone ? el('div', { class: 'muted small' }, zone) : null);
}

// --- The API

class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function problemOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = { title: res.statusText };
  }
  if (res.status === 429 && res.headers.get('Retry-After')) {
    body.detail = `${body.detail || 'too many requests'} (retry in ${res.headers.get('Retry-After')} s)`;
  }
  return new Problem(res.status, body);
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}`, ...extra };
}

async function api(path, { method = 'GET', body } = {}) {
  const init = { method, headers: headers({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, init);
  if (!res.ok) {
    const p = await problemOf(res);
    if (res.status === 401) {
      signOut(p.message);
    }
    throw p;
  }
  return res.json();
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== null && v !== undefined) {
      q.set(k, v);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

// --- Roles

function globRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; ++i) {
    const c = glob[i];
    if (c === '*') {
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '[' && glob.indexOf(']', i + 2) > 0) {
      const end = glob.indexOf(']', i + 2);
      let set = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (set[0] === '!') {
        set = `^${set.slice(1)}`;
      }
      re += `[${set}]`;
      i = end;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 's');
}

// Whether the token may trigger, pause and enable the job (jobsd decides; this hides buttons).
function mayOperate(jobId) {
  if (!me) {
    return false;
  }
  if (me.role === 'admin') {
    return true;
  }
  return me.role === 'operator' && globRegExp(me.jobs || '*').test(jobId);
}

// --- Messages

function showProblem(e) {
  const box = document.getElementById('problem');
  if (!e) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = e instanceof Problem ? e.message : `Error: ${e.message}`;
  box.hidden = false;
}

function notice(...children) {
  return el('p', { class: 'notice', role: 'status' }, ...children);
}

// --- Sign-in

// Forgets the token; the sign-in form takes the place of the page, which comes back after it.
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  render(message);
}

function renderSignIn(main, message) {
  const input = el('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', autofocus: true,
  });
  const form = el('form', { class: 'signin bar' },
    el('label', { for: 'token' }, 'Token (jobsctl token create NAME --role ROLE)', input),
    el('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      me = await api('/whoami');
      render();
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      showProblem(e);
    }
  });
  main.append(el('h1', {}, 'Sign in'),
    el('p', { class: 'muted' }, 'The token is kept for this tab only.'), form);
  if (message) {
    showProblem(new Problem(401, { detail: message }));
  }
  input.focus();
}

// --- Action buttons

function actionButtons(job, after) {
  if (!mayOperate(job.id)) {
    return null;
  }
  const act = (label, verb, done) => el('button', {
    type: 'button', 'aria-label': `${label} ${job.id}`, 'data-action': verb,
    onclick: async (ev) => {
      const button = ev.currentTarget;
      button.disabled = true;
      try {
        const result = await api(`/jobs/${enc(job.id)}/${verb}`, { method: 'POST', body: {} });
        showProblem(null);
        done(result);
      } catch (e) {
        showProblem(e);
        button.disabled = false;
      }
    },
  }, label);
  const pausedNow = job.paused !== null && job.paused !== undefined;
  return el('div', { class: 'actions' },
    act('Trigger', 'trigger', (r) => {
      location.hash = `#/execution/${enc(r.execution_id)}${r.state === 'queued' ? '?queued=1' : ''}`;
    }),
    pausedNow ? act('Resume', 'resume', after) : act('Pause', 'pause', after),
    job.enabled ? act('Disable', 'disable', after) : act('Enable', 'enable', after));
}

// --- Paging

// The number of the first row of the page the hash shows: its `from`, 1 without a cursor.
function pageFrom(params) {
  const from = Number(params.get('from'));
  return params.get('cursor') && Number.isSafeInteger(from) && from > 1 ? from : 1;
}

// Previous and Next for the page of `cursor` whose first row is `from`; `go(cursor, from)`
// shows another. Previous from a page whose predecessor is not known (the hash was typed or
// reloaded) goes to the first page.
function pager(key, cursor, from, nextCursor, go) {
  if (!previousCursors.has(key)) {
    previousCursors.set(key, new Map());
  }
  const before = previousCursors.get(key);
  const prev = el('button', { type: 'button', disabled: !cursor }, '← Previous');
  prev.addEventListener('click', () => {
    const known = before.has(cursor);
    go(known ? before.get(cursor) : '', known ? Math.max(from - PAGE, 1) : 1);
  });
  const next = el('button', { type: 'button', disabled: !nextCursor }, 'Next →');
  next.addEventListener('click', () => {
    before.set(nextCursor, cursor);
    go(nextCursor, from + PAGE);
  });
  return el('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next);
}

// The hash of a paged list's page: no `from` on the first.
function pageParams(params, cursor, from) {
  return { ...params, cursor, from: cursor ? from : '' };
}

function withParams(path, params) {
  return `#${path}${query(params)}`;
}

// --- Jobs

async function renderJobs(main, params) {
  const match = params.get('match') || '';
  const status = params.get('status') || '';
  const enabled = params.get('enabled') || '';
  const cursor = params.get('cursor') || '';
  const search = el('input', { id: 'match', name: 'match', type: 'search', value: match, placeholder: 'backup* or text' });
  const statusSel = el('select', { id: 'status', name: 'status' },
    el('option', { value: '' }, 'any'),
    STATUSES.map((s) => el('option', { value: s, selected: s === status }, s.replace('_', ' '))));
  const enabledSel = el('select', { id: 'enabled', name: 'enabled' },
    el('option', { value: '' }, 'any'),
    el('option', { value: 'true', selected: enabled === 'true' }, 'enabled'),
    el('option', { value: 'false', selected: enabled === 'false' }, 'disabled'));
  const form = el('form', { class: 'bar', role: 'search' },
    el('label', { for: 'match' }, 'Job id (text or glob)', search),
    el('label', { for: 'status' }, 'Status', statusSel),
    el('label', { for: 'enabled' }, 'Enabled', enabledSel),
    el('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = withParams('/jobs', { match: search.value.trim(), status: statusSel.value, enabled: enabledSel.value });
  });
  const count = el('p', { class: 'muted', role: 'status' }, 'Loading…');
  const body = el('div');
  main.append(el('h1', {}, 'Jobs'), form, count, body);

  const glob = match && !/[*?[]/.test(match) ? `*${match}*` : match;
  const r = await api(`/jobs${query({ match: glob, status, enabled, limit: PAGE, cursor })}`);
  const key = `jobs|${glob}|${status}|${enabled}`;
  const from = pageFrom(params);
  count.textContent = r.jobs.length
    ? `Jobs ${from}–${from + r.jobs.length - 1} of ${r.total}` +
      (r.files_with_errors ? ` · ${r.files_with_errors} file${r.files_with_errors > 1 ? 's' : ''} with errors` : '')
    : 'No job matches.';
  const cols = ['Job', 'Schedule', 'Next fire', 'Last run', 'State', 'Actions'];
  const rows = r.jobs.map((job) => {
    const next = el('div', {}, job.paused
      ? el('span', {}, 'paused', job.paused.until ? ` until ${when(job.paused.until, job.timezone)}` : '')
      : job.next_fire ? [when(job.next_fire, job.timezone), el('div', { class: 'muted small' }, relative(job.next_fire))] : '—');
    if (job.next_fire && !job.paused && nearTransition(job.next_fire, job.timezone)) {
      addDstNote(next, job);
    }
    const state = [];
    if (job.active) {
      state.push(badge(job.active));
    }
    if (job.paused) {
      state.push(badge('paused'));
    }
    if (!job.enabled) {
      state.push(badge('disabled'));
    }
    if (job.stale) {
      state.push(badge('stale'));
    }
    const last = job.last_execution_id
      ? el('a', { href: `#/execution/${enc(job.last_execution_id)}`, 'aria-label': `last run of ${job.id}: ${job.last_status || 'running'}` },
        badge(job.last_status || 'running'))
      : badge('never');
    return row(cols, [
      el('div', {}, el('a', { href: `#/job/${enc(job.id)}` }, job.id),
        job.name && job.name !== job.id ? el('div', { class: 'muted small' }, job.name) : null),
      scheduleCell(job.schedule, job.timezone),
      next,
      last,
      el('div', { class: 'actions' }, state),
      actionButtons(job, () => render()),
    ]);
  });
  body.append(table(cols, rows, 'cards jobs'),
    pager(key, cursor, from, r.next_cursor, (c, f) => {
      location.hash = withParams('/jobs', pageParams({ match, status, enabled }, c, f));
    }));
}

// The engine's DST note for a job's next fire (only near a transition: one request a job there).
async function addDstNote(cell, job) {
  try {
    const show = await api(`/jobs/${enc(job.id)}?fires=1`);
    const fire = show.next_fires[0];
    if (fire && fire.dst && Date.parse(fire.utc) === Date.parse(job.next_fire)) {
      cell.append(el('div', { class: 'dst' }, fire.dst));
    }
  } catch {
    // The note is extra: the row stands without it.
  }
}

// --- One job

async function renderJob(main, id, params) {
  const cursor = params.get('cursor') || '';
  const job = await api(`/jobs/${enc(id)}?fires=10`);
  const paused = job.paused;
  const facts = el('dl', { class: 'facts' },
    fact('Name', job.name),
    job.description ? fact('Description', job.description) : null,
    fact('Schedule', scheduleCell(job.at ? [...job.schedule, `at ${job.at}`] : job.schedule, job.timezone)),
    fact('Enabled', job.enabled ? 'yes' : 'no'),
    paused ? fact('Paused', `since ${when(paused.since, job.timezone)} by ${paused.user}` +
      (paused.until ? `, until ${when(paused.until, job.timezone)}` : '') +
      (paused.reason ? ` (${paused.reason})` : '')) : null,
    fact('Concurrency', job.concurrency),
    fact('Timeout', `${job.timeout} (${job.timeout_from})`),
    job.after && job.after.length ? fact('After', job.after.join(', ')) : null,
    fact('File', el('code', {}, job.path)),
    job.last_execution ? fact('Last run', el('a', { href: `#/execution/${enc(job.last_execution.execution_id)}` },
      badge(job.last_execution.status), ' ', when(job.last_execution.start_time, job.timezone))) : null);
  main.append(el('h1', {}, job.id), actionButtons(job, () => render()) || '', facts);

  const stepCols = ['Step', 'Name', 'Type'];
  main.append(el('h2', {}, 'Steps'),
    table(stepCols, job.steps.map((s) => row(stepCols, [el('code', {}, s.id), s.name || '—', s.type]))));

  const fireCols = ['Fire (job\'s zone)', 'UTC', 'DST'];
  main.append(el('h2', {}, `Next ${job.next_fires.length} fires`),
    job.next_fires.length
      ? table(fireCols, job.next_fires.map((f) => row(fireCols, [
        el('span', {}, when(f.utc, job.timezone), el('span', { class: 'muted small' }, ` ${relative(f.utc)}`)),
        el('code', {}, f.utc), f.dst ? el('span', { class: 'dst' }, f.dst) : '—'])), 'fires')
      : el('p', { class: 'muted' }, job.enabled ? 'None.' : 'None: the job is disabled.'));

  const h = await api(`/executions${query({ job: id, limit: PAGE, cursor })}`);
  main.append(el('h2', {}, 'History'));
  if (!h.executions.length) {
    main.append(el('p', { class: 'muted' }, 'No execution yet.'));
    return;
  }
  main.append(durationChart(h.executions, job.timezone), historyTable(h.executions, job.timezone),
    pager(`history|${id}`, cursor, pageFrom(params), h.next_cursor, (c, f) => {
      location.hash = withParams(`/job/${enc(id)}`, pageParams({}, c, f));
    }));
}

function fact(name, value) {
  return [el('dt', {}, name), el('dd', {}, value)];
}

function historyTable(executions, zone) {
  const cols = ['Execution', 'Status', 'Started', 'Duration', 'Trigger'];
  return table(cols, executions.map((x) => row(cols, [
    x.execution_id ? el('a', { href: `#/execution/${enc(x.execution_id)}` }, el('code', {}, x.execution_id)) : '—',
    badge(x.status),
    when(x.start_time || x.scheduled_time, x.timezone || zone),
    duration(x.duration_seconds),
    `${x.trigger}${x.triggered_by ? ` by ${x.triggered_by}` : ''}`,
  ])), 'history');
}

// The page's executions' durations, oldest on the left, as bars coloured by status.
function durationChart(executions, zone) {
  const runs = executions.filter((x) => x.duration_seconds !== null).reverse();
  const W = 800;
  const H = 160;
  const left = 48;
  const bottom = 20;
  const max = Math.max(...runs.map((x) => x.duration_seconds), 0.001);
  const slot = (W - left) / Math.max(runs.length, 1);
  const barWidth = Math.max(1, Math.min(24, slot * 0.7));
  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Durations of the last ${runs.length} executions, longest ${duration(max)}`,
  },
  svg('line', { class: 'axis', x1: left, y1: H - bottom, x2: W, y2: H - bottom }),
  svg('line', { class: 'axis', x1: left, y1: 4, x2: left, y2: H - bottom }),
  svg('text', { x: left - 6, y: 14, 'text-anchor': 'end' }, duration(max)),
  svg('text', { x: left - 6, y: H - bottom, 'text-anchor': 'end' }, '0'),
  svg('text', { x: left, y: H - 4 }, runs.length ? when(runs[0].start_time, zone) : ''),
  svg('text', { x: W, y: H - 4, 'text-anchor': 'end' }, runs.length ? when(runs[runs.length - 1].start_time, zone) : ''));
  runs.forEach((x, i) => {
    const h = Math.max(1, ((H - bottom - 8) * x.duration_seconds) / max);
    chart.append(svg('rect', {
      class: `bar-${x.status}`, x: left + (i + 0.5) * slot - barWidth / 2, y: H - bottom - h,
      width: barWidth, height: h,
    }, svg('title', {}, `${x.execution_id}: ${x.status}, ${duration(x.duration_seconds)}`)));
  });
  return chart;
}

// --- One execution

// A triggered execution that waits in its zone's queue has no record yet (404): with ?queued=1
// (from the trigger button) the page says so and asks again every 2 s until it starts.
async function queuedExecution(main, id) {
  let stopped = false;
  let timer = null;
  let wake = null;
  disposers.push(() => {
    stopped = true;
    clearTimeout(timer);
    if (wake) {
      wake();
    }
  });
  let waiting = null;
  for (;;) {
    try {
      return await api(`/executions/${enc(id)}`);
    } catch (e) {
      if (!(e instanceof Problem && e.status === 404)) {
        throw e;
      }
    }
    if (!waiting) {
      waiting = el('p', { id: 'queued', class: 'notice', role: 'status' },
        'Queued: it waits for a free place in its zone\'s queue (see ', el('a', { href: '#/queues' }, 'the queues'),
        '). This page shows it when it starts.');
      main.append(el('h1', {}, 'Execution ', el('code', {}, id)), waiting);
    }
    await new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, 2000);
    });
    if (stopped) {
      return null;
    }
  }
}

async function renderExecution(main, id, params) {
  const x = params.get('queued') ? await queuedExecution(main, id) : await api(`/executions/${enc(id)}`);
  if (!x) {
    return;
  }
  main.replaceChildren();
  const status = el('span', { id: 'execution-status' });
  const facts = el('dl', { class: 'facts' });
  const timeline = el('div');
  const update = (rec) => {
    status.replaceChildren(badge(rec.status));
    facts.replaceChildren(
      ...fact('Job', el('a', { href: `#/job/${enc(rec.job_id)}` }, rec.job_id)),
      ...fact('Status', status),
      ...fact('Trigger', `${rec.trigger}${rec.triggered_by ? ` by ${rec.triggered_by}` : ''}`),
      ...fact('Started', when(rec.start_time, rec.timezone)),
      ...fact('Ended', when(rec.end_time, rec.timezone)),
      ...fact('Duration', duration(rec.duration_seconds)),
      ...fact('Attempt', rec.attempt ?? '—'),
      ...(rec.host ? fact('Host', rec.host) : []),
      ...(rec.error_message ? fact('Error', rec.error_message) : []));
    timeline.replaceChildren(stepTimeline(rec));
  };
  update(x);
  main.append(el('h1', {}, 'Execution ', el('code', {}, x.execution_id)), facts,
    el('h2', {}, 'Steps'), timeline);

  const lines = [];
  const log = el('div', { class: 'log mono', id: 'log', tabindex: '0', role: 'log', 'aria-label': 'Log' });
  const find = el('input', { id: 'log-search', type: 'search', placeholder: 'text in the log' });
  const found = el('span', { id: 'log-found', class: 'muted', role: 'status' });
  const state = el('span', { id: 'log-state', class: 'muted' }, 'connecting…');
  const download = el('a', { href: '#', download: `${x.execution_id}.log` }, 'Download the log');
  let url = null;
  download.addEventListener('click', () => {
    if (url) {
      URL.revokeObjectURL(url);
    }
    url = URL.createObjectURL(new Blob([lines.map((l) => `${l}\n`).join('')], { type: 'text/plain' }));
    download.href = url;
  });
  disposers.push(() => url && URL.revokeObjectURL(url));
  const show = (div, text) => {
    const q = find.value;
    if (!q) {
      div.classList.remove('hidden');
      div.textContent = text;
      return true;
    }
    const parts = text.split(new RegExp(`(${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`, 'i'));
    div.replaceChildren(...parts.map((p, i) => (i % 2 ? el('mark', {}, p) : p)));
    div.classList.toggle('hidden', parts.length === 1);
    return parts.length > 1;
  };
  const recount = () => {
    let n = 0;
    log.childNodes.forEach((div, i) => { n += show(div, lines[i]) ? 1 : 0; });
    found.textContent = find.value ? `${n} of ${lines.length} lines` : '';
  };
  find.addEventListener('input', recount);
  main.append(el('h2', {}, 'Log'),
    el('div', { class: 'bar' }, el('label', { for: 'log-search' }, 'Search the log', find), found, download, state),
    log);

  const append = (text) => {
    lines.push(text);
    const div = el('div');
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    show(div, text);
    log.append(div);
    if (atEnd) {
      log.scrollTop = log.scrollHeight;
    }
    if (find.value) {
      found.textContent = `${log.querySelectorAll('div:not(.hidden)').length} of ${lines.length} lines`;
    }
  };
  // The whole log as text: for an execution that has ended.
  const loadText = async () => {
    const res = await fetch(`${API}/executions/${enc(x.execution_id)}/log`, {
      headers: headers({ Accept: 'text/plain' }),
    });
    if (!res.ok) {
      throw await problemOf(res);
    }
    const text = await res.text();
    lines.length = 0;
    log.replaceChildren();
    text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined).forEach(append);
    state.textContent = 'ended';
  };
  if (x.end_time) {
    await loadText();
    return;
  }

  // Running: the log live, until the stream's end event.
  const abort = new AbortController();
  let ended = false;
  disposers.push(() => abort.abort());
  try {
    await followLog(x.execution_id, abort.signal, (event, data) => {
      if (event === 'line') {
        append(data.line);
      } else if (event === 'timezone') {
        state.textContent = 'live';
      } else if (event === 'waiting') {
        state.textContent = 'waiting';
      } else if (event === 'end') {
        ended = true;
        if (data && data.status) {
          update(data);
        }
        state.textContent = 'ended';
      } else if (event === 'error') {
        ended = true;
        showProblem(new Problem(data.status, data));
        state.textContent = 'stopped';
      }
    });
    if (!ended) {
      ended = true;
      state.textContent = 'the stream closed before the end; reload the page for the rest';
    }
  } catch (e) {
    if (!abort.signal.aborted) {
      ended = true;
      state.textContent = 'stopped';
      throw e;
    }
  }
}

// GET /executions/ID/log as Server-Sent Events, read with fetch (EventSource cannot send the
// Authorization header): calls onEvent(name, data) for each message until the stream ends.
async function followLog(id, signal, onEvent) {
  const res = await fetch(`${API}/executions/${enc(id)}/log`, {
    headers: headers({ Accept: 'text/event-stream' }), signal,
  });
  if (!res.ok) {
    throw await problemOf(res);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length) {
          onEvent(event || 'message', JSON.parse(data.join('\n')));
        }
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') {
          event = v;
        } else if (field === 'data') {
          data.push(v);
        }
      }
    }
  }
}

// The steps on one time axis, from the execution's start to its end (or now, while it runs).
function stepTimeline(x) {
  const steps = x.steps || [];
  if (!steps.length) {
    return el('p', { class: 'muted' }, x.end_time ? 'No step was recorded.' : 'Running: the steps are recorded at the end.');
  }
  const t0 = Date.parse(x.start_time || steps[0].start_time);
  const t1 = Math.max(Date.parse(x.end_time || new Date().toISOString()), t0 + 1,
    ...steps.map((s) => Date.parse(s.end_time || s.start_time || 0) || 0));
  const W = 800;
  const left = 200;
  const rowH = 26;
  const H = steps.length * rowH + 24;
  const scale = (t) => left + ((W - left - 8) * (t - t0)) / (t1 - t0);
  const chart = svg('svg', {
    class: 'chart timeline', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Steps: ${steps.map((s) => `${s.step_id} ${s.status} ${duration(s.duration_seconds)}`).join(', ')}`,
  });
  steps.forEach((s, i) => {
    const y = i * rowH + 4;
    const start = s.start_time ? Date.parse(s.start_time) : null;
    chart.append(svg('text', { x: 0, y: y + 15 }, `${s.step_id} (${s.step_type}) ${duration(s.duration_seconds)}`));
    if (start !== null) {
      const end = s.end_time ? Date.parse(s.end_time) : t1;
      const x0 = scale(start);
      chart.append(svg('rect', {
        class: `bar-${s.status}`, x: x0, y, width: Math.max(2, scale(end) - x0), height: rowH - 8,
      }, svg('title', {}, `${s.step_id}: ${s.status}, ${duration(s.duration_seconds)}`)));
    } else {
      chart.append(svg('text', { x: left, y: y + 15 }, `${s.status}: not started`));
    }
  });
  chart.append(svg('line', { class: 'axis', x1: left, y1: H - 18, x2: W - 8, y2: H - 18 }),
    svg('text', { x: left, y: H - 4 }, '0s'),
    svg('text', { x: W - 8, y: H - 4, 'text-anchor': 'end' }, duration((t1 - t0) / 1000)));
  return chart;
}

// --- Queues

async function renderQueues(main) {
  const updated = el('p', { class: 'muted small', role: 'status' });
  const body = el('div', { id: 'queues' });
  main.append(el('h1', {}, 'Queues'),
    el('p', { class: 'muted' }, 'Each time zone has its queue; refreshed every 2 seconds while this page is visible.'),
    body, updated);
  let timer = null;
  let stopped = false;
  const cols = ['Zone', 'Waiting', 'Running', 'Limit', 'Next fire'];
  const tick = async () => {
    timer = null;
    if (stopped || document.visibilityState !== 'visible') {
      return;
    }
    try {
      const q = await api('/queues');
      if (stopped) {
        return;
      }
      const rows = q.queues.map((z) => row(cols, [
        z.zone, el('span', { 'data-depth': z.zone }, String(z.depth)),
        el('span', {}, `${z.running} `, el('meter', { min: 0, max: z.limit, value: z.running, 'aria-label': `${z.running} of ${z.limit} running` })),
        String(z.limit), z.next_fire ? when(z.next_fire, z.zone) : '—',
      ]));
      rows.push(row(cols, [el('strong', {}, 'All zones'), String(q.global.queued),
        String(q.global.running), String(q.global.limit), '']));
      body.replaceChildren(table(cols, rows, 'queues'));
      updated.textContent = `Updated ${when(new Date().toISOString())}`;
      showProblem(null);
    } catch (e) {
      showProblem(e);
    }
    if (!stopped && document.visibilityState === 'visible') {
      timer = setTimeout(tick, 2000);
    }
  };
  const onVisible = () => {
    if (document.visibilityState === 'visible' && timer === null) {
      tick();
    }
  };
  document.addEventListener('visibilitychange', onVisible);
  disposers.push(() => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  });
  await tick();
}

// --- Audit

async function renderAudit(main, params) {
  const user = params.get('user') || '';
  const job = params.get('job') || '';
  const cursor = params.get('cursor') || '';
  const userIn = el('input', { id: 'audit-user', type: 'search', value: user });
  const jobIn = el('input', { id: 'audit-job', type: 'search', value: job });
  const form = el('form', { class: 'bar', role: 'search' },
    el('label', { for: 'audit-user' }, 'User or token', userIn),
    el('label', { for: 'audit-job' }, 'Job', jobIn),
    el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = withParams('/audit', { user: userIn.value.trim(), job: jobIn.value.trim() });
  });
  main.append(el('h1', {}, 'Audit'), form);
  let r;
  try {
    r = await api(`/audit${query({ user, job, limit: PAGE, cursor })}`);
  } catch (e) {
    if (e instanceof Problem && e.status === 403) {
      main.append(el('p', { id: 'refused', class: 'problem' }, e.message));
      return;
    }
    throw e;
  }
  const cols = ['Time', 'User', 'Action', 'Target', 'Outcome', 'Arguments'];
  main.append(r.entries.length
    ? table(cols, r.entries.map((a) => row(cols, [
      when(a.time), a.user, a.action, a.target || '—',
      a.outcome === 'ok' ? el('span', { class: 'badge success' }, 'ok') : el('span', { class: 'refused' }, a.outcome),
      el('code', {}, a.detail || '')])), 'audit')
    : el('p', { class: 'muted' }, 'Nothing recorded.'),
  pager(`audit|${user}|${job}`, cursor, pageFrom(params), r.next_cursor, (c, f) => {
    location.hash = withParams('/audit', pageParams({ user, job }, c, f));
  }));
}

// --- Schedule playground

async function renderPlayground(main, params) {
  const expr = params.get('expr') || '';
  const zone = params.get('tz') || Intl.DateTimeFormat().resolvedOptions().timeZone;
  const exprIn = el('input', { id: 'expr', name: 'expr', value: expr || '30 2 * * *', required: true, class: 'mono' });
  const zoneIn = el('input', { id: 'tz', name: 'tz', value: zone, list: 'zones', required: true });
  const zones = el('datalist', { id: 'zones' },
    (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : []).map((z) => el('option', { value: z })));
  const form = el('form', { class: 'bar' },
    el('label', { for: 'expr' }, 'Schedule (cron or macro)', exprIn),
    el('label', { for: 'tz' }, 'Time zone', zoneIn), zones,
    el('button', { type: 'submit', class: 'primary' }, 'Show the next 10 fires'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = withParams('/playground', { expr: exprIn.value.trim(), tz: zoneIn.value.trim() });
  });
  main.append(el('h1', {}, 'Schedule playground'), form);
  if (!expr) {
    return;
  }
  const out = el('div', { id: 'fires' });
  main.append(out);
  try {
    const r = await api(`/schedule${query({ expr, tz: zone, count: 10 })}`);
    const words = describe(r.expr);
    const cols = ['Fire', 'UTC', 'DST'];
    out.append(el('p', {}, words ? `${words}, ` : '', `in ${r.timezone}:`),
      r.fires.length
        ? table(cols, r.fires.map((f) => row(cols, [when(f.utc, r.timezone), el('code', {}, f.utc),
          f.dst ? el('span', { class: 'dst' }, f.dst) : '—'])), 'fires')
        : el('p', { class: 'muted' }, 'It never fires.'));
  } catch (e) {
    if (e instanceof Problem && e.status === 422) {
      out.append(el('p', { class: 'problem', role: 'alert' }, e.message));
      return;
    }
    throw e;
  }
}

// --- The router

function stopPage() {
  for (const d of disposers) {
    d();
  }
  disposers = [];
}

// The route of the location's hash. A path that is not valid percent-encoding (#/job/%E0) has
// no parts: no page, so the page says it is not found.
function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/jobs';
  const [path, q] = h.split('?');
  let parts = [];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    // A URIError: left without parts.
  }
  return { path, parts, params: new URLSearchParams(q || '') };
}

// Shows the page of the location's hash (the sign-in form while there is no token), in a
// container of its own: a page still loading when another is asked for fills a detached one.
async function render(message) {
  stopPage();
  const r = parseHash();
  const outer = document.getElementById('main');
  const moved = !route || route.parts[0] !== r.parts[0] || route.parts[1] !== r.parts[1];
  route = r;
  const main = el('div');
  outer.replaceChildren(main);
  showProblem(null);
  const signedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  const who = document.getElementById('who');
  who.hidden = !me;
  who.textContent = me ? `${me.token} (${me.role}${me.role === 'operator' ? `, jobs ${me.jobs || '*'}` : ''})` : '';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${r.parts[0]}` || (r.parts[0] === 'job' && a.getAttribute('href') === '#/jobs')) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  if (!signedIn) {
    document.title = 'Sign in · jobs';
    renderSignIn(main, message);
    return;
  }
  const pages = {
    jobs: () => renderJobs(main, r.params),
    job: () => renderJob(main, r.parts[1], r.params),
    execution: () => renderExecution(main, r.parts[1], r.params),
    queues: () => renderQueues(main),
    audit: () => renderAudit(main, r.params),
    playground: () => renderPlayground(main, r.params),
  };
  const page = pages[r.parts[0]];
  document.title = `${r.parts[0] || 'jobs'} · jobs`;
  if (moved) {
    outer.focus({ preventScroll: true });
  }
  outer.setAttribute('aria-busy', 'true');
  try {
    if (!me) {
      me = await api('/whoami');
      who.textContent = `${me.token} (${me.role}${me.role === 'operator' ? `, jobs ${me.jobs || '*'}` : ''})`;
      who.hidden = false;
    }
    if (!page) {
      main.append(el('h1', {}, 'Not found'), el('p', {}, el('a', { href: '#/jobs' }, 'The jobs')));
    } else if (route === r) {
      await page();
    }
  } catch (e) {
    if (route === r && !(e instanceof Problem && e.status === 401)) {
      showProblem(e);
    }
  } finally {
    outer.removeAttribute('aria-busy');
  }
}

document.getElementById('signout').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => render());
render();
