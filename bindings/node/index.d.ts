// Types of the `crm-rules` package (written by hand, checked by `tsc` in the
// tests against test/types.ts).

/** A record as the program reads it: canonical JSON or a CRM's own. */
export type Record = { [field: string]: unknown };

/** One line the program writes: a decision, its native requests, or an error. */
export type Answer = { [field: string]: unknown };

/** What a decision reads and answers; the program's flags, as values. */
export interface DecideOptions {
  /** The decision time (`--now`); default: now, to the second. */
  now?: Date | string;
  /** The acting user (`--user`). */
  user?: string;
  /** The acting team (`--team`). */
  team?: string;
  /** What each answer holds (`--emit`); default `"decision"`. */
  emit?: 'decision' | 'native' | 'both';
  /** The records' CRM format (`--format`); default: detected per record. */
  format?: 'canonical' | 'dataverse' | 'salesforce' | 'hubspot';
  /** Transitions: the stage to move to, for records that do not say (`--to`). */
  to?: string;
  /** Name the module version that decided each record (`--provenance`). */
  provenance?: boolean;
  /** Group native requests into atomic sends (`--bundle`). */
  bundle?: boolean;
  /** The largest record, in bytes (`--max-record-bytes`). */
  maxRecordBytes?: number;
}

/** Options of a batch: also how many threads decide it. */
export interface BatchOptions extends DecideOptions {
  /** Deciding threads (`--jobs`); default: one per core. */
  jobs?: number;
}

/** The kinds of decision a batch can ask for. */
export type Kind = 'qualify' | 'convert' | 'transition' | 'forecast';

/** What `crm-rules info` prints. */
export interface ModuleInfo {
  org: string;
  version: string;
  [field: string]: unknown;
}

/** Options of a host. */
export interface HostOptions {
  /** Folder of compiled modules; `null` for no cache; default: the program's. */
  cacheDir?: string | null;
  /** The key that authenticates cached code; default: the program's. */
  cacheKey?: string;
}

/** One engine shared by the orgs loaded into it. */
export declare class Host {
  constructor(options?: HostOptions);
  /** Loads an org folder into this host; throws `LoadError`. */
  org(dir: string): Org;
}

/** An org folder loaded and ready to decide. */
export declare class Org {
  /** Loads `dir` into `options.host`, or into one host shared by the process. */
  constructor(dir: string, options?: { host?: Host });
  /** The org's id, as `org.json` gives it. */
  readonly id: string;
  /** The folder it was read from. */
  readonly dir: string;
  /** What `crm-rules info` prints. */
  info(): ModuleInfo;
  /** What `crm-rules stages` prints. */
  stages(): Answer[];
  /** Qualifies one lead: its decision line, or its error line. */
  qualify(record: Record | string | Uint8Array, options?: DecideOptions): Answer;
  /** Plans one conversion (`{lead, candidates}`). */
  convert(record: Record | string | Uint8Array, options?: DecideOptions): Answer;
  /** Checks one stage move (`{opportunity, to}`). */
  transition(record: Record | string | Uint8Array, options?: DecideOptions): Answer;
  /** Forecasts one opportunity. */
  forecast(record: Record | string | Uint8Array, options?: DecideOptions): Answer;
  /**
   * Decides every record, off the event loop: one answer per line the program
   * writes, in input order. `data`: any input the program reads (bytes or
   * text), or records. Rejects with `InputError` when `data` is not records.
   */
  decide(kind: Kind, data: Uint8Array | string | Iterable<Record>, options?: BatchOptions): Promise<Answer[]>;
  /** `decide` on the calling thread. */
  decideSync(kind: Kind, data: Uint8Array | string | Iterable<Record>, options?: BatchOptions): Answer[];
}

/** Every error this package throws on its own. */
export declare class CrmRulesError extends Error {
  readonly code: 'ERR_CRM_RULES_LOAD' | 'ERR_CRM_RULES_INPUT' | 'ERR_CRM_RULES_MODULE';
}

/** An org folder could not be read, or its module was not loaded or refused. */
export declare class LoadError extends CrmRulesError {
  readonly code: 'ERR_CRM_RULES_LOAD';
}

/** An input that is not records at all. */
export declare class InputError extends CrmRulesError {
  readonly code: 'ERR_CRM_RULES_INPUT';
}

/** The org's module could not answer a call at all. */
export declare class ModuleError extends CrmRulesError {
  readonly code: 'ERR_CRM_RULES_MODULE';
}
