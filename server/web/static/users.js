// Users page (admins): the accounts, adding one, resetting, disabling and
// changing roles. Add and reset answer a one-time password, the otpauth URI
// and its QR code; the panel shows them once and forgets them when closed.
// The server checks the role on every call; hiding the nav button from
// other roles is a courtesy.
'use strict';

// `shown`: name and role of the credentials panel (never the secrets).
const usersState = { armed: null, shown: null };

function usersError(message) {
  document.getElementById('users-error').textContent = message || '';
}

function credentialsLabel() {
  const s = usersState.shown;
  document.getElementById('users-cred-name').textContent = s ? s.name + ' (' + t('role.' + s.role) + ')' : '';
}

function clearCredentials() {
  usersState.shown = null;
  const panel = document.getElementById('users-credentials');
  panel.hidden = true;
  document.getElementById('users-cred-name').textContent = '';
  document.getElementById('users-cred-password').textContent = '';
  document.getElementById('users-cred-uri').textContent = '';
  document.getElementById('users-cred-qr').removeAttribute('src');
}

function showCredentials(creds) {
  usersState.shown = { name: creds.name, role: creds.role };
  credentialsLabel();
  document.getElementById('users-cred-password').textContent = creds.password;
  document.getElementById('users-cred-uri').textContent = creds.otpauthUri;
  const img = document.getElementById('users-cred-qr');
  img.alt = t('users.credentials.qr');
  // The SVG comes from the collector, not from the user; as an <img> it
  // could not run script even if it held any (CSP: img-src 'self' data:).
  if (creds.otpauthQrSvg) {
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(creds.otpauthQrSvg);
    img.hidden = false;
  } else {
    img.removeAttribute('src');
    img.hidden = true;
  }
  const panel = document.getElementById('users-credentials');
  panel.hidden = false;
  panel.scrollIntoView({ block: 'nearest' });
}

function roleSelect(current, disabled) {
  const select = document.createElement('select');
  for (const role of ['viewer', 'operator', 'admin']) {
    const option = document.createElement('option');
    option.value = role;
    option.textContent = t('role.' + role);
    option.selected = role === current;
    select.appendChild(option);
  }
  select.disabled = disabled;
  return select;
}

// Reset and disable ask once more on the same button instead of a dialog.
function confirmingButton(label, confirmLabel, key, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', async () => {
    if (usersState.armed !== key) {
      usersState.armed = key;
      for (const other of document.querySelectorAll('#users-body button.armed')) {
        other.classList.remove('armed');
        other.textContent = other.dataset.label;
      }
      b.dataset.label = label;
      b.classList.add('armed');
      b.textContent = confirmLabel;
      return;
    }
    usersState.armed = null;
    await action();
  });
  return b;
}

async function userAction(path, body) {
  usersError('');
  const res = await api('POST', path, body);
  if (res.status === 401) { state.me = null; renderWho(); show('login'); return null; }
  if (res.status !== 200) {
    usersError((res.data && res.data.error) || String(res.status));
    return null;
  }
  return res.data;
}

function userStatus(u) {
  if (u.disabled) return t('users.disabled');
  if (u.lockedUntil) return t('users.lockedUntil') + ' ' + formatTime(u.lockedUntil);
  return t('users.active');
}

async function loadUsersList() {
  const { status, data } = await api('GET', '/api/users');
  if (status === 401) { state.me = null; renderWho(); show('login'); return false; }
  if (status !== 200) { usersError((data && data.error) || String(status)); return false; }
  const body = document.getElementById('users-body');
  body.replaceChildren();
  for (const u of data.users || []) {
    const self = state.me && u.name === state.me.user;
    const row = document.createElement('tr');
    row.dataset.user = u.name;
    cell(row, self ? u.name + ' ' + t('users.you') : u.name, 'name');
    const roleTd = document.createElement('td');
    const select = roleSelect(u.role, self || u.disabled);
    select.className = 'role';
    select.addEventListener('change', async () => {
      const done = await userAction('/api/users/' + encodeURIComponent(u.name) + '/role', { role: select.value });
      if (!done) select.value = u.role;
      await loadUsersList();
    });
    roleTd.appendChild(select);
    row.appendChild(roleTd);
    cell(row, userStatus(u), u.disabled || u.lockedUntil ? 'bad status' : 'status');
    cell(row, formatTime(u.created));
    const actions = document.createElement('td');
    const reset = confirmingButton(t('users.reset'), t('users.confirmReset'), 'reset:' + u.name, async () => {
      const creds = await userAction('/api/users/' + encodeURIComponent(u.name) + '/reset');
      if (creds) showCredentials(creds);
      await loadUsersList();
    });
    reset.className = 'reset';
    actions.appendChild(reset);
    if (!self && !u.disabled) {
      const disable = confirmingButton(t('users.disable'), t('users.confirmDisable'), 'disable:' + u.name, async () => {
        await userAction('/api/users/' + encodeURIComponent(u.name) + '/disable');
        await loadUsersList();
      });
      disable.className = 'disable';
      actions.appendChild(disable);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
  return true;
}

async function loadUsers() {
  usersError('');
  usersState.armed = null;
  // Coming from another page the panel's old content goes; redrawn in
  // place (a language switch) it stays, or the password would be lost.
  if (document.getElementById('users-view').hidden) clearCredentials();
  credentialsLabel();
  if (await loadUsersList()) show('users');
}

async function onAddUser(ev) {
  ev.preventDefault();
  const name = document.getElementById('users-add-name');
  const role = document.getElementById('users-add-role');
  const creds = await userAction('/api/users', { name: name.value.trim(), role: role.value });
  if (!creds) return;
  name.value = '';
  showCredentials(creds);
  await loadUsersList();
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('users-add').addEventListener('submit', onAddUser);
  document.getElementById('users-cred-done').addEventListener('click', clearCredentials);
});

registerPage('users', loadUsers);
