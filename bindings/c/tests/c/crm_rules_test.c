/* The C API from C, as an integrator calls it: load an org, decide records,
 * read every failure's code and message, free everything. Run from the
 * repository's root, by scripts/bindings-test.sh, plainly and under valgrind:
 *
 *   crm_rules_test LEADS_EXPECTED SALESFORCE_EXPECTED
 *
 * where the files hold what the program writes for examples/leads.jsonl and
 * examples/native/salesforce-leads.json (strict org, --emit both, the same
 * --now). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_rules.h"

static int passed, failed;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      passed++;                                            \
    } else {                                               \
      failed++;                                            \
      fprintf(stderr, "FAILED line %d: ", __LINE__);       \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

static const char *NOW = "{\"now\": \"2026-11-25T09:00:00Z\", \"emit\": \"both\", \"jobs\": 2}";

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *bytes = malloc((size_t)size + 1);
  if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size) {
    perror(path);
    exit(2);
  }
  bytes[size] = '\0';
  fclose(f);
  *len = (size_t)size;
  return bytes;
}

/* Decides a file and compares the lines with the program's. */
static void same_as_program(const CrmOrg *org, const char *input_path, const char *expected_path) {
  size_t input_len, expected_len, lines_len = 0;
  char *input = read_file(input_path, &input_len);
  char *expected = read_file(expected_path, &expected_len);
  char *lines = NULL, *error = NULL;
  CrmStatus status = crm_org_decide(org, "qualify", (const uint8_t *)input, input_len, NOW, &lines,
                                    &lines_len, &error);
  CHECK(status == CRM_STATUS_OK, "decide %s: %d %s", input_path, status, error ? error : "");
  CHECK(lines != NULL && lines_len == strlen(lines), "decide %s: length", input_path);
  CHECK(lines != NULL && lines_len == expected_len && memcmp(lines, expected, expected_len) == 0,
        "decide %s: lines differ from the program's (%zu vs %zu bytes)", input_path, lines_len,
        expected_len);
  crm_string_free(lines);
  crm_string_free(error);
  free(input);
  free(expected);
}

struct job {
  const CrmOrg *org;
  const char *input;
  char *lines;
  CrmStatus status;
};

static void *decide_on_thread(void *arg) {
  struct job *job = arg;
  job->status = crm_org_decide(job->org, "qualify", (const uint8_t *)job->input, strlen(job->input),
                               NOW, &job->lines, NULL, NULL);
  return NULL;
}

