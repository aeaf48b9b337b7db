// Mamori dashboard: the detail of one terminal under the terminals list —
// what it is and runs, which policy version it applies against the one its
// group is assigned, its compliance checks with their evidence, the devices
// present with their decisions, and its most recent events.
// Uses app.js (api, t, cell, formatTime, statusText, ...), terminals.js
// (checkText) and events.js (kindText). Device, host and user strings are
// chosen by whoever plugs a device in or names a machine: they are only ever
// put into the page with textContent.
'use strict';

// The last answer is kept so a language switch redraws without a request.
const detailView = { id: '', data: null, seq: 0 };

// "ENUM_PREFIX_SOME_VALUE" -> t(keyPrefix + "some_value").
function enumText(keyPrefix, enumPrefix, value) {
  return t(keyPrefix + String(value || enumPrefix + 'UNSPECIFIED').replace(enumPrefix, '').toLowerCase());
}

function detailFact(id, text, cls) {
  const el = document.getElementById(id);
  el.textContent = text || '-';
  el.className = cls || '';
}

function policyVersionText(version) {
  return t('detail.policyVersion').replace('{version}', String(version));
}

function renderDetailHeader(data) {
  const summary = data.summary || {};
  const enforcement = data.enforcement || {};
  document.getElementById('detail-id').textContent = summary.terminalId || detailView.id;
  detailFact('detail-hostname', summary.hostname);
  detailFact('detail-group', summary.group);
  detailFact('detail-status', statusText(summary.status),
    summary.status === 'COMPLIANCE_STATUS_NON_COMPLIANT' ? 'bad' : '');
  const standing = standingKey(summary.standing);
  detailFact('detail-standing', t('standing.' + standing), standing === 'active' ? '' : 'bad');
  detailFact('detail-os', data.os);
  detailFact('detail-agent-version', data.agentVersion);
  let mode = enumText('mode.', 'ENFORCEMENT_MODE_', enforcement.mode);
  if (enforcement.backend) mode += ' · ' + enforcement.backend;
  const unhealthy = enforcement.mode && enforcement.mode !== 'ENFORCEMENT_MODE_UNSPECIFIED' &&
    !enforcement.healthy;
  if (unhealthy) {
    mode += ' · ' + t('detail.unhealthy') + (enforcement.detail ? ': ' + enforcement.detail : '');
  }
  detailFact('detail-enforcement', mode,
    unhealthy || enforcement.mode === 'ENFORCEMENT_MODE_AUDIT_ONLY' ? 'bad' : '');
  detailFact('detail-last-report', formatTime(summary.lastReport));
  detailFact('detail-agent-time', formatTime(data.agentTime));

  // uint64 fields arrive as strings.
  const applied = Number(summary.appliedPolicyVersion || 0);
  const assigned = Number(summary.assignedPolicyVersion || 0);
  const reported = Boolean(summary.lastReport);
  const mismatch = reported && applied !== assigned;
  const line = document.getElementById('detail-policy');
  line.className = mismatch ? 'policy-line mismatch' : 'policy-line';
  const parts = [
    t('detail.policyApplied') + ' ' + (reported ? policyVersionText(applied) : '-'),
    t('detail.policyAssigned') + ' ' + policyVersionText(assigned),
  ];
  document.getElementById('detail-policy-versions').textContent = parts.join(' / ');
  const notes = [];
  if (mismatch) notes.push(t('detail.policyMismatch'));
  if (applied === 0 || assigned === 0) notes.push(t('detail.policyZero'));
  document.getElementById('detail-policy-note').textContent = notes.join(' ');
}

function renderDetailChecks(checks) {
  const body = document.getElementById('checks-body');
  body.replaceChildren();
  for (const c of checks) {
    const row = document.createElement('tr');
    row.dataset.check = c.name;
    cell(row, checkText(c.name));
    const result = String(c.result || 'CHECK_RESULT_UNSPECIFIED').replace('CHECK_RESULT_', '').toLowerCase();
    // The label carries the result; the colour only repeats it.
    cell(row, t('result.' + result), 'result ' + result);
    cell(row, c.evidence || '', 'evidence');
    body.appendChild(row);
  }
  document.getElementById('checks-none').hidden = checks.length > 0;
}

