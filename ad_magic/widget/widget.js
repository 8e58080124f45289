// The %%grad widget's front end: an anywidget ES module, hand-written, no imports.
//
// Python sends the SVG once per trace, the node records, and the steps of the
// current pass a page at a time (with the totals earlier steps left). Everything
// else here is restyling: the current step's node gets the class ad-current,
// the selected node ad-selected, and each node's mode line shows its gradient
// (reverse) or tangent (forward) once its step is done.
//
// Navigation: the first view shows the whole graph at one pixel per point, so box
// text is the notebook's 13 px (constants and edge labels 12 px): the kernel lays
// the graph out to the widget's width, in rows or top to bottom when left to right
// would not fit. A graph that still does not fit is shown so with the output (or
// the current step's node) panned into view. Until the user zooms or
// pans, the first view follows the widget's size. Fit fits it, ctrl/⌘ + wheel
// (a pinch) zooms at the pointer, dragging pans. Keys typed in the widget stay in
// it (JupyterLab's notebook shortcuts never see them), and ←/→/Home/End step when
// the focus is not in a text box.

const SPEEDS = { "0.5x": 1600, "1x": 800, "2x": 400, "4x": 200 };
const READABLE = 12 / 13; // the least zoom at which box text (13 px at 1:1) reads: 12 px
const FIRST_VIEW = 30; // boxes a grouped graph's first view has at most (render.config.boxes)
// The graph's viewport is at most this tall: with the toolbars it fits the window, and
// the whole widget stays under the 1,820 px past which Notebook 7 puts an output in a
// short scroll box (its scroll-output plugin, measured when the output is added).
const room = () => Math.max(360, Math.min(700, Math.round(window.innerHeight * 0.7)));

// Lumino (JupyterLab, Notebook 7) runs no keyboard shortcut whose event starts at an
// element marked like this: every focusable part of the widget is.
const FOCUSABLE = new Set(["button", "input", "select", "textarea"]);
const SUPPRESS = "data-lm-suppress-shortcuts";

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  if (FOCUSABLE.has(tag) || "tabindex" in attrs) el.setAttribute(SUPPRESS, "true");
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function button(label, text, onclick) {
  return h("button", { type: "button", "aria-label": label, title: label, onclick }, text);
}

// What the steps up to `k` have filled in: node id -> shown number (as text).
// A page step is [node, box, [[box, box], ...], equation, total, [[node, total], ...]]:
// the last part lists what a collapsed group's step (many chain-rule steps) sets.
function doneUpTo(page, k) {
  const done = new Map(Object.entries(page.done || {}));
  const steps = page.steps || [];
  for (let i = 0; i <= k - page.start && i < steps.length; i++) {
    for (const [node, total] of steps[i][5] || []) done.set(node, total);
    done.set(steps[i][0], steps[i][4]);
  }
  return done;
}

// -- with no kernel (a saved notebook's widget state, the standalone page) ------
// A small graph's passes travel whole in `archive`: any step of any pass is there.
function archived(model, key) {
  const steps = (model.get("archive") || {})[key];
  return steps ? { key, start: 0, steps, done: {} } : null;
}

// The static copy of this graph that pages without widgets show (data-ad-twin):
// hidden once the widget itself is up.
function hideTwin(model) {
  const twin = model.get("twin");
  if (!twin) return;
  for (const copy of document.querySelectorAll(`[data-ad-twin="${CSS.escape(twin)}"]`)) {
    (copy.closest(".jp-OutputArea-child") || copy).style.display = "none";
  }
}

