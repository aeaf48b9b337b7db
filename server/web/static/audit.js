// Audit log page (admins only): every administrative action, newest first,
// filtered by actor, action and JST days, a page of 100 at a time. The
// server refuses other roles; the nav button is shown to admins only.
'use strict';

const auditState = { before: '' };

function auditQuery() {
  const params = new URLSearchParams();
  const value = (id) => document.getElementById(id).value.trim();
  if (value('audit-actor')) params.set('actor', value('audit-actor'));
  if (value('audit-action')) params.set('action', value('audit-action'));
  if (value('audit-since')) params.set('since', value('audit-since'));
  if (value('audit-until')) params.set('until', value('audit-until'));
  params.set('limit', '100');
  if (auditState.before) params.set('before', auditState.before);
  return '/api/audit?' + params.toString();
}

async function auditLoad(append) {
  const { status, data } = await api('GET', auditQuery());
  if (status === 401) { show('login'); return; }
  const error = document.getElementById('audit-error');
  const body = document.getElementById('audit-body');
  if (!append) body.replaceChildren();
  if (status !== 200) {
    error.textContent = status === 403 ? t('audit.forbidden') : ((data && data.error) || String(status));
    return;
  }
  error.textContent = '';
  const entries = (data && data.entries) || [];
  for (const e of entries) {
    const row = document.createElement('tr');
    row.dataset.action = e.action;
    cell(row, formatTime(e.at));
    cell(row, e.actor);
    cell(row, e.action);
    cell(row, e.target);
    cell(row, t('audit.outcome.' + e.outcome), e.outcome === 'ok' ? '' : 'bad');
    cell(row, e.detail, 'detail');
    body.appendChild(row);
  }
  auditState.before = data && data.nextBeforeId && data.nextBeforeId !== '0' ? String(data.nextBeforeId) : '';
  document.getElementById('audit-more').hidden = auditState.before === '';
  document.getElementById('audit-empty').hidden = body.children.length > 0;
}

async function loadAudit() {
  show('audit');
  auditState.before = '';
  await auditLoad(false);
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('audit-filter').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    auditState.before = '';
    await auditLoad(false);
  });
  document.getElementById('audit-more').addEventListener('click', () => auditLoad(true));
});

registerPage('audit', loadAudit);
