// Progressive help for the pages (they work without it): search the procedure catalogue
// ignoring Vietnamese diacritics, so that "ly lich tu phap" finds "lý lịch tư pháp".
"use strict";

function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const list = document.getElementById(input.dataset.filter);
    if (!list) continue;
    input.addEventListener("input", () => {
      const words = fold(input.value).split(/\s+/).filter(Boolean);
      for (const item of list.querySelectorAll("li[data-text]")) {
        const text = fold(item.dataset.text);
        item.hidden = !words.every((w) => text.includes(w));
      }
    });
  }
});
