// porttrack's live port map: the port model, vessels, trucks, yard
// occupancy, trains and alerts, drawn on a canvas from the query API and
// its live stream (/v1/stream). Plain ES module, no dependencies: served
// from the binary, it fetches nothing but porttrack's own API.

const $ = (id) => document.getElementById(id);

const T = {
  zh: {
    title: '宁波舟山港 一张图', search: '查询', searchPlaceholder: '箱号 如 CSQU3054383', vessels: '船舶', trucks: '集卡',
    trains: '班列', train: '班列', alerts: '告警', replay: '回放', live: '回到实时', liveNow: '实时', keyPrompt: '此服务需要 API 密钥（仅保存在本标签页）。',
    ok: '确定', approaching: '进港', at_anchorage: '锚泊', berthed: '靠泊', departed: '离港', unknown: '其他',
    yard: '堆场占用', noAlerts: '暂无告警', noTrains: '暂无班列', on_track: '正常', at_risk: '有风险', missed: '赶不上',
    departure: '发车', cutoff: '截止', wagon: '车皮', box: '箱号', verdict: '判定', reasons: '原因', where: '位置',
    legs: '运输段', customs: '海关', history: '历史', status: '状态', notFound: '未找到', waiting: '等待', speed: '航速',
    callsign: '呼号', phase: '状态', connection: '衔接', geofence: '围栏', trucksIn: '辆集卡', containers: '箱',
    streamOn: '实时流已连接', streamOff: '实时流重连中…', at: '时刻', close: '关闭', ready: '可提箱', notReady: '不可提箱', ack: '确认',
  },
  en: {
    title: 'Ningbo-Zhoushan port map', search: 'Search', searchPlaceholder: 'Container e.g. CSQU3054383', vessels: 'Vessels', trucks: 'Trucks',
    trains: 'Trains', train: 'Train', alerts: 'Alerts', replay: 'Replay', live: 'Back to live', liveNow: 'Live', keyPrompt: 'This server needs an API key (kept for this tab only).',
    ok: 'OK', approaching: 'approaching', at_anchorage: 'at anchorage', berthed: 'berthed', departed: 'departed', unknown: 'other',
    yard: 'Yard occupancy', noAlerts: 'No alerts yet', noTrains: 'No trains', on_track: 'on track', at_risk: 'at risk', missed: 'missed',
    departure: 'departure', cutoff: 'cut-off', wagon: 'wagon', box: 'box', verdict: 'verdict', reasons: 'reasons', where: 'Where',
    legs: 'Legs', customs: 'Customs', history: 'History', status: 'status', notFound: 'not found', waiting: 'waiting', speed: 'speed',
    callsign: 'call sign', phase: 'phase', connection: 'connection', geofence: 'geofence', trucksIn: 'trucks', containers: 'boxes',
    streamOn: 'stream connected', streamOff: 'stream reconnecting…', at: 'at', close: 'close', ready: 'ready for pickup', notReady: 'not ready', ack: 'acknowledge',
  },
};

const PHASE_COLOUR = { approaching: '#1f6fd1', at_anchorage: '#e08a00', berthed: '#1b8f3b', departed: '#7a4fb3' };
const KIND_STYLE = {
  port_area: { fill: 'rgba(240,236,224,0.55)', stroke: '#b9ad8c' },
  terminal: { fill: 'rgba(226,222,210,0.8)', stroke: '#8f8566' },
  berth: { fill: 'rgba(120,140,160,0.35)', stroke: '#4a6178' },
  yard_block: { fill: 'rgba(200,200,200,0.6)', stroke: '#777' },
  gate: { fill: 'rgba(255,210,120,0.7)', stroke: '#a67200' },
  anchorage: { fill: 'rgba(120,170,230,0.18)', stroke: '#3d78c4', dash: [6, 4] },
  route: { fill: 'rgba(90,140,210,0.10)', stroke: '#2f5f9e', dash: [10, 6] },
  rail_station: { fill: 'rgba(170,90,60,0.35)', stroke: '#8a3b1e' },
};
const DRAW_ORDER = ['port_area', 'route', 'anchorage', 'terminal', 'yard_block', 'berth', 'gate', 'rail_station'];
const STREAM_BOX = '121.40,29.50,122.60,30.40';
const STATIONS = ['beilun-rail-station', 'chuanshan-rail-station'];

