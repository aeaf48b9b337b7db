// Mamori dashboard: the terminals of a group, filtered by status, failing
// check and a search over terminal id and host name, one page at a time.
// Uses the helpers of app.js (api, t, cell, show, ...). Data from the API is
// only ever put into the page with textContent.
'use strict';

const TERMINALS_PAGE_SIZE = 100;
const terminalsView = { group: '', page: 0, seq: 0, timer: 0 };

function terminalsFilterValue(id) {
  return document.getElementById(id).value.trim();
}

// "{from}–{to} of {total}" in the page's language.
function terminalsRangeText(from, to, total) {
  const fmt = (n) => Number(n).toLocaleString(state.lang === 'ja' ? 'ja-JP' : 'en-GB');
  return t('terminals.range').replace('{from}', fmt(from)).replace('{to}', fmt(to))
    .replace('{total}', fmt(total));
}

// "TERMINAL_STANDING_REVOKED" -> "revoked"; unset reads as active.
function standingKey(value) {
  const key = String(value || '').replace('TERMINAL_STANDING_', '').toLowerCase();
  return key === 'revoked' || key === 'retired' ? key : 'active';
}

function checkText(name) {
  const key = 'check.' + name;
  const text = t(key);
  return text === key ? name : text;
}

async function fetchTerminalsPage() {
  const params = new URLSearchParams();
  params.set('group', terminalsView.group);
  const status = terminalsFilterValue('terminals-status');
  const check = terminalsFilterValue('terminals-check');
  const q = terminalsFilterValue('terminals-search');
  const standing = terminalsFilterValue('terminals-standing');
  if (status) params.set('status', status);
  if (standing) params.set('standing', standing);
  if (check) params.set('check', check);
  if (q) params.set('q', q);
  params.set('page', String(terminalsView.page));
  params.set('size', String(TERMINALS_PAGE_SIZE));
  const seq = ++terminalsView.seq;
  const { status: code, data } = await api('GET', '/api/terminals?' + params.toString());
  // A newer request (the user typed on) has been sent meanwhile.
  if (seq !== terminalsView.seq) return;
  if (code === 401) { state.me = null; renderWho(); show('login'); return; }
  const error = document.getElementById('terminals-error');
  error.textContent = code === 200 ? '' : ((data && data.error) || t('terminals.failed'));
  const body = document.getElementById('terminals-body');
  body.replaceChildren();
  const rows = (code === 200 && data && data.terminals) || [];
  for (const term of rows) {
    const row = document.createElement('tr');
    row.dataset.terminal = term.terminalId;
    row.className = 'link';
    row.addEventListener('click', () => loadDetail(term.terminalId));
    cell(row, term.terminalId);
    cell(row, term.hostname);
    // A revoked or retired terminal says so next to its status: 失効 / 廃止.
    const standing = standingKey(term.standing);
    row.dataset.standing = standing;
    cell(row, statusText(term.status) + (standing === 'active' ? '' : ' · ' + t('standing.' + standing)),
      term.status === 'COMPLIANCE_STATUS_NON_COMPLIANT' ? 'bad' : '');
    cell(row, (term.failingChecks || []).map(checkText).join(', '));
    cell(row, formatTime(term.lastReport));
    body.appendChild(row);
  }
  const total = code === 200 && data ? Number(data.total || 0) : 0;
  const offset = code === 200 && data ? Number(data.offset || 0) : 0;
  const range = document.getElementById('terminals-range');
  range.textContent = total === 0 ? t('terminals.none')
    : terminalsRangeText(Math.min(offset + 1, total), offset + rows.length, total);
  document.getElementById('terminals-prev').disabled = terminalsView.page === 0;
  document.getElementById('terminals-next').disabled = offset + rows.length >= total;
}

// Called by the overview when a group is chosen: starts at the first page
// with the filters cleared.
async function loadTerminals(group) {
  state.page = 'terminals';
  terminalsView.group = group;
  terminalsView.page = 0;
  document.getElementById('terminals-status').value = '';
  document.getElementById('terminals-check').value = '';
  document.getElementById('terminals-standing').value = '';
  document.getElementById('terminals-search').value = '';
  document.getElementById('terminals-group').textContent = group === '' ? t('overview.all') : group;
  closeDetail();
  show('terminals');
  await fetchTerminalsPage();
}

// After a language switch: the same group, filters and page, and the open
// terminal detail, redrawn in the new language.
async function reopenTerminals() {
  const group = terminalsView.group;
  document.getElementById('terminals-group').textContent = group === '' ? t('overview.all') : group;
  show('terminals');
  await fetchTerminalsPage();
  renderDetail();
}

function refilterTerminals() {
  terminalsView.page = 0;
  fetchTerminalsPage();
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('terminals-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    window.clearTimeout(terminalsView.timer);
    refilterTerminals();
  });
  document.getElementById('terminals-status').addEventListener('change', refilterTerminals);
  document.getElementById('terminals-check').addEventListener('change', refilterTerminals);
  document.getElementById('terminals-standing').addEventListener('change', refilterTerminals);
  // Search as the user types, once typing pauses.
  document.getElementById('terminals-search').addEventListener('input', () => {
    window.clearTimeout(terminalsView.timer);
    terminalsView.timer = window.setTimeout(refilterTerminals, 300);
  });
  document.getElementById('terminals-prev').addEventListener('click', () => {
    if (terminalsView.page > 0) { terminalsView.page -= 1; fetchTerminalsPage(); }
  });
  document.getElementById('terminals-next').addEventListener('click', () => {
    terminalsView.page += 1;
    fetchTerminalsPage();
  });
});

registerPage('terminals', reopenTerminals);
