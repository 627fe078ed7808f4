// What one engine run is asked to do and what it reports back (passed as JSON to and from a child process).

export type EngineName = "decoderkit" | "llamacpp" | "speculative" | "prefix" | "train";

export interface EngineJob {
  readonly engine: EngineName;
  readonly modelPath: string;
  readonly promptIds: readonly number[];
  /** Single-token decode steps after the prompt (the prompt's own pass yields the first new token). */
  readonly decodeTokens: number;
  readonly threads: number;
  /** Timed passes after the warm-up; the fastest prefill and the fastest decode are reported. */
  readonly repeat: number;
  /** decoderkit kernel backend name (ignored by llama.cpp). */
  readonly backend: string;
  /** speculative: the draft's weight type (an in-memory copy of the model) and tokens drafted per pass. */
  readonly draftQuant?: string;
  readonly draftTokens?: number;
  /** prefix: the last prefixSuffixTokens prompt ids differ between the two requests; the rest is shared. */
  readonly prefixSuffixTokens?: number;
  /** train: timed optimizer steps after the warm-up. */
  readonly trainSteps?: number;
}

export interface EngineTimings {
  readonly loadMs: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** Greedy tokens: the prefill's pick, then one per decode step (decodeTokens + 1 in all). */
  readonly tokens: number[];
  /** Threads the engine actually computed with. */
  readonly threadsUsed: number;
  /** Peak resident set size of the process that ran the job, in bytes. */
  readonly peakRssBytes: number;
  /** Engine details for the header, e.g. the llama.cpp release. */
  readonly info?: string;
  /** speculative: the same greedy decode with each drafter (see speculative-run.ts). */
  readonly speculative?: SpeculativeTimings[];
  /** prefix: time to first token with and without the shared prefix's cache (see prefix-run.ts). */
  readonly prefix?: PrefixTimings;
  /** train: milliseconds per optimizer step (see train-run.ts). */
  readonly train?: TrainTimings;
}

export interface TrainTimings {
  readonly steps: number;
  readonly msPerStep: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
}

export interface PrefixTimings {
  readonly sharedTokens: number;
  readonly promptTokens: number;
  /** The request alone, on a fresh session. */
  readonly freshFirstTokenMs: number;
  /** The same request right after one sharing its first sharedTokens ids, on the same session. */
  readonly reusedFirstTokenMs: number;
  readonly reusedTokens: number;
  /** Whether both runs picked the same first token. */
  readonly sameToken: boolean;
}

export interface SpeculativeTimings {
  /** The drafter: a quantized copy's dtype ("q8_0", "q4_0") or "prompt-lookup". */
  readonly draft: string;
  readonly draftTokens: number;
  /** Covers all decodeTokens + 1 tokens (the prompt pass leaves the last prompt token to the first round). */
  readonly decodeMs: number;
  readonly tokens: number[];
  readonly drafted: number;
  readonly accepted: number;
  readonly targetForwards: number;
  readonly draftForwards: number;
  readonly rounds: number;
  readonly draftMs: number;
  readonly verifyMs: number;
  /** Time to build the quantized draft (0 for prompt lookup). */
  readonly draftBuildMs: number;
}

export type EngineResult =
  | { readonly ok: true; readonly timings: EngineTimings }
  | { readonly ok: false; readonly unavailable: boolean; readonly error: string };

/** Process peak RSS; Node reports `maxRSS` in kilobytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