const S = {
  key: sessionStorage.getItem('porttrack.key') || '',
  lang: 'zh',
  view: { lat: 29.925, lon: 121.93, z: 12 },
  t: null, // null: live; else Unix ms of the replay
  dataNow: 0, // newest position time seen: the replay is relative to it
  sel: null, // {type, id}
  fences: [], fenceById: new Map(),
  vessels: new Map(), trucks: new Map(), cells: [],
  replay: { vessels: [], trucks: [] },
  yard: new Map(), berths: new Map(),
  trains: [], alerts: [], alertIds: new Set(), acks: new Map(),
  drawn: { vessels: [], trucks: [] },
  dirty: true,
};

const tr = (k) => T[S.lang][k] ?? k;
const fenceName = (f) => (S.lang === 'zh' ? f.properties.name_zh || f.properties.name : f.properties.name);

// ---- the API ----

let keyWait = null;
async function askKey() {
  if (!keyWait) {
    keyWait = new Promise((resolve) => {
      const dlg = $('keydlg');
      $('keyform').onsubmit = () => {
        S.key = $('key').value.trim();
        sessionStorage.setItem('porttrack.key', S.key);
        keyWait = null;
        resolve();
      };
      dlg.showModal();
    });
  }
  return keyWait;
}

async function api(path, opts = {}) {
  for (let i = 0; i < 3; i++) {
    const headers = { ...(opts.headers || {}) };
    if (S.key) headers.Authorization = 'Bearer ' + S.key;
    const r = await fetch(path, { ...opts, headers });
    if (r.status === 401) {
      await askKey();
      continue;
    }
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }
  throw new Error(path + ': unauthorized');
}

// ---- projection (Web Mercator) ----

const TILE = 256;
function project(lat, lon, z) {
  const s = TILE * 2 ** z;
  const sin = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * s, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * s];
}
function unproject(x, y, z) {
  const s = TILE * 2 ** z;
  const lon = (x / s) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / s;
  return [(180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), lon];
}
const canvas = $('map');
const ctx = canvas.getContext('2d');
function size() {
  return [canvas.clientWidth, canvas.clientHeight];
}
function toScreen(lat, lon) {
  const [w, h] = size();
  const [cx, cy] = project(S.view.lat, S.view.lon, S.view.z);
  const [x, y] = project(lat, lon, S.view.z);
  return [x - cx + w / 2, y - cy + h / 2];
}
function toLatLon(px, py) {
  const [w, h] = size();
  const [cx, cy] = project(S.view.lat, S.view.lon, S.view.z);
  return unproject(cx + px - w / 2, cy + py - h / 2, S.view.z);
}
// viewBox is [minLon, minLat, maxLon, maxLat] of the canvas.
function viewBox() {
  const [w, h] = size();
  const [maxLat, minLon] = toLatLon(0, 0);
  const [minLat, maxLon] = toLatLon(w, h);
  return [minLon, minLat, maxLon, maxLat];
}
function inView(lat, lon) {
  const b = viewBox();
  return lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3];
}
function metres(lat1, lon1, lat2, lon2) {
  const r = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2;
  return 12742000 * Math.asin(Math.sqrt(a));
}

// ---- the URL: every view is a link ----

function writeHash() {
  const p = new URLSearchParams();
  p.set('map', `${S.view.z.toFixed(2)}/${S.view.lat.toFixed(5)}/${S.view.lon.toFixed(5)}`);
  p.set('lang', S.lang);
  if (S.t !== null) p.set('t', new Date(S.t).toISOString());
  if (S.sel) p.set(S.sel.type, S.sel.id);
  const h = '#' + p.toString();
  if (location.hash !== h) history.replaceState(null, '', h);
}
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const m = (p.get('map') || '').split('/').map(Number);
  if (m.length === 3 && m.every(Number.isFinite)) S.view = { z: Math.min(18, Math.max(8, m[0])), lat: m[1], lon: m[2] };
  if (p.get('lang') === 'en' || p.get('lang') === 'zh') S.lang = p.get('lang');
  const t = p.get('t') ? Date.parse(p.get('t')) : NaN;
  S.t = Number.isFinite(t) ? t : null;
  S.sel = null;
  for (const type of ['box', 'train', 'vessel', 'berth']) if (p.get(type)) S.sel = { type, id: p.get(type) };
}

// ---- drawing ----

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const [w, h] = size();
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  S.dirty = true;
}

