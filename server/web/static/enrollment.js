// Enrollment page: tokens terminals enroll with, and recent enrollments.
// Admins create and revoke tokens; every role reads. A new token's text is
// shown once, in a panel that forgets it when closed or when the page is
// left. The server checks the role on every call.
'use strict';

function enrollError(message) {
  document.getElementById('enroll-error').textContent = message || '';
}

function clearNewToken() {
  document.getElementById('enroll-new').hidden = true;
  document.getElementById('enroll-new-text').textContent = '';
}

function tokenState(tok) {
  if (tok.revoked) return 'revoked';
  if (Date.parse(tok.expiresAt) <= Date.now()) return 'expired';
  if (!tok.usesLeft) return 'usedUp';
  return 'active';
}

async function enrollLoadTokens() {
  const { status, data } = await api('GET', '/api/enroll-tokens');
  if (status === 401) { show('login'); return; }
  const body = document.getElementById('enroll-tokens-body');
  body.replaceChildren();
  if (status !== 200) { enrollError((data && data.error) || String(status)); return; }
  const admin = state.me && state.me.role === 'admin';
  for (const tok of (data && data.tokens) || []) {
    const row = document.createElement('tr');
    row.dataset.id = tok.id;
    const st = tokenState(tok);
    row.dataset.state = st;
    cell(row, tok.id, 'id');
    cell(row, tok.group);
    cell(row, (tok.usesLeft || 0) + '/' + (tok.usesTotal || 0));
    cell(row, formatTime(tok.expiresAt));
    cell(row, t('enroll.state.' + st), st === 'active' ? '' : 'bad');
    cell(row, tok.lastUsedAt ? formatTime(tok.lastUsedAt) : '-');
    cell(row, tok.createdBy);
    cell(row, tok.note);
    const actions = document.createElement('td');
    if (admin && !tok.revoked) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'revoke';
      b.textContent = t('enroll.revoke');
      b.addEventListener('click', async () => {
        const r = await api('POST', '/api/enroll-tokens/' + encodeURIComponent(tok.id) + '/revoke', {});
        if (r.status !== 200) { enrollError((r.data && r.data.error) || String(r.status)); return; }
        enrollError('');
        await enrollLoadTokens();
      });
      actions.appendChild(b);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
  document.getElementById('enroll-tokens-empty').hidden = body.children.length > 0;
}

async function enrollLoadEnrollments() {
  const { status, data } = await api('GET', '/api/enrollments?limit=100');
  const body = document.getElementById('enroll-list-body');
  body.replaceChildren();
  if (status !== 200) return;
  for (const e of (data && data.enrollments) || []) {
    const row = document.createElement('tr');
    cell(row, formatTime(e.at));
    cell(row, e.terminalId);
    cell(row, e.group);
    cell(row, e.sourceAddress);
    cell(row, e.tokenId);
    cell(row, e.serial, 'detail');
    body.appendChild(row);
  }
  document.getElementById('enroll-list-empty').hidden = body.children.length > 0;
}

async function loadEnrollment() {
  show('enrollment');
  clearNewToken();
  enrollError('');
  document.getElementById('enroll-create').hidden = !(state.me && state.me.role === 'admin');
  await enrollLoadTokens();
  await enrollLoadEnrollments();
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('enroll-create').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const days = Number(value('enroll-days') || '7');
    const body = {
      group: value('enroll-group'),
      uses: Number(value('enroll-uses') || '1'),
      expiresInSeconds: String(Math.round(days * 86400)),
      note: value('enroll-note'),
    };
    const { status, data } = await api('POST', '/api/enroll-tokens', body);
    if (status !== 200) { enrollError((data && data.error) || String(status)); return; }
    enrollError('');
    document.getElementById('enroll-new-text').textContent = data.tokenText;
    document.getElementById('enroll-new').hidden = false;
    await enrollLoadTokens();
  });
  document.getElementById('enroll-new-close').addEventListener('click', clearNewToken);
});

registerPage('enrollment', loadEnrollment);
