// The standalone page's stand-in for a widget model: widget.js runs on it unchanged.
//
// The page carries the widget's state as JSON (#ad-state) and widget.js's source
// (#ad-esm). There is no kernel: `set` changes the state and tells the listeners,
// as a widget model does; `save_changes` and `send` have nobody to talk to. The
// passes travel whole (state.archive), so every step of every pass is here.

function modelOf(state) {
  const listeners = new Map(); // event name -> callbacks
  const fire = (name, value) => { for (const fn of listeners.get(name) || []) fn(value); };
  return {
    get: (name) => state[name],
    set(name, value) {
      if (state[name] === value) return;
      state[name] = value;
      fire(`change:${name}`, value);
    },
    save_changes() {},
    send() {}, // live inputs, groups and quiz answers need the kernel
    on(name, fn) { listeners.set(name, [...(listeners.get(name) || []), fn]); },
    off(name, fn) { listeners.set(name, (listeners.get(name) || []).filter((f) => f !== fn)); },
  };
}

const text = (id) => document.getElementById(id).textContent;
const state = JSON.parse(text("ad-state"));
const url = URL.createObjectURL(new Blob([JSON.parse(text("ad-esm"))], { type: "text/javascript" }));
const widget = (await import(url)).default;
const root = document.getElementById("ad-root");
document.getElementById("ad-static").remove(); // the copy for readers without scripts
widget.render({ model: modelOf(state), el: root });