function decisionCell(row, decision) {
  const td = document.createElement('td');
  td.className = 'decision';
  const action = document.createElement('span');
  action.textContent = enumText('action.', 'ACTION_', decision.action);
  td.appendChild(action);
  const keeps = decision.allowedInterfaceClasses || [];
  if (keeps.length > 0) {
    const span = document.createElement('span');
    span.className = 'keeps';
    span.textContent = t('detail.keeps') + ': ' +
      keeps.map((c) => enumText('class.', 'DEVICE_CLASS_', c)).join(', ');
    td.appendChild(span);
  }
  if (decision.action && decision.action !== 'ACTION_UNSPECIFIED' && !decision.enforced) {
    const span = document.createElement('span');
    span.className = 'not-enforced';
    span.textContent = t('detail.notEnforced') +
      (decision.enforcementError ? ': ' + decision.enforcementError : '');
    td.appendChild(span);
  }
  row.appendChild(td);
}

function renderDetailDevices(devices) {
  const body = document.getElementById('devices-body');
  body.replaceChildren();
  for (const d of devices) {
    const row = document.createElement('tr');
    cell(row, d.vidPid);
    cell(row, d.manufacturer, 'text');
    cell(row, d.product, 'product');
    cell(row, d.serial, 'serial');
    const decision = d.decision || {};
    decisionCell(row, decision);
    cell(row, decision.matchedRule || '', 'text');
    body.appendChild(row);
  }
  document.getElementById('devices-none').hidden = devices.length > 0;
}

function renderDetailEvents(events) {
  const body = document.getElementById('detail-events-body');
  body.replaceChildren();
  for (const e of events) {
    const row = document.createElement('tr');
    row.dataset.kind = e.kind || '';
    const d = e.device || {};
    cell(row, formatTime(e.time), 'time');
    const problem = e.kind === 'EVENT_KIND_DEVICE_BLOCKED' || e.kind === 'EVENT_KIND_ENFORCEMENT_FAILURE' ||
      e.kind === 'EVENT_KIND_POLICY_REJECTED' || e.kind === 'EVENT_KIND_EVENTS_DROPPED' ||
      e.kind === 'EVENT_KIND_CERTIFICATE_RENEWAL_FAILED';
    cell(row, kindText(e.kind), problem ? 'kind bad' : 'kind');
    const device = document.createElement('td');
    device.className = 'device';
    if (d.vidPid) {
      const vidPid = document.createElement('span');
      vidPid.className = 'vidpid';
      vidPid.textContent = d.vidPid;
      device.appendChild(vidPid);
    }
    if (d.product) {
      const product = document.createElement('span');
      product.className = 'product';
      product.textContent = d.product;
      device.appendChild(product);
    }
    // A blocked device can be asked for as a time-limited exception, picked
    // from this very event (exceptions.js).
    const canRequest = state.me && (state.me.role === 'operator' || state.me.role === 'admin');
    if (e.kind === 'EVENT_KIND_DEVICE_BLOCKED' && d.serial && canRequest) {
      const ask = document.createElement('button');
      ask.type = 'button';
      ask.className = 'exception-from-event';
      ask.textContent = t('exceptions.fromEvent');
      ask.addEventListener('click', () => exRequestFromEvent(e.terminalId, e.seq, d));
      device.appendChild(ask);
    }
    row.appendChild(device);
    cell(row, (d.decision && d.decision.matchedRule) || '', 'text');
    cell(row, e.user || '', 'text');
    cell(row, e.detail || '', 'detail');
    body.appendChild(row);
  }
  document.getElementById('detail-events-none').hidden = events.length > 0;
}

