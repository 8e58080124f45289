// The Hessian matrix of a %%grad --order 2 display: an anywidget ES module, no imports.
// A click on an entry asks Python to show the second pass that computes it. (`h` is
// widget.js's element helper again: anywidget loads each module from a blob URL, so one
// cannot import the other.)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function render({ model, el }) {
  el.classList.add("ad-hessian");
  function draw() {
    const labels = model.get("labels");
    const rows = model.get("rows");
    const out = model.get("output");
    const [pr, pc] = model.get("picked");
    const caption = h("div", { class: "ad-hessian-caption" },
      `Hessian of ${out}: entry (row a, column b) is d²${out}/da db, from the forward pass seeded at b ` +
      "over the gradient computation below. Click an entry to see its pass.");
    if (!rows.length) {
      el.replaceChildren(caption, h("div", { class: "ad-hessian-note" }, model.get("note")));
      return;
    }
    const head = h("tr", {}, h("th", {}, ""), ...labels.map((l) => h("th", { scope: "col" }, l)));
    const body = rows.map((row, i) => h("tr", {}, h("th", { scope: "row" }, labels[i]),
      ...row.map((x, j) => {
        const cell = h("td", { "data-row": String(i), "data-column": String(j), title: `d²${out}/d${labels[i]} d${labels[j]}` }, x);
        cell.classList.toggle("ad-picked", i === pr && j === pc);
        cell.addEventListener("click", () => model.send({ type: "entry", row: i, column: j }));
        return cell;
      })));
    el.replaceChildren(caption, h("div", { class: "ad-hessian-box" }, h("table", { class: "ad-hessian-table" }, head, ...body)));
  }
  for (const name of ["labels", "rows", "output", "picked", "note"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
