// Keyboard moderation: j / k move between cards, a approves and r rejects the focused card.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) {
    return;
  }
  const cards = [...document.querySelectorAll(".card")];
  const current = document.activeElement && document.activeElement.closest(".card");
  const index = cards.indexOf(current);
  const action = { a: "approve", r: "reject" }[event.key];
  if (event.key === "j" || event.key === "k") {
    const step = event.key === "j" ? 1 : -1;
    const next = index < 0 ? cards[0] : cards[Math.min(Math.max(index + step, 0), cards.length - 1)];
    if (next) {
      next.focus();
      event.preventDefault();
    }
  } else if (action && current) {
    current.querySelector(`[data-action="${action}"]`).click();
    // Move on straight away: the card is about to be replaced by its outcome.
    (cards[index + 1] || cards[index - 1] || current).focus();
    event.preventDefault();
  }
});
