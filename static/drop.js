// Drag-and-drop of .eml files onto the page: each is posted to api/messages as message/rfc822 (its
// envelope comes from its headers) and arrives like any other message, through the live list. What
// happened is said in a status line of its own, which live updates of the list leave alone.

const EML = /\.eml$/i;

export function acceptDrops(target, { onStored }) {
  const status = document.createElement("p");
  status.id = "drop-status";
  status.className = "drop-status";
  status.setAttribute("role", "status");
  status.addEventListener("click", () => (status.textContent = ""));
  target.append(status);
  let depth = 0; // dragenter/dragleave fire for every child crossed: count them
  const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
  const setActive = (active) => target.classList.toggle("dropping", active);

  target.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    setActive(true);
  });
  target.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // else the browser opens the file instead of dropping it here
    event.dataTransfer.dropEffect = "copy";
  });
  target.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) setActive(false);
  });
  target.addEventListener("drop", async (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    setActive(false);
    const files = [...event.dataTransfer.files];
    const problems = [];
    let stored = 0;
    for (const file of files) {
      if (!EML.test(file.name) && file.type !== "message/rfc822") {
        problems.push(`${file.name}: not an .eml file`);
        continue;
      }
      const response = await fetch("api/messages", {
        method: "POST",
        headers: { "Content-Type": "message/rfc822", Accept: "application/json" },
        body: file,
      });
      if (response.ok) {
        stored += 1;
        continue;
      }
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error || message;
      } catch {
        // not JSON: keep the status line
      }
      problems.push(`${file.name}: ${message}`);
    }
    const done = `${stored} message${stored === 1 ? "" : "s"} stored`;
    status.textContent = problems.length ? `${done}; not stored: ${problems.join("; ")}` : done;
    status.classList.toggle("failed", problems.length > 0);
    if (stored) onStored(stored);
  });
}
