// crm-rules for Node.js: org folders decided in-process, every answer the line
// the crm-rules program writes for the same input, as an object. The native
// addon (src/, built into crm-rules.node on install) decides; this file checks
// arguments, turns records into JSON text and answers back into objects, and
// gives errors their classes.
'use strict';
const path = require('node:path');
const os = require('node:os');
const native = require('./crm-rules.node');

/** Every error this package throws on its own, with a `code`. */
class CrmRulesError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An org folder could not be read or its module not loaded (or was refused). */
class LoadError extends CrmRulesError {
  constructor(message, options) {
    super(message, 'ERR_CRM_RULES_LOAD', options);
  }
}

/** The input as a whole is not records (not JSON, an unterminated array, ...). */
class InputError extends CrmRulesError {
  constructor(message, options) {
    super(message, 'ERR_CRM_RULES_INPUT', options);
  }
}

/** The org's module could not answer a call at all (not a record's failure). */
class ModuleError extends CrmRulesError {
  constructor(message, options) {
    super(message, 'ERR_CRM_RULES_MODULE', options);
  }
}

function typeError(name, expected, value) {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  const error = new TypeError(`${name}: must be ${expected}, got ${got}`);
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

function valueError(message) {
  const error = new RangeError(message);
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

// A native error in this package's terms: the addon says InvalidArg for a bad
// argument (its message names it) and GenericFailure for a failure of the
// library, which the call site names.
function translate(error, Failure) {
  if (error && error.code === 'InvalidArg') return valueError(error.message);
  if (error && error.code === 'GenericFailure') return new Failure(error.message, { cause: error });
  return error;
}

const OPTIONS = {
  now: null,
  user: 'string',
  team: 'string',
  emit: 'string',
  format: 'string',
  to: 'string',
  provenance: 'boolean',
  bundle: 'boolean',
  jobs: 'count',
  maxRecordBytes: 'count',
};

// The options object as the addon takes it: known keys, checked types, `now`
// as RFC 3339 text.
function nativeOptions(options, allowed) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) throw typeError('options', 'an object', options);
  const out = {};
  for (const key of Object.keys(options)) {
    const value = options[key];
    if (value === undefined) continue;
    const type = OPTIONS[key];
    if (type === undefined || !allowed.includes(key)) {
      throw valueError(`options.${key}: not an option here (options: ${allowed.join(', ')})`);
    }
    if (key === 'now') {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw valueError('options.now: is an invalid Date');
        out.now = value.toISOString();
      } else if (typeof value === 'string') {
        out.now = value;
      } else {
        throw typeError('options.now', 'a Date or an RFC 3339 string', value);
      }
    } else if (type === 'count') {
      if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) {
        throw valueError(`options.${key}: must be a whole number of at least 1, got ${value}`);
      }
      out[key] = value;
    } else if (typeof value !== type) {
      throw typeError(`options.${key}`, `a ${type}`, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const ONE = ['now', 'user', 'team', 'emit', 'format', 'to', 'provenance', 'bundle', 'maxRecordBytes'];
const MANY = [...ONE, 'jobs'];
const KINDS = ['qualify', 'convert', 'transition', 'forecast'];

function checkKind(kind) {
  if (typeof kind !== 'string') throw typeError('kind', 'a string', kind);
  if (!KINDS.includes(kind)) throw valueError(`kind: ${JSON.stringify(kind)} is not one of ${KINDS.map((k) => `"${k}"`).join(', ')}`);
}

// One record as JSON text: an object, or JSON text already (string or bytes).
function recordText(record) {
  if (typeof record === 'string') return record;
  if (record instanceof Uint8Array) return Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('utf8');
  if (Array.isArray(record)) throw typeError('record', 'one record (use decide() for several)', record);
  if (record !== null && typeof record === 'object') return JSON.stringify(record);
  throw typeError('record', 'an object, a JSON string or a Buffer', record);
}

// A batch as the addon takes it: bytes or text as given (any input the program
// reads), or records from an iterable as JSON lines.
function batchInput(data) {
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data !== null && typeof data === 'object' && typeof data[Symbol.iterator] === 'function') {
    const lines = [];
    let i = 0;
    for (const record of data) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw typeError(`data[${i}]`, 'an object (a record)', record);
      }
      lines.push(JSON.stringify(record));
      i += 1;
    }
    return lines.join('\n');
  }
  throw typeError('data', 'a Buffer, a string or an iterable of records', data);
}

