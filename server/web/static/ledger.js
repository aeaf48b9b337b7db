// Media ledger page (外部記録媒体管理台帳): the registered media, adding and
// retiring them, CSV import and export, and the removable storage seen on
// terminals that no ledger entry registers. Viewers read; operators and
// admins change (the server checks the role on every call, hiding the forms
// is a courtesy). Every value is shown with textContent.
'use strict';

const ledgerState = { tab: 'media' };

function ledgerCanChange() {
  return !!state.me && (state.me.role === 'operator' || state.me.role === 'admin');
}

function ledgerMessage(id, text, isError) {
  const el = document.getElementById(id);
  el.textContent = text || '';
  el.classList.toggle('error', !!isError);
}

function ledgerErrorText(status, data) {
  if (status === 403) return t('ledger.forbidden');
  return (data && data.error) ? data.error : t('ledger.failed') + ' (' + status + ')';
}

// "New policy versions: osaka v12" and the server's warnings, one per line.
function ledgerChangeSummary(data) {
  const lines = [];
  const policies = (data && data.policies) || [];
  if (policies.length === 0) {
    lines.push(t('ledger.noPolicyChanged'));
  } else {
    lines.push(t('ledger.policiesUpdated') + ': ' +
      policies.map((p) => p.group + ' v' + p.version).join(', '));
  }
  for (const w of (data && data.warnings) || []) lines.push(t('ledger.warning') + ': ' + w);
  return lines.join('\n');
}

function ledgerState_(m) {
  if (m.retiredAt) return t('ledger.state.retired');
  return m.expired ? t('ledger.state.expired') : t('ledger.state.active');
}

function ledgerRetireControls(td, m) {
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'retire';
  open.textContent = t('ledger.retire');
  const reason = document.createElement('input');
  reason.className = 'retire-reason';
  reason.maxLength = 200;
  reason.placeholder = t('ledger.retireReason');
  reason.setAttribute('aria-label', t('ledger.retireReason'));
  reason.hidden = true;
  const confirm = document.createElement('button');
  confirm.type = 'button';
  confirm.className = 'retire-confirm';
  confirm.textContent = t('ledger.retireConfirm');
  confirm.hidden = true;
  open.addEventListener('click', () => {
    open.hidden = true;
    reason.hidden = false;
    confirm.hidden = false;
    reason.focus();
  });
  confirm.addEventListener('click', async () => {
    if (reason.value.trim() === '') { reason.focus(); return; }
    const { status, data } = await api('POST', '/api/media/' + encodeURIComponent(m.id) + '/retire',
      { reason: reason.value.trim() });
    if (status !== 200) { ledgerMessage('ledger-result', ledgerErrorText(status, data), true); return; }
    ledgerMessage('ledger-result', t('ledger.retired') + ' #' + m.id + '\n' + ledgerChangeSummary(data), false);
    await ledgerLoadMedia();
  });
  td.append(open, reason, confirm);
}

async function ledgerLoadMedia() {
  const retired = document.getElementById('ledger-show-retired').checked;
  const { status, data } = await api('GET', '/api/media' + (retired ? '?retired=1' : ''));
  if (status === 401) { show('login'); return; }
  const body = document.getElementById('ledger-body');
  body.replaceChildren();
  if (status !== 200) { ledgerMessage('ledger-result', ledgerErrorText(status, data), true); return; }
  const media = (data && data.media) || [];
  for (const m of media) {
    const row = document.createElement('tr');
    row.dataset.serial = m.serial;
    if (m.retiredAt) row.className = 'retired';
    cell(row, String(m.id), 'num');
    cell(row, m.serial, 'serial');
    cell(row, m.vidPid);
    cell(row, m.owner);
    cell(row, m.department);
    cell(row, m.group === '' ? t('ledger.allGroups') : m.group);
    cell(row, m.expires || t('ledger.never'));
    cell(row, ledgerState_(m), m.expired || m.retiredAt ? 'bad state' : 'state');
    cell(row, m.addedBy);
    const td = document.createElement('td');
    if (m.retiredAt) {
      td.textContent = formatTime(m.retiredAt) + ' ' + m.retiredBy + ': ' + m.retireReason;
    } else if (ledgerCanChange()) {
      ledgerRetireControls(td, m);
    }
    row.appendChild(td);
    body.appendChild(row);
  }
  document.getElementById('ledger-empty').hidden = media.length > 0;
}