// -- The Jacobian beside the graph, and what each mode costs ----------------------
// Self-contained: it reads the model and listens for its own changes. Reverse mode
// fills J a row per backward pass (one per output), forward mode a column per pass
// (one per seed input). While stepping, the passes before the current one are done
// and the current pass's row or column fills when its last step is reached; with
// no step chosen (step -1) every pass has run.
function jacobianPanel(model) {
  const pick = h("select", { "aria-label": "Pass", class: "ad-j-pass" });
  pick.addEventListener("change", () => {
    model.set(model.get("mode") === "forward" ? "seed" : "out", pick.value);
    model.save_changes();
  });
  const title = h("div", { class: "ad-j-title" });
  const grid = h("table", { class: "ad-j-matrix", "aria-label": "Jacobian" });
  const more = h("div", { class: "ad-j-more" });
  const cost = h("table", { class: "ad-j-cost", "aria-label": "Cost" });
  const el = h("div", { class: "ad-jacobian" }, title, h("label", { class: "ad-j-pick" }, "pass: ", pick), grid, more, cost);

  function update() {
    const J = model.get("jacobian");
    el.hidden = !J || !J.rows;
    if (el.hidden) return;
    const forward = model.get("mode") === "forward";
    const passes = forward ? model.get("seeds") : J.rows;
    const current = forward ? model.get("seed") : model.get("out") || J.rows[0];
    const k = passes.indexOf(current);
    const key = forward ? `forward:${current}` : "reverse";
    const steps = (model.get("counts") || {})[key] || 0;
    const step = model.get("step");
    const ended = step < 0 || step >= steps - 1;
    // Which passes have run: all of them when not stepping, else those before this one.
    const done = (name) => {
      const i = passes.indexOf(name);
      if (i < 0) return false;
      return step < 0 || i < k || (i === k && ended);
    };
    title.textContent = `J = d(output)/d(input), ${J.shape}: ${forward ? "a column per forward pass" : "a row per backward pass"}`;
    pick.replaceChildren(...passes.map((p) => h("option", { value: p }, forward ? `seed ${p}` : `output ${p}`)));
    pick.value = current;
    pick.disabled = passes.length < 2;
    const head = h("tr", {}, h("th", {}, ""), ...J.cols.map((c, j) => {
      const th = h("th", { scope: "col" }, c);
      th.classList.toggle("ad-j-current", forward && c === current);
      return th;
    }));
    const rows = J.rows.map((r, i) => {
      const tr = h("tr", {}, h("th", { scope: "row" }, r));
      tr.classList.toggle("ad-j-current", !forward && r === current);
      J.cols.forEach((c, j) => {
        const filled = done(forward ? c : r) && J.cells.length > i;
        const td = h("td", { "data-row": r, "data-col": c }, filled ? J.cells[i][j] : "·");
        td.classList.toggle("ad-j-done", filled);
        td.classList.toggle("ad-j-current", forward ? c === current : r === current);
        tr.append(td);
      });
      return tr;
    });
    grid.replaceChildren(head, ...rows);
    const extra = [];
    if (J.more_rows > 0) extra.push(`${J.more_rows} more outputs`);
    if (J.more_cols > 0) extra.push(`${J.more_cols} more inputs`);
    if (!J.cells.length) extra.push("too large to fill here");
    more.textContent = extra.length ? `(${extra.join(", ")})` : "";
    const ran = passes.filter(done).length;
    cost.replaceChildren(
      h("tr", {}, h("th", { colspan: "3" }, `The whole J, three ways (this pass: ${k + 1} of ${passes.length}, ${ran} done)`)),
      ...J.cost.map(([method, what, n, time]) => {
        const tr = h("tr", { "data-method": method }, h("td", {}, method),
          h("td", {}, n === null ? what : `${what}, ${n.toLocaleString("en-US")} steps`), h("td", { class: "ad-j-time" }, time));
        tr.classList.toggle("ad-j-mode", method === (forward ? "forward" : "reverse"));
        return tr;
      }),
    );
  }
  for (const name of ["jacobian", "mode", "seed", "seeds", "out", "step", "counts"]) model.on(`change:${name}`, update);
  update();
  return el;
}

// Keys that step the pass when the focus is on the widget but not in a box that types.
const STEP_KEYS = { ArrowLeft: -1, ArrowRight: 1, Home: "first", End: "last" };
const TYPES = new Set(["text", "number", "search", "range"]);
const typing = (el) => el && (el.tagName === "SELECT" || el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && TYPES.has(el.type)));

