// Keyboard-first moderation. j / k move between cards, a approves,
// r opens the reason picker (1-9, 0 pick a reason), u undoes the last decision on this page,
// x selects for bulk, h / b open the author's history (b with Ban focused), v shows a blurred
// comment, / searches, ? shows the help, Escape closes what is open.
(() => {
  const decided = []; // ids of cards decided on this page, most recent last (for u)
  const claimedAt = new Map(); // comment id -> when this page last claimed it
  let focusAfterDrawer = null;

  const cards = () => [...document.querySelectorAll("#cards .card")];
  const typing = (el) => el.closest("input:not([type=radio]):not([type=checkbox]), textarea, select");
  const drawer = () => document.getElementById("drawer");

  function moveFrom(card, step) {
    const list = cards();
    const index = list.indexOf(card);
    const next = index < 0 ? list[0] : list[index + step] || list[index - step] || null;
    if (next && next !== card) next.focus();
    return next;
  }

  // A card is claimed (others see "Being handled by ...") only while its detail is open here: its
  // reason picker or its author's drawer. Moving to another card, or leaving the page, lets go.
  function claim(card) {
    const last = claimedAt.get(card.id) || 0;
    const slot = card.querySelector(".claim");
    if (slot && window.htmx && Date.now() - last > 60_000) {
      claimedAt.set(card.id, Date.now());
      htmx.trigger(slot, "stet:claim");
    }
  }

  function release(card) {
    const slot = card.querySelector(".claim");
    claimedAt.delete(card.id);
    if (slot && window.htmx && !card.matches(".decided")) {
      htmx.ajax("POST", slot.getAttribute("hx-post"), {
        source: slot, target: slot, swap: "outerHTML", values: { release: "1" },
      });
    }
  }

  function releaseOthers(keep) {
    for (const id of [...claimedAt.keys()]) {
      const card = document.getElementById(id);
      if (card && card !== keep) release(card);
      else if (!card) claimedAt.delete(id);
    }
  }

  function closePicker(picker) {
    picker.open = false;
    picker.closest(".card").focus();
  }

  function pickReason(picker, key) {
    const radios = [...picker.querySelectorAll("input[type=radio]")];
    const radio = radios[(Number(key) + 9) % 10];
    if (!radio) return;
    radio.checked = true;
    if (radio.value === "other") {
      picker.querySelector(".note").focus();
    } else {
      submitReject(picker);
    }
  }

  function submitReject(picker) {
    const card = picker.closest(".card");
    moveFrom(card, 1);
    picker.querySelector("[data-action=reject-confirm]").click();
  }

  document.addEventListener("focusin", (event) => {
    const card = event.target.closest && event.target.closest("#cards .card");
    if (card) releaseOthers(card);
  });
  // Opening the reason picker (r or a click) or the author's drawer (h, b or a click) claims.
  document.addEventListener("toggle", (event) => {
    if (event.target.matches("details.picker") && event.target.open) claim(event.target.closest(".card"));
  }, true);
  document.addEventListener("click", (event) => {
    const author = event.target.closest("#cards .card a.author");
    if (author) claim(author.closest(".card"));
  });
  // Leaving the page lets go of what it held (a beacon survives the unload; the form carries CSRF).
  window.addEventListener("pagehide", () => {
    const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    for (const id of claimedAt.keys()) {
      const slot = document.querySelector(`#${id} .claim`);
      if (!slot || !token) continue;
      const form = new FormData();
      form.append("csrf_token", token);
      form.append("release", "1");
      navigator.sendBeacon(slot.getAttribute("hx-post"), form);
    }
  });

  document.addEventListener("click", (event) => {
    const blurred = event.target.closest(".card.blurred .body, [data-action=reveal]");
    if (blurred) blurred.closest(".card").classList.remove("blurred");
    if (event.target.closest("[data-help]")) document.getElementById("help").showModal();
    if (event.target.closest("[data-close-drawer]")) drawer().replaceChildren();
  });

  // htmx:load fires on every element htmx adds, out-of-band ones (bulk) included.
  document.addEventListener("htmx:load", (event) => {
    const added = event.target;
    if (added.matches(".decided[data-undo]")) decided.push(added.id);
  });
  document.addEventListener("htmx:afterSettle", () => {
    const button = focusAfterDrawer && drawer() && drawer().querySelector(focusAfterDrawer);
    if (button) {
      focusAfterDrawer = null;
      button.focus();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const picker = event.target.closest && event.target.closest("details.picker[open]");
    if (picker) {
      if (event.key === "Escape") {
        closePicker(picker);
        event.preventDefault();
      } else if (event.key === "Enter" && event.target.matches(".note, input[type=radio]")) {
        submitReject(picker); // not the form's first button (Approve)
        event.preventDefault();
      } else if (/^[0-9]$/.test(event.key) && !typing(event.target)) {
        pickReason(picker, event.key);
        event.preventDefault();
      }
      return;
    }
    if (event.key === "Escape" && drawer() && drawer().childElementCount) {
      drawer().replaceChildren();
      const card = document.querySelector("#cards .card.current");
      if (card) card.focus();
      return;
    }
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    const current = document.activeElement && document.activeElement.closest("#cards .card");
    const key = event.key;
    let handled = true;
    if (key === "j" || key === "k") {
      moveFrom(current, key === "j" ? 1 : -1);
    } else if (key === "?") {
      document.getElementById("help").showModal();
    } else if (key === "/") {
      const search = document.querySelector("[data-key='/']");
      if (search) search.focus();
    } else if (key === "u") {
      const id = decided.pop();
      const undo = id && document.querySelector(`#${id} [data-action=undo]`);
      if (undo) undo.click();
    } else if (!current) {
      handled = false;
    } else if (key === "a") {
      moveFrom(current, 1); // move on straight away: the card is about to be replaced
      current.querySelector("[data-action=approve]").click();
    } else if (key === "r") {
      const details = current.querySelector("details.picker");
      details.open = true;
      details.querySelector("input[type=radio]:checked").focus();
    } else if (key === "x") {
      const box = current.querySelector(".pick");
      box.checked = !box.checked;
    } else if (key === "v") {
      current.classList.remove("blurred");
    } else if (key === "h" || key === "b") {
      document.querySelectorAll("#cards .card.current").forEach((card) => card.classList.remove("current"));
      current.classList.add("current");
      focusAfterDrawer = key === "b" ? "[data-standing=ban], [data-standing=unban]" : "[data-close-drawer]";
      current.querySelector("a.author").click();
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });
})();

// Forms that ask before they post (data-confirm): no inline handlers, so the CSP allows no inline script.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// Live queue: every few seconds, ask for the comments that reached this queue since the page was
// drawn and put each card where the queue's order has it, keeping whatever the moderator is
// looking at where it is on screen. A card that belongs on a later page is left to that page.
(() => {
  const list = document.getElementById("cards");
  if (!list || !list.dataset.arrivals) return;
  const EVERY_MS = 5000;

  const riskOf = (card) => (card.dataset.risk === "" ? -1 : Number(card.dataset.risk));
  const idOf = (card) => Number(card.id.replace("comment-", ""));

  function placeFor(card) {
    const cards = [...list.querySelectorAll(":scope > .card")];
    const more = list.querySelector(":scope > .more");
    const sort = list.dataset.sort;
    if (sort === "newest") return cards[0] || more || null;
    const later = sort === "oldest" ? null : cards.find((other) =>
      riskOf(other) < riskOf(card) || (riskOf(other) === riskOf(card) && idOf(other) < idOf(card)));
    if (later) return later;
    return more ? undefined : document.getElementById("arrived"); // undefined: a later page's
  }

  function anchor() {
    const focused = document.activeElement && document.activeElement.closest("#cards .card");
    if (focused) return focused;
    return [...list.querySelectorAll(":scope > .card")].find((card) => card.getBoundingClientRect().bottom > 0);
  }

  function insert(fragment) {
    const held = anchor();
    const before = held ? held.getBoundingClientRect().top : 0;
    let added = 0;
    for (const card of [...fragment.querySelectorAll(".card")]) {
      if (document.getElementById(card.id)) continue;
      const place = placeFor(card);
      if (place === undefined) continue;
      card.classList.add("arrived");
      list.insertBefore(card, place);
      if (window.htmx) htmx.process(card);
      added += 1;
    }
    if (!added) return;
    const empty = list.querySelector(":scope > .empty");
    if (empty) empty.remove();
    if (held) window.scrollBy(0, held.getBoundingClientRect().top - before);
    document.getElementById("arrived").textContent = `${added} new comment${added === 1 ? "" : "s"}`;
    if (window.htmx) htmx.trigger(document.body, "stet:arrived"); // the tabs' counts refresh
  }

  async function poll() {
    if (!document.hidden) {
      const url = new URL(list.dataset.arrivals, location.href);
      url.searchParams.set("after", list.dataset.after);
      try {
        const answer = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
        if (answer.ok) {
          const template = document.createElement("template");
          template.innerHTML = await answer.text();
          const arrivals = template.content.querySelector(".arrivals");
          if (arrivals) {
            list.dataset.after = arrivals.dataset.after;
            insert(arrivals);
          }
        }
      } catch (error) {
        // offline for a moment: the next poll asks again from the same id
      }
    }
    setTimeout(poll, EVERY_MS);
  }
  setTimeout(poll, EVERY_MS);
})();