async function ledgerLoadUnregistered() {
  const { status, data } = await api('GET', '/api/media/unregistered');
  if (status === 401) { show('login'); return; }
  const body = document.getElementById('ledger-unreg-body');
  body.replaceChildren();
  if (status !== 200) { ledgerMessage('ledger-result', ledgerErrorText(status, data), true); return; }
  const devices = (data && data.devices) || [];
  for (const d of devices) {
    const dev = d.device || {};
    const row = document.createElement('tr');
    row.dataset.serial = dev.serial || '';
    cell(row, d.terminalId);
    cell(row, d.group);
    cell(row, d.hostname);
    cell(row, dev.vidPid);
    cell(row, dev.serial, 'serial');
    cell(row, dev.product, 'product');
    cell(row, formatTime(d.lastSeen));
    cell(row, d.present ? t('ledger.present') : t('ledger.seenInEvents'));
    const td = document.createElement('td');
    if (ledgerCanChange()) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = t('ledger.register');
      b.addEventListener('click', () => {
        document.getElementById('ledger-serial').value = dev.serial || '';
        document.getElementById('ledger-vidpid').value = dev.vidPid || '';
        document.getElementById('ledger-group').value = d.group || '';
        ledgerShowTab('media');
        document.getElementById('ledger-owner').focus();
      });
      td.appendChild(b);
    }
    row.appendChild(td);
    body.appendChild(row);
  }
  document.getElementById('ledger-unreg-empty').hidden = devices.length > 0;
}

function ledgerShowTab(tab) {
  ledgerState.tab = tab;
  document.getElementById('ledger-media-panel').hidden = tab !== 'media';
  document.getElementById('ledger-unreg-panel').hidden = tab !== 'unregistered';
  document.getElementById('ledger-tab-media').classList.toggle('active', tab === 'media');
  document.getElementById('ledger-tab-unregistered').classList.toggle('active', tab === 'unregistered');
  return tab === 'media' ? ledgerLoadMedia() : ledgerLoadUnregistered();
}

async function ledgerAdd(ev) {
  ev.preventDefault();
  const value = (id) => document.getElementById(id).value.trim();
  const medium = {
    serial: value('ledger-serial'),
    vidPid: value('ledger-vidpid').toLowerCase(),
    owner: value('ledger-owner'),
    department: value('ledger-department'),
    group: value('ledger-group'),
    expires: value('ledger-expires'),
    note: value('ledger-note'),
  };
  const { status, data } = await api('POST', '/api/media', { medium });
  if (status !== 200) { ledgerMessage('ledger-result', ledgerErrorText(status, data), true); return; }
  ledgerMessage('ledger-result', t('ledger.added') + ' #' + data.medium.id + '\n' + ledgerChangeSummary(data), false);
  document.getElementById('ledger-add-form').reset();
  await ledgerLoadMedia();
}

async function ledgerImport() {
  const input = document.getElementById('ledger-import-file');
  const list = document.getElementById('ledger-import-errors');
  list.replaceChildren();
  ledgerMessage('ledger-import-result', '', false);
  const file = input.files && input.files[0];
  if (!file) { ledgerMessage('ledger-import-result', t('ledger.importChoose'), true); return; }
  const csv = await file.text();
  const { status, data } = await api('POST', '/api/media/import', { csv });
  if (status !== 200) { ledgerMessage('ledger-import-result', ledgerErrorText(status, data), true); return; }
  const errors = (data && data.errors) || [];
  if (errors.length > 0) {
    ledgerMessage('ledger-import-result', t('ledger.importRejected'), true);
    for (const e of errors) {
      const li = document.createElement('li');
      li.textContent = t('ledger.line') + ' ' + e.line + ': ' + e.message;
      list.appendChild(li);
    }
    return;
  }
  ledgerMessage('ledger-import-result',
    t('ledger.imported') + ': ' + data.imported + '\n' + ledgerChangeSummary(data), false);
  input.value = '';
  await ledgerLoadMedia();
}

async function loadLedger() {
  show('ledger');
  document.getElementById('ledger-change').hidden = !ledgerCanChange();
  ledgerMessage('ledger-result', '', false);
  await ledgerShowTab(ledgerState.tab);
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('ledger-tab-media').addEventListener('click', () => ledgerShowTab('media'));
  document.getElementById('ledger-tab-unregistered').addEventListener('click', () => ledgerShowTab('unregistered'));
  document.getElementById('ledger-show-retired').addEventListener('change', ledgerLoadMedia);
  document.getElementById('ledger-add-form').addEventListener('submit', ledgerAdd);
  document.getElementById('ledger-import-submit').addEventListener('click', ledgerImport);
});

registerPage('ledger', loadLedger);
