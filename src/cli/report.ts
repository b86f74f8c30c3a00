/** The `bitspike report` command: a run folder's HTML report and its charts as PNG files. */
import { join } from "node:path";
import { fail } from "../tensor/errors.js";
import { collectReport } from "../report/collect.js";
import { writeReport } from "../report/report.js";
import { parseArgs, type Flags } from "./args.js";
import { applyThreads, MODEL_FLAGS } from "./model-flags.js";

export const REPORT_FLAGS = {
  data: { type: "string", help: "data set for the test-split sections (default: the run's own)" },
  out: { type: "string", help: "HTML file to write (default RUN_DIR/report.html); the PNGs go beside it" },
  "energy-images": { type: "int", default: 200, min: 1, help: "test images the firing rates and energy are averaged over" },
  limit: { type: "int", min: 1, help: "test images of the confusion matrix (default: the whole test split)" },
  threads: MODEL_FLAGS.threads,
} satisfies Flags;

export function runReport(argv: string[]): void {
  const a = parseArgs("report", argv, REPORT_FLAGS, { positionals: 1 });
  applyThreads(a);
  const dir = a._[0] ?? fail("bitspike report", "usage: bitspike report RUN_DIR [--data D] [--out report.html]");
  const data = collectReport(dir, { data: a.data, energyImages: a["energy-images"]!, limit: a.limit });
  const { html, pngs } = writeReport(data, a.out ?? join(dir, "report.html"));
  console.log(`wrote ${html} and ${pngs.length} PNG charts beside it`);
}
