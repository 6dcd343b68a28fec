// The sections of the page.
// Pure: no DOM, no fetch, no schedule math (the backend's JSON holds the curves); unit-tested with
// `node --test`.

/** The sections of the page; "layers" (the per-layer charts) is the default. */
export const TABS = [
  { id: "layers", label: "Layers" },
  { id: "quality", label: "Quality vs sparsity" },
  { id: "heatmap", label: "Heatmap" },
  { id: "blocks", label: "Blocks" }, // shown for transformers read from checkpoints
  { id: "table", label: "Table" },
  { id: "whatif", label: "What-if schedule" },
];

// ---- quality vs sparsity ----------------------------------------------------------------------
