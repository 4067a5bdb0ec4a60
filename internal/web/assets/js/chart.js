// A minimal time-series line chart on a canvas: points {t (ms since the
// epoch), v}, drawn over the last windowMs up to now, with a zero-based y
// axis. Each chart also has a text summary next to it, since a canvas is
// an image to a screen reader.

function css(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

// niceMax rounds up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function label(v) {
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function drawChart(canvas, points, {windowMs = 5 * 60 * 1000, height = 170} = {}) {
  const width = canvas.clientWidth;
  if (!width) return; // hidden
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + 'px';
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 44, right = 10, top = 10, bottom = 22;
  const w = width - left - right, hh = height - top - bottom;
  const now = Date.now(), t0 = now - windowMs;
  const shown = points.filter((p) => p.t >= t0 && Number.isFinite(p.v));
  const ymax = niceMax(Math.max(0, ...shown.map((p) => p.v)) * 1.1);
  const x = (t) => left + ((t - t0) / windowMs) * w;
  const y = (v) => top + hh - (v / ymax) * hh;

  const ink = css('--muted', '#666'), grid = css('--grid', '#ddd'), line = css('--accent', '#1d4e89');
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.strokeStyle = grid;
  ctx.fillStyle = ink;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const f of [0, 0.5, 1]) {
    const v = ymax * f, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(left, yy); ctx.lineTo(left + w, yy); ctx.stroke();
    ctx.fillText(label(v), left - 6, yy);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let i = 5; i >= 0; i--) {
    const back = (windowMs * i) / 5;
    const text = i === 0 ? 'now' : windowMs <= 120000 ? `−${Math.round(back / 1000)} s` : `−${label(back / 60000)} min`;
    ctx.fillText(text, x(now - back), top + hh + 6);
  }
  if (shown.length === 0) {
    ctx.fillText('no data yet', left + w / 2, top + hh / 2);
    return;
  }
  ctx.strokeStyle = line;
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  shown.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
  ctx.stroke();
  if (shown.length < 3) {
    ctx.fillStyle = line;
    for (const p of shown) { ctx.beginPath(); ctx.arc(x(p.t), y(p.v), 3, 0, 2 * Math.PI); ctx.fill(); }
  }
}
