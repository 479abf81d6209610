/* crm-rules for any language with a C ABI.
 *
 * Generated from bindings/c/src by cbindgen; do not edit. Regenerate with
 * CRM_RULES_BLESS=1 scripts/bindings-test.sh
 * (docs/bindings.md). */

#ifndef CRM_RULES_H
#define CRM_RULES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// What a call did. Every function that can fail returns one; on anything but
// `CRM_STATUS_OK` its `error` argument (when not NULL) receives a message to
// free with `crm_string_free`.
typedef enum CrmStatus {
  // It succeeded.
  CRM_STATUS_OK = 0,
  // An argument is wrong: a NULL pointer where one is needed, text that is
  // not UTF-8, options that are not the JSON documented, an unknown kind. The
  // message names the argument.
  CRM_STATUS_INVALID_ARGUMENT = 1,
  // The org folder cannot be read, or its module cannot be loaded (a missing
  // file, an invalid `org.json`, a module refused by the org's pins or keys),
  // or the engine cannot start.
  CRM_STATUS_LOAD = 2,
  // The input holds no JSON records at all (malformed array, nothing).
  // Records that fail one by one are not this: each gets its error line.
  CRM_STATUS_INPUT = 3,
  // The records could not be decided at all (the org's module is gone).
  CRM_STATUS_DECIDE = 4,
  // The library failed inside (a bug); the failure was caught and the
  // handles stay usable.
  CRM_STATUS_INTERNAL = 5,
} CrmStatus;

// An engine holding compiled modules, shared by the orgs loaded into it. Made
// by `crm_host_new`, freed by `crm_host_free` (the orgs loaded into it keep it
// alive as long as they need it).
typedef struct CrmHost CrmHost;

// An org folder loaded and ready to decide. Made by `crm_org_load`, freed by
// `crm_org_free`.
typedef struct CrmOrg CrmOrg;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The library's version, a static string (not to be freed).
const char *crm_version(void);

// Makes a host. `settings_json` may be NULL (the program's defaults) or a JSON
// object: `{"cache": false}` compiles modules anew in every process,
// `{"cache_dir": "...", "cache_key": "..."}` keeps them in another folder.
//
// # Safety
// `settings_json` is NULL or a NUL-terminated string; `host` and `error` are
// NULL or point to writable pointers.
enum CrmStatus crm_host_new(const char *settings_json, struct CrmHost **host, char **error);

// Frees a host made by `crm_host_new`; NULL is ignored. Orgs loaded into it
// stay usable until they are freed.
//
// # Safety
// `host` is NULL or a host from `crm_host_new`, not freed before and not used
// after.
void crm_host_free(struct CrmHost *host);

// Loads the org folder `dir` (its `org.json`, module, policy and signature,
// checked against the org's pins and keys, as the program's `--org-dir`).
// `host` may be NULL: the org then shares one host of the process with every
// other org loaded without one.
//
// # Safety
// `host` is NULL or a live host; `dir` is a NUL-terminated string; `org` and
// `error` are NULL or point to writable pointers.
enum CrmStatus crm_org_load(const struct CrmHost *host,
                            const char *dir,
                            struct CrmOrg **org,
                            char **error);

// Frees an org made by `crm_org_load`; NULL is ignored.
//
// # Safety
// `org` is NULL or an org from `crm_org_load`, not freed before and not used
// after (by any thread).
void crm_org_free(struct CrmOrg *org);

// The org's active module as JSON: what `crm-rules info` prints.
//
// # Safety
// `org` is a live org; `json` and `error` are NULL or point to writable
// pointers.
enum CrmStatus crm_org_info(const struct CrmOrg *org, char **json, char **error);

// The org's sales stages and their steps as a JSON array: what `crm-rules
// stages` prints.
//
// # Safety
// As `crm_org_info`.
enum CrmStatus crm_org_stages(const struct CrmOrg *org, char **json, char **error);

// Decides every record of `input` (`input_len` bytes: one JSON object, an
// array, JSON lines, or a Dataverse, Salesforce or HubSpot API response) and
// returns, in `lines`, the lines the program writes for the same input and
// options, each ending in a newline, in input order; `lines_len` (may be NULL)
// receives their length in bytes. `kind` is "qualify", "convert", "transition"
// or "forecast". `options_json` may be NULL or a JSON object of the program's
// flags: `now` (RFC 3339; default the current second), `emit` ("decision",
// "native" or "both"), `jobs` (threads; default one per core), `user`, `team`,
// `format`, `to`, `provenance`, `bundle`, `max_record_bytes`.
//
// A record that cannot be read or decided gets the program's error line and
// the call still succeeds; only an input with no records at all
// (`CRM_STATUS_INPUT`) or an engine that cannot decide (`CRM_STATUS_DECIDE`)
// fails the call.
//
// # Safety
// `org` is a live org; `kind` and `options_json` (or NULL) are NUL-terminated
// strings; `input` points to `input_len` bytes (or is NULL with a length of
// 0); `lines`, `lines_len` and `error` are NULL or writable.
enum CrmStatus crm_org_decide(const struct CrmOrg *org,
                              const char *kind,
                              const uint8_t *input,
                              size_t input_len,
                              const char *options_json,
                              char **lines,
                              size_t *lines_len,
                              char **error);

// Frees a string the library returned (a result or an error message); NULL is
// ignored.
//
// # Safety
// `text` is NULL or a string from this library, not freed before.
void crm_string_free(char *text);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* CRM_RULES_H */
