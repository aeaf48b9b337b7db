// Policies page: the policy in force for a group, its version history with
// diffs, and (operators and admins) a dry run and apply of a new version.
// The server checks the role on every call; hiding the editor is a courtesy.
'use strict';

const policiesState = { group: '' };

function canChangePolicies() {
  return !!state.me && (state.me.role === 'operator' || state.me.role === 'admin');
}

function policiesError(message) {
  document.getElementById('policies-error').textContent = message || '';
}

function actionText(action) {
  return t('action.' + String(action || '').replace('ACTION_', '').toLowerCase());
}

async function showDiff(group, to, from) {
  const params = new URLSearchParams({ group, to: String(to) });
  if (from) params.set('from', String(from));
  const { status, data } = await api('GET', '/api/policies/diff?' + params.toString());
  const pre = document.getElementById('policies-diff');
  if (status !== 200) { policiesError((data && data.error) || String(status)); return; }
  pre.textContent = data.diff === '' ? t('policies.noDifference') : data.diff;
  pre.hidden = false;
}

async function loadPolicyGroup(group) {
  policiesState.group = group;
  policiesError('');
  document.getElementById('policies-diff').hidden = true;
  document.getElementById('policies-result').hidden = true;
  document.getElementById('policies-confirm').hidden = true;
  const current = await api('GET', '/api/policies?group=' + encodeURIComponent(group));
  if (current.status === 401) { state.me = null; renderWho(); show('login'); return; }
  if (current.status !== 200) {
    policiesError((current.data && current.data.error) || String(current.status));
    document.getElementById('policies-current').hidden = true;
    document.getElementById('policies-editor').hidden = true;
    return;
  }
  const bundle = current.data.bundle;
  const meta = document.getElementById('policies-current-meta');
  const yaml = document.getElementById('policies-yaml');
  if (bundle && bundle.version && bundle.version !== '0') {
    const source = current.data.inherited ? ' ' + t('policies.inheritedFrom') + ' ' + bundle.group : '';
    meta.textContent = t('policies.version') + ' ' + bundle.version + source + ' — ' +
      t('policies.appliedBy') + ': ' + bundle.appliedBy + ', ' + formatTime(bundle.appliedAt);
    yaml.textContent = bundle.policyYaml;
  } else {
    meta.textContent = t('policies.builtIn');
    yaml.textContent = '';
  }

  const history = await api('GET', '/api/policies/history?group=' + encodeURIComponent(group));
  const body = document.getElementById('policies-history');
  body.replaceChildren();
  const entries = (history.status === 200 && history.data.entries) || [];
  for (const e of entries) {
    const row = document.createElement('tr');
    row.dataset.version = e.version;
    cell(row, String(e.version), 'num');
    cell(row, e.policyName);
    cell(row, e.appliedBy);
    cell(row, formatTime(e.appliedAt));
    const td = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'diff-previous';
    button.textContent = t('policies.diffPrevious');
    button.addEventListener('click', () => showDiff(group, e.version));
    td.appendChild(button);
    row.appendChild(td);
    body.appendChild(row);
  }
  document.getElementById('policies-history-none').hidden = entries.length > 0;
  document.getElementById('policies-current').hidden = false;

  const editable = canChangePolicies();
  document.getElementById('policies-editor').hidden = !editable;
  document.getElementById('policies-readonly').hidden = editable;
  for (const id of ['policies-dry-run', 'policies-apply', 'policies-confirm-yes']) {
    document.getElementById(id).disabled = !editable;
  }
  const textarea = document.getElementById('policies-new');
  if (editable && textarea.value.trim() === '') textarea.value = yaml.textContent;
}

function showProblems(message) {
  const list = document.getElementById('policies-problems');
  list.replaceChildren();
  // Validation errors come one per line as SOURCE:LINE:COLUMN: problem.
  for (const line of String(message || '').split('\n')) {
    if (line.trim() === '') continue;
    const li = document.createElement('li');
    li.textContent = line;
    list.appendChild(li);
  }
}