function path(coords) {
  coords.forEach(([lon, lat], i) => {
    const [x, y] = toScreen(lat, lon);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
}

function drawFences() {
  const maxYard = Math.max(1, ...S.yard.values());
  for (const kind of DRAW_ORDER) {
    const st = KIND_STYLE[kind];
    for (const f of S.fences) {
      if (f.properties.kind !== kind) continue;
      const g = f.geometry;
      ctx.beginPath();
      if (g.type === 'Polygon') g.coordinates.forEach((ring) => { path(ring); ctx.closePath(); });
      else if (g.type === 'LineString') path(g.coordinates);
      else continue;
      ctx.setLineDash(st.dash || []);
      if (g.type === 'Polygon') {
        let fill = st.fill;
        if (kind === 'yard_block' && S.yard.has(f.properties.id)) {
          const share = S.yard.get(f.properties.id) / maxYard;
          fill = `rgba(${Math.round(255 - 80 * share)},${Math.round(200 - 150 * share)},60,${0.35 + 0.5 * share})`;
        }
        if (kind === 'berth' && S.berths.get(f.properties.id) > 0) fill = 'rgba(27,143,59,0.45)';
        ctx.fillStyle = fill;
        ctx.fill();
      }
      ctx.strokeStyle = st.stroke;
      ctx.lineWidth = kind === 'port_area' ? 1 : 1.2;
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  // Labels: big places always, small ones when zoomed in.
  ctx.font = '12px system-ui, "Noto Sans CJK SC", sans-serif';
  ctx.textAlign = 'center';
  for (const f of S.fences) {
    const k = f.properties.kind;
    const show = k === 'port_area' ? S.view.z < 13 : k === 'terminal' || k === 'anchorage' || k === 'rail_station' ? S.view.z >= 11.5 : S.view.z >= 14.5;
    if (!show || !f.centre) continue;
    const [x, y] = toScreen(f.centre[0], f.centre[1]);
    let text = fenceName(f);
    if (k === 'yard_block' && S.yard.has(f.properties.id)) text += ` · ${S.yard.get(f.properties.id)}`;
    ctx.fillStyle = 'rgba(255,255,255,0.75)';
    const w = ctx.measureText(text).width;
    ctx.fillRect(x - w / 2 - 2, y - 9, w + 4, 14);
    ctx.fillStyle = '#243240';
    ctx.fillText(text, x, y + 2);
  }
}

function drawVessel(v, x, y) {
  const hd = v.heading ?? v.course ?? 0;
  const a = ((hd - 90) * Math.PI) / 180;
  const phase = v.port_call?.phase;
  ctx.save();
  ctx.translate(x, y);
  ctx.rotate(a);
  ctx.beginPath();
  ctx.moveTo(9, 0);
  ctx.lineTo(-6, -5);
  ctx.lineTo(-3, 0);
  ctx.lineTo(-6, 5);
  ctx.closePath();
  ctx.fillStyle = PHASE_COLOUR[phase] || '#55606b';
  ctx.fill();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 1;
  ctx.stroke();
  ctx.restore();
}

function currentVessels() {
  return S.t === null ? [...S.vessels.values()] : S.replay.vessels;
}
function currentTrucks() {
  return S.t === null ? [...S.trucks.values()] : S.replay.trucks;
}
const truckCellsZoom = 14; // below it, live trucks are drawn as H3 cells

function draw() {
  S.dirty = false;
  const [w, h] = size();
  ctx.clearRect(0, 0, w, h);
  drawFences();
  // Trucks.
  const trucks = [];
  let truckCount = 0;
  if (S.t === null && S.view.z < truckCellsZoom) {
    for (const c of S.cells) {
      ctx.beginPath();
      path(c.boundary);
      ctx.closePath();
      const a = Math.min(0.85, 0.2 + c.trucks / 40);
      ctx.fillStyle = `rgba(200,60,40,${a})`;
      ctx.fill();
      const [x, y] = toScreen(c.lat, c.lon);
      ctx.fillStyle = '#fff';
      ctx.font = 'bold 11px system-ui';
      ctx.fillText(String(c.trucks), x, y + 4);
    }
    for (const t of currentTrucks()) if (inView(t.lat, t.lon)) truckCount++;
  } else {
    for (const t of currentTrucks()) {
      if (!inView(t.lat, t.lon)) continue;
      const [x, y] = toScreen(t.lat, t.lon);
      ctx.fillStyle = t.container ? '#c0392b' : '#e67e22';
      ctx.fillRect(x - 3, y - 3, 6, 6);
      trucks.push({ t, x, y });
    }
    truckCount = trucks.length;
  }
  // Vessels.
  const vessels = [];
  for (const v of currentVessels()) {
    if (v.lat === undefined || !inView(v.lat, v.lon)) continue;
    const [x, y] = toScreen(v.lat, v.lon);
    drawVessel(v, x, y);
    vessels.push({ v, x, y });
  }
  // Trains at their stations.
  for (const st of STATIONS) {
    const f = S.fenceById.get(st);
    if (!f?.centre) continue;
    const list = S.trains.filter((t) => t.from_station === st);
    if (!list.length) continue;
    const [x, y] = toScreen(f.centre[0], f.centre[1]);
    const c = list.reduce((a, t) => ({ on_track: a.on_track + t.counts.on_track, at_risk: a.at_risk + t.counts.at_risk, missed: a.missed + t.counts.missed }), { on_track: 0, at_risk: 0, missed: 0 });
    const text = `${tr('trains')} ${list.length} · ✓${c.on_track} ⚠${c.at_risk} ✗${c.missed}`;
    ctx.font = 'bold 12px system-ui';
    const tw = ctx.measureText(text).width;
    ctx.fillStyle = '#8a3b1e';
    ctx.fillRect(x - tw / 2 - 4, y + 10, tw + 8, 18);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x, y + 23);
  }
  S.drawn = { vessels, trucks };
  $('vessel-count').textContent = vessels.length;
  $('vessel-count').dataset.count = vessels.length;
  $('truck-count').textContent = truckCount;
  $('truck-count').dataset.count = truckCount;
  const b = viewBox();
  document.body.dataset.bbox = b.map((n) => n.toFixed(6)).join(',');
  document.body.dataset.mode = S.t === null ? 'live' : 'replay';
  legend();
}

function legend() {
  const l = $('legend');
  l.replaceChildren();
  for (const [phase, colour] of Object.entries(PHASE_COLOUR)) {
    const i = document.createElement('i');
    i.style.background = colour;
    l.append(i, tr(phase));
  }
}

function frame() {
  if (S.dirty) draw();
  requestAnimationFrame(frame);
}

// ---- interaction ----

let drag = null;
canvas.addEventListener('mousedown', (e) => {
  drag = { x: e.clientX, y: e.clientY, moved: false, start: project(S.view.lat, S.view.lon, S.view.z) };
  canvas.style.cursor = 'grabbing';
});
window.addEventListener('mouseup', (e) => {
  canvas.style.cursor = 'grab';
  if (drag && !drag.moved) click(e);
  if (drag?.moved) viewChanged();
  drag = null;
});
window.addEventListener('mousemove', (e) => {
  if (drag) {
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    [S.view.lat, S.view.lon] = unproject(drag.start[0] - dx, drag.start[1] - dy, S.view.z);
    S.dirty = true;
    return;
  }
  hover(e);
});
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  zoomAt(e.deltaY < 0 ? 0.5 : -0.5, e.offsetX, e.offsetY);
}, { passive: false });
$('zoom-in').onclick = () => zoomAt(1);
$('zoom-out').onclick = () => zoomAt(-1);

function zoomAt(dz, px, py) {
  const [w, h] = size();
  px ??= w / 2;
  py ??= h / 2;
  const [lat, lon] = toLatLon(px, py);
  S.view.z = Math.min(18, Math.max(8, S.view.z + dz));
  const [x, y] = project(lat, lon, S.view.z);
  [S.view.lat, S.view.lon] = unproject(x - px + w / 2, y - py + h / 2, S.view.z);
  viewChanged();
}

let viewTimer = 0;
function viewChanged() {
  S.dirty = true;
  writeHash();
  clearTimeout(viewTimer);
  viewTimer = setTimeout(() => {
    refreshCells();
    if (S.t !== null) replay();
  }, 250);
}

function nearest(list, px, py) {
  let best = null;
  let bd = 10;
  for (const o of list) {
    const d = Math.hypot(o.x - px, o.y - py);
    if (d < bd) { bd = d; best = o; }
  }
  return best;
}

function hover(e) {
  const r = canvas.getBoundingClientRect();
  const px = e.clientX - r.left;
  const py = e.clientY - r.top;
  const tip = $('tip');
  if (px < 0 || py < 0 || px > r.width || py > r.height) { tip.hidden = true; return; }
  const v = nearest(S.drawn.vessels, px, py);
  const t = v ? null : nearest(S.drawn.trucks, px, py);
  if (!v && !t) { tip.hidden = true; return; }
  let text;
  if (v) {
    const o = v.v;
    const pc = o.port_call;
    text = `${o.name || o.mmsi}\n${tr('callsign')}: ${o.callsign || '—'}  MMSI ${o.mmsi}\n${tr('phase')}: ${tr(pc?.phase || 'unknown')}`;
    if (o.speed !== undefined) text += `  ${tr('speed')}: ${o.speed} kn`;
    if (pc?.waiting_s) text += `\n${tr('waiting')}: ${Math.round(pc.waiting_s / 60)} min`;
  } else {
    text = `${t.t.plate}${t.t.container ? '\n' + t.t.container : ''}`;
  }
  tip.textContent = text;
  tip.style.left = px + 12 + 'px';
  tip.style.top = py + 12 + 'px';
  tip.hidden = false;
}

function click(e) {
  const r = canvas.getBoundingClientRect();
  const px = e.clientX - r.left;
  const py = e.clientY - r.top;
  const v = nearest(S.drawn.vessels, px, py);
  if (v) return select({ type: 'vessel', id: String(v.v.mmsi) });
  const [lat, lon] = toLatLon(px, py);
  // A station's trains, or a berth.
  for (const f of S.fences) {
    const k = f.properties.kind;
    if ((k === 'rail_station' || k === 'berth') && f.geometry.type === 'Polygon' && inPolygon(lat, lon, f.geometry.coordinates[0])) {
      if (k === 'rail_station') {
        const t = S.trains.find((t) => t.from_station === f.properties.id);
        if (t) return select({ type: 'train', id: t.id });
      }
      return select({ type: 'berth', id: f.properties.id });
    }
  }
}

function inPolygon(lat, lon, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

// ---- the side panel ----

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else if (k === 'onclick') e.onclick = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
const fmtTime = (s) => (s ? new Date(s).toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '—');

function showDetail(...kids) {
  const d = $('detail');
  d.replaceChildren(el('button', { type: 'button', onclick: () => select(null) }, tr('close')), ...kids);
  d.hidden = false;
}

async function select(sel) {
  S.sel = sel;
  writeHash();
  if (!sel) { $('detail').hidden = true; return; }
  try {
    if (sel.type === 'box') await showBox(sel.id);
    else if (sel.type === 'train') await showTrain(sel.id);
    else if (sel.type === 'vessel') await showVessel(sel.id);
    else if (sel.type === 'berth') await showBerth(sel.id);
  } catch (err) {
    showDetail(el('p', {}, String(err)));
  }
}

function panTo(lat, lon, z) {
  S.view.lat = lat;
  S.view.lon = lon;
  if (z) S.view.z = Math.max(S.view.z, z);
  viewChanged();
}

async function showBox(id) {
  const [c, ev] = await Promise.all([api('/v1/containers/' + encodeURIComponent(id)), api('/v1/containers/' + encodeURIComponent(id) + '/events?limit=100')]);
  if (!c) { showDetail(el('h3', {}, id), el('p', {}, tr('notFound'))); return; }
  const where = [];
  if (c.facility) where.push(S.lang === 'zh' ? S.fenceById.get(c.facility.id)?.properties.name_zh || c.facility.name : c.facility.name);
  if (c.block) where.push('block ' + c.block);
  if (c.position) where.push(`${c.position.lat.toFixed(4)}, ${c.position.lon.toFixed(4)} (${c.position.source})`);
  const legs = el('table', {}, el('tr', {}, el('th', {}, 'mode'), el('th', {}, 'id'), el('th', {}, tr('status')), el('th', {}, tr('verdict'))));
  for (const l of c.transport?.legs || []) legs.append(el('tr', {}, el('td', {}, l.mode), el('td', {}, l.id || l.vehicle || ''), el('td', {}, l.status), el('td', { class: l.verdict || '' }, l.verdict ? tr(l.verdict) : '')));
  const ready = c.readiness;
  const customs = el('p', {}, ready?.available_for_pickup ? tr('ready') : tr('notReady'), ready?.blocking?.length ? ': ' + ready.blocking.map((b) => b.reason || b.kind).join('; ') : '');
  const hist = el('ul', { id: 'history' });
  for (const e of ev?.events || []) hist.append(el('li', { 'data-event': e.id }, `${fmtTime(e.time)}  ${e.type}  ${e.location || ''}`));
  showDetail(el('h3', {}, c.id, ' ', el('span', { class: 'muted' }, c.status)), el('h4', {}, tr('where')), el('p', {}, where.join(' · ') || '—'),
    el('h4', {}, tr('legs')), legs, el('h4', {}, tr('customs')), customs, el('h4', {}, tr('history')), hist);
  const p = c.position || (c.facility && S.fenceById.get(c.facility.id)?.centre && { lat: S.fenceById.get(c.facility.id).centre[0], lon: S.fenceById.get(c.facility.id).centre[1] });
  if (p) panTo(p.lat, p.lon, 14);
}

async function showTrain(id) {
  const t = await api('/v1/trains/' + encodeURIComponent(id));
  if (!t) { showDetail(el('h3', {}, id), el('p', {}, tr('notFound'))); return; }
  const tab = el('table', { id: 'consist' }, el('tr', {}, el('th', {}, tr('wagon')), el('th', {}, tr('box')), el('th', {}, tr('verdict')), el('th', {}, tr('reasons'))));
  for (const w of t.wagons || []) {
    for (const c of w.containers) {
      const reasons = (c.reasons || []).map((r) => r.message || r.code || r).join('; ');
      tab.append(el('tr', { 'data-box': c.container || c.id }, el('td', {}, w.wagon), el('td', {}, el('a', { href: '#', onclick: (e) => { e.preventDefault(); select({ type: 'box', id: c.container || c.id }); } }, c.container || c.id)),
        el('td', { class: c.verdict || '', 'data-verdict': c.verdict || '' }, c.verdict ? tr(c.verdict) : '—'), el('td', {}, reasons)));
    }
  }
  const st = S.fenceById.get(t.from_station);
  showDetail(el('h3', {}, `${tr('train')} ${t.id}`, ' ', el('span', { class: 'muted' }, st ? fenceName(st) : t.from_station)),
    el('p', {}, `${tr('departure')} ${fmtTime(t.departure)} · ${tr('cutoff')} ${fmtTime(t.cutoff)}`),
    el('p', { id: 'verdict-counts' }, el('span', { class: 'on_track' }, `${tr('on_track')} ${t.counts.on_track}`), ' · ', el('span', { class: 'at_risk' }, `${tr('at_risk')} ${t.counts.at_risk}`), ' · ', el('span', { class: 'missed' }, `${tr('missed')} ${t.counts.missed}`)), tab);
  if (st?.centre) panTo(st.centre[0], st.centre[1], 13);
}

async function showVessel(id) {
  const v = await api('/v1/vessels/' + encodeURIComponent(id));
  if (!v) { showDetail(el('h3', {}, id), el('p', {}, tr('notFound'))); return; }
  const pc = v.port_call;
  showDetail(el('h3', {}, v.name || String(v.mmsi)), el('p', {}, `MMSI ${v.mmsi} · ${tr('callsign')} ${v.callsign || '—'} · IMO ${v.imo || '—'}`),
    el('p', {}, `${tr('phase')}: ${tr(pc?.phase || 'unknown')}${pc?.fence ? ' · ' + (S.fenceById.get(pc.fence) ? fenceName(S.fenceById.get(pc.fence)) : pc.fence) : ''}${pc?.waiting_s ? ` · ${tr('waiting')} ${Math.round(pc.waiting_s / 60)} min` : ''}`),
    el('p', {}, `${tr('speed')} ${v.speed ?? '—'} kn · ${v.destination || ''} · ${fmtTime(v.position_time)}`));
  if (v.lat !== undefined) panTo(v.lat, v.lon);
}

async function showBerth(id) {
  const f = S.fenceById.get(id);
  const r = await api('/v1/vessels?fence=' + encodeURIComponent(id) + '&count=true');
  const list = el('ul', {});
  for (const v of r?.vessels || []) list.append(el('li', { onclick: () => select({ type: 'vessel', id: String(v.mmsi) }) }, `${v.name || v.mmsi} · ${tr(v.port_call?.phase || 'unknown')}`));
  showDetail(el('h3', {}, f ? fenceName(f) : id), el('p', {}, `${tr('vessels')}: ${r?.count ?? 0}`), list);
}

// ---- trains and alerts ----

function renderTrains() {
  const ul = $('trains');
  ul.replaceChildren();
  if (!S.trains.length) ul.append(el('li', { class: 'muted' }, tr('noTrains')));
  for (const t of S.trains) {
    const st = S.fenceById.get(t.from_station);
    ul.append(el('li', { 'data-train': t.id, onclick: () => select({ type: 'train', id: t.id }) },
      `${t.id} · ${st ? fenceName(st) : t.from_station} · ${fmtTime(t.departure)} `,
      el('span', { class: 'on_track' }, '✓' + t.counts.on_track), ' ', el('span', { class: 'at_risk' }, '⚠' + t.counts.at_risk), ' ', el('span', { class: 'missed' }, '✗' + t.counts.missed)));
  }
}

function alertText(a) {
  if (a.kind === 'connection') return `${tr('connection')} ${a.container}: ${tr(a.verdict)} · ${a.departure?.mode} ${a.departure?.id}`;
  if (a.kind === 'geofence') return `${tr('geofence')} ${a.event} ${a.fence}: ${a.object?.type} ${a.object?.id}`;
  return a.kind + ' ' + (a.id || '');
}

function renderAlerts() {
  const ul = $('alerts');
  ul.replaceChildren();
  if (!S.alerts.length) ul.append(el('li', { class: 'muted' }, tr('noAlerts')));
  for (const a of S.alerts.slice(0, 100)) {
    const ack = S.acks.get(a.id);
    const mark = ack
      ? el('span', { class: 'ack', 'data-acked-by': ack.by }, ` ✓ ${ack.by} ${fmtTime(ack.at)}`)
      : el('button', { type: 'button', class: 'ackbtn', onclick: (e) => { e.stopPropagation(); ackAlert(a.id); } }, tr('ack'));
    ul.append(el('li', { 'data-alert': a.id, 'data-container': a.container || a.object?.id || '', onclick: () => alertPan(a) },
      el('span', { class: a.verdict || '' }, alertText(a)), el('br'), el('span', { class: 'muted' }, fmtTime(a.time)), ' ', mark));
  }
}

// Acknowledgements: recorded by the server (who, when) and read back for
// the alerts shown, so every dispatcher sees them.
async function ackAlert(id) {
  const by = sessionStorage.getItem('porttrack.name') || '';
  const a = await api('/v1/alerts/' + encodeURIComponent(id) + '/ack', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ by }) });
  if (a) S.acks.set(a.alert, a);
  renderAlerts();
}

