// Overview trend: the whole deployment's compliance rate per JST day as an
// inline SVG drawn with DOM calls (no chart library; the CSP allows no
// inline style, so the look comes from classes in app.css and SVG
// presentation attributes). The figures table below is its text form.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function percent(part, whole) {
  return whole > 0 ? (100 * part) / whole : 0;
}

function drawTrend(days) {
  const width = 720, height = 220, left = 44, right = 12, top = 12, bottom = 36;
  const plotW = width - left - right, plotH = height - top - bottom;
  const last = days[days.length - 1];
  const label = t('trend.aria')
    .replace('{days}', String(days.length))
    .replace('{rate}', last.terminals > 0 ? percent(last.compliant, last.terminals).toFixed(1) : '-');
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'trend-chart',
  });
  svg.appendChild(svgEl('title', {}, label));
  const x = (i) => left + (days.length === 1 ? plotW / 2 : (i * plotW) / (days.length - 1));
  const y = (p) => top + plotH - (p * plotH) / 100;
  for (const p of [0, 25, 50, 75, 100]) {
    svg.appendChild(svgEl('line', { x1: left, x2: width - right, y1: y(p), y2: y(p), class: 'grid' }));
    svg.appendChild(svgEl('text', { x: left - 6, y: y(p) + 4, 'text-anchor': 'end', class: 'axis' }, p + '%'));
  }
  const step = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((d, i) => {
    if (i % step === 0 || i === days.length - 1) {
      svg.appendChild(svgEl('text', { x: x(i), y: height - 12, 'text-anchor': 'middle', class: 'axis' },
        d.date.slice(5)));
    }
  });
  const series = [
    { cls: 'rate', value: (d) => percent(d.compliant, d.terminals) },
    { cls: 'stale', value: (d) => percent(d.stale || 0, d.terminals) },
  ];
  // A day without terminals has no rate: it gets no point.
  const plotted = days.map((d, i) => ({ d, i })).filter(({ d }) => d.terminals > 0);
  for (const s of series) {
    const points = plotted.map(({ d, i }) => `${x(i).toFixed(1)},${y(s.value(d)).toFixed(1)}`).join(' ');
    svg.appendChild(svgEl('polyline', { points, fill: 'none', class: 'line ' + s.cls }));
    plotted.forEach(({ d, i }) => {
      const dot = svgEl('circle', { cx: x(i), cy: y(s.value(d)), r: 3, class: 'dot ' + s.cls });
      dot.appendChild(svgEl('title', {}, d.date + ': ' + s.value(d).toFixed(1) + '%'));
      svg.appendChild(dot);
    });
  }
  const legend = svgEl('g', { class: 'legend' });
  legend.appendChild(svgEl('rect', { x: left + 8, y: top + 4, width: 10, height: 10, class: 'swatch rate' }));
  legend.appendChild(svgEl('text', { x: left + 22, y: top + 13, class: 'axis' }, t('overview.rate')));
  legend.appendChild(svgEl('rect', { x: left + 168, y: top + 4, width: 10, height: 10, class: 'swatch stale' }));
  legend.appendChild(svgEl('text', { x: left + 182, y: top + 13, class: 'axis' }, t('overview.stale')));
  svg.appendChild(legend);
  return svg;
}

async function loadTrend() {
  const { status, data } = await api('GET', '/api/trend?days=30');
  const figure = document.getElementById('trend-figure');
  const body = document.getElementById('trend-body');
  figure.replaceChildren();
  body.replaceChildren();
  const days = (status === 200 && data.days) || [];
  document.getElementById('trend-empty').hidden = days.length > 0;
  if (days.length === 0) return;
  figure.appendChild(drawTrend(days));
  for (const d of days) {
    const row = document.createElement('tr');
    cell(row, d.date);
    cell(row, String(d.terminals), 'num');
    cell(row, String(d.compliant), 'num');
    cell(row, String(d.nonCompliant), 'num');
    cell(row, String(d.stale || 0), 'num');
    cell(row, String(d.unknown), 'num');
    cell(row, d.terminals > 0 ? percent(d.compliant, d.terminals).toFixed(1) + '%' : '-', 'num');
    body.appendChild(row);
  }
}

overviewHooks.push(loadTrend);