function render({ model, el }) {
  el.classList.add("ad-magic");
  el.setAttribute(SUPPRESS, "true");
  hideTwin(model);
  let timer = null;
  let zoom = 1, panX = 0, panY = 0;
  let moved = false; // the user zoomed or panned: the view no longer follows the widget's size
  let size = { w: 0, h: 0 }; // the SVG's own size, in points shown as pixels

  // -- layout -----------------------------------------------------------
  const notes = h("div", { class: "ad-notes" });
  const cost = h("div", { class: "ad-cost" });
  const error = h("div", { class: "ad-error", role: "alert" });
  const reverse = button("Reverse", "Reverse", () => setMode("reverse"));
  const forward = button("Forward", "Forward", () => setMode("forward"));
  const seedSelect = h("select", { "aria-label": "Seed input", class: "ad-seed" });
  seedSelect.addEventListener("change", () => { model.set("seed", seedSelect.value); model.save_changes(); });
  const first = button("First step", "|◀", () => go(0));
  const prev = button("Previous step", "◀", () => go(current() - 1));
  const next = button("Next step", "▶", () => go(current() + 1));
  const last = button("Last step", "▶|", () => go(count() - 1));
  const play = button("Play", "Play", () => (timer ? stop() : start()));
  const speed = h("select", { "aria-label": "Speed", class: "ad-speed" });
  for (const s of Object.keys(SPEEDS)) speed.append(h("option", { value: s }, s));
  speed.value = "1x";
  const slider = h("input", { type: "range", min: "0", value: "0", "aria-label": "Step", class: "ad-slider" });
  slider.addEventListener("input", () => go(Number(slider.value)));
  const counter = h("span", { class: "ad-counter" });
  const narration = h("div", { class: "ad-narration" });
  // What a screen reader hears on each step: the counter and the narration together.
  const announce = h("div", { class: "ad-announce", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const canvas = h("div", { class: "ad-canvas" });
  const viewport = h("div", { class: "ad-viewport", role: "group", "aria-label": "Computation graph", tabindex: "-1" }, canvas);
  const zoomIn = button("Zoom in", "+", () => { moved = true; zoomAt(zoom * 1.25); });
  const zoomOut = button("Zoom out", "−", () => { moved = true; zoomAt(zoom / 1.25); });
  const zoomFit = button("Fit", "Fit", () => fit());
  const searchBox = h("input", { type: "search", class: "ad-search", "aria-label": "Find a node by name or id", placeholder: "find node: name or id", size: "18" });
  const findButton = button("Find", "Find", () => { if (searchBox.value.trim()) model.send({ type: "find", query: searchBox.value.trim() }); });
  searchBox.addEventListener("keydown", (event) => { if (event.key === "Enter") findButton.click(); });
  const foundNote = h("span", { class: "ad-found", role: "status" });
  const table = h("table", { class: "ad-table", role: "grid", "aria-label": "Nodes" });
  const selection = h("div", { class: "ad-selection", "aria-live": "polite" });
  const source = h("pre", { class: "ad-source" });
  const inputs = h("div", { class: "ad-inputs" });
  const groups = h("div", { class: "ad-groups" });
  const crumbs = h("nav", { class: "ad-crumbs", "aria-label": "Open groups" });
  // --quiz: the student types each step's number before the pass shows it.
  const prompt = h("span", { class: "ad-prompt" });
  const answerBox = h("input", { type: "text", "aria-label": "Answer", class: "ad-answer", size: "10" });
  const check = button("Check answer", "Check", () => {
    if (answerBox.value.trim()) model.send({ type: "answer", value: answerBox.value.trim() });
  });
  answerBox.addEventListener("keydown", (event) => { if (event.key === "Enter") check.click(); });
  const feedback = h("div", { class: "ad-feedback", "aria-live": "polite" });
  const quizBox = h("div", { class: "ad-quiz" }, h("div", { class: "ad-quiz-row" }, prompt, answerBox, check), feedback);
  el.append(
    notes, cost, error,
    h("div", { class: "ad-toolbar" }, reverse, forward, seedSelect, first, prev, next, last, play, speed, slider, counter),
    narration,
    announce,
    quizBox,
    h("div", { class: "ad-zoom" }, zoomIn, zoomOut, zoomFit, searchBox, findButton, foundNote, crumbs),
    groups,
    h("div", { class: "ad-stage" }, viewport, jacobianPanel(model)),
    h("div", { class: "ad-panes" }, h("div", { class: "ad-table-box" }, selection, table), source),
    inputs,
  );

  // Keys stay in the widget; arrows, Home and End step the pass.
  for (const type of ["keydown", "keypress", "keyup"]) el.addEventListener(type, (event) => event.stopPropagation());
  el.addEventListener("keydown", (event) => {
    const move = STEP_KEYS[event.key];
    if (move === undefined || typing(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    if (quizOpen()) return;
    if (move === "first") go(0);
    else if (move === "last") go(count() - 1);
    else go(model.get("step") < 0 && move > 0 ? count() - 1 : current() + move);
  });

  // -- model helpers ---------------------------------------------------------
  const mode = () => model.get("mode");
  const stepsKey = () => (mode() === "forward" ? `forward:${model.get("seed")}` : "reverse");
  const count = () => model.get("counts")[stepsKey()] || 0;
  const current = () => {
    const k = model.get("step");
    return k < 0 ? count() - 1 : k;
  };
  // The loaded page, if it is the current pass's and holds step k.
  const pageFor = (k) => {
    const page = model.get("page");
    const ok = page.key === stepsKey() && k >= page.start && k < page.start + page.steps.length;
    return ok ? page : archived(model, stepsKey());
  };
  // The node records, with the numbers of the latest re-trace of the same shape
  // (`numbers`: {id: [value, grad, flagged, tangent per seed...]}) laid over them.
  let merged = null;
  const records = () => {
    if (merged) return merged;
    const numbers = model.get("numbers") || {};
    const seeds = model.get("seeds");
    merged = model.get("records").map((r) => {
      const n = numbers[r.id];
      if (!n) return r;
      const tangents = {};
      seeds.forEach((s, i) => { if (n[3 + i] !== "") tangents[s] = n[3 + i]; });
      return { ...r, value: n[0], grad: n[1], flagged: n[2], tangents };
    });
    return merged;
  };
  for (const name of ["records", "numbers", "seeds"]) model.on(`change:${name}`, () => { merged = null; });
  const quizOpen = () => { const q = model.get("quiz"); return Boolean(q && q.total !== undefined && !q.done); };

  function setMode(m) {
    if (m === "forward" && !model.get("seeds").length) return;
    stop();
    model.set("mode", m);
    model.set("step", -1);
    model.save_changes();
  }
  function go(k) {
    const n = count();
    if (!n) return;
    model.set("step", Math.max(0, Math.min(n - 1, k)));
    model.save_changes();
  }
  function start() {
    if (current() >= count() - 1) go(0);
    timer = setInterval(() => {
      if (current() >= count() - 1) stop();
      else go(current() + 1);
    }, SPEEDS[speed.value]);
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  }

  // -- the graph -----------------------------------------------------------
  function nodeEls() {
    const map = new Map();
    for (const g of canvas.querySelectorAll("g.node")) {
      const title = g.querySelector("title");
      if (title) map.set(title.textContent, g);
    }
    return map;
  }
  function edgeEls() {
    const map = new Map();
    for (const g of canvas.querySelectorAll("g.edge")) {
      const title = g.querySelector("title");
      if (!title) continue;
      // A plate's edge stands for the edges of its boxes alike: it names them (pair:a:b).
      const pairs = [...g.classList].filter((c) => c.startsWith("pair:")).map((c) => c.slice(5).replace(":", " "));
      for (const key of [title.textContent.replace("->", " "), ...pairs]) {
        if (!map.has(key)) map.set(key, []);
        if (!map.get(key).includes(g)) map.get(key).push(g);
      }
    }
    return map;
  }
  let nodesById = new Map(), edgesByPair = new Map();
  // Groups opened or closed from here: the new layout is fitted (see place).
  let regrouped = false, toggled = "";
  function regroup(message) {
    regrouped = true;
    // A tensor (or a block of its elements) opened: see place().
    const box = nodesById.get(message.group || "");
    toggled = box && box.classList.contains("tensor") ? message.group : "";
    model.send(message);
  }
  // The first box of a group just opened: its first subgroup (g{depth+k}_{first node}) or
  // its first node, by the ids groups.py gives them.
  function firstInside(id) {
    const [, depth, first] = /^g(\d+)_(.*)$/.exec(id) || [];
    if (!first || nodesById.has(id)) return null;
    for (let d = Number(depth) + 1; d <= Number(depth) + 4; d++) {
      if (nodesById.has(`g${d}_${first}`)) return nodesById.get(`g${d}_${first}`);
    }
    return nodesById.get(first) || null;
  }

  function drawSvg() {
    // A new layout replaces the boxes: keep the keyboard focus on the same one (or the graph).
    const had = document.activeElement && canvas.contains(document.activeElement) ? document.activeElement.querySelector("title") : null;
    const refocus = had ? had.textContent : null;
    canvas.innerHTML = model.get("svg");
    drawEdgeLabels();
    nodesById = nodeEls();
    edgesByPair = edgeEls();
    const svg = canvas.querySelector("svg");
    if (svg) {
      // One point of the layout is one pixel: box text at the notebook's 13 px.
      const box = svg.viewBox.baseVal;
      size = { w: box.width, h: box.height };
      svg.setAttribute("width", String(size.w));
      svg.setAttribute("height", String(size.h));
      svg.setAttribute("aria-hidden", "false");
      for (const t of svg.querySelectorAll("text, title")) t.setAttribute("aria-hidden", "true");
    }
    for (const [id, g] of nodesById) {
      const act = () => {
        if (id.startsWith("g")) regroup({ type: "toggle", group: id });
        else { model.set("selected", id); model.save_changes(); }
      };
      g.setAttribute("tabindex", "0");
      g.setAttribute(SUPPRESS, "true");
      g.setAttribute("role", "button");
      g.addEventListener("click", (event) => { event.stopPropagation(); act(); });
      g.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); act(); }
      });
    }
    zoom = 1; panX = panY = 0;
    applyZoom();
    restyle();
    // Until the restyle queued by this message's other changes (before or after it) has run.
    drawn = true;
    queueMicrotask(() => queueMicrotask(() => { drawn = false; }));
    place();
    regrouped = false;
    if (refocus !== null) (nodesById.get(refocus) || viewport).focus({ preventScroll: true });
  }

  // A layout's first view: the whole graph in a viewport as tall as it needs (at most
  // `room()`), at one pixel per point when it fits so, else fitted when it has more
  // boxes than a first view (a 48-node formula drawn whole) or a group was just opened
  // or closed here. Otherwise, and for a searched node, it is shown at one pixel per
  // point, with the searched node, the current step's node or the output in view.
  function place() {
    const found = nodesById.get(model.get("found").box);
    const vw = viewport.clientWidth;
    const many = nodesById.size > FIRST_VIEW || regrouped;
    zoom = 1; panX = panY = 0;
    // A few pixels taller than the room rather than smaller text.
    const tall = size.h + 12 > 1.05 * room();
    const whole = Math.min(1, vw && size.w ? vw / size.w : 1, tall ? (room() - 12) / size.h : 1);
    // Fitted, a tensor just opened would be too small to read: its elements at 1:1 instead.
    const inside = !found && regrouped && whole < READABLE ? firstInside(toggled) : null;
    // (Fitted at READABLE or more, text still reads: shown whole rather than panned.)
    if (!found && !inside && (whole >= READABLE || many)) {
      zoom = whole;
      viewport.style.height = `${Math.max(160, Math.ceil(size.h * zoom) + 12)}px`;
      panX = Math.max(0, (vw - size.w * zoom) / 2);
      panY = 6;
      applyZoom();
      return;
    }
    viewport.style.height = `${Math.max(160, Math.min(room(), size.h + 12))}px`;
    applyZoom();
    if (inside) { showNode(inside, true); return; }
    const target = found || canvas.querySelector("g.node.ad-current") || canvas.querySelector("g.node.output");
    if (target) showNode(target);
  }

  // Edge labels are local derivatives: a live input changes them on the same layout.
  function drawEdgeLabels() {
    const labels = model.get("edge_labels") || {};
    const seen = new Map(); // edges are keyed by title and place among that title's edges
    for (const g of canvas.querySelectorAll("g.edge")) {
      const title = g.querySelector("title")?.textContent || "";
      const k = seen.has(title) ? seen.get(title) + 1 : 0;
      seen.set(title, k);
      const key = `${title}#${k}`;
      const text = g.querySelector("text");
      if (text && key in labels) text.textContent = labels[key];
    }
  }

  function modeLine(g, seedIndex) {
    if (mode() === "forward") return g.querySelector(`text.tangent.seed-${seedIndex}`);
    return g.querySelector("text.grad");
  }

  function restyle() {
    const svg = canvas.querySelector("svg");
    const seeds = model.get("seeds");
    const seedIndex = Math.max(0, seeds.indexOf(model.get("seed")));
    if (svg) {
      svg.classList.remove("ad-reverse", "ad-forward");
      for (const c of [...svg.classList]) if (c.startsWith("ad-seed-")) svg.classList.remove(c);
      svg.classList.add(mode() === "forward" ? "ad-forward" : "ad-reverse", `ad-seed-${seedIndex}`);
    }
    const n = count();
    const k = current();
    const page = pageFor(k);
    if (n && !page) return; // the page for this step is on its way: restyle when it lands
    const done = page ? doneUpTo(page, k) : new Map();
    const byId = new Map(records().map((r) => [r.id, r]));
    const boxOf = (id) => (byId.get(id) || { box: id }).box;
    // Values follow the latest trace; mode lines show what the steps so far have set.
    for (const [id, g] of nodesById) {
      const rec = byId.get(id);
      if (!rec) continue;
      for (const text of g.querySelectorAll("text")) {
        if (text.classList.contains("value")) text.textContent = `value ${rec.value}`;
      }
      const line = modeLine(g, seedIndex);
      if (!line) continue;
      const label = mode() === "forward" ? `d/d${model.get("seed")}` : "grad";
      line.textContent = done.has(id) ? `${label} ${done.get(id)}` : `${label} ·`;
      g.classList.toggle("ad-pending", !done.has(id) && rec.kind !== "const");
    }
    for (const g of canvas.querySelectorAll(".ad-current, .ad-edge-current")) {
      g.classList.remove("ad-current", "ad-edge-current");
      g.removeAttribute("aria-current");
    }
    const step = page ? page.steps[k - page.start] : null;
    const quiz = model.get("quiz");
    if (quizOpen()) {
      const g = nodesById.get(boxOf(quiz.node));
      if (g) g.classList.add("ad-current");
    } else if (step && model.get("step") >= 0) {
      const g = nodesById.get(step[1]);
      if (g) {
        g.classList.add("ad-current");
        g.setAttribute("aria-current", "step");
        if (followStep) showNode(g);
      }
      for (const [p, c] of step[2]) {
        for (const e of edgesByPair.get(`${p} ${c}`) || []) e.classList.add("ad-edge-current");
      }
    }
    const selected = model.get("selected");
    for (const [id, g] of nodesById) g.classList.toggle("ad-selected", id === boxOf(selected));
    // Controls.
    reverse.setAttribute("aria-pressed", String(mode() !== "forward"));
    forward.setAttribute("aria-pressed", String(mode() === "forward"));
    forward.disabled = !seeds.length;
    seedSelect.replaceChildren(...seeds.map((s) => h("option", { value: s }, s)));
    seedSelect.value = model.get("seed");
    seedSelect.hidden = mode() !== "forward";
    slider.max = String(Math.max(0, n - 1));
    slider.value = String(k);
    // The finished pass and its last step are two states with two labels.
    const finished = model.get("step") < 0;
    const label = !n ? "no steps" : finished ? `done — ${n} step${n === 1 ? "" : "s"}` : `step ${k + 1} of ${n}`;
    counter.textContent = label;
    slider.setAttribute("aria-valuetext", label);
    const told = finished ? (n ? "every node has its derivative" : "") : step ? step[3] : "";
    narration.textContent = told;
    const heard = told ? `${label}: ${told}` : label;
    if (announce.textContent !== heard) announce.textContent = heard;
    // Read every name first, then write them: one style computation, not one per node.
    const names = [...nodesById].map(([id, g]) => [g, spoken(g, byId.get(id), id)]);
    for (const [g, name] of names) g.setAttribute("aria-label", name);
    for (const c of [first, prev, next, last, play, slider, reverse, forward]) c.disabled = quizOpen() || (c === forward && !seeds.length);
    for (const [id, g] of nodesById) g.classList.toggle("ad-flagged", Boolean((byId.get(id) || {}).flagged));
    drawQuiz(quiz);
    drawTable(byId, done, boxOf);
    drawSelection(byId, done);
    drawSource(byId, done);
  }

  // A node's accessible name: its lines as drawn ("b (+), value 3.25, grad -0.9941").
  function spoken(g, rec, id) {
    const lines = [...g.querySelectorAll("text")].filter((t) => t.getAttribute("display") !== "none" && getComputedStyle(t).display !== "none").map((t) => t.textContent.trim());
    if (id.startsWith("g")) return `group ${lines.join(", ")}: press Enter to open it`;
    const name = rec ? rec.name || rec.title : id;
    if (lines.length && !lines[0].startsWith(name)) lines.unshift(name);
    return lines.join(", ").replace(/·$/, "not reached yet");
  }

  function drawSelection(byId, done) {
    const r = byId.get(model.get("selected"));
    selection.hidden = !r;
    if (!r) return;
    const d = done.has(r.id) ? done.get(r.id) : "not reached yet";
    const fwd = mode() === "forward";
    selection.replaceChildren(h("b", {}, r.name || r.title), `  ${r.id} · ${r.op} · value ${r.value} · ${fwd ? `d/d${model.get("seed")}` : "grad"} ${d}${r.line ? ` · line ${r.line}` : ""}`);
  }

  // -- table and source ------------------------------------------------------
  // Fixed columns (a long name is cut short: in full on hover and in the selection line);
  // the nodes drawn in the current view come first. Rows: click, or ↑/↓ and Enter.
  const COLUMNS = ["node", "name", "op", "value", "grad", "line"];
  function drawTable(byId, done, boxOf) {
    const fwd = mode() === "forward";
    const cols = h("colgroup", {}, ...COLUMNS.map((c) => h("col", { class: `ad-col-${c}` })));
    const head = h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col" }, c === "grad" && fwd ? `d/d${model.get("seed")}` : c)));
    const rows = [cols, head];
    const selected = model.get("selected");
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr[data-node]");
    const keepFocus = focused && table.contains(focused) ? focused.dataset.node : null;
    const select = (id) => { model.set("selected", id); model.save_changes(); };
    let again = null;
    for (const r of records()) {
      if (r.box !== r.id && r.id !== selected) continue; // inside a closed group
      const name = r.name || r.title;
      const row = h("tr", { "data-node": r.id, tabindex: "-1", "aria-selected": String(r.id === selected) },
        h("td", {}, r.id), h("td", { title: name }, name), h("td", {}, r.op),
        h("td", {}, r.value), h("td", {}, done.has(r.id) ? done.get(r.id) : "·"), h("td", {}, r.line ? String(r.line) : ""));
      row.classList.toggle("ad-selected", r.id === selected);
      row.addEventListener("click", () => select(r.id));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(r.id); }
        const to = event.key === "ArrowDown" ? row.nextElementSibling : event.key === "ArrowUp" ? row.previousElementSibling : null;
        if (to && to.dataset && to.dataset.node) { event.preventDefault(); event.stopPropagation(); to.tabIndex = 0; row.tabIndex = -1; to.focus(); }
      });
      if (r.id === (keepFocus || selected)) again = row;
      rows.push(row);
    }
    const tabStop = again || rows[2];
    if (tabStop) tabStop.tabIndex = 0;
    table.replaceChildren(...rows);
    if (keepFocus && again) again.focus();
  }

  // Each line's comments follow the step, as the graph does: a name the pass has not
  // reached yet shows a dot.
  function drawSource(byId, done) {
    const text = model.get("source");
    source.hidden = !text;
    if (!text) return;
    const lines = text.split("\n");
    const sel = byId.get(model.get("selected"));
    const named = new Map(); // line -> "name = value (grad g)" notes
    for (const r of records()) {
      if (!r.line || !r.name || r.kind === "input") continue;
      const reached = done.has(r.id) ? done.get(r.id) : "·";
      const note = mode() === "forward" ? `${r.name} = ${r.value}, d/d${model.get("seed")} ${reached}`
        : `${r.name} = ${r.value}, grad ${reached}`;
      named.set(r.line, [...(named.get(r.line) || []), note]);
    }
    const out = [];
    lines.forEach((line, i) => {
      const n = i + 1;
      const row = h("div", { class: "ad-line", "data-line": String(n) });
      if (sel && sel.line && n >= sel.line && n <= sel.end_line) {
        const from = n === sel.line ? sel.col : 0;
        const to = n === sel.end_line ? sel.end_col : line.length;
        row.append(line.slice(0, from), h("mark", { class: "ad-span" }, line.slice(from, to)), line.slice(to));
      } else row.append(line);
      const notes = named.get(n);
      if (notes) row.append(h("span", { class: "ad-note" }, `   # ${notes.slice(-3).join("; ")}`));
      out.push(row);
    });
    source.replaceChildren(...out);
  }

  // -- inputs ------------------------------------------------------------------
  let debounce = null;
  // Rebuilt only when the inputs themselves change: a re-trace after a drag
  // updates the numbers in place, so the slider being dragged (or the box
  // being typed in) stays under the pointer, its range unchanged.
  let inputEls = new Map();
  const sentValue = new Map(); // input name -> the value the kernel has or was sent
  function drawInputs() {
    const list = model.get("inputs");
    for (const { name, value } of list) sentValue.set(name, value);
    if (list.length === inputEls.size && list.every(({ name }) => inputEls.has(name))) {
      for (const { name, value } of list) {
        const { range, box } = inputEls.get(name);
        if (document.activeElement !== range) range.value = String(value);
        if (document.activeElement !== box) box.value = String(value);
      }
      return;
    }
    inputEls = new Map();
    const rows = list.map(({ name, value }) => {
      const span = Math.max(1, Math.abs(value)) * 2;
      const range = h("input", { type: "range", min: String(value - span), max: String(value + span), step: String(span / 200), value: String(value), "aria-label": name });
      const box = h("input", { type: "number", step: "any", value: String(value), "aria-label": `${name} value` });
      // Each value once: the box's change on blur after Enter would re-trace again
      // (and start the pass anew).
      const send = (v) => {
        clearTimeout(debounce);
        if (Number(v) === sentValue.get(name)) return;
        debounce = setTimeout(() => {
          sentValue.set(name, Number(v));
          model.send({ type: "input", name, value: Number(v) });
        }, 150);
      };
      range.addEventListener("input", () => { box.value = range.value; send(range.value); });
      const commit = () => { range.value = box.value; send(box.value); };
      box.addEventListener("change", commit);
      // JupyterLab keeps Enter from reaching an output's number box as a change.
      box.addEventListener("keydown", (event) => { if (event.key === "Enter") commit(); });
      inputEls.set(name, { range, box });
      return h("label", { class: "ad-input" }, `${name} `, range, box);
    });
    inputs.replaceChildren(...rows);
  }

  // -- zoom and pan: buttons, ctrl/⌘ + wheel or a pinch, drag. A plain wheel scrolls the page.
  function applyZoom() { canvas.style.transform = `translate(${panX}px, ${panY}px) scale(${zoom})`; }
  // Zoom keeping the point (x, y) of the viewport (default its centre) where it is.
  function zoomAt(z, x = viewport.clientWidth / 2, y = viewport.clientHeight / 2) {
    const next = Math.max(0.05, Math.min(8, z));
    panX = x - (x - panX) * (next / zoom);
    panY = y - (y - panY) * (next / zoom);
    zoom = next;
    applyZoom();
  }
  // The whole graph in the viewport, centred.
  function fit() {
    if (!size.w || !size.h) return;
    const vw = viewport.clientWidth, vh = viewport.clientHeight;
    zoom = Math.min(vw / size.w, vh / size.h, 2);
    panX = (vw - size.w * zoom) / 2;
    panY = (vh - size.h * zoom) / 2;
    applyZoom();
  }
  // Pan (at the current zoom) so that a node is inside the viewport, centred if it was out.
  // (atTop: its top near the viewport's, even if it is in view: the first box of a column.)
  function showNode(g, atTop = false) {
    const r = g.getBoundingClientRect(), v = viewport.getBoundingClientRect();
    if (!v.width) return;
    const inside = r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom;
    if (inside && !atTop) return;
    panX += (v.left + v.width / 2) - (r.left + r.width / 2);
    panY += atTop ? v.top + 12 - r.top : (v.top + v.height / 2) - (r.top + r.height / 2);
    // Not past the graph's edges when it is larger than the viewport.
    const w = size.w * zoom, hgt = size.h * zoom;
    if (w > v.width) panX = Math.min(0, Math.max(v.width - w, panX));
    if (hgt > v.height) panY = Math.min(0, Math.max(v.height - hgt, panY));
    applyZoom();
  }
  let followStep = false; // pan to the current node when the step changes, not on every restyle
  // One restyle for all the changes one message brings (a re-trace changes several traits).
  // (A message's traits are all set before their change events run, so the restyle that
  // drawing a new SVG does sees all of them: `drawn` then skips the queued one.)
  let queued = false, follow = false, drawn = false;
  function schedule(pan = false) {
    follow = follow || pan;
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (drawn) { drawn = follow = false; return; } // a new layout was restyled already
      followStep = follow;
      follow = false;
      restyle();
      followStep = false;
    });
  }
  model.on("change:step", () => schedule(true));
  // The layout fits the graph to the widget's width and height: tell the kernel what
  // they are (it lays out again only for a change that matters). Until the user zooms
  // or pans, the first view follows the widget's width (a window made narrower, a side
  // panel opened).
  let sentWidth = 0, placedWidth = 0;
  const resized = new ResizeObserver(() => {
    const w = viewport.clientWidth;
    if (!w || moved || w === placedWidth) return;
    placedWidth = w;
    place();
    // A change by more than a tenth, or a layout that fitted its width and no longer does.
    const overflows = size.w <= sentWidth - 16 && size.w > w - 16;
    if (Math.abs(w - sentWidth) > 0.1 * sentWidth || overflows) {
      sentWidth = w;
      model.send({ type: "width", px: w - 16, height: room() - 12 });
    }
  });
  resized.observe(viewport);
  viewport.addEventListener("wheel", (event) => {
    if (!event.ctrlKey && !event.metaKey) return;
    event.preventDefault();
    moved = true;
    const v = viewport.getBoundingClientRect();
    zoomAt(zoom * Math.exp(-event.deltaY / 300), event.clientX - v.left, event.clientY - v.top);
  }, { passive: false });
  // The browser scrolls the viewport to a box that takes the keyboard focus: made a pan,
  // so the view (and what place and Fit compute) stays in the transform alone.
  viewport.addEventListener("scroll", () => {
    if (!viewport.scrollLeft && !viewport.scrollTop) return;
    panX -= viewport.scrollLeft; panY -= viewport.scrollTop;
    viewport.scrollLeft = viewport.scrollTop = 0;
    applyZoom();
  });
  let drag = null;
  viewport.addEventListener("pointerdown", (event) => {
    if (event.target.closest("g.node")) return;
    drag = { x: event.clientX - panX, y: event.clientY - panY };
    viewport.setPointerCapture(event.pointerId);
  });
  viewport.addEventListener("pointermove", (event) => {
    if (!drag) return;
    moved = true;
    panX = event.clientX - drag.x; panY = event.clientY - drag.y; applyZoom();
  });
  viewport.addEventListener("pointerup", () => { drag = null; });

  function drawQuiz(quiz) {
    quizBox.hidden = !quiz || quiz.total === undefined;
    if (quizBox.hidden) return;
    const fb = quiz.feedback;
    prompt.textContent = quiz.done ? `Quiz done: ${quiz.score} of ${quiz.total} right.` : `${quiz.prompt}  (${quiz.tries_left} ${quiz.tries_left === 1 ? "try" : "tries"} left, score ${quiz.score} of ${quiz.total})`;
    answerBox.hidden = check.hidden = quiz.done;
    feedback.replaceChildren(...(fb ? [h("div", { class: fb.right ? "ad-right" : "ad-wrong" }, fb.message), ...(fb.hint ? [h("div", { class: "ad-hint" }, `Hint: ${fb.hint}`)] : [])] : []));
  }

  // Open groups, each a button that closes it again (a closed group opens on click in the graph).
  function drawGroups() {
    const open = model.get("expanded");
    groups.replaceChildren(...(open.length ? [h("span", {}, "Open groups: ")] : []),
      ...open.map((g) => button(`Close ${g.title}`, `✕ ${g.title}`, () => regroup({ type: "toggle", group: g.id }))));
    // The breadcrumb: the first view, then the open groups down to the last one opened.
    const trail = model.get("trail");
    const up = (id) => (id ? regroup : model.send.bind(model))({ type: "up", group: id }); // Top: the first view as it came
    const items = [h("button", { type: "button", class: "ad-crumb", "aria-label": "Back to the first view", onclick: () => up("") }, "Top")];
    trail.forEach((g, i) => {
      items.push(h("span", { "aria-hidden": "true" }, " › "));
      const last = i === trail.length - 1;
      items.push(h("button", { type: "button", class: "ad-crumb", "aria-label": `Back up to ${g.title}`, ...(last ? { "aria-current": "location" } : {}), onclick: () => up(g.id) }, g.title));
    });
    crumbs.replaceChildren(...items);
    crumbs.hidden = !model.get("expanded").length && !trail.length;
  }

  function drawFound() {
    const found = model.get("found");
    foundNote.textContent = found.error || (found.node ? `found ${found.node}` : "");
    const g = nodesById.get(found.box);
    if (g) showNode(g);
  }

  function drawText() {
    notes.replaceChildren(...model.get("notes").map((n) => h("div", {}, n)));
    cost.textContent = model.get("cost");
    error.textContent = model.get("error");
    error.hidden = !model.get("error");
  }

  model.on("change:svg", drawSvg);
  model.on("change:edge_labels", drawEdgeLabels);
  model.on("change:quiz", () => { answerBox.value = ""; schedule(); });
  for (const name of ["records", "numbers", "counts", "page", "mode", "seed", "selected", "seeds", "source"]) {
    model.on(`change:${name}`, () => schedule());
  }
  model.on("change:inputs", drawInputs);
  model.on("change:expanded", drawGroups);
  model.on("change:trail", drawGroups);
  model.on("change:found", drawFound);
  for (const name of ["notes", "cost", "error"]) model.on(`change:${name}`, drawText);
  drawText();
  drawInputs();
  drawGroups();
  drawSvg();
  return () => { stop(); resized.disconnect(); };
}

export default { render };