async function refreshAcks() {
  const ids = S.alerts.slice(0, 100).map((a) => a.id).filter((id) => !S.acks.has(id));
  if (!ids.length) return;
  const r = await api('/v1/alerts/acks?ids=' + ids.map(encodeURIComponent).join(','));
  let changed = false;
  for (const a of r?.acks || []) { S.acks.set(a.alert, a); changed = true; }
  if (changed) renderAlerts();
}

async function alertPan(a) {
  if (a.kind === 'geofence' && a.lat) {
    panTo(a.lat, a.lon, 14);
    if (a.object?.type === 'container') select({ type: 'box', id: a.object.id });
    return;
  }
  if (a.container) select({ type: 'box', id: a.container });
}

function addAlert(a) {
  if (!a?.id || S.alertIds.has(a.id)) return;
  S.alertIds.add(a.id);
  S.alerts.unshift(a);
  if (S.alerts.length > 200) S.alertIds.delete(S.alerts.pop().id);
  renderAlerts();
  refreshAcks();
}

// ---- data: stream, periodic lists, replay ----

// seen moves the data clock: a replay of an hour ago is an hour before the
// newest position, which is the wall clock unless the input is replayed.
function seen(ev) {
  const t = Date.parse(ev.position_time);
  if (t > S.dataNow && t <= Date.now() + 60e3) S.dataNow = t;
}

