// Draws the ```mermaid blocks (the booking's state diagram) as diagrams. Mermaid itself is loaded
// from a CDN, nothing is vendored: offline, a block stays on the page as readable code.
import mermaid from "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs";

for (const code of document.querySelectorAll("pre > code.language-mermaid")) {
  const diagram = document.createElement("div");
  diagram.className = "mermaid";
  diagram.textContent = code.textContent;
  code.parentElement.replaceWith(diagram);
}
mermaid.initialize({ startOnLoad: false });
await mermaid.run();
