// Switchboard review console. Every value from the server is put into the page with
// textContent (through el()), never parsed as HTML: a listing named "<script>…" shows as text.
'use strict';

(function () {
  let csrf = null;
  let items = [];  // the queue as last listed
  // Each listing request gets a number; an answer to an older request is dropped, so a slow
  // reply never overwrites a newer one.
  let queueSeq = 0, searchSeq = 0;
  const selected = new Set();

  // ---------- DOM helpers ----------
  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'x', 'data-testid': 'y'}, 'text', otherNode, ...): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // A value as text: null is "(none)", objects and lists one "key: value" per line.
  function valueNode(v, testid) {
    if (v === null || v === undefined) return el('span', {class: 'none', 'data-testid': testid}, '(none)');
    let text;
    if (Array.isArray(v)) {
      text = v.map((x) => (x && typeof x === 'object' && 'field' in x)
        ? `${x.field}: ${x.value === null ? '(none)' : (typeof x.value === 'object' ? JSON.stringify(x.value) : x.value)}`
        : (typeof x === 'object' ? JSON.stringify(x) : String(x))).join('\n');
    } else if (typeof v === 'object') {
      text = Object.entries(v).map(([k, x]) =>
        `${k}: ${x === null ? '(none)' : (typeof x === 'object' ? JSON.stringify(x) : x)}`).join('\n');
    } else {
      text = String(v);
    }
    return el('span', {class: 'value', 'data-testid': testid}, text);
  }

  function short(v) {
    const n = valueNode(v);
    if (n.textContent.length > 60) n.textContent = n.textContent.slice(0, 57) + '…';
    return n;
  }

  const KIND_LABEL = {
    moderated_change: 'moderated change', conflict: 'conflict',
    new_organization: 'new organization', refused_push: 'refused push',
  };
  const badge = (kind) => el('span', {class: `badge ${kind}`}, KIND_LABEL[kind] || kind);

  function age(seconds) {
    if (seconds < 60) return `${seconds}s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return `${Math.floor(seconds / 86400)} d ago`;
  }

  let toastTimer = null;
  function toast(message, bad) {
    const t = $('toast');
    t.textContent = message;
    t.className = 'show' + (bad ? ' bad' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ''; }, 4000);
  }

  // ---------- the API ----------
  async function api(method, path, body) {
    const opts = {method, headers: {}, credentials: 'same-origin'};
    if (method !== 'GET') {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-CSRF-Token'] = csrf || '';
      opts.body = JSON.stringify(body || {});
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (res.status === 401 && path !== '/api/session') showSignin('Your session ended; sign in again.');
    if (!res.ok) {
      const err = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ---------- views ----------
  const VIEWS = ['signin', 'queue', 'item', 'directory', 'referrals', 'audit'];
  function show(view) {
    for (const v of VIEWS) $(v).hidden = v !== view;
    $('tabs').hidden = view === 'signin';
    for (const b of document.querySelectorAll('.tab')) {
      b.classList.toggle('active', b.dataset.tab === view || (view === 'item' && b.dataset.tab === 'queue'));
    }
  }

  function showSignin(message) {
    csrf = null;
    $('signin-error').textContent = message || '';
    show('signin');
    $('token').focus();
  }

  // ---------- the queue ----------
  function filterQuery() {
    const p = new URLSearchParams();
    for (const [key, id] of [['kind', 'f-kind'], ['org', 'f-org'], ['field', 'f-field'], ['min_age', 'f-age']]) {
      const v = $(id).value.trim();
      if (v) p.set(key, v);
    }
    return p.toString();
  }

  async function loadQueue() {
    show('queue');
    const mine = ++queueSeq;
    let data;
    try {
      data = await api('GET', '/api/review?' + filterQuery());
    } catch (e) {
      toast(e.message, true);
      return;
    }
    if (mine !== queueSeq) return;
    items = data.items;
    selected.clear();
    updateBulk();
    const counts = clear($('counts'));
    for (const [kind, n] of Object.entries(data.counts)) {
      counts.appendChild(el('span', {class: 'count', 'data-testid': `count-${kind}`}, KIND_LABEL[kind] || kind, el('b', {}, n)));
    }
    const body = clear($('queue-table').querySelector('tbody'));
    for (const it of items) {
      const box = el('input', {type: 'checkbox', 'aria-label': `select ${it.id}`, 'data-id': it.id});
      box.addEventListener('click', (ev) => {
        ev.stopPropagation();
        if (box.checked) selected.add(it.id); else selected.delete(it.id);
        updateBulk();
      });
      const row = el('tr', {class: 'row', 'data-testid': 'queue-row', 'data-id': it.id, 'data-kind': it.kind, 'data-field': it.field},
        el('td', {}, box),
        el('td', {}, badge(it.kind)),
        el('td', {'data-testid': 'org-name'}, it.org_name || it.org || '(none)'),
        el('td', {}, it.record_name || it.record || '(none)', el('div', {class: 'muted'}, it.record_kind || '')),
        el('td', {}, it.field || '—'),
        el('td', {}, short(it.before)),
        el('td', {}, short(it.after)),
        el('td', {}, (it.who && (it.who.org || it.who.replica)) || ''),
        el('td', {title: it.when || ''}, it.when ? age(it.age_s) : ''));
      row.addEventListener('click', () => openItem(it.id));
      body.appendChild(row);
    }
    $('queue-empty').hidden = items.length > 0;
    $('select-all').checked = false;
  }

  function updateBulk() {
    const approvable = [...selected].filter((id) => {
      const it = items.find((x) => x.id === id);
      return it && it.actions.includes('approve');
    });
    $('bulk-approve').disabled = approvable.length === 0;
    $('bulk-approve').textContent = approvable.length ? `Approve selected (${approvable.length})` : 'Approve selected';
  }

  async function bulkApprove() {
    const ids = [...selected].filter((id) => {
      const it = items.find((x) => x.id === id);
      return it && it.actions.includes('approve');
    });
    if (!ids.length) return;
    try {
      const r = await api('POST', '/api/review/approve', {ids});
      const failed = r.results.filter((x) => !x.ok);
      $('bulk-result').textContent = `${r.results.length - failed.length} approved` +
        (failed.length ? `, ${failed.length} failed: ${failed.map((f) => `${f.id} (${f.error})`).join('; ')}` : '');
    } catch (e) {
      toast(e.message, true);
    }
    await loadQueue();
  }

  // ---------- one item ----------
  function fieldTable(record) {
    const rows = Object.entries(record.fields).map(([name, f]) => el('tr', {},
      el('td', {}, name),
      el('td', {}, valueNode(f.value)),
      el('td', {}, 'published' in f ? valueNode(f.published) : el('span', {class: 'muted'}, 'not moderated')),
      el('td', {}, f.pending ? el('span', {class: 'pending'}, 'pending') : ''),
      el('td', {}, f.siblings ? f.siblings.map((s) => el('div', {class: 'value'}, `${s.value} — ${s.org || '?'} ${s.at}`)) : ''),
      el('td', {}, f.rejected ? `${f.rejected.value} — ${f.rejected.reason}` : '')));
    return el('table', {class: 'grid'},
      el('thead', {}, el('tr', {}, ['Field', 'Value', 'Published', '', 'Siblings', 'Rejected'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows));
  }

  function historyTable(record) {
    if (!record.history || !record.history.length) return el('p', {class: 'muted'}, 'No history kept at the broker for this record.');
    return el('table', {class: 'grid', 'data-testid': 'history'},
      el('thead', {}, el('tr', {}, ['Log', 'When', 'Organization', 'Via', 'Op', 'Fields'].map((h) => el('th', {}, h)))),
      el('tbody', {}, record.history.map((h) => el('tr', {},
        el('td', {}, h.seq), el('td', {}, h.at), el('td', {}, h.org), el('td', {}, h.via),
        el('td', {}, h.op), el('td', {}, h.fields.join(', '))))));
  }

  function recordPanel(record) {
    return el('div', {},
      el('h3', {}, `Record ${record.kind} ${record.id}`),
      el('p', {class: 'muted'}, `Organization: ${record.owner_name || record.owner || '(none)'} — ` +
        (record.published ? 'published' : 'unpublished (not vetted)') + (record.deleted ? ' — deleted' : '')),
      fieldTable(record),
      el('h3', {}, 'History'),
      historyTable(record));
  }

  async function decide(id, action, body) {
    try {
      const r = await api('POST', `/api/review/${encodeURIComponent(id)}/${action}`, body);
      toast(`${action === 'approve' ? 'Approved' : action === 'reject' ? 'Rejected' : 'Resolved'} ${id}` +
        (r.seq ? ` (broker log ${r.seq}; it reaches every agent with the next sync)` : ''));
      await loadQueue();
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function openItem(id) {
    let it;
    try {
      it = await api('GET', `/api/review/${encodeURIComponent(id)}`);
    } catch (e) {
      toast(e.message, true);
      return loadQueue();
    }
    show('item');
    const body = clear($('item-body'));
    body.appendChild(el('div', {class: 'item-head'},
      badge(it.kind),
      el('h2', {'data-testid': 'item-title'}, it.record_name || it.record || it.id),
      el('span', {class: 'muted'}, it.id)));
    body.appendChild(el('dl', {class: 'meta'},
      el('dt', {}, 'Organization'), el('dd', {'data-testid': 'item-org'}, it.org_name ? `${it.org_name} (${it.org})` : (it.org || '(none)')),
      el('dt', {}, 'Record'), el('dd', {}, `${it.record_kind || ''} ${it.record || ''}`),
      el('dt', {}, 'Field'), el('dd', {'data-testid': 'item-field'}, it.field || '—'),
      el('dt', {}, 'Detail'), el('dd', {}, it.detail || ''),
      el('dt', {}, 'By'), el('dd', {}, it.who ? `${it.who.org || 'unknown organization'} (replica ${it.who.replica})` : ''),
      el('dt', {}, 'When'), el('dd', {}, it.when ? `${it.when} (${age(it.age_s)})` : '')));
    const beforeTitle = it.kind === 'conflict' ? 'Displayed now' : it.kind === 'moderated_change' ? 'Published (before)' : 'Before';
    const afterTitle = it.kind === 'conflict' ? 'Competing values' : it.kind === 'moderated_change' ? 'Proposed (after)' : 'After';
    body.appendChild(el('div', {class: 'diff', 'data-testid': 'diff'},
      el('div', {class: 'side before'}, el('h3', {}, beforeTitle), valueNode(it.before, 'before')),
      el('div', {class: 'side after'}, el('h3', {}, afterTitle), valueNode(it.after, 'after'))));
    if (it.siblings && it.siblings.length) {
      body.appendChild(el('h3', {}, 'Siblings'));
      body.appendChild(el('table', {class: 'grid'},
        el('thead', {}, el('tr', {}, ['Value', 'Organization', 'Replica', 'When'].map((h) => el('th', {}, h)))),
        el('tbody', {}, it.siblings.map((s) => el('tr', {},
          el('td', {}, valueNode(s.value)), el('td', {}, s.org || '?'), el('td', {}, s.replica), el('td', {}, s.at || ''))))));
    }
    const actions = el('div', {class: 'actions'});
    if (it.actions.includes('approve')) {
      const what = it.kind === 'conflict' ? 'Keep the displayed value for everyone.'
        : it.kind === 'refused_push' ? 'Apply what the partner tried, on your authority.'
        : it.kind === 'new_organization' ? 'Vet the organization: its listings reach every partner.'
        : 'Publish the proposed value: every partner sees it.';
      actions.appendChild(el('div', {class: 'action'}, el('h3', {}, 'Approve'), el('p', {class: 'muted'}, what),
        el('button', {type: 'button', class: 'primary', 'data-testid': 'approve', onclick: () => decide(it.id, 'approve')}, 'Approve')));
    }
    if (it.actions.includes('reject')) {
      const reason = el('textarea', {'data-testid': 'reason', placeholder: 'Why (shown to the partner)', maxlength: 1000});
      actions.appendChild(el('div', {class: 'action'}, el('h3', {}, it.kind === 'refused_push' ? 'Dismiss' : 'Reject'),
        reason,
        el('button', {type: 'button', class: 'danger', 'data-testid': 'reject', onclick: () => decide(it.id, 'reject', {reason: reason.value})},
          it.kind === 'refused_push' ? 'Dismiss' : 'Reject')));
    }
    if (it.actions.includes('resolve')) {
      const value = el('input', {'data-testid': 'resolve-value', placeholder: it.field ? 'value to write' : 'restore or delete'});
      actions.appendChild(el('div', {class: 'action'}, el('h3', {}, 'Resolve'),
        el('p', {class: 'muted'}, 'Write this value yourself; it supersedes every sibling.'),
        value,
        el('button', {type: 'button', 'data-testid': 'resolve', onclick: () => decide(it.id, 'resolve', {value: value.value})}, 'Resolve')));
    }
    body.appendChild(actions);
    if (it.record_view) body.appendChild(recordPanel(it.record_view));
  }

  // ---------- directory ----------
  async function search() {
    show('directory');
    const p = new URLSearchParams({q: $('s-q').value.trim(), limit: '100'});
    if ($('s-kind').value) p.set('kind', $('s-kind').value);
    const mine = ++searchSeq;
    let data;
    try {
      data = await api('GET', '/api/records?' + p.toString());
    } catch (e) {
      toast(e.message, true);
      return;
    }
    if (mine !== searchSeq) return;
    const body = clear($('dir-table').querySelector('tbody'));
    for (const r of data.records) {
      const row = el('tr', {class: 'row', 'data-testid': 'dir-row'},
        el('td', {}, r.name || r.id), el('td', {}, r.kind), el('td', {}, r.owner_name || r.owner || ''),
        el('td', {}, r.published ? 'yes' : 'no'), el('td', {}, r.pending || ''), el('td', {}, r.conflicts || ''));
      row.addEventListener('click', async () => {
        try {
          const rec = await api('GET', `/api/records/${encodeURIComponent(r.id)}`);
          clear($('record-body')).appendChild(recordPanel(rec));
        } catch (e) {
          toast(e.message, true);
        }
      });
      body.appendChild(row);
    }
    $('dir-total').textContent = `${data.total} record(s) match` + (data.total > data.records.length ? `; showing ${data.records.length}` : '');
  }

  // ---------- referrals and audit ----------
  async function loadReferrals() {
    show('referrals');
    const body = clear($('referrals-body'));
    try {
      const r = await api('GET', '/api/referrals');
      if (!r.available) {
        body.appendChild(el('p', {class: 'muted', 'data-testid': 'referrals-unavailable'}, `Referral statistics are not available: ${r.message || ''}`));
        return;
      }
      body.appendChild(el('table', {class: 'grid', 'data-testid': 'referral-counts'},
        el('thead', {}, el('tr', {}, el('th', {}, 'Status'), el('th', {}, 'Referrals'))),
        el('tbody', {}, Object.entries(r.by_status).map(([s, n]) => el('tr', {}, el('td', {}, s), el('td', {}, n))),
          el('tr', {}, el('td', {}, el('b', {}, 'total')), el('td', {}, el('b', {}, r.total))))));
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function loadAudit() {
    show('audit');
    const body = clear($('audit-body'));
    try {
      const r = await api('GET', '/api/audit?limit=200');
      if (!r.available) {
        body.appendChild(el('p', {class: 'muted'}, `The audit log is not available: ${r.message || ''}`));
        return;
      }
      if (r.chain) {
        body.appendChild(el('p', {'data-testid': 'audit-chain', class: r.chain.ok ? '' : 'error'},
          r.chain.ok ? `Hash chain verified: ${r.chain.entries} entries.` : `Hash chain BROKEN: ${r.chain.problem}`));
      }
      if (!r.entries.length) {
        body.appendChild(el('p', {class: 'empty'}, 'No entries yet.'));
        return;
      }
      body.appendChild(el('table', {class: 'grid'},
        el('thead', {}, el('tr', {}, ['#', 'When', 'Actor', 'Action', 'Subject'].map((h) => el('th', {}, h)))),
        el('tbody', {}, r.entries.slice().reverse().map((e) => el('tr', {},
          el('td', {}, e.seq), el('td', {}, e.at), el('td', {}, e.actor), el('td', {}, e.action), el('td', {}, e.subject))))));
    } catch (e) {
      toast(e.message, true);
    }
  }

  // ---------- wiring ----------
  function start() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const name = $('name').value.trim();
        const body = name ? {name, password: $('token').value} : {token: $('token').value};
        const r = await api('POST', '/api/session', body);
        csrf = r.csrf;
        $('who').textContent = r.who ? 'signed in as ' + r.who : '';
        $('token').value = '';
        await loadQueue();
      } catch (e) {
        $('signin-error').textContent = e.message;
      }
    });
    $('signout').addEventListener('click', async () => {
      try { await api('POST', '/api/logout'); } catch (e) { /* signed out anyway */ }
      showSignin('Signed out.');
    });
    for (const b of document.querySelectorAll('.tab')) {
      b.addEventListener('click', () => {
        const tab = b.dataset.tab;
        if (tab === 'queue') loadQueue();
        else if (tab === 'directory') search();
        else if (tab === 'referrals') loadReferrals();
        else if (tab === 'audit') loadAudit();
      });
    }
    $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); loadQueue(); });
    $('search').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
    $('back').addEventListener('click', () => loadQueue());
    $('bulk-approve').addEventListener('click', bulkApprove);
    $('select-all').addEventListener('click', () => {
      const on = $('select-all').checked;
      for (const box of $('queue-table').querySelectorAll('tbody input[type=checkbox]')) {
        box.checked = on;
        if (on) selected.add(box.dataset.id); else selected.delete(box.dataset.id);
      }
      updateBulk();
    });
    api('GET', '/api/session').then((s) => {
      if (s.signed_in) {
        csrf = s.csrf;
        $('who').textContent = s.who ? 'signed in as ' + s.who : '';
        loadQueue();
      } else {
        showSignin();
      }
    }).catch(() => showSignin());
  }

  document.addEventListener('DOMContentLoaded', start);
})();