let es = null;
async function stream() {
  if (es) es.close();
  let tok;
  try {
    tok = await api('/v1/stream/token', { method: 'POST' });
  } catch (err) {
    $('status').textContent = tr('streamOff');
    setTimeout(stream, 3000);
    return;
  }
  es = new EventSource(`/v1/stream?kinds=vessels,trucks,trains,alerts&bbox=${STREAM_BOX}&token=${encodeURIComponent(tok.token)}`);
  es.onopen = () => { $('status').textContent = tr('streamOn'); };
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    switch (ev.kind) {
      case 'reset': S.vessels.clear(); S.trucks.clear(); break;
      case 'vessel': S.vessels.set(ev.id, ev); seen(ev); break;
      case 'truck': S.trucks.set(ev.id, ev); seen(ev); break;
      case 'alert': addAlert(ev.alert); break;
      case 'train': {
        const i = S.trains.findIndex((t) => t.id === ev.id);
        if (i >= 0) S.trains[i] = ev;
        else S.trains.push(ev);
        renderTrains();
        if (S.sel?.type === 'train' && S.sel.id === ev.id) showTrain(ev.id);
        break;
      }
    }
    if (S.t === null) S.dirty = true;
  };
  es.onerror = () => {
    $('status').textContent = tr('streamOff');
    if (es.readyState === EventSource.CLOSED) setTimeout(stream, 2000); // a token that expired: get a new one
  };
}