function answersOf(result) {
  if (result.unreadable != null) throw new InputError(`input: ${result.unreadable}`);
  for (const warning of result.warnings) process.emitWarning(warning, 'CrmRulesWarning');
  return JSON.parse(result.answers);
}

/** The program's default cache folder: `$XDG_CACHE_HOME/crm-rules` or `~/.cache/crm-rules`. */
function defaultCacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'crm-rules');
}

/**
 * One engine: compiles each module once and shares it between the orgs loaded
 * into it and the threads deciding for them.
 */
class Host {
  #native;

  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (key !== 'cacheDir' && key !== 'cacheKey') throw valueError(`options.${key}: not an option here (options: cacheDir, cacheKey)`);
    }
    let { cacheDir, cacheKey } = options;
    if (cacheDir === undefined) cacheDir = defaultCacheDir();
    if (cacheDir !== null && typeof cacheDir !== 'string') throw typeError('options.cacheDir', 'a string or null (no cache)', cacheDir);
    if (cacheKey !== undefined && typeof cacheKey !== 'string') throw typeError('options.cacheKey', 'a string', cacheKey);
    try {
      this.#native = new native.NativeHost(cacheDir ?? undefined, cacheKey);
    } catch (e) {
      throw translate(e, LoadError);
    }
  }

  /** Loads the org folder `dir` into this host. */
  org(dir) {
    return new Org(dir, { host: this });
  }

  static _native(host) {
    return host.#native;
  }
}

let shared;
// The host of orgs created without one: one per process, made on first use.
function sharedHost() {
  if (shared === undefined) shared = new Host();
  return shared;
}

/** An org folder loaded and ready to decide. */
class Org {
  #native;

  constructor(dir, options = {}) {
    if (typeof dir !== 'string') throw typeError('dir', 'a string (an org folder)', dir);
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (key !== 'host') throw valueError(`options.${key}: not an option here (options: host)`);
    }
    const host = options.host ?? sharedHost();
    if (!(host instanceof Host)) throw typeError('options.host', 'a Host', host);
    try {
      this.#native = Host._native(host).org(dir);
    } catch (e) {
      throw translate(e, LoadError);
    }
  }

  /** The org's id, as `org.json` gives it. */
  get id() {
    return this.#native.id;
  }

  /** The folder it was read from. */
  get dir() {
    return this.#native.dir;
  }

  /** What `crm-rules info` prints: the active module's version, hash, contract, ... */
  info() {
    try {
      return JSON.parse(this.#native.info());
    } catch (e) {
      throw translate(e, ModuleError);
    }
  }

  /** What `crm-rules stages` prints: the org's stages and their steps. */
  stages() {
    try {
      return JSON.parse(this.#native.stages());
    } catch (e) {
      throw translate(e, ModuleError);
    }
  }

  #one(kind, record, options) {
    const text = recordText(record);
    const opts = nativeOptions(options, ONE);
    let line;
    try {
      line = this.#native.decideOne(kind, text, opts);
    } catch (e) {
      throw translate(e, ModuleError);
    }
    return JSON.parse(line);
  }

  /** Qualifies one lead: the line the program writes for it (decision or error). */
  qualify(record, options) {
    return this.#one('qualify', record, options);
  }

  /** Plans one conversion (`{lead, candidates}`). */
  convert(record, options) {
    return this.#one('convert', record, options);
  }

  /** Checks one stage move (`{opportunity, to}`, or a native opportunity with `options.to`). */
  transition(record, options) {
    return this.#one('transition', record, options);
  }

  /** Forecasts one opportunity. */
  forecast(record, options) {
    return this.#one('forecast', record, options);
  }

  /**
   * Decides every record of `data` off the event loop: one answer per line the
   * program writes for the same input, in input order.
   */
  async decide(kind, data, options) {
    checkKind(kind);
    const input = batchInput(data);
    const opts = nativeOptions(options, MANY);
    let result;
    try {
      result = await this.#native.decide(kind, input, opts);
    } catch (e) {
      throw translate(e, ModuleError);
    }
    return answersOf(result);
  }

  /** `decide` on the calling thread (blocks the event loop while it decides). */
  decideSync(kind, data, options) {
    checkKind(kind);
    const input = batchInput(data);
    const opts = nativeOptions(options, MANY);
    let result;
    try {
      result = this.#native.decideSync(kind, input, opts);
    } catch (e) {
      throw translate(e, ModuleError);
    }
    return answersOf(result);
  }
}

module.exports = { Org, Host, CrmRulesError, LoadError, InputError, ModuleError };
