/* Tenure live chat: add to any web page with one tag.
 *
 *   <script src="https://support.example.com/static/inbox/chat.js"
 *           data-tenure="https://support.example.com" data-title="Questions? Chat with us" defer></script>
 *
 * data-tenure is the Tenure server (defaults to where this script came from). The page's origin must be
 * listed in the server's TENURE_CHAT_ORIGINS. Everything lives in a shadow root, so the page's styles and
 * this widget's never mix. Text is only ever set with textContent: nothing a message says is run.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.TenureChat) return;
  var base = (script.getAttribute("data-tenure") || new URL(script.src).origin).replace(/\/+$/, "");
  var title = script.getAttribute("data-title") || "Chat with us";
  var socketUrl = base.replace(/^http/, "ws") + "/ws/chat/";
  var storageKey = "tenure-chat:" + base;

  var css =
    ":host{all:initial;font:14px/1.4 system-ui,sans-serif;color:#1d2430}" +
    ".launcher{position:fixed;right:20px;bottom:20px;border:0;border-radius:24px;padding:12px 18px;" +
    "background:#1f5fbf;color:#fff;font:inherit;cursor:pointer;box-shadow:0 2px 8px #0004}" +
    ".panel{position:fixed;right:20px;bottom:76px;width:320px;max-height:460px;display:none;flex-direction:column;" +
    "background:#fff;border:1px solid #ccd3dd;border-radius:10px;box-shadow:0 4px 16px #0003;overflow:hidden}" +
    ".panel.open{display:flex}.head{padding:10px 12px;background:#1f5fbf;color:#fff;font-weight:600}" +
    ".log{flex:1;overflow-y:auto;padding:8px 12px;min-height:160px}" +
    ".msg{margin:6px 0;padding:6px 9px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}" +
    ".visitor{background:#e6eefb;margin-left:auto}.agent{background:#f1f2f4}.pending{opacity:.6}" +
    ".who{display:block;font-size:11px;color:#5b6573}.status{font-size:12px;color:#8a4b00;padding:0 12px}" +
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e7ee}" +
    "input,textarea{font:inherit;flex:1;border:1px solid #ccd3dd;border-radius:6px;padding:6px}" +
    "textarea{resize:none;height:38px}button.send{border:0;border-radius:6px;background:#1f5fbf;color:#fff;padding:0 12px}";

  var host = document.createElement("div");
  host.id = "tenure-chat";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" + css + "</style>" +
    '<button class="launcher" type="button" part="launcher"></button>' +
    '<section class="panel" role="dialog"><div class="head"></div><div class="log" aria-live="polite"></div>' +
    '<div class="status" role="status"></div>' +
    '<form class="who-form"><input type="email" name="email" placeholder="Your e-mail (so we can reply later)">' +
    '<button class="send" type="submit">Save</button></form>' +
    '<form class="say"><textarea name="body" maxlength="4000" placeholder="Type a message"></textarea>' +
    '<button class="send" type="submit">Send</button></form></section>';
  var launcher = root.querySelector(".launcher");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var status = root.querySelector(".status");
  var whoForm = root.querySelector(".who-form");
  var sayForm = root.querySelector(".say");
  launcher.textContent = title;
  root.querySelector(".head").textContent = title;

  var socket = null;
  var backoff = 500;
  var pending = []; // messages not yet acknowledged, in order: {id, body, el}
  var retryTimer = null;
  var typingTimer = null;
  var seen = {};
  var lastTyping = 0;

  function token() {
    try { return localStorage.getItem(storageKey) || ""; } catch (e) { return ""; }
  }
  function keepToken(value) {
    try { localStorage.setItem(storageKey, value); } catch (e) { /* private mode: one visit only */ }
  }
  function say(text) { status.textContent = text || ""; }

  function bubble(from, body, author) {
    var el = document.createElement("div");
    el.className = "msg " + (from === "visitor" ? "visitor" : "agent");
    if (author && from !== "visitor") {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = author;
      el.appendChild(who);
    }
    el.appendChild(document.createTextNode(body));
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }
  function show(message) {
    var key = message.from + ":" + message.id;
    if (seen[key]) return;
    seen[key] = true;
    bubble(message.from, message.body, message.author);
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function flush() {
    clearTimeout(retryTimer);
    retryTimer = null;
    pending.forEach(function (item) { send({ type: "message", id: item.id, body: item.body }); });
  }

  function onFrame(frame) {
    if (frame.type === "welcome") {
      keepToken(frame.token);
      if (frame.identified) whoForm.style.display = "none";
      (frame.messages || []).forEach(show);
      say("");
      flush();
    } else if (frame.type === "ack") {
      pending = pending.filter(function (item) {
        if (item.id !== frame.id) return true;
        item.el.classList.remove("pending");
        seen["visitor:" + frame.message.id] = true;
        return false;
      });
    } else if (frame.type === "message") {
      show(frame.message);
      say("");
    } else if (frame.type === "typing") {
      say((frame.name || "An agent") + " is typing…");
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { say(""); }, 4000);
    } else if (frame.type === "identified") {
      whoForm.style.display = "none";
      say("Thanks, we will reply to " + frame.email + " if you leave.");
    } else if (frame.type === "error") {
      if ((frame.code === "rate_limited" || frame.code === "unavailable") && frame.id) {
        // Kept in `pending`; everything not yet acknowledged goes again once the server allows it.
        say("Sending a little slower…");
        if (!retryTimer) retryTimer = setTimeout(flush, Math.ceil((frame.retry_after || 1) * 1000));
      } else {
        if (frame.id) {
          pending = pending.filter(function (item) {
            if (item.id === frame.id) item.el.classList.add("failed");
            return item.id !== frame.id;
          });
        }
        say(frame.message);
      }
    }
  }

  function connect() {
    socket = new WebSocket(socketUrl + "?token=" + encodeURIComponent(token()));
    socket.onopen = function () { backoff = 500; };
    socket.onmessage = function (event) {
      try { onFrame(JSON.parse(event.data)); } catch (e) { /* a frame we do not understand */ }
    };
    socket.onclose = function () {
      say("Reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  launcher.addEventListener("click", function () {
    panel.classList.toggle("open");
    if (!socket) connect();
  });
  sayForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var field = sayForm.elements.body;
    var body = field.value.trim();
    if (!body) return;
    var item = { id: "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8), body: body };
    item.el = bubble("visitor", body);
    item.el.classList.add("pending");
    pending.push(item);
    send({ type: "message", id: item.id, body: body });
    field.value = "";
  });
  sayForm.elements.body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); sayForm.requestSubmit(); return; }
    // At most one "typing" every 2 s: they count against the same per-connection limit as messages.
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); send({ type: "typing" }); }
  });
  whoForm.addEventListener("submit", function (event) {
    event.preventDefault();
    send({ type: "identify", email: whoForm.elements.email.value });
  });

  window.TenureChat = {
    open: function () { if (!panel.classList.contains("open")) launcher.click(); },
  };
  (document.body || document.documentElement).appendChild(host);
})();
