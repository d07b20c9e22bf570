/* The agent console: live updates and presence over one websocket, keyboard shortcuts. */
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) return;
  var page = root.dataset.page;
  var requestId = root.dataset.request ? parseInt(root.dataset.request, 10) : null;
  var presence = document.getElementById("presence");
  var others = {}; // tab -> {name, typing, until}
  var socket = null;
  var backoff = 500;
  var lastTyping = 0;
  var QUEUE_KEY = "tenure-console-queue";

  function renderPresence() {
    var now = Date.now();
    var parts = [];
    Object.keys(others).forEach(function (tab) {
      var who = others[tab];
      if (who.typing && who.until > now) {
        parts.push(who.name + (who.mode === "note" ? " is writing a note" : " is typing a reply"));
      } else if (who.viewing) {
        parts.push(who.name + " is viewing this request");
      }
    });
    presence.hidden = parts.length === 0;
    presence.textContent = parts.length ? "⚠ " + parts.join("; ") + "." : "";
  }
  setInterval(renderPresence, 1000);

  function refreshThread() {
    var thread = document.getElementById("thread");
    if (thread && window.htmx) {
      htmx.ajax("GET", root.dataset.thread, { target: "#thread", swap: "outerHTML" });
    }
  }

  function onMessage(frame) {
    if (frame.type === "request.changed" && frame.request === requestId) {
      refreshThread();
    } else if (frame.type === "inbox.changed" && page === "inbox") {
      document.body.dispatchEvent(new CustomEvent("tenure:inbox-changed"));
    } else if (frame.type === "presence") {
      var key = frame.tab || ("user:" + frame.user);
      if (frame.event === "leave") {
        delete others[key];
      } else {
        var who = others[key] || { name: frame.name, viewing: !!frame.tab };
        if (frame.event === "typing") {
          who.typing = true;
          who.mode = frame.mode;
          who.until = Date.now() + 5000;
          if (frame.name === "The customer") refreshThread();
        }
        others[key] = who;
      }
      renderPresence();
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onopen = function () {
      backoff = 500;
      root.dataset.live = "on";
      if (requestId) socket.send(JSON.stringify({ type: "watch", request: requestId }));
    };
    socket.onmessage = function (event) {
      try { onMessage(JSON.parse(event.data)); } catch (e) { /* ignore a frame we cannot read */ }
    };
    socket.onclose = function (event) {
      root.dataset.live = "off";
      others = {};
      renderPresence();
      if (event.code === 4403) return; // not allowed: do not hammer the server
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  if ("WebSocket" in window) connect();

  document.addEventListener("input", function (event) {
    var mode = event.target.dataset && event.target.dataset.typing;
    if (!mode || !socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    socket.send(JSON.stringify({ type: "typing", mode: mode }));
  });

  // The inbox remembers its order so j/k can walk from one conversation to the next.
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue tr.row")); }
  function rememberQueue() {
    var hrefs = rows().map(function (row) { return row.dataset.href; });
    try { sessionStorage.setItem(QUEUE_KEY, JSON.stringify(hrefs)); } catch (e) { /* storage off */ }
  }
  if (page === "inbox") {
    rememberQueue();
    document.body.addEventListener("htmx:afterSwap", rememberQueue);
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("#queue tr.row");
      if (row && !event.target.closest("a")) location.href = row.dataset.href;
    });
  }
  function moveInbox(step) {
    var all = rows();
    if (!all.length) return;
    var current = all.findIndex(function (row) { return row.classList.contains("selected"); });
    var next = Math.max(0, Math.min(all.length - 1, current + step));
    if (current >= 0) all[current].classList.remove("selected");
    all[next].classList.add("selected");
    all[next].scrollIntoView({ block: "nearest" });
  }
  function moveConversation(step) {
    var hrefs;
    try { hrefs = JSON.parse(sessionStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { hrefs = []; }
    var index = hrefs.indexOf(location.pathname);
    var target = hrefs[index + step];
    if (index >= 0 && target) location.href = target;
  }
  function focusBox(id) {
    var box = document.getElementById(id);
    if (!box) return;
    box.open = true;
    var area = box.querySelector("textarea");
    if (area) area.focus();
  }

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Escape") {
      if (target.blur) target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "i") { location.href = document.getElementById("back-to-inbox") ? document.getElementById("back-to-inbox").href : "/console/"; }
      return;
    }
    if (key === "?") { var help = document.getElementById("shortcuts"); if (help.open) help.close(); else help.showModal(); }
    else if (key === "j" || key === "k") {
      var step = key === "j" ? 1 : -1;
      if (page === "inbox") moveInbox(step); else moveConversation(step);
    } else if (key === "Enter" && page === "inbox") {
      var selected = document.querySelector("#queue tr.row.selected");
      if (selected) location.href = selected.dataset.href;
    } else if (key === "r") { focusBox("reply-box"); }
    else if (key === "n") { focusBox("note-box"); }
    else if (key === "e") {
      var resolve = document.getElementById("resolve-form");
      if (resolve) resolve.requestSubmit();
    } else if (key === "g") { pendingG = true; return; }
    else { return; }
    event.preventDefault();
  });
})();
