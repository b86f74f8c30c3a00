/** Flags of the commands that read event data (`--data nmnist:DIR`, ...): frames a sample and their split. */
import type { Flags } from "./args.js";
import { CONFIG_LIMITS } from "../models/config.js";
import type { EventDataOptions } from "../train/data/events/datasets.js";

export const EVENT_FLAGS = {
  frames: { type: "int", min: 1, max: CONFIG_LIMITS.T, help: "event data: frames a sample, the model's T (default --T, else 16)" },
  "split-by": { type: "string", default: "number", choices: ["number", "time"], help: "event data: split a recording into frames by event number or by time" },
} satisfies Flags;

/** Event-data options from the flags; `T` is the model's time steps when known. */
export function eventOptions(a: Record<string, unknown>, T?: number): Partial<EventDataOptions> {
  return { frames: (a["frames"] as number | undefined) ?? T ?? 16, splitBy: a["split-by"] as EventDataOptions["splitBy"] };
}
