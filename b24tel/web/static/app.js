// b24tel pages: the live call card, click-to-call, players, transcript seeking and the
// request journal's live tail. No framework; every text goes in with textContent.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function toast(message) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  // --- the live call card (Server-Sent Events from /live) -------------------------------
  function showCard(card) {
    const holder = document.getElementById("cards");
    if (!holder) return;
    let node = holder.querySelector('[data-call-id="' + CSS.escape(card.call_id) + '"]');
    if (!node) {
      node = el("section", "card");
      node.dataset.callId = card.call_id;
      node.setAttribute("role", "dialog");
      node.setAttribute("aria-label", "Call " + card.number);
      holder.prepend(node);
    }
    node.replaceChildren();
    const close = el("button", "card-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss this card");
    close.addEventListener("click", () => dismissCard(card.call_id));
    node.append(close);
    node.append(el("p", "card-direction", card.direction));
    node.append(el("p", "card-number", card.number));
    if (card.entity) {
      const link = el("a", "card-entity", card.entity.name || card.entity.type);
      link.href = card.entity.url;
      node.append(link);
      node.append(el("span", "muted", " " + card.entity.type));
    } else {
      node.append(el("p", "muted", "Not in the CRM"));
    }
    if (card.line) node.append(el("p", "card-line", "Line " + card.line));
    const open = el("a", "card-open", "Call page");
    open.href = "/calls/" + encodeURIComponent(card.call_id);
    node.append(open);
    layoutCards();
  }

  function dropCard(callId) {
    const holder = document.getElementById("cards");
    const node = holder && holder.querySelector('[data-call-id="' + CSS.escape(callId) + '"]');
    if (node) node.remove();
    layoutCards();
  }

  // the server remembers a dismissed card: it stays away on every page and tab until a
  // connector shows it again
  async function dismissCard(callId) {
    dropCard(callId);
    try {
      await fetch("/calls/" + encodeURIComponent(callId) + "/dismiss", {
        method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin",
      });
    } catch (err) { /* the card is gone from this page; the next page may show it again */ }
  }

  // cards keep a column of their own (a row above the page on a phone): they never lie
  // over the page's controls
  function layoutCards() {
    const holder = document.getElementById("cards");
    document.body.classList.toggle("has-cards", !!(holder && holder.children.length));
  }

  if (csrf && window.EventSource) {
    const source = new EventSource("/live");
    source.addEventListener("card", (e) => showCard(JSON.parse(e.data)));
    source.addEventListener("gone", (e) => dropCard(JSON.parse(e.data).call_id));
    document.documentElement.dataset.live = "connecting";
    source.addEventListener("open", () => { document.documentElement.dataset.live = "open"; });
  }

  // --- click-to-call ----------------------------------------------------------------------
  async function dial(button) {
    const body = new URLSearchParams({ number: button.dataset.number });
    if (button.dataset.entityType) body.set("entity_type", button.dataset.entityType);
    if (button.dataset.entityId) body.set("entity_id", button.dataset.entityId);
    button.disabled = true;
    try {
      const answer = await fetch("/calls/start", {
        method: "POST", body: body, headers: { "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      const data = await answer.json();
      toast(answer.ok ? "Calling " + button.dataset.number + "…"
                      : (data.error_description || data.error || "The call did not start"));
    } catch (err) {
      toast("The call did not start: " + err);
    } finally {
      button.disabled = false;
    }
  }

  // --- players ------------------------------------------------------------------------------
  // a row's ▶ plays its recording in the page's one player and shows it in the row: pause,
  // progress, seeking, time
  function fmt(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function miniPlayer(player) {
    let bar = document.getElementById("miniplayer");
    if (!bar) {
      bar = el("span", "mini");
      bar.id = "miniplayer";
      const range = el("input", "mini-range");
      range.type = "range";
      range.min = "0";
      range.step = "0.1";
      range.value = "0";
      range.setAttribute("aria-label", "Position in the recording");
      range.addEventListener("input", () => { player.currentTime = Number(range.value); });
      bar.append(range, el("span", "mini-time", "0:00"));
      const update = () => {
        if (player.duration && isFinite(player.duration)) range.max = String(player.duration);
        if (document.activeElement !== range) range.value = String(player.currentTime);
        bar.querySelector(".mini-time").textContent =
          fmt(player.currentTime) + " / " + fmt(player.duration);
      };
      player.addEventListener("timeupdate", update);
      player.addEventListener("loadedmetadata", update);
      const toggled = () => {
        for (const b of document.querySelectorAll("button.play")) {
          const on = b.dataset.src === player.dataset.src && !player.paused;
          b.textContent = on ? "\u275A\u275A" : "\u25B6";
          b.setAttribute("aria-label", on ? "Pause the recording" : "Play the recording");
        }
      };
      player.addEventListener("play", toggled);
      player.addEventListener("pause", toggled);
      player.addEventListener("ended", toggled);
    }
    return bar;
  }

  function quickPlay(button) {
    const player = document.getElementById("quickplayer");
    if (!player) return;
    if (player.dataset.src === button.dataset.src) {
      if (player.paused) player.play().catch((err) => toast("Cannot play: " + err));
      else player.pause();
      return;
    }
    player.dataset.src = button.dataset.src;
    player.src = button.dataset.src;
    button.after(miniPlayer(player));
    player.play().catch((err) => toast("Cannot play: " + err));
  }

  function seek(button) {
    const player = document.getElementById("player");
    if (!player) return;
    player.currentTime = Number(button.dataset.start) || 0;
    player.play().catch(() => {});
  }

  document.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target.closest("button") : null;
    if (!target) return;
    if (target.classList.contains("dial")) dial(target);
    else if (target.classList.contains("play")) quickPlay(target);
    else if (target.classList.contains("seek")) seek(target);
  });

  // --- the request journal's live tail -------------------------------------------------------
  const table = document.getElementById("requests");
  const tail = document.getElementById("tail");
  if (table && tail) {
    let newest = Number(table.dataset.newest) || 0;
    const filters = new URLSearchParams(window.location.search);
    async function poll() {
      if (tail.checked && !document.hidden) {
        filters.set("after", String(newest));
        try {
          const answer = await fetch("/admin/requests.json?" + filters, { credentials: "same-origin" });
          if (answer.ok) {
            const data = await answer.json();
            const body = table.tBodies[0];
            for (const entry of data.requests) {
              newest = Math.max(newest, entry.id);
              const empty = body.querySelector(".empty-row");
              if (empty) empty.remove();
              const row = document.createElement("tr");
              const link = el("a", "", entry.id);
              link.href = "/admin/requests/" + entry.id;
              const first = el("td");
              first.append(link);
              row.append(first);
              for (const value of [entry.at, entry.kind, entry.method, entry.caller || "",
                                   entry.status, entry.error || "ok",
                                   (entry.duration_ms || 0).toFixed(1)]) {
                row.append(el("td", "", value));
              }
              row.classList.add("fresh");
              body.prepend(row);
            }
          }
        } catch (err) { /* the next poll tries again */ }
      }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 1000);
  }

  // --- copy buttons (a sign-in link, a webhook URL) ----------------------------------------
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        toast("Copied");
      } catch (err) {
        toast("Select the text and copy it");
      }
    });
  }
})();
