// The report's interactions: the history entries of whatever is hovered or clicked,
// a violation's witness outlined, plans filtered, lanes folded, time zoomed.
(function () {
  'use strict';
  var LEFT = parseFloat(document.body.getAttribute('data-left')); // pixels left of time zero in every plot
  var detail = document.getElementById('detail');
  var pinned = null;
  var parsed = new Map();

  function dataOf(timeline) {
    if (!parsed.has(timeline)) {
      var d = JSON.parse(timeline.querySelector('script.data').textContent);
      d.bySeq = new Map();
      d.entries.forEach(function (e) { d.bySeq.set(e.seq, e); });
      parsed.set(timeline, d);
    }
    return parsed.get(timeline);
  }

  function time(us) {
    if (us === 0) return '0';
    if (us < 1000) return us + '\u00b5s';
    if (us < 1e6) return +(us / 1000).toFixed(3) + 'ms';
    return +(us / 1e6).toFixed(3) + 's';
  }

  function entryLine(e) {
    var rest = {};
    Object.keys(e).forEach(function (k) {
      if (['seq', 'at', 'by', 'kind'].indexOf(k) < 0) rest[k] = e[k];
    });
    return '#' + e.seq + '  ' + time(e.at) + '  ' + (e.by || '-') + '  ' + e.kind + '  ' + JSON.stringify(rest);
  }

  function requestLine(r, i) {
    var a = r.answer.kind === 'status' ? r.answer.code : r.answer.kind;
    var p = r.payload ? r.payload.event + ' plan ' + r.payload.plan + ' ep ' + r.payload.episode : 'unreadable body';
    return 'request ' + i + '  ' + time(r.at) + '  ' + (r.webhook_id || '(no webhook-id)') + '  ' + p +
      '  answered ' + a + (r.signature_ok ? '' : '  BAD SIGNATURE');
  }

  function add(parent, cls, text) {
    var div = document.createElement('div');
    if (cls) div.className = cls;
    div.textContent = text;
    parent.appendChild(div);
  }

  function show(item) {
    var timeline = item.closest('.timeline');
    var d = dataOf(timeline);
    var lane = item.closest('.lane');
    var kind = item.getAttribute('data-kind');
    detail.textContent = '';
    var how = item.getAttribute('data-verdict') || (item.getAttribute('class') || '').replace(/\b(fx|hl|pinned|hide)\b/g, '').trim();
    var head = kind + (how ? ' \u00b7 ' + how : '');
    var plan = item.getAttribute('data-plan');
    if (plan !== null) head += ' \u00b7 plan ' + d.plans[+plan];
    if (lane) head += ' \u00b7 lane ' + lane.getAttribute('data-lane');
    head += ' \u00b7 ' + timeline.getAttribute('data-strategy');
    add(detail, 'head', head);
    if (kind === 'violation') add(detail, 'why', d.violations[+item.getAttribute('data-violation')]);
    var seqs = (item.getAttribute('data-seq') || '').split(' ').filter(Boolean);
    seqs.forEach(function (s) {
      var e = d.bySeq.get(+s);
      add(detail, 'entry', e ? entryLine(e) : '#' + s + ' (not in the history)');
    });
    var r = item.getAttribute('data-request');
    if (r !== null) add(detail, 'entry', requestLine(d.requests[+r], +r));
    var witness = item.getAttribute('data-witness');
    if (witness && kind !== 'violation') add(detail, 'why', 'witness of violation ' + witness);
    detail.hidden = false;
  }

  function itemAt(target) {
    var item = target.closest && target.closest('[data-kind]');
    return item && item.closest('.lanes') ? item : null;
  }

  function unfocus() {
    document.querySelectorAll('.timeline.focus').forEach(function (t) { t.classList.remove('focus'); });
    document.querySelectorAll('.hl').forEach(function (el) { el.classList.remove('hl'); });
  }

  function focus(flag) {
    unfocus();
    var timeline = flag.closest('.timeline');
    var v = flag.getAttribute('data-violation');
    timeline.classList.add('focus');
    timeline.querySelectorAll('[data-witness]').forEach(function (el) {
      if (el.getAttribute('data-witness').split(' ').indexOf(v) >= 0) el.classList.add('hl');
    });
  }

  function pin(item) {
    if (pinned) pinned.classList.remove('pinned');
    pinned = item;
    if (item) item.classList.add('pinned');
  }

  document.addEventListener('mouseover', function (ev) {
    var item = itemAt(ev.target);
    if (item && !pinned) show(item);
  });
  document.addEventListener('mouseout', function (ev) {
    if (!pinned && itemAt(ev.target)) detail.hidden = true;
  });
  document.addEventListener('click', function (ev) {
    var row = ev.target.closest('tr[data-goto]');
    if (row) {
      ev.preventDefault();
      var flag = document.getElementById(row.getAttribute('data-goto'));
      flag.scrollIntoView({ block: 'center', inline: 'center' });
      focus(flag); pin(flag); show(flag);
      return;
    }
    var name = ev.target.closest('.lane .name');
    if (name) { fold(name.parentNode, !name.parentNode.classList.contains('folded')); return; }
    var item = itemAt(ev.target);
    if (!item) {
      if (!ev.target.closest('#detail, .toolbar, select')) { pin(null); unfocus(); detail.hidden = true; }
      return;
    }
    if (item.getAttribute('data-kind') === 'violation') focus(item); else unfocus();
    pin(item); show(item);
  });

  document.querySelectorAll('section.scenario select').forEach(function (select) {
    select.addEventListener('change', function () {
      var plan = select.value;
      select.closest('section').querySelectorAll('.lanes [data-plan]').forEach(function (el) {
        el.classList.toggle('hide', plan !== '' && el.getAttribute('data-plan') !== plan);
      });
    });
  });

  function fold(lane, on) {
    var svg = lane.querySelector('svg.plot');
    if (!svg || lane.classList.contains('vlane') || lane.classList.contains('axis')) return;
    lane.classList.toggle('folded', on);
    svg.querySelectorAll('g.row').forEach(function (row) {
      row.setAttribute('transform', 'translate(0,' + row.getAttribute(on ? 'data-yc' : 'data-y') + ')');
    });
    svg.setAttribute('height', svg.getAttribute(on ? 'data-hc' : 'data-h'));
  }

  function foldAll(scope, on) {
    scope.querySelectorAll('.lane[data-lane-kind]').forEach(function (lane) { fold(lane, on); });
  }

  var scale = 1;
  var base = new WeakMap();
  function num(el, name) { return parseFloat(el.getAttribute(name)); }
  function zoom(z) {
    scale = z;
    document.getElementById('zoom').textContent = (z < 1 ? z.toFixed(2) : z) + '\u00d7';
    document.querySelectorAll('svg.plot').forEach(function (svg) {
      if (!base.has(svg)) base.set(svg, num(svg, 'width'));
      svg.setAttribute('width', LEFT + (base.get(svg) - LEFT) * z);
      svg.querySelectorAll('[x], [x1]').forEach(function (el) {
        if (!base.has(el)) {
          base.set(el, { x: num(el, 'x'), w: num(el, 'width'), x1: num(el, 'x1'), x2: num(el, 'x2') });
        }
        var b = base.get(el);
        var at = function (x) { return LEFT + (x - LEFT) * z; };
        if (el.hasAttribute('x1')) {
          el.setAttribute('x1', at(b.x1));
          el.setAttribute('x2', at(b.x2));
        } else if (el.tagName === 'rect' && !isNaN(b.w)) {
          var fixed = el.classList.contains('fx') || el.getAttribute('data-kind') === 'write';
          el.setAttribute('x', fixed ? at(b.x + b.w / 2) - b.w / 2 : at(b.x));
          if (!fixed) el.setAttribute('width', b.w * z);
        } else {
          el.setAttribute('x', at(b.x));
        }
      });
    });
  }

  document.querySelector('.toolbar').addEventListener('click', function (ev) {
    var button = ev.target.closest('button');
    if (!button) return;
    var act = button.getAttribute('data-act');
    if (act === 'in') zoom(Math.min(scale * 2, 32));
    if (act === 'out') zoom(Math.max(scale / 2, 0.125));
    if (act === 'reset') zoom(1);
    if (act === 'fold') foldAll(document, true);
    if (act === 'unfold') foldAll(document, false);
  });

  document.querySelectorAll('.timeline[data-fold]').forEach(function (t) { foldAll(t, true); });
  document.body.setAttribute('data-ready', '1');
})();
