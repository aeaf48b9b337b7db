// Time-limited exceptions page: requests, their approval or refusal, and the
// exceptions of one terminal on its detail page. Viewers read; operators
// request and cancel their own; admins approve, refuse and cancel (the
// server checks the role on every call, hiding controls is a courtesy).
// Every value is shown with textContent.
'use strict';

function exMessage(text, isError) {
  const el = document.getElementById('exceptions-result');
  el.textContent = text || '';
  el.classList.toggle('error', !!isError);
}

function exErrorText(status, data) {
  if (status === 403) return t('exceptions.forbidden');
  return (data && data.error) ? data.error : t('exceptions.failed') + ' (' + status + ')';
}

function exStateText(s) { return t('exceptions.state.' + s); }

function exWhere(e) {
  return e.terminalId ? e.terminalId : t('exceptions.groupPrefix') + ' ' + e.group;
}

// Approve / refuse (admins) and cancel (requester or admin) for one row.
function exDecisionControls(td, e) {
  const role = state.me ? state.me.role : 'viewer';
  const mine = state.me && e.requestedBy === 'web:' + state.me.user;
  const note = document.createElement('input');
  note.className = 'exception-note';
  note.maxLength = 300;
  note.placeholder = t('exceptions.note');
  note.setAttribute('aria-label', t('exceptions.note'));
  const verbs = [];
  if (e.state === 'requested' && role === 'admin') verbs.push('approve', 'refuse');
  if ((e.state === 'requested' || e.state === 'approved' || e.state === 'active') &&
      (role === 'admin' || (role === 'operator' && mine))) verbs.push('cancel');
  if (verbs.length === 0) return;
  td.appendChild(note);
  for (const verb of verbs) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'exception-' + verb;
    b.textContent = t('exceptions.' + verb);
    b.addEventListener('click', async () => {
      if (verb !== 'approve' && note.value.trim() === '') { note.focus(); return; }
      const { status, data } = await api('POST',
        '/api/exceptions/' + encodeURIComponent(e.id) + '/' + verb, { note: note.value.trim() });
      if (status !== 200) { exMessage(exErrorText(status, data), true); return; }
      const lines = ['EX-' + e.id + ': ' + exStateText(data.exception.state)];
      const policies = data.policies || [];
      if (policies.length > 0) {
        lines.push(t('ledger.policiesUpdated') + ': ' +
          policies.map((p) => p.group + ' v' + p.version).join(', '));
      }
      for (const w of data.warnings || []) lines.push(t('ledger.warning') + ': ' + w);
      exMessage(lines.join('\n'), false);
      await loadExceptions();
    });
    td.appendChild(b);
  }
}

function exRow(e, withControls) {
  const row = document.createElement('tr');
  row.dataset.exception = String(e.id);
  row.dataset.state = e.state;
  cell(row, 'EX-' + e.id);
  cell(row, exStateText(e.state), 'state ' + (e.state === 'active' ? 'ok' : ''));
  cell(row, exWhere(e));
  cell(row, e.vidPid);
  cell(row, e.serial, 'serial');
  cell(row, formatTime(e.from), 'time');
  cell(row, formatTime(e.until), 'time');
  cell(row, e.requestedFor);
  cell(row, e.reason);
  cell(row, e.requestedBy);
  cell(row, e.decidedBy ? e.decidedBy + (e.decisionNote ? ': ' + e.decisionNote : '') : '-');
  if (withControls) {
    const td = document.createElement('td');
    exDecisionControls(td, e);
    row.appendChild(td);
  }
  return row;
}

async function loadExceptions() {
  show('exceptions');
  const canRequest = !!state.me && (state.me.role === 'operator' || state.me.role === 'admin');
  document.getElementById('exceptions-request').hidden = !canRequest;
  const { status, data } = await api('GET', '/api/exceptions');
  if (status === 401) { state.me = null; renderWho(); show('login'); return; }
  const body = document.getElementById('exceptions-body');
  body.replaceChildren();
  if (status !== 200) { exMessage(exErrorText(status, data), true); return; }
  const list = (data && data.exceptions) || [];
  for (const e of list) body.appendChild(exRow(e, true));
  document.getElementById('exceptions-empty').hidden = list.length > 0;
}

// "2026-12-07T10:00" or "2026-12-07T10:00:30" from a datetime-local input,
// read as JST, to RFC 3339.
function exJstInput(value) {
  if (!value) return '';
  return (value.length === 16 ? value + ':00' : value.slice(0, 19)) + '+09:00';
}

async function onExceptionRequest(ev) {
  ev.preventDefault();
  const val = (id) => document.getElementById(id).value.trim();
  const body = {
    reason: val('exception-reason'),
    requestedFor: val('exception-for'),
    from: exJstInput(val('exception-from')),
    until: exJstInput(val('exception-until')),
  };
  const where = val('exception-where');
  if (where.includes('/') || val('exception-scope') === 'group') {
    body.group = where;
  } else if (where) {
    body.terminalId = where;
  }
  if (val('exception-event')) {
    body.sourceEvent = val('exception-event');
  } else {
    body.vidPid = val('exception-vidpid');
    body.serial = val('exception-serial');
  }
  if (!body.from) delete body.from;
  const { status, data } = await api('POST', '/api/exceptions', body);
  if (status !== 200) { exMessage(exErrorText(status, data), true); return; }
  exMessage(t('exceptions.requested') + ': EX-' + data.exception.id, false);
  await loadExceptions();
}

// Opens the request form for the device of a block event (terminal page).
async function exRequestFromEvent(terminalId, seq, device) {
  await openPage('exceptions');
  document.getElementById('exception-scope').value = 'terminal';
  document.getElementById('exception-where').value = terminalId;
  document.getElementById('exception-event').value = terminalId + '#' + seq;
  // Shown for the operator to check; the server takes them from the event.
  document.getElementById('exception-vidpid').value = device.vidPid || '';
  document.getElementById('exception-serial').value = device.serial || '';
  document.getElementById('exception-until').focus();
}

// The exceptions that reach one terminal, on its detail page.
async function renderTerminalExceptions(terminalId) {
  const body = document.getElementById('detail-exceptions-body');
  if (!body) return;
  body.replaceChildren();
  const { status, data } = await api('GET', '/api/exceptions?terminal=' + encodeURIComponent(terminalId));
  const list = status === 200 ? ((data && data.exceptions) || []) : [];
  for (const e of list) {
    if (e.state === 'requested' || e.state === 'refused' || e.state === 'cancelled') continue;
    body.appendChild(exRow(e, false));
  }
  document.getElementById('detail-exceptions-none').hidden = body.children.length > 0;
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('exceptions-form').addEventListener('submit', onExceptionRequest);
});

registerPage('exceptions', loadExceptions);