/* The README's example, line for line (bindings/c/tests/header.rs checks it). */
static int readme_example(void) {
  CrmOrg *org = NULL; char *lines = NULL, *error = NULL;
  crm_org_load(NULL, "examples/strict", &org, &error);
  const char *lead = "{\"id\": \"L-1\", \"source\": \"web_form\"}";
  crm_org_decide(org, "qualify", (const uint8_t *)lead, strlen(lead), "{\"now\": \"2026-11-25T09:00:00Z\"}", &lines, NULL, &error);
  printf("%s", lines); crm_string_free(lines); crm_org_free(org);
  return error == NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LEADS_EXPECTED SALESFORCE_EXPECTED\n", argv[0]);
    return 2;
  }
  CHECK(strlen(crm_version()) > 0, "version");
  CHECK(readme_example(), "the README's example");

  /* A host with its cache where the test says (CRM_RULES_TEST_SETTINGS). */
  CrmHost *host = NULL;
  char *error = NULL;
  CrmStatus status = crm_host_new(getenv("CRM_RULES_TEST_SETTINGS"), &host, &error);
  CHECK(status == CRM_STATUS_OK && host != NULL, "host: %s", error ? error : "");
  crm_string_free(error);

  CrmOrg *org = NULL;
  status = crm_org_load(host, "examples/strict", &org, &error);
  CHECK(status == CRM_STATUS_OK && org != NULL && error == NULL, "load: %s", error ? error : "");
  if (org == NULL) {
    fprintf(stderr, "cannot go on without the org\n");
    return 1;
  }
  /* The host may go first: the org keeps what it needs. */
  crm_host_free(host);

  char *json = NULL;
  status = crm_org_info(org, &json, &error);
  CHECK(status == CRM_STATUS_OK && json && strstr(json, "\"contract\""), "info: %s", json ? json : error);
  crm_string_free(json);
  status = crm_org_stages(org, &json, &error);
  CHECK(status == CRM_STATUS_OK && json && json[0] == '[', "stages");
  crm_string_free(json);

  same_as_program(org, "examples/leads.jsonl", argv[1]);
  same_as_program(org, "examples/native/salesforce-leads.json", argv[2]);

  /* A record that fails costs that record only: an error line, status OK. */
  const char *mixed = "{\"id\": \"L-1\", \"source\": \"web_form\"}\n{\"id\": \"L-2\", \"budget_status\": 7}\n";
  char *lines = NULL;
  status = crm_org_decide(org, "qualify", (const uint8_t *)mixed, strlen(mixed), NOW, &lines, NULL, &error);
  CHECK(status == CRM_STATUS_OK && lines && strstr(lines, "\"decision\"") && strstr(lines, "\"error\""),
        "a failing record: %s", lines ? lines : error);
  crm_string_free(lines);

  /* Every wrong argument is a code and a message naming it. */
  struct {
    const char *kind, *input, *options;
    CrmStatus want;
    const char *named;
  } wrong[] = {
      {"qualifyy", "{}", NULL, CRM_STATUS_INVALID_ARGUMENT, "kind"},
      {"qualify", "{}", "{\"emit\": \"all\"}", CRM_STATUS_INVALID_ARGUMENT, "emit"},
      {"qualify", "{}", "{\"now\": \"tomorrow\"}", CRM_STATUS_INVALID_ARGUMENT, "now"},
      {"qualify", "{}", "{\"jobz\": 2}", CRM_STATUS_INVALID_ARGUMENT, "jobz"},
      {"qualify", "{}", "not json", CRM_STATUS_INVALID_ARGUMENT, "options"},
      {"qualify", "[{\"id\": ", NULL, CRM_STATUS_INPUT, "input"},
  };
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    lines = NULL;
    status = crm_org_decide(org, wrong[i].kind, (const uint8_t *)wrong[i].input, strlen(wrong[i].input),
                            wrong[i].options, &lines, NULL, &error);
    CHECK(status == wrong[i].want && lines == NULL && error && strstr(error, wrong[i].named),
          "wrong call %zu: status %d, message %s", i, status, error ? error : "(none)");
    crm_string_free(error);
  }
  status = crm_org_decide(org, "qualify", NULL, 3, NULL, &lines, NULL, &error);
  CHECK(status == CRM_STATUS_INVALID_ARGUMENT && strstr(error, "input"), "NULL input");
  crm_string_free(error);
  status = crm_org_decide(NULL, "qualify", (const uint8_t *)"{}", 2, NULL, &lines, NULL, &error);
  CHECK(status == CRM_STATUS_INVALID_ARGUMENT && strstr(error, "org"), "NULL org");
  crm_string_free(error);
  status = crm_org_info(org, NULL, &error);
  CHECK(status == CRM_STATUS_INVALID_ARGUMENT && strstr(error, "json"), "NULL result");
  crm_string_free(error);
  /* The message is optional. */
  CHECK(crm_org_decide(org, "nope", NULL, 0, NULL, &lines, NULL, NULL) == CRM_STATUS_INVALID_ARGUMENT,
        "no message asked for");

  /* A folder that cannot be loaded. */
  CrmOrg *missing = NULL;
  status = crm_org_load(NULL, "examples/no-such-org", &missing, &error);
  CHECK(status == CRM_STATUS_LOAD && missing == NULL && error && strstr(error, "no-such-org"),
        "missing org: %d %s", status, error ? error : "(none)");
  crm_string_free(error);

  /* One org, two threads at once. */
  struct job jobs[2] = {{org, mixed, NULL, CRM_STATUS_INTERNAL}, {org, mixed, NULL, CRM_STATUS_INTERNAL}};
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, decide_on_thread, &jobs[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  CHECK(jobs[0].status == CRM_STATUS_OK && jobs[1].status == CRM_STATUS_OK &&
            strcmp(jobs[0].lines, jobs[1].lines) == 0,
        "two threads");
  crm_string_free(jobs[0].lines);
  crm_string_free(jobs[1].lines);

  crm_org_free(org);
  crm_org_free(NULL);
  crm_host_free(NULL);
  crm_string_free(NULL);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