async function refreshCells() {
  if (S.t !== null || S.view.z >= truckCellsZoom) return;
  const res = S.view.z < 11 ? 6 : S.view.z < 12.5 ? 7 : 8;
  const r = await api(`/v1/trucks/cells?res=${res}&bbox=${viewBox().map((n) => n.toFixed(5)).join(',')}`);
  S.cells = r?.cells || [];
  S.dirty = true;
}

async function refreshYard() {
  const yards = S.fences.filter((f) => f.properties.kind === 'yard_block');
  const berths = S.fences.filter((f) => f.properties.kind === 'berth');
  await Promise.all([
    ...yards.map(async (f) => {
      const r = await api(`/v1/containers?facility=${encodeURIComponent(f.properties.id)}&count=true&limit=1`);
      if (r) S.yard.set(f.properties.id, r.count ?? 0);
    }),
    ...berths.map(async (f) => {
      const r = await api(`/v1/vessels?fence=${encodeURIComponent(f.properties.id)}&count=true&limit=1`);
      if (r) S.berths.set(f.properties.id, r.count ?? 0);
    }),
  ]);
  S.dirty = true;
}

async function refreshTrains() {
  const from = new Date((S.dataNow || Date.now()) - 6 * 3600e3).toISOString();
  const lists = await Promise.all(STATIONS.map((st) => api(`/v1/trains?station=${st}&from=${from}&departing_within=30h&limit=50`)));
  S.trains = lists.flatMap((l) => l?.trains || []);
  renderTrains();
  S.dirty = true;
}

