// Events page: blocked attempts and enforcement failures with filters,
// paging and CSV export. Uses app.js (api, t, cell, show, state).
'use strict';

const eventsState = { next: '' };

function eventsFilter() {
  const params = new URLSearchParams();
  const add = (key, id) => {
    const v = document.getElementById(id).value.trim();
    if (v !== '') params.set(key, v);
  };
  add('kind', 'events-kind');
  add('group', 'events-group');
  add('terminal', 'events-terminal');
  add('from', 'events-from');
  add('to', 'events-to');
  add('q', 'events-q');
  return params;
}

function updateCsvLink() {
  const params = eventsFilter();
  params.set('lang', state.lang);
  document.getElementById('events-csv').href = '/api/events.csv?' + params.toString();
}

function kindText(kind) {
  return t('kind.' + String(kind || '').replace('EVENT_KIND_', '').toLowerCase());
}

async function loadEventsPage(cursor) {
  const params = eventsFilter();
  params.set('limit', '100');
  if (cursor) params.set('cursor', cursor);
  const err = document.getElementById('events-error');
  err.textContent = '';
  const { status, data } = await api('GET', '/api/events?' + params.toString());
  if (status === 401) { state.me = null; renderWho(); show('login'); return; }
  const body = document.getElementById('events-body');
  body.replaceChildren();
  if (status !== 200) {
    err.textContent = t('events.failed') + ' ' + ((data && data.error) || status);
    show('events');
    return;
  }
  const events = data.events || [];
  for (const e of events) {
    const row = document.createElement('tr');
    row.dataset.terminal = e.terminalId;
    const d = e.device || {};
    const decision = d.decision || {};
    cell(row, formatTime(e.time));
    cell(row, e.terminalId);
    cell(row, e.group);
    cell(row, e.user);
    cell(row, kindText(e.kind), e.kind === 'EVENT_KIND_DEVICE_ALLOWED' ? '' : 'bad');
    cell(row, d.vidPid || '');
    cell(row, d.manufacturer || '');
    cell(row, d.product || '', 'product');
    cell(row, d.serial || '');
    cell(row, decision.matchedRule || '');
    cell(row, e.policyVersion && e.policyVersion !== '0' ? String(e.policyVersion) : '', 'num');
    cell(row, e.detail);
    body.appendChild(row);
  }
  eventsState.next = data.nextCursor || '';
  document.getElementById('events-none').hidden = events.length > 0;
  document.getElementById('events-more').disabled = eventsState.next === '';
  document.getElementById('events-first').disabled = !cursor;
  updateCsvLink();
  show('events');
}

async function fillGroupList(listId) {
  const { status, data } = await api('GET', '/api/overview');
  if (status !== 200) return;
  const list = document.getElementById(listId);
  list.replaceChildren();
  for (const g of data.groups || []) {
    if (g.group === '') continue;
    const option = document.createElement('option');
    option.value = g.group;
    list.appendChild(option);
  }
}

async function loadEvents() {
  await fillGroupList('events-groups');
  await loadEventsPage('');
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('events-filter').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await loadEventsPage('');
  });
  document.getElementById('events-filter').addEventListener('input', updateCsvLink);
  document.getElementById('events-more').addEventListener('click', async () => {
    if (eventsState.next) await loadEventsPage(eventsState.next);
  });
  document.getElementById('events-first').addEventListener('click', () => loadEventsPage(''));
});

registerPage('events', loadEvents);