// Revoking or retiring the open terminal (admins): a reason, then a
// confirmation naming the terminal, then the call; the detail and the list
// are reloaded so the new standing shows at once.
const revocationView = { verb: '' };

function renderRevocationControls(data) {
  const summary = data.summary || {};
  const panel = document.getElementById('detail-revocation');
  const standing = standingKey(summary.standing);
  panel.hidden = !(state.me && state.me.role === 'admin');
  document.getElementById('revoke-terminal').hidden = standing !== 'active';
  document.getElementById('retire-terminal').hidden = standing === 'retired';
  const reason = document.getElementById('revocation-reason');
  reason.placeholder = t('revoke.reason');
  reason.setAttribute('aria-label', t('revoke.reason'));
  reason.hidden = standing === 'retired';
  if (!revocationView.verb) document.getElementById('revocation-confirm').hidden = true;
}

function askRevocation(verb) {
  const reason = document.getElementById('revocation-reason');
  const error = document.getElementById('revocation-error');
  if (reason.value.trim() === '') {
    error.textContent = t('revoke.reasonRequired');
    reason.focus();
    return;
  }
  error.textContent = '';
  revocationView.verb = verb;
  document.getElementById('revocation-question').textContent =
    t('revoke.confirm.' + verb).replace('{id}', detailView.id);
  document.getElementById('revocation-confirm').hidden = false;
}

async function doRevocation() {
  const verb = revocationView.verb;
  const id = detailView.id;
  revocationView.verb = '';
  document.getElementById('revocation-confirm').hidden = true;
  if (!verb || !id) return;
  const reason = document.getElementById('revocation-reason');
  const { status, data } = await api('POST', '/api/terminals/' + encodeURIComponent(id) + '/' + verb,
    { reason: reason.value.trim() });
  const error = document.getElementById('revocation-error');
  if (status !== 200) {
    error.textContent = t('revoke.failed') + ' ' + ((data && data.error) || status);
    return;
  }
  error.textContent = '';
  reason.value = '';
  await fetchTerminalsPage();
  await loadDetail(id);
}

// Draws the kept answer in the page's language; nothing when no detail is open.
function renderDetail() {
  const data = detailView.data;
  if (!data) return;
  renderDetailHeader(data);
  renderRevocationControls(data);
  renderDetailChecks(data.checks || []);
  renderDetailDevices(data.devices || []);
  renderDetailEvents(data.recentEvents || []);
  for (const row of document.querySelectorAll('#terminals-body tr')) {
    row.classList.toggle('selected', row.dataset.terminal === detailView.id);
  }
  document.getElementById('detail').hidden = false;
}

function closeDetail() {
  detailView.id = '';
  detailView.data = null;
  document.getElementById('detail').hidden = true;
}

async function loadDetail(id) {
  const seq = ++detailView.seq;
  const { status, data } = await api('GET', '/api/terminals/' + encodeURIComponent(id));
  // Another terminal was clicked meanwhile.
  if (seq !== detailView.seq) return;
  if (status === 401) { state.me = null; renderWho(); show('login'); return; }
  const error = document.getElementById('terminals-error');
  if (status !== 200 || !data) {
    error.textContent = t('detail.failed') + ' ' + ((data && data.error) || status);
    closeDetail();
    return;
  }
  error.textContent = '';
  detailView.id = id;
  detailView.data = data;
  renderDetail();
  document.getElementById('detail').scrollIntoView({ block: 'start' });
  await renderTerminalExceptions(id);
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('revoke-terminal').addEventListener('click', () => askRevocation('revoke'));
  document.getElementById('retire-terminal').addEventListener('click', () => askRevocation('retire'));
  document.getElementById('revocation-yes').addEventListener('click', doRevocation);
  document.getElementById('revocation-no').addEventListener('click', () => {
    revocationView.verb = '';
    document.getElementById('revocation-confirm').hidden = true;
  });
});