let replaySeq = 0;
async function replay() {
  const seq = ++replaySeq;
  const at = new Date(S.t).toISOString();
  const b = viewBox();
  const radius = Math.min(1e6, Math.ceil(metres(b[1], b[0], b[3], b[2]) / 2));
  const q = `near=${S.view.lat.toFixed(5)},${S.view.lon.toFixed(5)}&radius=${radius}&limit=1000&at=${encodeURIComponent(at)}`;
  $('status').textContent = '…';
  const [v, t] = await Promise.all([api('/v1/vessels?' + q), api('/v1/trucks?' + q)]);
  if (seq !== replaySeq) return;
  // A point more than an hour before T is not where the object was at T.
  const fresh = (o) => S.t - Date.parse(o.position_time) < 3600e3;
  S.replay.vessels = (v?.vessels || []).filter(fresh);
  S.replay.trucks = (t?.trucks || []).filter(fresh);
  $('status').textContent = `${tr('at')} ${fmtTime(S.t)}`;
  S.dirty = true;
}

function setTime(t) {
  S.t = t;
  const when = $('when');
  when.dataset.mode = t === null ? 'live' : 'replay';
  when.textContent = t === null ? tr('liveNow') : fmtTime(t);
  if (t === null) $('slider').value = 0;
  writeHash();
  if (t !== null) replay();
  else {
    $('status').textContent = es && es.readyState === EventSource.OPEN ? tr('streamOn') : tr('streamOff');
    refreshCells();
  }
  S.dirty = true;
}

