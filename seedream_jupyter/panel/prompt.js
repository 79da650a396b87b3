// The panel's prompt box (anywidget ESM): Ctrl/Cmd+Enter sends a "submit" message.
function render({ model, el }) {
  const area = document.createElement("textarea");
  area.className = "sjp-prompt";
  area.rows = model.get("rows");
  area.placeholder = model.get("placeholder");
  area.value = model.get("value");
  area.spellcheck = true;
  area.setAttribute("aria-label", "prompt");
  const push = () => {
    if (model.get("value") !== area.value) {
      model.set("value", area.value);
      model.save_changes();
    }
  };
  area.addEventListener("input", push);
  area.addEventListener("change", push);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      // Ours, not the notebook's "run cell" shortcut.
      event.preventDefault();
      event.stopPropagation();
      push();
      model.send({ type: "submit" });
    }
  });
  const pull = () => {
    if (area.value !== model.get("value")) area.value = model.get("value");
  };
  model.on("change:value", pull);
  model.on("change:disabled", () => { area.disabled = model.get("disabled"); });
  area.disabled = model.get("disabled");
  el.appendChild(area);
  return () => model.off("change:value", pull);
}
export default { render };
