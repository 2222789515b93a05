// The drawing canvas of ui/canvas.py (Streamlit components v2). Plain ES module, no build.
//
// The picture is kept as strokes in the canvas's logical coordinates (0..side, whatever size
// the canvas is shown at) and sent to Python, whole, after each stroke, Undo or Clear, as the
// state value "strokes": {"side": 320, "strokes": [{"width": 12, "erase": false,
// "points": [[x, y], ...]}, ...]}. vision/strokes.py draws the same strokes the same way.
// With data.live_ms > 0 it is also sent while a stroke is drawn, at most that often.
//
// Streamlit calls this function again on a rerun when the element's data changes, with the
// same parentElement: everything lives on that element, so a second call only refreshes the
// callbacks and, when Python sends a different drawing to start from, shows it.

const round1 = (v) => Math.round(v * 10) / 10;

function paint(ctx, side, strokes) {
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, side, side);
  for (const stroke of strokes) paintStroke(ctx, stroke);
}

function paintStroke(ctx, stroke) {
  const colour = stroke.erase ? "#ffffff" : "#000000";
  const points = stroke.points;
  if (points.length === 0) return;
  if (points.length === 1) { // a dot: a disc as wide as the pen
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(points[0][0], points[0][1], stroke.width / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.strokeStyle = colour;
  ctx.lineWidth = stroke.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(points[0][0], points[0][1]);
  for (let i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
  ctx.stroke();
}

function build(root, side) {
  const wrap = document.createElement("div");
  wrap.className = "drawing-wrap";
  wrap.innerHTML = `
    <div class="drawing-toolbar" role="toolbar" aria-label="Drawing tools">
      <button type="button" data-action="undo" aria-label="Undo" title="Undo the last stroke">↶ Undo</button>
      <button type="button" data-action="clear" aria-label="Clear" title="Start again">✕ Clear</button>
      <span class="drawing-sep"></span>
      <button type="button" data-pen="thin" title="Thin pen">Thin</button>
      <button type="button" data-pen="medium" title="Medium pen">Medium</button>
      <button type="button" data-pen="thick" title="Thick pen">Thick</button>
      <button type="button" data-pen="eraser" title="Eraser">Eraser</button>
    </div>
    <canvas class="drawing-canvas" aria-label="Drawing canvas"></canvas>`;
  root.appendChild(wrap);
  const canvas = wrap.querySelector("canvas");
  canvas.width = side;
  canvas.height = side;
  canvas.style.maxWidth = `${side}px`;
  wrap.style.maxWidth = `${side}px`;
  return { wrap, canvas, ctx: canvas.getContext("2d") };
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const side = (data && data.side) || 320;
  let s = parentElement.__drawing;
  if (!s || s.side !== side) {
    if (s) s.wrap.remove();
    s = { side, ...build(parentElement, side), strokes: [], current: null, pen: "medium",
          startToken: undefined };
    parentElement.__drawing = s;
    wire(s);
  }
  s.pens = (data && data.pens) || { thin: 3, medium: 12, thick: 28, eraser: 30 };
  s.liveMs = (data && data.live_ms) || 0; // > 0: also send the drawing this often mid-stroke
  s.send = () => setStateValue("strokes", {
    side: s.side,
    strokes: s.strokes.map((k) => ({ width: k.width, erase: k.erase, points: k.points })),
  });
  const startToken = JSON.stringify((data && data.strokes) || []);
  if (s.startToken !== startToken) { // a (new) drawing to start from: the one Python kept
    s.startToken = startToken;
    s.strokes = ((data && data.strokes) || []).map((k) => ({ ...k, points: k.points.slice() }));
    s.current = null;
    paint(s.ctx, s.side, s.strokes);
  }
  if (!s.penSet) { // the pen Python asks for, at the start only: then the toolbar's choice
    const pen = data && data.pen;
    s.pen = pen in s.pens ? pen : "medium";
    s.penSet = true;
  }
  showPen(s);
}

function showPen(s) {
  for (const b of s.wrap.querySelectorAll("button[data-pen]")) {
    b.setAttribute("aria-pressed", String(b.dataset.pen === s.pen));
  }
}

function wire(s) {
  const { canvas, ctx } = s;
  const toLogical = (event) => {
    const rect = canvas.getBoundingClientRect();
    const scale = s.side / rect.width; // the canvas is shown square, scaled to its column
    const clamp = (v) => Math.min(s.side, Math.max(0, v));
    return [round1(clamp((event.clientX - rect.left) * scale)),
            round1(clamp((event.clientY - rect.top) * scale))];
  };
  const addPoint = (point) => {
    const points = s.current.points;
    const last = points[points.length - 1];
    if (last && last[0] === point[0] && last[1] === point[1]) return;
    points.push(point);
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== undefined && event.button > 0) return; // right/middle button: no ink
    event.preventDefault();
    if (s.current) finish(); // a second finger: the first stroke ends here
    canvas.setPointerCapture(event.pointerId); // the stroke goes on outside the canvas
    const erase = s.pen === "eraser";
    s.current = { width: s.pens[s.pen], erase, points: [], id: event.pointerId };
    s.sentAt = event.timeStamp; // the first live update comes liveMs into the stroke
    addPoint(toLogical(event));
    s.strokes.push(s.current);
    paint(ctx, s.side, s.strokes);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!s.current || event.pointerId !== s.current.id) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of (events.length ? events : [event])) addPoint(toLogical(e));
    paint(ctx, s.side, s.strokes);
    // Live guessing: the drawing so far, the stroke in progress included, at most every
    // liveMs while the pen moves; the stroke's end is always sent as well (finish).
    if (s.liveMs > 0 && s.current.points.length > 1 && event.timeStamp - s.sentAt >= s.liveMs) {
      s.sentAt = event.timeStamp;
      s.send();
    }
  });
  const finish = () => {
    if (!s.current) return;
    delete s.current.id;
    s.current = null;
    s.send();
  };
  const end = (event) => {
    if (!s.current || event.pointerId !== s.current.id) return;
    addPoint(toLogical(event));
    paint(ctx, s.side, s.strokes);
    finish();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  const toolbar = s.wrap.querySelector(".drawing-toolbar");
  // A finger's tap acts when it lifts: mobile browsers may drop the click that should follow
  // (seen in Chromium after a stroke), and the click that does follow is then ignored.
  let tappedAt = -Infinity;
  toolbar.addEventListener("pointerup", (event) => {
    if (event.pointerType === "mouse") return;
    tappedAt = event.timeStamp;
    act(event);
  });
  toolbar.addEventListener("click", (event) => {
    if (event.timeStamp - tappedAt < 800) return;
    act(event);
  });
  const act = (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.pen) { s.pen = button.dataset.pen; showPen(s); return; }
    if (button.dataset.action === "undo") {
      if (s.current || s.strokes.length === 0) return;
      s.strokes.pop();
    } else if (button.dataset.action === "clear") {
      if (s.current) return;
      s.strokes = [];
    }
    paint(ctx, s.side, s.strokes);
    s.send();
  };
}