let slideTimer = 0;
$('slider').addEventListener('input', () => {
  const m = Number($('slider').value);
  clearTimeout(slideTimer);
  slideTimer = setTimeout(() => setTime(m === 0 ? null : (S.dataNow || Date.now()) + m * 60e3), 200);
});
$('live').onclick = () => setTime(null);

$('search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('search-box').value.replace(/[\s-]/g, '').toUpperCase();
  if (q) select({ type: 'box', id: q });
});

function applyLang() {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = tr(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-placeholder]')) e.placeholder = tr(e.dataset.i18nPlaceholder);
  $('lang').textContent = S.lang === 'zh' ? 'EN' : '中文';
  $('when').textContent = S.t === null ? tr('liveNow') : fmtTime(S.t);
  renderTrains();
  renderAlerts();
  S.dirty = true;
}
$('lang').onclick = () => {
  S.lang = S.lang === 'zh' ? 'en' : 'zh';
  writeHash();
  applyLang();
  if (S.sel) select(S.sel);
};

window.addEventListener('hashchange', () => {
  const before = JSON.stringify([S.t, S.sel, S.lang]);
  readHash();
  applyLang();
  if (JSON.stringify([S.t, S.sel, S.lang]) !== before) {
    setTime(S.t);
    select(S.sel);
  }
  S.dirty = true;
});

function tick() {
  $('clock').textContent = fmtTime(Date.now());
}

async function main() {
  readHash();
  applyLang();
  resize();
  new ResizeObserver(resize).observe(canvas);
  requestAnimationFrame(frame);
  const fc = await api('/v1/geofences');
  S.fences = (fc?.features || []).filter((f) => f.properties.kind !== 'reader');
  for (const f of S.fences) {
    const g = f.geometry;
    const pts = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'LineString' ? g.coordinates : [g.coordinates];
    f.centre = [pts.reduce((a, p) => a + p[1], 0) / pts.length, pts.reduce((a, p) => a + p[0], 0) / pts.length];
    S.fenceById.set(f.properties.id, f);
  }
  S.dirty = true;
  stream();
  refreshYard();
  refreshTrains();
  refreshCells();
  setInterval(refreshYard, 20000);
  setInterval(refreshTrains, 30000);
  setInterval(refreshCells, 5000);
  setInterval(refreshAcks, 5000);
  setInterval(tick, 1000);
  tick();
  if (S.t !== null) setTime(S.t);
  if (S.sel) select(S.sel);
  window.porttrackMap = { state: S, select, setTime, zoomAt, addAlert };
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  $('status').textContent = String(err);
});
