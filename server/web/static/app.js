// Mamori dashboard. No framework and no third-party code: the page must work
// on closed networks. Every string from the API is put into the page with
// textContent, never parsed as HTML: device and host names are attacker-chosen.
'use strict';

const state = { lang: 'ja', messages: {}, csrf: '', me: null, page: 'overview' };

// Pages other scripts add (events.js, policies.js, ...): name -> async load
// function, shown through the nav buttons with data-page="name".
const pages = {};
function registerPage(name, load) { pages[name] = load; }
// Called after the overview table is drawn (trend.js adds its chart).
const overviewHooks = [];

async function openPage(name) {
  state.page = name;
  // The terminals of a group are reached from the overview.
  const nav = name === 'terminals' ? 'overview' : name;
  for (const b of document.querySelectorAll('#pages button[data-page]')) {
    b.classList.toggle('active', b.dataset.page === nav);
  }
  await (pages[name] || loadOverview)();
}

function t(key) {
  return Object.prototype.hasOwnProperty.call(state.messages, key) ? state.messages[key] : key;
}

function pickLanguage() {
  const saved = window.localStorage.getItem('mamori.lang');
  if (saved === 'ja' || saved === 'en') return saved;
  // navigator.languages follows the browser's Accept-Language.
  for (const l of navigator.languages || [navigator.language || 'ja']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (base === 'ja' || base === 'en') return base;
  }
  return 'ja';
}

async function loadLanguage(lang) {
  const res = await fetch('/i18n/' + lang + '.json', { credentials: 'same-origin' });
  state.messages = await res.json();
  state.lang = lang;
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const b of document.querySelectorAll('button.lang')) {
    b.classList.toggle('active', b.lang === lang);
  }
  renderWho();
}

const jstFormat = (lang) => new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', {
  timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { status: res.status, data };
}

function show(view) {
  // Every page is a <section id="NAME-view"> directly under <main>.
  for (const section of document.querySelectorAll('main > section')) {
    section.hidden = section.id !== view + '-view';
  }
  document.getElementById('logout').hidden = view === 'login';
  document.getElementById('pages').hidden = view === 'login';
}

function renderWho() {
  const who = document.getElementById('whoami');
  who.textContent = state.me ? state.me.user + ' (' + t('role.' + state.me.role) + ')' : '';
  // Nav buttons with data-role="operator" or "admin" show to that role and above.
  const rank = { viewer: 0, operator: 1, admin: 2 };
  for (const b of document.querySelectorAll('#pages button[data-role]')) {
    b.hidden = !state.me || !(rank[state.me.role] >= rank[b.dataset.role]);
  }
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

async function loadOverview() {
  state.page = 'overview';
  const { status, data } = await api('GET', '/api/overview');
  if (status === 401) { state.me = null; renderWho(); show('login'); return; }
  const body = document.getElementById('overview-body');
  body.replaceChildren();
  const groups = (data && data.groups) || [];
  for (const g of groups) {
    const row = document.createElement('tr');
    row.dataset.group = g.group;
    row.className = 'link';
    row.addEventListener('click', () => loadTerminals(g.group));
    cell(row, g.group === '' ? t('overview.all') : g.group);
    cell(row, String(g.terminals), 'num');
    cell(row, String(g.compliant), 'num');
    cell(row, String(g.nonCompliant), g.nonCompliant > 0 ? 'num bad' : 'num');
    cell(row, String(g.stale || 0), g.stale > 0 ? 'num bad' : 'num');
    cell(row, String(g.unknown), 'num');
    const rate = g.terminals > 0 ? (100 * g.compliant / g.terminals).toFixed(1) + '%' : '-';
    cell(row, rate, 'num');
    body.appendChild(row);
  }
  document.getElementById('overview-empty').hidden = groups.length > 0;
  document.getElementById('overview-time').textContent = jstFormat(state.lang).format(new Date());
  show('overview');
  for (const hook of overviewHooks) await hook();
}

function formatTime(ts) {
  return ts ? jstFormat(state.lang).format(new Date(ts)) : '-';
}

function statusText(status) {
  const key = 'status.' + String(status || '').replace('COMPLIANCE_STATUS_', '').toLowerCase();
  return t(key);
}

// loadTerminals(group) is in terminals.js, loadDetail(id) in terminal_detail.js.

async function onLogin(ev) {
  ev.preventDefault();
  const err = document.getElementById('login-error');
  err.textContent = '';
  const body = {
    name: document.getElementById('login-name').value,
    password: document.getElementById('login-password').value,
    code: document.getElementById('login-code').value,
  };
  let res;
  try { res = await api('POST', '/api/login', body); } catch (e) { err.textContent = t('login.error'); return; }
  if (res.status !== 200) { err.textContent = t('login.failed'); return; }
  document.getElementById('login-password').value = '';
  document.getElementById('login-code').value = '';
  state.csrf = res.data.csrfToken;
  state.me = { user: res.data.user, role: res.data.role };
  renderWho();
  await loadOverview();
}

async function onLogout() {
  await api('POST', '/api/logout');
  state.me = null;
  state.csrf = '';
  renderWho();
  show('login');
}

async function start() {
  document.getElementById('login-form').addEventListener('submit', onLogin);
  document.getElementById('logout').addEventListener('click', onLogout);
  document.getElementById('back-overview').addEventListener('click', loadOverview);
  pages.overview = loadOverview;
  for (const b of document.querySelectorAll('#pages button[data-page]')) {
    b.addEventListener('click', () => openPage(b.dataset.page));
  }
  for (const lang of ['ja', 'en']) {
    document.getElementById('lang-' + lang).addEventListener('click', async () => {
      window.localStorage.setItem('mamori.lang', lang);
      await loadLanguage(lang);
      if (state.me) await openPage(state.page);
    });
  }
  await loadLanguage(pickLanguage());
  const me = await api('GET', '/api/me');
  if (me.status === 200) {
    state.csrf = me.data.csrfToken;
    state.me = { user: me.data.user, role: me.data.role };
    renderWho();
    await loadOverview();
  } else {
    show('login');
  }
}

document.addEventListener('DOMContentLoaded', start);