async function policyChange(path) {
  const body = {
    group: policiesState.group,
    policyYaml: document.getElementById('policies-new').value,
    sourceName: 'dashboard',
  };
  return api('POST', path, body);
}

async function onDryRun() {
  const result = document.getElementById('policies-result');
  const summary = document.getElementById('policies-result-summary');
  const changes = document.getElementById('policies-changes');
  changes.replaceChildren();
  showProblems('');
  document.getElementById('policies-dry-diff').textContent = '';
  const { status, data } = await policyChange('/api/policies/dry-run');
  result.hidden = false;
  if (status !== 200) {
    summary.textContent = t('policies.invalid');
    showProblems((data && data.error) || String(status));
    document.getElementById('policies-changes-table').hidden = true;
    return;
  }
  const run = data.dryRun || {};
  const list = run.changes || [];
  summary.textContent = t('policies.dryRunSummary')
    .replace('{changes}', String(list.length))
    .replace('{terminals}', String(run.terminalsExamined || 0))
    .replace('{devices}', String(run.devicesExamined || 0));
  for (const c of list) {
    const row = document.createElement('tr');
    const d = c.device || {};
    cell(row, c.terminalId);
    cell(row, d.vidPid || '');
    cell(row, d.product || '', 'product');
    cell(row, d.serial || '');
    cell(row, actionText((c.oldDecision || {}).action));
    cell(row, actionText((c.newDecision || {}).action), 'bad');
    changes.appendChild(row);
  }
  document.getElementById('policies-changes-table').hidden = list.length === 0;
  document.getElementById('policies-dry-diff').textContent = run.diff || t('policies.noDifference');
}

function onApply() {
  const confirmBox = document.getElementById('policies-confirm');
  document.getElementById('policies-confirm-text').textContent =
    t('policies.confirm').replace('{group}', policiesState.group);
  confirmBox.hidden = false;
}

async function onConfirmApply() {
  document.getElementById('policies-confirm').hidden = true;
  const { status, data } = await policyChange('/api/policies/apply');
  const summary = document.getElementById('policies-result-summary');
  document.getElementById('policies-result').hidden = false;
  document.getElementById('policies-changes-table').hidden = true;
  document.getElementById('policies-dry-diff').textContent = '';
  if (status !== 200) {
    summary.textContent = status === 403 ? t('policies.forbidden') : t('policies.invalid');
    showProblems((data && data.error) || String(status));
    return;
  }
  showProblems('');
  const version = String(data.version);
  await loadPolicyGroup(policiesState.group);
  document.getElementById('policies-result').hidden = false;
  document.getElementById('policies-result-summary').textContent =
    t('policies.applied').replace('{version}', version);
}

async function loadPolicies() {
  await fillGroupList('policies-groups');
  show('policies');
  const input = document.getElementById('policies-group');
  if (policiesState.group !== '') {
    await loadPolicyGroup(policiesState.group);
  } else if (input.value.trim() !== '') {
    await loadPolicyGroup(input.value.trim());
  } else {
    document.getElementById('policies-current').hidden = true;
    document.getElementById('policies-editor').hidden = true;
    document.getElementById('policies-readonly').hidden = canChangePolicies();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('policies-pick').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const group = document.getElementById('policies-group').value.trim();
    document.getElementById('policies-new').value = '';
    if (group !== '') await loadPolicyGroup(group);
  });
  document.getElementById('policies-dry-run').addEventListener('click', onDryRun);
  document.getElementById('policies-apply').addEventListener('click', onApply);
  document.getElementById('policies-confirm-yes').addEventListener('click', onConfirmApply);
  document.getElementById('policies-confirm-no').addEventListener('click', () => {
    document.getElementById('policies-confirm').hidden = true;
  });
});

registerPage('policies', loadPolicies);
