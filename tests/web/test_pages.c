/* test_pages: renders every page through web_handle() against a real data directory (SQLite,
 * git repos, the LFS store) that the storage API builds in a temp dir. It covers the home list
 * and its filters, model cards (every corpus card among them), files, tensors, history and
 * diffs, login, tokens, access rules for private repos, CSRF checks and escaping, and the
 * forms that create a repo and change its settings. */
#include "web.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "git_settings.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_jobs.h"
#include "meta_org.h"
#include "meta_pr.h"
#include "meta_repo.h"
#include "meta_session.h"
#include "meta_token.h"
#include "meta_user.h"
#include "repo.h"
#include "storage.h"
#include "web_repo.h"

static char data_dir[512];
static struct meta *db;
static int64_t alice_id, bob_id;
static char alice_session[META_SESSION_ID_BYTES + 1];
static char alice_csrf[META_SESSION_CSRF_BYTES + 1];

struct page {
    int handled;
    struct web_response resp;
};

/* Renders method path?query as user (0: anonymous) with cookie and body. */
static struct page render_full(const char *method, const char *path, const char *query,
                               int64_t user_id, const char *cookie, const char *body)
{
    struct web_request req;
    struct page page;

    memset(&req, 0, sizeof(req));
    memset(&page, 0, sizeof(page));
    req.method = method;
    req.path = path;
    req.query = query != NULL ? query : "";
    req.cookie = cookie;
    req.host = "127.0.0.1:8080";
    req.request_id = "test";
    req.user_id = user_id;
    if (user_id == alice_id)
        req.user_name = "alice";
    else if (user_id == bob_id)
        req.user_name = "bob";
    req.data_dir = data_dir;
    req.db = db;
    if (body != NULL) {
        req.body = body;
        req.body_len = strlen(body);
        req.content_type = "application/x-www-form-urlencoded";
    }
    page.handled = web_handle(&req, &page.resp);
    return page;
}

static struct page render(const char *path, const char *query, int64_t user_id)
{
    return render_full("GET", path, query, user_id, NULL, NULL);
}

static bool has(const struct page *page, const char *text)
{
    return page->resp.body != NULL && strstr(page->resp.body, text) != NULL;
}

/* Returns the Set-Cookie value, or "" when there is none, so checks can use strstr. */
static const char *cookie_of(const struct page *page)
{
    return page->resp.set_cookie != NULL ? page->resp.set_cookie : "";
}

static void done(struct page *page)
{
    web_response_dispose(&page->resp);
}

/* Builds a safetensors file with tensors a (F32 [2, 2]) and b (F32 [3]) holding value. */
static char *make_safetensors(size_t *len, float value, bool extra_tensor)
{
    const char *header = extra_tensor
                             ? "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]},"
                               "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}"
                             : "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}";
    size_t n = strlen(header);
    size_t data_bytes = extra_tensor ? 32 : 28;
    char *buf = calloc(1, 8 + n + data_bytes);

    for (int i = 0; i < 8; i++)
        buf[i] = (char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < 4; i++)
        memcpy(buf + 8 + n + 4 * i, &value, 4);
    *len = 8 + n + data_bytes;
    return buf;
}

static void commit_files(char commit_out[REPO_OID_HEX_BYTES + 1], enum hub_repo_type type,
                         const char *ns, const char *name, const struct repo_op *ops, size_t n_ops,
                         const char *message)
{
    struct repo *r = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_request req;

    memset(&req, 0, sizeof(req));
    req.branch = "main";
    req.author_name = "Alice Example";
    req.author_email = "alice@example.com";
    req.message = message;
    req.ops = ops;
    req.n_ops = n_ops;
    CHECK_EQ_INT(repo_open(&r, data_dir, type, ns, name, &err), 0);
    CHECK_EQ_INT(repo_commit(commit_out, r, &req, &err), 0);
    if (err.msg[0] != '\0')
        printf("# commit: %s\n", err.msg);
    repo_close(r);
}

static void create_repo(enum hub_repo_type type, const char *ns, const char *name, bool priv,
                        const char *readme)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_create_opts opts;
    struct meta_repo row;

    memset(&opts, 0, sizeof(opts));
    opts.readme = readme;
    CHECK_EQ_INT(meta_repo_insert(&row, db, type, ns, name, priv, &err), 0);
    CHECK_EQ_INT(repo_create(NULL, data_dir, type, ns, name, &opts, &err), 0);
    if (err.msg[0] != '\0')
        printf("# create %s/%s: %s\n", ns, name, err.msg);
}

static const char demo_card[] =
    "---\nlicense: mit\ntags:\n- tiny\n- demo\ndatasets:\n- alice/stories\npipeline_tag: "
    "text-generation\nmodel-index:\n- name: demo\n  results:\n  - task:\n      type: "
    "text-generation\n    dataset:\n      name: stories\n      type: alice/stories\n    "
    "metrics:\n    - type: loss\n      value: 1.234\n---\n# Demo model\n\nA **tiny** model. "
    "<script>alert('x')</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    "![diagram](images/arch.png) [usage](./docs/usage.md) [site](https://example.com/x) "
    "[top](#demo-model)\n";

static char first_commit[REPO_OID_HEX_BYTES + 1];
static char second_commit[REPO_OID_HEX_BYTES + 1];

static void setup_repos(void)
{
    size_t st_len = 0;
    char *st = make_safetensors(&st_len, 1.0f, false);
    char *st2;
    size_t st2_len = 0;
    struct repo_op ops[3];
    struct hub_error err = HUB_ERROR_INIT;

    create_repo(HUB_REPO_MODEL, "alice", "demo", false, demo_card);
    memset(ops, 0, sizeof(ops));
    ops[0].kind = REPO_OP_ADD_FILE;
    ops[0].path = "model.safetensors";
    ops[0].data = st;
    ops[0].len = st_len;
    ops[1].kind = REPO_OP_ADD_FILE;
    ops[1].path = "config.json";
    ops[1].data = "{\n  \"hidden_size\": 64,\n  \"layers\": 5\n}\n";
    ops[1].len = strlen(ops[1].data);
    commit_files(first_commit, HUB_REPO_MODEL, "alice", "demo", ops, 2, "Add weights");

    st2 = make_safetensors(&st2_len, 2.0f, true);
    ops[0].data = st2;
    ops[0].len = st2_len;
    ops[1].data = "{\n  \"hidden_size\": 64,\n  \"layers\": 6\n}\n";
    ops[1].len = strlen(ops[1].data);
    commit_files(second_commit, HUB_REPO_MODEL, "alice", "demo", ops, 2, "Train more");

    create_repo(HUB_REPO_MODEL, "alice", "demo-lora", false,
                "---\nbase_model: alice/demo\nlibrary_name: peft\ntags: [lora]\n---\n# Adapter\n");
    ops[0].kind = REPO_OP_ADD_FILE;
    ops[0].path = "adapter_config.json";
    ops[0].data = "{\"base_model_name_or_path\": \"alice/demo\", \"r\": 8}";
    ops[0].len = strlen(ops[0].data);
    commit_files(NULL, HUB_REPO_MODEL, "alice", "demo-lora", ops, 1, "Add adapter");
    {
        struct meta_repo row;

        CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "demo-lora", &err), 0);
        CHECK_EQ_INT(meta_repo_set_base_model(db, row.id, "alice/demo", &err), 0);
    }
    create_repo(HUB_REPO_DATASET, "alice", "stories", false, "# Stories\n");
    ops[0].kind = REPO_OP_ADD_FILE;
    ops[0].path = "train.jsonl";
    ops[0].data =
        "{\"text\": \"Once upon a <time>\", \"id\": 1}\n{\"text\": \"The end\", \"id\": 2}\n";
    ops[0].len = strlen(ops[0].data);
    commit_files(NULL, HUB_REPO_DATASET, "alice", "stories", ops, 1, "Add training data");
    create_repo(HUB_REPO_MODEL, "alice", "secret", true, "# Secret model\n");
    free(st);
    free(st2);
}

static void test_pages_home(void)
{
    struct page p = render("/", "", 0);

    CHECK_EQ_INT(p.handled, 1);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "alice/demo"));
    CHECK(has(&p, "alice/stories"));
    CHECK(!has(&p, "secret"));
    CHECK(has(&p, "<span class=\"badge adapter\">adapter</span>"));
    done(&p);

    p = render("/", "type=adapter", 0);
    CHECK(has(&p, "demo-lora"));
    CHECK(!has(&p, ">alice/demo</a>") || !has(&p, "stories"));
    CHECK(!has(&p, "alice/stories"));
    done(&p);

    p = render("/", "", 0);
    CHECK(has(&p, "<a class=\"badge\" href=\"/?tag=demo\">demo 1</a>"));
    done(&p);

    p = render("/", "tag=tiny", 0);
    CHECK(has(&p, "1 repository"));
    done(&p);

    p = render("/", "type=dataset&sort=name", 0);
    CHECK(has(&p, "alice/stories"));
    CHECK(!has(&p, "demo-lora"));
    done(&p);

    p = render("/", "", alice_id);
    CHECK(has(&p, "secret"));
    done(&p);
}

static void test_pages_card(void)
{
    struct page p = render("/alice/demo", "", 0);

    CHECK_EQ_INT(p.resp.status, 200);
    /* The repo name is the page's <h1>, so the card's "#" heading is an <h2>. */
    CHECK(has(&p, "<h2>Demo model</h2>"));
    CHECK(!has(&p, "<h1>Demo model</h1>"));
    CHECK(has(&p, "<title>alice/demo · Atelier</title>"));
    CHECK(has(&p, "<table>"));
    CHECK(!has(&p, "<script>alert"));
    CHECK(has(&p, "raw HTML omitted"));
    CHECK(has(&p, "Evaluation results"));
    CHECK(has(&p, "1.234"));
    CHECK(has(&p, "href=\"/datasets/alice/stories\""));
    CHECK(has(&p, "git clone http://127.0.0.1:8080/alice/demo"));
    CHECK(has(&p, "HF_ENDPOINT=http://127.0.0.1:8080"));
    CHECK(has(&p, "alice/demo-lora"));
    CHECK(has(&p, "src=\"/alice/demo/resolve/main/images/arch.png\""));
    CHECK(has(&p, "href=\"/alice/demo/blob/main/docs/usage.md\""));
    CHECK(has(&p, "href=\"https://example.com/x\""));
    CHECK(has(&p, "href=\"#demo-model\""));
    done(&p);

    p = render("/alice/demo-lora", "", 0);
    CHECK(has(&p, "LoRA adapter for <a href=\"/alice/demo\">"));
    done(&p);

    p = render("/datasets/alice/stories", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Dataset card"));
    CHECK(has(&p, "hf download --repo-type dataset alice/stories"));
    CHECK(has(&p, "snapshot_download(&quot;alice/stories&quot;, repo_type=&quot;dataset&quot;))"));
    CHECK(has(&p, "Preview of <a href=\"/datasets/alice/stories/blob/main/train.jsonl\">"));
    CHECK(has(&p, "<td>Once upon a &lt;time&gt;</td><td>1</td>"));
    done(&p);
}

static void test_pages_private(void)
{
    struct page p = render("/alice/secret", "", 0);

    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "Log in"));
    done(&p);
    p = render("/alice/secret", "", bob_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render("/alice/secret", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Secret model"));
    done(&p);
    p = render("/alice/missing", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render("/alice", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/?owner=alice");
    done(&p);
    p = render("/datasets", "", 0);
    CHECK_EQ_STR(p.resp.location, "/?type=dataset");
    done(&p);
    p = render("/nobody", "", 0);
    CHECK_EQ_INT(p.handled, 0);
    done(&p);
    p = render("/api/unknown/route", "", 0);
    CHECK_EQ_INT(p.handled, 0);
    done(&p);
}

static void test_pages_files(void)
{
    char path[256];
    struct page p = render("/alice/demo/tree/main", "", 0);

    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "model.safetensors"));
    CHECK(has(&p, "/alice/demo/resolve/main/config.json"));
    done(&p);

    p = render("/alice/demo/blob/main/model.safetensors", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "id=\"tensor-count\">3<"));
    CHECK(has(&p, "id=\"param-count\">8<"));
    CHECK(has(&p, "[2, 2]"));
    done(&p);

    p = render("/alice/demo/blob/main/config.json", "", 0);
    CHECK(has(&p, "hidden_size"));
    CHECK(has(&p, "href=\"/alice/demo/raw/main/config.json\">Raw</a>"));
    CHECK(has(&p, "<span class=\"l\" id=\"L3\">  &quot;layers&quot;: 6\n</span>"));
    done(&p);

    snprintf(path, sizeof(path), "/alice/demo/tree/%s", first_commit);
    p = render(path, "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    done(&p);

    p = render("/alice/demo/tree/main", "", 0);
    CHECK(has(&p, "<title>Files · alice/demo · Atelier</title>"));
    done(&p);
    p = render("/alice/demo/blob/main/config.json", "", 0);
    CHECK(has(&p, "<title>config.json · alice/demo · Atelier</title>"));
    done(&p);

    p = render("/alice/demo/blob/main/missing.txt", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render("/alice/demo/tree/no-such-branch", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
}

static void test_pages_refs_and_evals(void)
{
    struct repo *r = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    int64_t eval_id = 0;
    char base_cell[256];
    struct page p;

    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", "demo", &err), 0);
    CHECK_EQ_INT(repo_branch_create(r, "feature/x", "main", &err), 0);
    CHECK_EQ_INT(repo_tag_create(r, "v1.0", "main", NULL, NULL, NULL, &err), 0);
    repo_close(r);

    p = render("/alice/demo/tree/main", "", 0);
    CHECK(has(&p, "<li class=\"group\">Branches</li>"));
    CHECK(has(&p, "href=\"/alice/demo/tree/feature%2Fx\""));
    CHECK(has(&p, "href=\"/alice/demo/tree/v1.0\""));
    done(&p);

    /* The server hands the path over still percent-encoded, so %2F stays in the revision. */
    p = render("/alice/demo/tree/feature%2Fx", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "model.safetensors"));
    done(&p);
    p = render("/alice/demo/commits/v1.0", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Train more"));
    done(&p);

    /* An unencoded slash branch works too: the longest leading run of segments that names a
     * branch or tag is the revision, as in the API's URLs. */
    p = render("/alice/demo/tree/feature/x", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "model.safetensors"));
    done(&p);
    p = render("/alice/demo/blob/feature/x/config.json", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "config.json"));
    done(&p);
    p = render("/alice/demo/commits/feature/x", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Train more"));
    done(&p);
    p = render("/alice/demo/tree/no-such-branch/x", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "There is no such branch, tag or commit in this repository."));
    done(&p);
    p = render("/alice/demo/blob/nope/config.json", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "There is no such branch, tag or commit in this repository."));
    done(&p);
    p = render("/alice/demo/tree/main/no-such-folder", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "no such folder"));
    done(&p);
    p = render("/alice/demo/tree", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "needs a revision"));
    done(&p);

    CHECK_EQ_INT(meta_eval_insert(&eval_id, db, 0, "alice/demo", second_commit, NULL, NULL,
                                  "alice/stories", second_commit, "eval.jsonl",
                                  "{\"loss\": 1.5, \"perplexity\": 4.48}", &err),
                 0);
    CHECK_EQ_INT(meta_eval_insert(&eval_id, db, 0, "alice/demo", second_commit, NULL, NULL,
                                  "alice/hidden-set", second_commit, "eval.jsonl",
                                  "{\"loss\": 1.75}", &err),
                 0);
    p = render("/alice/demo", "", 0);
    CHECK(has(&p, "Evaluations on this hub"));
    /* The revision column is the evaluated model's commit, not the dataset's. */
    CHECK(has(&p, "<th>Model revision</th>"));
    CHECK(!has(&p, "<th>Revision</th>"));
    CHECK(!has(&p, "hidden-set"));
    CHECK(has(&p, "a private dataset"));
    /* A full model's evaluations have no base, so the table has no base column. */
    CHECK(!has(&p, "<th>Base revision</th>"));
    done(&p);

    CHECK_EQ_INT(meta_eval_insert(&eval_id, db, 0, "alice/demo-lora", second_commit, "alice/demo",
                                  second_commit, "alice/stories", second_commit, "eval.jsonl",
                                  "{\"loss\": 0.875}", &err),
                 0);
    p = render("/alice/demo", "", 0);
    /* The adapter's numbers name the dataset file they were measured on. */
    CHECK(has(&p, "alice/demo-lora</a> <span class=\"muted adapter-eval\">loss 0.875 on <a "
                  "href=\"/datasets/alice/stories\">alice/stories</a>: <code>eval.jsonl</code>"
                  "</span>"));
    CHECK(has(&p, "perplexity 4.48"));
    done(&p);

    /* A newer evaluation on a private dataset that the viewer cannot read leaves it unnamed. */
    CHECK_EQ_INT(meta_eval_insert(&eval_id, db, 0, "alice/demo-lora", second_commit, "alice/secret",
                                  second_commit, "alice/hidden-set", second_commit, "secret.jsonl",
                                  "{\"loss\": 0.5}", &err),
                 0);
    p = render("/alice/demo", "", 0);
    CHECK(has(&p, "alice/demo-lora</a> <span class=\"muted adapter-eval\">loss 0.5 on a private "
                  "dataset</span>"));
    CHECK(!has(&p, "secret.jsonl"));
    done(&p);

    /* The adapter's table names the base commit each evaluation was scored against, and
     * leaves a private base unnamed to a viewer who cannot read it. */
    p = render("/alice/demo-lora", "", 0);
    CHECK(has(&p, "<th>Model revision</th><th>Base revision</th><th>Metrics</th>"));
    snprintf(base_cell, sizeof(base_cell),
             "<td><a href=\"/alice/demo\">alice/demo</a> at <a href=\"/alice/demo/commit/%s\">"
             "<code>%.10s</code></a></td>",
             second_commit, second_commit);
    CHECK(has(&p, base_cell));
    CHECK(has(&p, "<td><span class=\"muted\">a private model</span></td>"));
    CHECK(!has(&p, "alice/secret"));
    done(&p);
}

static void test_pages_history(void)
{
    char path[256];
    struct page p = render("/alice/demo/commits/main", "", 0);

    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<title>History · alice/demo · Atelier</title>"));
    CHECK(has(&p, "Train more"));
    CHECK(has(&p, "Add weights"));
    CHECK(has(&p, "Alice Example"));
    done(&p);

    snprintf(path, sizeof(path), "/alice/demo/commit/%s", second_commit);
    p = render(path, "", 0);
    if (getenv("WEB_TEST_DUMP") != NULL)
        printf("%s\n", p.resp.body);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<span class=\"del\">-  &quot;layers&quot;: 5</span>"
                  "<span class=\"add\">+  &quot;layers&quot;: 6</span>"));
    CHECK(has(&p, "@@ -1,4 +1,4 @@"));
    CHECK(has(&p, "<summary>2 files changed</summary>"));
    CHECK(has(&p, "<li><a href=\"#diff-1\">config.json</a></li>"));
    CHECK(has(&p, "id=\"diff-2\""));
    /* Only tensor a got new values; b kept its bytes and c is new. */
    CHECK(has(&p, "Tensors: 1 changed, 1 added, 0 removed, 1 unchanged"));
    CHECK(has(&p, "<code>a</code></td><td>values changed"));
    done(&p);
}

/* A commit that adds a file with the .safetensors name but not the format, next to a binary
 * file. */
static void test_pages_diff_invalid_safetensors(void)
{
    static const char binary[] = {'\x89', 'P', 'N', 'G', '\0', '\x01', '\x02', '\0'};
    char commit[REPO_OID_HEX_BYTES + 1];
    char path[256];
    struct repo_op ops[2];
    struct page p;

    create_repo(HUB_REPO_MODEL, "alice", "broken", false, "# Broken\n");
    memset(ops, 0, sizeof(ops));
    ops[0].kind = REPO_OP_ADD_FILE;
    ops[0].path = "model.safetensors";
    ops[0].data = "this is not a safetensors file";
    ops[0].len = strlen(ops[0].data);
    ops[1].kind = REPO_OP_ADD_FILE;
    ops[1].path = "logo.png";
    ops[1].data = binary;
    ops[1].len = sizeof(binary);
    commit_files(commit, HUB_REPO_MODEL, "alice", "broken", ops, 2, "Add broken weights");

    snprintf(path, sizeof(path), "/alice/broken/commit/%s", commit);
    p = render(path, "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "A safetensors header could not be read"));
    CHECK(!has(&p, "Tensors:"));
    CHECK(has(&p, "Binary or large file: "));
    done(&p);
}

static void test_pages_login(void)
{
    char cookie[256];
    char body[512];
    struct page p = render("/login", "next=/settings", 0);
    const char *value;

    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(strncmp(cookie_of(&p), "atelier_login=", 14) == 0);
    value = p.resp.set_cookie != NULL ? p.resp.set_cookie + 14 : "";
    snprintf(cookie, sizeof(cookie), "atelier_login=%.43s", value);
    snprintf(body, sizeof(body), "csrf=%.43s&username=alice&password=wrong-password", value);
    done(&p);

    p = render_full("POST", "/login", "next=/settings", 0, cookie, body);
    CHECK_EQ_INT(p.resp.status, 401);
    CHECK(has(&p, "Invalid user name or password"));
    done(&p);

    p = render_full("POST", "/login", "next=/settings", 0, cookie,
                    "csrf=forged&username=alice&password=alice-password");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);

    snprintf(body, sizeof(body), "csrf=%.43s&username=alice&password=alice-password", cookie + 14);
    p = render_full("POST", "/login", "next=/settings", 0, cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/settings");
    CHECK(strstr(cookie_of(&p), "atelier_session=") != NULL);
    CHECK(strstr(cookie_of(&p), "HttpOnly") != NULL);
    CHECK(strstr(cookie_of(&p), "SameSite=Lax") != NULL);
    CHECK(strstr(cookie_of(&p), "Secure") == NULL);
    done(&p);

    p = render_full("POST", "/login", "next=//evil.example", 0, cookie, body);
    CHECK_EQ_STR(p.resp.location, "/");
    done(&p);
}

static void test_pages_tokens(void)
{
    char cookie[128], with_secret[256];
    char body[256];
    char hint_cell[64] = "";
    const char *secret, *secret_end;
    struct page p;

    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/settings", "", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, alice_csrf));
    done(&p);

    p = render_full("POST", "/settings/tokens", "", alice_id, cookie,
                    "csrf=wrong&label=laptop&scope=write");
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "The form expired or came from another site. Reload the page and try again."));
    done(&p);

    /* The form redirects, so a reload of the page that shows the secret posts nothing. The
     * secret travels in a short-lived cookie for /settings, which that page clears. */
    snprintf(body, sizeof(body), "csrf=%s&label=laptop%%20%%3Cb%%3E&scope=write", alice_csrf);
    p = render_full("POST", "/settings/tokens", "", alice_id, cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/settings#new-token");
    CHECK(strncmp(cookie_of(&p), "atelier_new_token=hf_", 21) == 0);
    CHECK(strstr(cookie_of(&p), "; Path=/settings; Max-Age=300; HttpOnly") != NULL);
    snprintf(with_secret, sizeof(with_secret), "%s; %.*s", cookie, (int)strcspn(cookie_of(&p), ";"),
             cookie_of(&p));
    done(&p);

    p = render_full("GET", "/settings", "", alice_id, with_secret, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "id=\"new-token\">hf_"));
    CHECK(has(&p, "laptop &lt;b&gt;"));
    CHECK(strstr(cookie_of(&p), "atelier_new_token=; Path=/settings; Max-Age=0") != NULL);
    secret = p.resp.body != NULL ? strstr(p.resp.body, "id=\"new-token\">hf_") : NULL;
    secret_end = secret != NULL ? strchr(secret, '<') : NULL;
    CHECK(secret_end != NULL);
    if (secret_end != NULL && secret_end - secret > 4)
        snprintf(hint_cell, sizeof(hint_cell), "<code>…%.4s</code>", secret_end - 4);
    done(&p);

    /* Showing the secret is not a use of the token. */
    {
        struct hub_error err = HUB_ERROR_INIT;
        struct meta_token *tokens = NULL;
        size_t count = 0;
        bool seen = false;

        CHECK_EQ_INT(meta_token_list(&tokens, &count, db, alice_id, &err), 0);
        for (size_t i = 0; i < count; i++) {
            if (strcmp(tokens[i].label, "laptop <b>") == 0) {
                seen = true;
                CHECK_EQ_INT(tokens[i].last_used_at, 0);
            }
        }
        CHECK(seen);
        free(tokens);
    }

    /* Another user's page never shows the secret, even with the cookie. */
    p = render_full("GET", "/settings", "", bob_id, with_secret, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(!has(&p, "id=\"new-token\""));
    done(&p);
    p = render_full("GET", "/settings", "", alice_id,
                    "atelier_new_token=hf_NotAToken; atelier_session=x", NULL);
    CHECK(!has(&p, "id=\"new-token\""));
    done(&p);

    /* The list shows the secret's last characters under a header that does not read as a date. */
    p = render_full("GET", "/settings", "", alice_id, cookie, NULL);
    CHECK(!has(&p, "id=\"new-token\""));
    CHECK(has(&p, "Revoke"));
    CHECK(has(&p, "<th>Token ends with</th>"));
    CHECK(!has(&p, "Ends in"));
    CHECK(hint_cell[0] != '\0');
    CHECK(has(&p, hint_cell));
    done(&p);

    p = render("/settings", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
}

static void test_pages_static(void)
{
    struct page p = render("/static/atelier.css", "v=1", 0);

    CHECK_EQ_INT(p.resp.status, 200);
    CHECK_EQ_STR(p.resp.content_type, "text/css; charset=utf-8");
    CHECK(has(&p, "prefers-color-scheme"));
    /* The "Binary or large file" line sits in the bordered diff box and needs its own padding. */
    CHECK(has(&p, ".diff > p { margin: 0; padding: 0.6rem 0.8rem; }"));
    done(&p);
    p = render("/static/atelier.js", "", 0);
    CHECK(has(&p, "EventSource"));
    done(&p);
}

static void test_pages_jobs(void)
{
    struct page p = render("/jobs", "", 0);

    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    p = render("/jobs", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "No jobs yet"));
    done(&p);
    /* A fine-tune whose card names a base is still a full model, so the form offers it. A
     * repo with only its first .gitattributes, or with only a README.md, has no config.json
     * and so no model, and the form leaves it out because the jobs API would reject it. */
    create_repo(HUB_REPO_MODEL, "alice", "tuned", false,
                "---\nbase_model: karpathy/tinyllamas\n---\n# Tuned\n");
    {
        struct hub_error err = HUB_ERROR_INIT;
        struct meta_repo row;
        struct repo_op op;

        memset(&op, 0, sizeof(op));
        op.kind = REPO_OP_ADD_FILE;
        op.path = "config.json";
        op.data = "{\"hidden_size\": 64}\n";
        op.len = strlen(op.data);
        commit_files(NULL, HUB_REPO_MODEL, "alice", "tuned", &op, 1, "Add config");
        CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "tuned", &err), 0);
        CHECK_EQ_INT(meta_repo_set_base_model(db, row.id, "karpathy/tinyllamas", &err), 0);
    }
    create_repo(HUB_REPO_MODEL, "alice", "blank", false, NULL);
    create_repo(HUB_REPO_MODEL, "alice", "readme-only", false, "# Notes\n");
    p = render("/jobs/new", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "value=\"alice/demo\""));
    CHECK(!has(&p, "value=\"alice/demo-lora\""));
    CHECK(has(&p, "value=\"alice/tuned\""));
    CHECK(!has(&p, "value=\"alice/blank\""));
    CHECK(!has(&p, "value=\"alice/readme-only\""));
    CHECK(has(&p, "value=\"alice/stories\""));
    CHECK(has(&p, "Learning rate"));
    /* The form shows the defaults of `atelier train --help`, which the jobs API fills in. */
    CHECK(has(&p, "name=\"param.batch\" type=\"number\" value=\"4\""));
    CHECK(has(&p, "name=\"param.seq_len\" type=\"number\" value=\"512\""));
    CHECK(has(&p, "name=\"param.seed\" type=\"number\" value=\"42\""));
    CHECK(has(&p, "name=\"param.steps\" type=\"number\" value=\"\""));
    CHECK(has(&p, "name=\"param.epochs\" type=\"number\" value=\"\""));
    /* The API takes any lr and alpha above 0; the browser lets 0 through and the API
     * rejects it with a message. */
    CHECK(has(&p, "name=\"param.lr\" type=\"number\" value=\"0.0002\" min=\"0\" max=\"1\""));
    CHECK(has(&p, "name=\"param.alpha\" type=\"number\" value=\"16\" min=\"0\" max=\"1000000\""));
    CHECK(has(&p, "{&quot;instruction&quot;, &quot;input&quot;, &quot;output&quot;}") ||
          has(&p, "{\"instruction\", \"input\", \"output\"}"));
    done(&p);
    p = render("/jobs/12345", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
}

static void test_pages_job_rows(void)
{
    static const char spec[] = "{\"type\":\"train\",\"base_model\":\"alice/demo\","
                               "\"output_repo\":\"alice/out\",\"params\":{\"rank\":8,"
                               "\"lr\":0.0002}}";
    struct hub_error err = HUB_ERROR_INIT;
    char cookie[128];
    char body[128];
    char path[64];
    int64_t job_id = 0;
    struct page p;

    for (int i = 0; i < 55; i++)
        CHECK_EQ_INT(meta_job_insert(&job_id, db, META_JOB_TRAIN, alice_id, "alice", "alice/out",
                                     "alice/demo", "alice/stories", NULL, spec, 3, 0, &err),
                     0);
    CHECK_EQ_INT(meta_job_event_append(db, job_id, "progress",
                                       "{\"step\":1,\"total_steps\":10,\"loss\":2.5}", &err),
                 0);
    CHECK_EQ_INT(meta_job_event_append(db, job_id, "progress",
                                       "{\"step\":2,\"total_steps\":10,\"loss\":2.25}", &err),
                 0);
    CHECK_EQ_INT(meta_job_event_append(db, job_id, "log", "{\"line\":\"loading <base>\"}", &err),
                 0);
    CHECK_EQ_INT(meta_job_event_append(db, job_id, "log",
                                       "{\"line\":\"atelier train: 80 of 80 training examples "
                                       "are longer than --seq-len 128 tokens and were "
                                       "truncated\",\"level\":\"warning\"}",
                                       &err),
                 0);
    CHECK_EQ_INT(meta_job_event_append(db, job_id, "log",
                                       "{\"line\":\"[2026-12-04T20:00:00Z] staged alice/demo\","
                                       "\"level\":\"info\"}",
                                       &err),
                 0);
    {
        int64_t running_id = 0;
        int attempt = 0;

        /* The oldest job starts, so the list counts 54 queued and 1 running. */
        CHECK_EQ_INT(meta_job_claim_next(&running_id, &attempt, db, 0, &err), 0);
        CHECK(running_id != 0);
        CHECK(running_id != job_id);
    }

    p = render("/jobs", "", alice_id);
    CHECK(has(&p, "55 jobs of yours. 54 queued, 1 running."));
    CHECK(has(&p, "<a class=\"button\" href=\"/jobs/new\">"));
    CHECK(has(&p, "href=\"/jobs?page=2\""));
    done(&p);
    p = render("/jobs", "page=2", alice_id);
    CHECK(has(&p, "href=\"/jobs?page=1\""));
    CHECK(!has(&p, "href=\"/jobs?page=3\""));
    done(&p);
    p = render("/jobs", "", bob_id);
    CHECK(has(&p, "0 jobs of yours. 0 queued, 0 running."));
    done(&p);

    snprintf(path, sizeof(path), "/jobs/%lld", (long long)job_id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render(path, "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "data-points=\"[[1,2.5],[2,2.25]]\""));
    CHECK(has(&p, "Step lines are drawn above."));
    CHECK(has(&p, "<span class=\"log-info\">loading &lt;base&gt;</span>"));
    CHECK(has(&p, "<span class=\"log-warning\">atelier train: 80 of 80 training examples"));
    CHECK(has(&p, "<span class=\"log-info\">[2026-12-04T20:00:00Z] staged alice/demo</span>"));
    CHECK(has(&p, "<dt>lr</dt><dd>0.0002</dd>"));
    CHECK(has(&p, "data-state=\"queued\""));
    /* The script's event stream starts after the queued state and five events drawn here. */
    CHECK(has(&p, "data-last-event=\"6\""));
    done(&p);

    /* Cancel needs the session's CSRF token. */
    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    snprintf(path, sizeof(path), "/jobs/%lld/cancel", (long long)job_id);
    p = render_full("POST", path, "", alice_id, cookie, "csrf=forged");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s", alice_csrf);
    p = render_full("POST", path, "", alice_id, cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)job_id);
    p = render(path, "", alice_id);
    CHECK(has(&p, "data-state=\"canceled\""));
    CHECK(has(&p, "id=\"job-error-text\">canceled by alice before it started</p>"));
    done(&p);
}

/* Inserts a job of bob and starts its first attempt. Bob runs no job, so the fair claim
 * takes his job before the queued jobs of alice, who runs one. */
static int64_t bob_job_start(enum meta_job_type type, const char *repo, int max_attempts)
{
    static const char spec[] = "{\"type\":\"eval\",\"model\":\"bob/model\"}";
    struct hub_error err = HUB_ERROR_INIT;
    int64_t id = 0, claimed = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_insert(&id, db, type, bob_id, "bob", repo, NULL, "bob/data", NULL, spec,
                                 max_attempts, 0, &err),
                 0);
    CHECK_EQ_INT(meta_job_claim_next(&claimed, &attempt, db, 0, &err), 0);
    CHECK(claimed == id);
    CHECK_EQ_INT(attempt, 1);
    return id;
}

/* The page of a job in a final state shows no attempt limit, which would suggest a retry to
 * come, and a retried job still shows it. */
static void test_pages_job_attempts(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char path[64];
    int64_t id;
    int claimed_attempt = 0;
    int64_t claimed = 0;
    struct page p;

    /* Invalid data fails the first attempt, and that failure is final. */
    id = bob_job_start(META_JOB_TRAIN, "bob/out", 3);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_FAILED, NULL, NULL,
                                 "atelier train failed with status 1: bob/data@0123456: "
                                 "train.jsonl: line 6: invalid JSON at column 43",
                                 &err),
                 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<dd id=\"job-attempts\" data-max-attempts=\"3\">1 (failed, not retried)</dd>"));
    CHECK(!has(&p, "1 of 3"));
    CHECK(has(&p, "bob/data@0123456: train.jsonl: line 6"));
    done(&p);

    /* A killed worker is retried: "of 2" while the job waits, none once it failed. */
    id = bob_job_start(META_JOB_TRAIN, "bob/out", 2);
    CHECK_EQ_INT(meta_job_requeue(db, id, 1, false, "worker was killed by signal 9", &err), 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK(has(&p, "<dd id=\"job-attempts\" data-max-attempts=\"2\">1 of 2</dd>"));
    /* atelier.js fills these from the job's state events while the page is open. */
    CHECK(has(&p, "<dd id=\"job-started\">"));
    CHECK(has(&p, "<dd id=\"job-finished\">never</dd>"));
    CHECK(has(&p, "id=\"job-live-error\""));
    done(&p);
    CHECK_EQ_INT(meta_job_claim_next(&claimed, &claimed_attempt, db, 0, &err), 0);
    CHECK(claimed == id);
    CHECK_EQ_INT(claimed_attempt, 2);
    CHECK_EQ_INT(meta_job_finish(db, id, 2, META_JOB_FAILED, NULL, NULL,
                                 "worker was killed by signal 9", &err),
                 0);
    p = render(path, "", bob_id);
    CHECK(has(&p,
              "<dd id=\"job-attempts\" data-max-attempts=\"2\">2 (failed, no attempts left)</dd>"));
    done(&p);
}

/* A second connection that starts a queued job while the page reads, as the scheduler does. */
struct claim_race {
    struct meta *scheduler_db;
    int64_t job_id;
    bool claimed;
};

/* Starts the queued job from the second connection when the page's connection begins to
 * read the job's events. By then the page has read the job's row. */
static int claim_on_events_read(unsigned type, void *ctx, void *stmt, void *sql)
{
    struct claim_race *race = ctx;
    struct hub_error err = HUB_ERROR_INIT;
    int64_t claimed = 0;
    int attempt = 0;

    (void)type;
    (void)stmt;
    if (race->claimed || strstr((const char *)sql, "FROM job_events") == NULL)
        return 0;
    race->claimed = true;
    CHECK_EQ_INT(meta_job_claim_next(&claimed, &attempt, race->scheduler_db, 0, &err), 0);
    CHECK(claimed == race->job_id);
    return 0;
}

/* A job that starts while its page is being rendered: the state the page shows and the event
 * its stream starts after must come from the same moment. Otherwise the page shows "queued"
 * and its stream begins after the "running" state event, so the page never updates. */
static void test_pages_job_starts_while_rendering(void)
{
    static const char spec[] = "{\"type\":\"eval\",\"model\":\"bob/model\"}";
    struct hub_error err = HUB_ERROR_INIT;
    struct claim_race race = {0};
    struct meta_job_event_list events;
    const char *live_section;
    long long last_event = -1;
    char state[16] = "";
    char state_before_stream[16] = "";
    char path[64];
    struct page p;

    CHECK_EQ_INT(meta_open(&race.scheduler_db, data_dir, 0, &err), 0);
    CHECK_EQ_INT(meta_job_insert(&race.job_id, db, META_JOB_EVAL, bob_id, "bob", "bob/race", NULL,
                                 "bob/data", NULL, spec, 3, 0, &err),
                 0);

    sqlite3_trace_v2(meta_sqlite_get(db), SQLITE_TRACE_STMT, claim_on_events_read, &race);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)race.job_id);
    p = render(path, "", bob_id);
    sqlite3_trace_v2(meta_sqlite_get(db), 0, NULL, NULL);
    CHECK(race.claimed);
    CHECK_EQ_INT(p.resp.status, 200);

    live_section = p.resp.body != NULL ? strstr(p.resp.body, "data-state=\"") : NULL;
    CHECK(live_section != NULL);
    if (live_section != NULL)
        CHECK_EQ_INT(sscanf(live_section, "data-state=\"%15[a-z]\" data-last-event=\"%lld\"", state,
                            &last_event),
                     2);
    /* The stream sends the events after data-last-event, so the page must show the state of
     * the last state event up to it. */
    memset(&events, 0, sizeof(events));
    CHECK_EQ_INT(meta_job_events_since(&events, db, race.job_id, 0, 100, &err), 0);
    for (size_t i = 0; i < events.count; i++) {
        const struct meta_job_event *ev = &events.items[i];

        if (strcmp(ev->kind, "state") == 0 && ev->seq <= last_event)
            sscanf(ev->data_json, "{\"state\":\"%15[a-z]\"", state_before_stream);
    }
    CHECK_EQ_STR(state, state_before_stream);
    meta_job_event_list_dispose(&events);
    done(&p);

    /* Bob runs no job afterwards, as the later tests expect. */
    CHECK_EQ_INT(
        meta_job_finish(db, race.job_id, 1, META_JOB_CANCELED, NULL, NULL, "canceled by bob", &err),
        0);
    meta_close(race.scheduler_db);
}

/* A training job without an eval file stores null eval metrics, and the page shows a row only
 * for each metric that has a value. */
static void test_pages_job_null_metrics(void)
{
    static const char commit[] = "0123456789abcdef0123456789abcdef01234567";
    struct hub_error err = HUB_ERROR_INIT;
    char path[64];
    int64_t id;
    struct page p;

    id = bob_job_start(META_JOB_TRAIN, "bob/out", 1);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_SUCCEEDED, commit,
                                 "{\"train\":{\"loss\":1.5,\"base_eval_loss\":null,"
                                 "\"eval_loss\":null,\"eval_perplexity\":null}}",
                                 NULL, &err),
                 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<th>train.loss</th><td class=\"num\">1.5</td>"));
    CHECK(!has(&p, "train.base_eval_loss"));
    CHECK(!has(&p, "train.eval_loss"));
    CHECK(!has(&p, "train.eval_perplexity"));
    done(&p);

    /* Metrics that are all null leave out the heading and the table too. */
    id = bob_job_start(META_JOB_TRAIN, "bob/out", 1);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_SUCCEEDED, commit,
                                 "{\"train\":{\"eval_loss\":null}}", NULL, &err),
                 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(!has(&p, "<h2>Metrics</h2>"));
    CHECK(!has(&p, "job-metrics"));
    done(&p);
}

/* A finished evaluation names the commit it measured, and reals from events and metrics
 * have at most 6 significant digits: 0.874755, not 0.87475499999999995. */
static void test_pages_job_eval_result(void)
{
    static const char commit[] = "0123456789abcdef0123456789abcdef01234567";
    static const char base_commit[] = "89abcdef0123456789abcdef0123456789abcdef";
    struct hub_error err = HUB_ERROR_INIT;
    char path[64];
    int64_t id;
    struct page p;

    id = bob_job_start(META_JOB_EVAL, "bob/model", 3);
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, 1, commit, NULL, "bob/base", base_commit, &err), 0);
    CHECK_EQ_INT(meta_job_event_append(db, id, "progress",
                                       "{\"step\":1,\"total_steps\":2,\"loss\":0.874755}", &err),
                 0);
    CHECK_EQ_INT(meta_job_event_append(db, id, "log", "{\"train_loss\":0.874755}", &err), 0);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_SUCCEEDED, commit,
                                 "{\"mean_nll\":0.874755,\"perplexity\":2.398}", NULL, &err),
                 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p,
              "Evaluated <a id=\"job-model-link\" href=\"/bob/model\">bob/model</a> at "
              "commit <a href=\"/bob/model/commit/0123456789abcdef0123456789abcdef01234567\">"));
    CHECK(!has(&p, "Adapter committed"));
    CHECK(has(&p, "<dd id=\"job-attempts\" data-max-attempts=\"3\">1</dd>"));
    CHECK(has(&p, "{&quot;train_loss&quot;:0.874755}"));
    CHECK(has(&p, "<th>mean_nll</th><td class=\"num\">0.874755</td>"));
    CHECK(!has(&p, "0.87475499"));

    /* The evaluated model and the adapter's base carry their pinned commits, and the page
     * shows neither an output repo nor a training progress and loss chart. */
    CHECK(has(&p, "<dt>Evaluated model</dt><dd><a href=\"/bob/model\">bob/model</a> at commit "
                  "<code id=\"job-model-commit\""));
    CHECK(has(&p, "<dt>Base model</dt><dd><a href=\"/bob/base\">bob/base</a> at commit <code "
                  "id=\"job-base-commit\""));
    CHECK(has(&p, ">89abcdef01</code>"));
    CHECK(!has(&p, "<dt>Output</dt>"));
    CHECK(!has(&p, "<h2>Progress</h2>"));
    CHECK(!has(&p, "Training loss"));
    CHECK(!has(&p, "loss-chart"));
    CHECK(!has(&p, "Step lines are drawn above"));
    CHECK(has(&p, "<h2>Log</h2>"));
    done(&p);

    /* The list puts the evaluated model and its base in the Model column. */
    p = render("/jobs", "", bob_id);
    CHECK(has(&p, "<th>Model</th><th>Output</th>"));
    CHECK(has(&p, "<a href=\"/bob/model\">bob/model</a> <span class=\"muted\">adapter of "
                  "bob/base</span></td><td><span class=\"muted\">metrics</span>"));
    done(&p);

    /* A job that stored the base's commit without its repo still shows the commit. */
    id = bob_job_start(META_JOB_EVAL, "bob/model", 1);
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, 1, commit, NULL, NULL, base_commit, &err), 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK(has(&p, "<dt>Base model</dt><dd><span class=\"muted\">not recorded</span> at commit "
                  "<code id=\"job-base-commit\""));
    done(&p);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_FAILED, NULL, NULL, "stopped", &err), 0);
}

/* A finished job's page shows its final log line once, from the "log" event that is stored
 * with the final state event, and resumes the event stream after that state event. */
static void test_pages_job_final_line(void)
{
    static const char line[] = "[2026-12-04T20:00:00Z] job failed: the dataset has no rows";
    struct hub_error err = HUB_ERROR_INIT;
    char event[160];
    char path[64];
    const char *first;
    int64_t id;
    struct page p;

    id = bob_job_start(META_JOB_TRAIN, "bob/out", 1);
    CHECK_EQ_INT(meta_job_event_append(db, id, "log", "{\"line\":\"staged\"}", &err), 0);
    snprintf(event, sizeof(event), "{\"line\":\"%s\",\"level\":\"error\"}", line);
    CHECK_EQ_INT(meta_job_finish_logged(db, id, 1, META_JOB_FAILED, NULL, NULL,
                                        "the dataset has no rows", event, &err),
                 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "data-state=\"failed\""));
    first = strstr(p.resp.body, line);
    CHECK(first != NULL);
    if (first != NULL)
        CHECK(strstr(first + 1, line) == NULL);
    CHECK(has(&p, "<span class=\"log-info\">staged</span>\n<span class=\"log-error\">[2026-12-04T"
                  "20:00:00Z] job failed: the dataset has no rows</span>"));
    /* Events 1 to 3 are the queued and running states and "staged", then the final line and the
     * failed state. */
    CHECK(has(&p, "data-last-event=\"5\""));
    /* A final job without loss points shows a line in place of an empty chart. */
    CHECK(has(&p, "<p class=\"muted\" id=\"loss-none\">No loss was reported.</p>"));
    CHECK(!has(&p, "loss-chart"));
    /* With no chart, the hint below the log does not point to one. */
    CHECK(!has(&p, "Step lines are drawn above"));
    CHECK(has(&p, "has every line the trainer wrote"));
    done(&p);
}

/* A job's page shows the input commits that its first attempt pinned, and an output repo
 * that the job deleted is named without a link. */
static void test_pages_job_pinned_and_deleted(void)
{
    static const char model[] = "1111111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char dataset[] = "2222222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    struct hub_error err = HUB_ERROR_INIT;
    char path[64];
    int64_t id;
    struct page p;

    id = bob_job_start(META_JOB_TRAIN, "bob/gone-lora", 1);
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, 1, model, dataset, NULL, NULL, &err), 0);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_FAILED, NULL, NULL, "invalid data", &err), 0);
    snprintf(path, sizeof(path), "/jobs/%lld", (long long)id);
    p = render(path, "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<code id=\"job-model-commit\" title=\"1111111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: "
                  "the first attempt resolved it and every retry uses it\">1111111111</code>"));
    CHECK(has(&p, "id=\"job-dataset-commit\""));
    CHECK(has(&p, ">2222222222</code>"));
    CHECK(has(&p, "href=\"/bob/gone-lora\""));
    CHECK(!has(&p, "job-output-deleted"));
    done(&p);

    CHECK_EQ_INT(meta_job_output_deleted_set(db, id, &err), 0);
    p = render(path, "", bob_id);
    CHECK(has(&p, "bob/gone-lora <span class=\"muted\" id=\"job-output-deleted\">(deleted: "
                  "this job created it and committed nothing to it)</span>"));
    CHECK(!has(&p, "href=\"/bob/gone-lora\""));
    done(&p);
}

/* Every corpus card goes through the whole card page without an error or live script. */
/* Opens pull request number 1.. of alice/ns/name by bob from main with one file added. */
static int64_t open_pull_request(const char *name, const char *title, const char *path,
                                 const char *text, char head_out[REPO_OID_HEX_BYTES + 1])
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo row;
    struct meta_pr pr;
    struct repo *r = NULL;
    struct repo_commit_request req;
    struct repo_op op = {.kind = REPO_OP_ADD_FILE, .path = path, .data = text, .len = strlen(text)};
    char base[REPO_OID_HEX_BYTES + 1], ref[32];

    memset(&req, 0, sizeof(req));
    memset(&pr, 0, sizeof(pr));
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", name, &err), 0);
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", name, &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(base, r, "main", &err), 0);
    CHECK_EQ_INT(meta_pr_create(&pr, db, row.id, title,
                                "Please **review**\n\n- rank 8\n\n<script>alert(1)</script>",
                                bob_id, "bob", "main", base, &err),
                 0);
    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)pr.number);
    CHECK_EQ_INT(repo_pr_ref_create(r, ref, "main", &err), 0);
    req.branch = ref;
    req.author_name = "bob";
    req.author_email = "bob@example.com";
    req.message = title;
    req.ops = &op;
    req.n_ops = 1;
    CHECK_EQ_INT(repo_commit(head_out, r, &req, &err), 0);
    repo_close(r);
    return pr.number;
}

/* Commits op to ref (a branch or refs/pr/N) of alice's model name. */
static void commit_op_to_ref(const char *name, const char *ref, const struct repo_op *op)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_request req;
    struct repo *r = NULL;
    char head[REPO_OID_HEX_BYTES + 1];

    memset(&req, 0, sizeof(req));
    req.branch = ref;
    req.author_name = "bob";
    req.author_email = "bob@example.com";
    req.message = "Add a file";
    req.ops = op;
    req.n_ops = 1;
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", name, &err), 0);
    CHECK_EQ_INT(repo_commit(head, r, &req, &err), 0);
    repo_close(r);
}

static enum meta_pr_status pull_request_status(const char *name, int64_t number)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo row;
    struct meta_pr pr;

    memset(&pr, 0, sizeof(pr));
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", name, &err), 0);
    CHECK_EQ_INT(meta_pr_get(&pr, db, row.id, number, &err), 0);
    return pr.status;
}

static void test_pages_pull_requests(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char alice_cookie[128], bob_cookie[128], body[256], head[REPO_OID_HEX_BYTES + 1];
    char main_head[REPO_OID_HEX_BYTES + 1], bob_session[META_SESSION_ID_BYTES + 1];
    char bob_csrf[META_SESSION_CSRF_BYTES + 1];
    struct repo *r = NULL;
    struct page p;

    create_repo(HUB_REPO_MODEL, "alice", "course", false, "# Course\n");
    CHECK_EQ_INT(meta_session_create(bob_session, bob_csrf, db, bob_id, 3600, &err), 0);
    snprintf(alice_cookie, sizeof(alice_cookie), "atelier_session=%s", alice_session);
    snprintf(bob_cookie, sizeof(bob_cookie), "atelier_session=%s", bob_session);

    p = render("/alice/course/discussions", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<title>Pull requests · alice/course · Atelier</title>"));
    CHECK(has(&p, "aria-current=\"page\">Pull requests</a>"));
    CHECK(has(&p, "No pull requests yet"));
    done(&p);

    CHECK_EQ_INT(open_pull_request("course", "Better <adapter>", "adapter.txt", "tuned\n", head),
                 1);
    p = render("/alice/course/discussions", "", 0);
    CHECK(has(&p, "href=\"/alice/course/discussions/1\">#1 Better &lt;adapter&gt;</a>"));
    CHECK(has(&p, "by bob"));
    CHECK(has(&p, "badge pr-open"));
    done(&p);

    /* Anonymous readers see the commits and files but no buttons. */
    p = render("/alice/course/discussions/1", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "wants to merge <code>refs/pr/1</code> into <code>main</code>"));
    /* The description is Markdown, rendered without raw HTML. */
    CHECK(has(&p, "<div class=\"card-body pr-description\"><p>Please <strong>review</strong>"));
    CHECK(has(&p, "<li>rank 8</li>"));
    CHECK(!has(&p, "<script>alert(1)"));
    CHECK(has(&p, "Commits (1)"));
    CHECK(has(&p, "adapter.txt"));
    CHECK(has(&p, "<span class=\"add\">+tuned</span>"));
    CHECK(!has(&p, ">Merge</button>"));
    CHECK(!has(&p, "id=\"pr-push-hint\""));
    done(&p);

    /* The author may close but not merge; a writer gets both buttons. The author also learns
     * how to push to the pull request's ref with git. */
    p = render_full("GET", "/alice/course/discussions/1", "", bob_id, bob_cookie, NULL);
    CHECK(!has(&p, ">Merge</button>"));
    CHECK(has(&p, ">Close</button>"));
    CHECK(has(&p, "<code>git fetch origin refs/pr/1:pr/1</code>"));
    CHECK(has(&p, "<code>git push origin pr/1:refs/pr/1</code>"));
    done(&p);
    p = render_full("GET", "/alice/course/discussions/1", "", alice_id, alice_cookie, NULL);
    CHECK(has(&p, ">Merge</button>"));
    CHECK(has(&p, alice_csrf));
    done(&p);

    p = render("/alice/course/discussions/9", "", 0);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render("/alice/secret/discussions", "", bob_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);

    /* A merge with a forged token, or by the author who may not write, changes nothing. */
    p = render_full("POST", "/alice/course/discussions/1/merge", "", alice_id, alice_cookie,
                    "csrf=forged");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s", bob_csrf);
    p = render_full("POST", "/alice/course/discussions/1/merge", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 1), META_PR_OPEN);

    snprintf(body, sizeof(body), "csrf=%s", alice_csrf);
    p = render_full("POST", "/alice/course/discussions/1/merge", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/course/discussions/1");
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 1), META_PR_MERGED);
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", "course", &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(main_head, r, "main", &err), 0);
    repo_close(r);
    CHECK_EQ_STR(main_head, head);
    p = render("/alice/course/discussions/1", "", 0);
    CHECK(has(&p, "badge pr-merged"));
    CHECK(has(&p, "into <code>main</code> as <a href="));
    done(&p);
    /* A merged pull request takes no more pushes, so its author gets no hint. */
    p = render_full("GET", "/alice/course/discussions/1", "", bob_id, bob_cookie, NULL);
    CHECK(!has(&p, "id=\"pr-push-hint\""));
    done(&p);

    /* Close and reopen by the author. */
    CHECK_EQ_INT(open_pull_request("course", "Fix the card", "card.txt", "card\n", head), 2);
    snprintf(body, sizeof(body), "csrf=%s&status=closed", bob_csrf);
    p = render_full("POST", "/alice/course/discussions/2/status", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 2), META_PR_CLOSED);
    p = render_full("GET", "/alice/course/discussions/2", "", bob_id, bob_cookie, NULL);
    CHECK(has(&p, ">Reopen</button>"));
    CHECK(!has(&p, "id=\"pr-push-hint\""));
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s&status=open", bob_csrf);
    p = render_full("POST", "/alice/course/discussions/2/status", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 2), META_PR_OPEN);

    /* Other repo pages still take GET only. */
    p = render_full("POST", "/alice/course/tree/main", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
}

/* Resolves revision rev of alice/name into out. */
static void resolve_in(const char *name, const char *rev, char out[REPO_OID_HEX_BYTES + 1])
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *r = NULL;

    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", name, &err), 0);
    CHECK_EQ_INT(repo_revision_resolve(out, r, rev, &err), 0);
    repo_close(r);
}

/* Buttons, wording by status, merge failures that redirect, conflicts and merge commits. Runs
 * after test_pages_pull_requests: #1 of alice/course is merged and #2 is open. */
static void test_pages_pull_request_merges(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char alice_cookie[128], body[256], path[256], head[REPO_OID_HEX_BYTES + 1];
    char main_head[REPO_OID_HEX_BYTES + 1], commit[REPO_OID_HEX_BYTES + 1];
    struct repo_op op = {.kind = REPO_OP_ADD_FILE};
    struct repo_commit_info info;
    struct repo *r = NULL;
    struct page p;

    snprintf(alice_cookie, sizeof(alice_cookie), "atelier_session=%s", alice_session);
    snprintf(body, sizeof(body), "csrf=%s", alice_csrf);

    /* The forms sit in a <div>, because a <p> ends before a <form>. Close is secondary. */
    p = render_full("GET", "/alice/course/discussions/2", "", alice_id, alice_cookie, NULL);
    CHECK(has(&p, "<div class=\"toolbar pr-actions\"><form"));
    CHECK(!has(&p, "<p class=\"toolbar pr-actions\">"));
    CHECK(has(&p, "<button type=\"submit\">Merge</button>"));
    CHECK(has(&p, "<button type=\"submit\" class=\"secondary\">Close</button>"));
    done(&p);

    /* A merged pull request's page reports the merge, not what bob wants. */
    p = render("/alice/course/discussions/1", "", 0);
    CHECK(has(&p, "Merged <code>refs/pr/1</code> into <code>main</code>"));
    CHECK(!has(&p, "wants to merge"));
    done(&p);

    /* Merging it again sends the browser back to the page, which explains the failure. */
    p = render_full("POST", "/alice/course/discussions/1/merge", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/course/discussions/1?merge=failed");
    done(&p);
    p = render("/alice/course/discussions/1", "merge=failed", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Pull request #1 is already merged."));
    CHECK(!has(&p, "only open pull requests"));
    done(&p);

    /* main moves on, so #2 merges as a two-parent commit whose page shows both parents. */
    op.path = "main-side.txt";
    op.data = "main\n";
    op.len = strlen(op.data);
    commit_files(main_head, HUB_REPO_MODEL, "alice", "course", &op, 1, "Main side");
    resolve_in("course", "refs/pr/2", head);
    p = render_full("POST", "/alice/course/discussions/2/merge", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/course/discussions/2");
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 2), META_PR_MERGED);
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", "course", &err), 0);
    CHECK_EQ_INT(repo_commit_get(&info, r, "main", &err), 0);
    repo_close(r);
    CHECK_EQ_INT(info.n_parents, 2);
    CHECK_EQ_STR(info.message, "Merge pull request #2: Fix the card\n");
    snprintf(commit, sizeof(commit), "%s", info.id);
    repo_commit_info_dispose(&info);
    snprintf(path, sizeof(path), "/alice/course/commit/%s", commit);
    p = render(path, "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<span>parents <a"));
    snprintf(path, sizeof(path), "href=\"/alice/course/commit/%s\"><code>%.10s</code></a> + <a",
             main_head, main_head);
    CHECK(has(&p, path));
    snprintf(path, sizeof(path), "href=\"/alice/course/commit/%s\"><code>%.10s</code></a></span>",
             head, head);
    CHECK(has(&p, path));
    CHECK(has(&p, "<h2><a href=\"/alice/course/discussions/2\">Merge pull request #2: Fix the "
                  "card</a></h2>"));
    done(&p);

    /* Both sides change clash.txt: the page lists the file and how to resolve it. */
    CHECK_EQ_INT(open_pull_request("course", "Clash", "clash.txt", "pr\n", head), 3);
    op.path = "clash.txt";
    op.data = "main\n";
    op.len = strlen(op.data);
    commit_files(main_head, HUB_REPO_MODEL, "alice", "course", &op, 1, "Clash on main");
    p = render_full("POST", "/alice/course/discussions/3/merge", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/course/discussions/3?merge=conflict");
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 3), META_PR_OPEN);
    p = render("/alice/course/discussions/3", "merge=conflict", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Pull request #3 was not merged because files conflict."));
    CHECK(has(&p, "conflicts with <code>main</code> in 1 file:"));
    CHECK(has(&p, "<li><code>clash.txt</code></li>"));
    CHECK(has(&p, "fetch <code>refs/pr/3</code>"));
    CHECK(!has(&p, "file(s)"));
    /* The author gets the commands that merge main into the pull request and push it. */
    CHECK(has(&p, "<pre class=\"pr-conflict-commands\"><code>"));
    CHECK(has(&p, "git fetch origin refs/pr/3:pr/3 &amp;&amp; git checkout pr/3\n"));
    CHECK(has(&p, "git pull --no-rebase origin main    # fix the conflicting files"));
    CHECK(has(&p, "git push origin pr/3:refs/pr/3</code></pre>"));
    done(&p);
    p = render_full("GET", "/alice/course/discussions/3", "", alice_id, alice_cookie, NULL);
    CHECK(has(&p, "id=\"pr-merge-disabled\" disabled"));
    CHECK(has(&p, "Resolve the conflicts above before merging."));
    CHECK(!has(&p, "<button type=\"submit\">Merge</button>"));
    CHECK(has(&p, "<button type=\"submit\" class=\"secondary\">Close</button>"));
    done(&p);

    /* A writer merges refs/pr/3 into main outside the hub, as git merge and push would. Then
     * Merge only marks the pull request merged at the head of main. */
    op.path = "clash.txt";
    op.data = "pr\n";
    op.len = strlen(op.data);
    commit_files(main_head, HUB_REPO_MODEL, "alice", "course", &op, 1, "Take the PR side");
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", "course", &err), 0);
    {
        struct repo_merge_request mreq = {.branch = "main",
                                          .source = "refs/pr/3",
                                          .author_name = "alice",
                                          .author_email = "alice@example.com",
                                          .message = "Merge refs/pr/3 by hand\n"};
        struct repo_merge_result res = {0};

        CHECK_EQ_INT(repo_merge(&res, r, &mreq, &err), 0);
        snprintf(main_head, sizeof(main_head), "%s", res.commit);
        repo_merge_result_dispose(&res);
    }
    repo_close(r);
    p = render("/alice/course/discussions/3", "", 0);
    CHECK(!has(&p, "in 1 file:"));
    done(&p);
    p = render_full("POST", "/alice/course/discussions/3/merge", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/course/discussions/3");
    done(&p);
    CHECK_EQ_INT(pull_request_status("course", 3), META_PR_MERGED);
    resolve_in("course", "main", commit);
    CHECK_EQ_STR(commit, main_head);
    p = render("/alice/course/discussions/3", "", 0);
    snprintf(path, sizeof(path), "into <code>main</code> as <a href=\"/alice/course/commit/%s\">",
             main_head);
    CHECK(has(&p, path));
    done(&p);

    /* A closed pull request's page reports that it was closed. */
    CHECK_EQ_INT(open_pull_request("course", "Abandoned", "gone.txt", "gone\n", head), 4);
    snprintf(body, sizeof(body), "csrf=%s&status=closed", alice_csrf);
    p = render_full("POST", "/alice/course/discussions/4/status", "", alice_id, alice_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    p = render("/alice/course/discussions/4", "", 0);
    CHECK(has(&p, "Closed without merging <code>refs/pr/4</code> into <code>main</code>"));
    CHECK(!has(&p, "wants to merge"));
    done(&p);
}

/* The New pull request form: who sees it, its checks, and the empty pull request it opens. */
static void test_pages_pull_request_form(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    static const char *const blank_titles[] = {"+++", "%09", "+%0D%0A+"};
    static const struct {
        const char *form;
        const char *message;
    } control_titles[] = {
        {"a%0Ab", "pull request title contains the control character U+000A at character 2; "
                  "a title is one line of printable text"},
        {"a%07b%1B%5B31m", "pull request title contains the control character U+0007 at "
                           "character 2"},
        {"tab%09inside", "U+0009 at character 4"},
        {"del%7F", "U+007F at character 4"},
        {"c1%C2%9B", "U+009B at character 3"},
    };
    char bob_cookie[128], body[2048], long_title[META_PR_MAX_TITLE_BYTES + 2];
    char *big_body;
    struct repo_op lfs_op = {
        .kind = REPO_OP_ADD_LFS,
        .path = "weights.bin",
        .lfs_oid = "4ea5c508a6566e76240543f8feb06fd457777be39549c4016436afda65d2330e",
        .lfs_size = 300000,
    };
    char bob_session[META_SESSION_ID_BYTES + 1], bob_csrf[META_SESSION_CSRF_BYTES + 1];
    char main_head[REPO_OID_HEX_BYTES + 1], pr_head[REPO_OID_HEX_BYTES + 1];
    struct meta_repo row;
    struct meta_pr pr;
    struct repo *r = NULL;
    struct page p;

    create_repo(HUB_REPO_MODEL, "alice", "proposals", false, "# Proposals\n");
    CHECK_EQ_INT(repo_open(&r, data_dir, HUB_REPO_MODEL, "alice", "proposals", &err), 0);
    CHECK_EQ_INT(repo_branch_create(r, "dev", NULL, &err), 0);
    repo_close(r);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "proposals", &err), 0);
    CHECK_EQ_INT(meta_session_create(bob_session, bob_csrf, db, bob_id, 3600, &err), 0);
    snprintf(bob_cookie, sizeof(bob_cookie), "atelier_session=%s", bob_session);

    /* Visitors get a link to log in first, on the list and on the card. */
    p = render("/alice/proposals/discussions", "", 0);
    CHECK(has(&p, "<a href=\"/login?next=/alice/proposals/discussions/new\">Log in</a> to open a "
                  "pull request."));
    CHECK(!has(&p, "id=\"pr-new-link\""));
    done(&p);
    p = render("/alice/proposals", "", 0);
    CHECK(has(&p, "id=\"pr-new-login\""));
    done(&p);
    p = render("/alice/proposals/discussions/new", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/login?next=/alice/proposals/discussions/new");
    done(&p);
    /* A form sent after the session ended shows again with its values and a login link. */
    p = render_full("POST", "/alice/proposals/discussions/new", "", 0, NULL,
                    "csrf=old&title=Typed+title&description=Typed+text&target=dev");
    CHECK_EQ_INT(p.resp.status, 401);
    CHECK(has(&p, "Your session expired; <a id=\"pr-expired-login\" "
                  "href=\"/login?next=/alice/proposals/discussions/new\">log in again</a>"));
    CHECK(has(&p, "data-session-expired"));
    CHECK(has(&p, "value=\"Typed title\""));
    CHECK(has(&p, ">Typed text</textarea>"));
    CHECK(has(&p, "<option value=\"dev\" selected>dev</option>"));
    done(&p);

    /* A reader who is logged in gets the link and the form. */
    p = render_full("GET", "/alice/proposals/discussions", "", bob_id, bob_cookie, NULL);
    CHECK(has(&p, "<a class=\"button\" id=\"pr-new-link\" "
                  "href=\"/alice/proposals/discussions/new\">New pull request</a>"));
    done(&p);
    p = render_full("GET", "/alice/proposals", "", bob_id, bob_cookie, NULL);
    CHECK(has(&p, "id=\"pr-new-link\""));
    done(&p);
    p = render_full("GET", "/alice/proposals/discussions", "", bob_id, bob_cookie, NULL);
    CHECK(has(&p, "No pull requests yet. Open one with the New pull request button"));
    done(&p);
    p = render_full("GET", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "<title>New pull request · alice/proposals · Atelier</title>"));
    CHECK(has(&p, "<form id=\"pr-new-form\" method=\"post\" "
                  "action=\"/alice/proposals/discussions/new\">"));
    CHECK(has(&p, bob_csrf));
    CHECK(has(&p, "<option value=\"main\" selected>main</option>"));
    CHECK(has(&p, "<option value=\"dev\">dev</option>"));
    /* The limits are in bytes, which maxlength would count as characters. */
    CHECK(!has(&p, "maxlength"));
    CHECK(has(&p, "aria-describedby=\"pr-title-hint\""));
    CHECK(has(&p, "aria-describedby=\"pr-description-hint\""));
    CHECK(has(&p, "aria-describedby=\"pr-target-hint\""));
    CHECK(!has(&p, "aria-invalid"));
    done(&p);

    /* Each rejected form shows again with its values and the storage's message. */
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie,
                    "csrf=forged&title=Kept+title&target=main");
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "The form expired or came from another site."));
    CHECK(has(&p, "value=\"Kept title\""));
    done(&p);
    for (size_t i = 0; i < sizeof(blank_titles) / sizeof(blank_titles[0]); i++) {
        snprintf(body, sizeof(body), "csrf=%s&title=%s&target=main", bob_csrf, blank_titles[i]);
        p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
        CHECK_EQ_INT(p.resp.status, 400);
        CHECK(has(&p, "missing pull request title"));
        CHECK(has(&p, "aria-describedby=\"pr-title-hint form-error\" aria-invalid=\"true\" "
                      "autofocus"));
        done(&p);
    }
    for (size_t i = 0; i < sizeof(control_titles) / sizeof(control_titles[0]); i++) {
        snprintf(body, sizeof(body), "csrf=%s&title=%s&target=main", bob_csrf,
                 control_titles[i].form);
        p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
        CHECK_EQ_INT(p.resp.status, 400);
        CHECK(has(&p, control_titles[i].message));
        done(&p);
    }
    snprintf(body, sizeof(body), "csrf=%s&title=Bell&description=ring%%07&target=main", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "pull request description contains the control character U+0007 at "
                  "character 5; only tabs and line breaks are allowed"));
    CHECK(has(&p, "aria-describedby=\"pr-description-hint form-error\" aria-invalid=\"true\""));
    CHECK(has(&p, "value=\"Bell\""));
    done(&p);
    /* Forms are not checked for UTF-8 by a JSON parser, and the API could not reply with
     * other bytes. */
    snprintf(body, sizeof(body), "csrf=%s&title=bad%%FFtitle&target=main", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "pull request title is not valid UTF-8; send the text as UTF-8"));
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s&title=Latin&description=caf%%E9&target=main", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "pull request description is not valid UTF-8; send the text as UTF-8"));
    done(&p);
    memset(long_title, 't', META_PR_MAX_TITLE_BYTES + 1);
    long_title[META_PR_MAX_TITLE_BYTES + 1] = '\0';
    snprintf(body, sizeof(body), "csrf=%s&title=%s&target=main", bob_csrf, long_title);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 413);
    CHECK(has(&p, "pull request title is longer than 200 bytes: it has 201 bytes (201 "
                  "characters of this text); shorten it"));
    done(&p);
    /* 150 accented letters pass a character count of 200 but take 300 bytes. */
    snprintf(body, sizeof(body), "csrf=%s&target=main&title=", bob_csrf);
    for (int i = 0; i < 150; i++)
        strcat(body, "%C3%A9");
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 413);
    CHECK(has(&p, "it has 300 bytes (150 characters of this text)"));
    CHECK(has(&p, "value=\"\xC3\xA9\xC3\xA9"));
    done(&p);
    /* A body over the form limit gets the form back, with a message, not a bare error page. */
    big_body = malloc(WEB_MAX_FORM_BYTES + 256);
    CHECK(big_body != NULL);
    if (big_body != NULL) {
        int n = snprintf(big_body, 256, "csrf=%s&title=Huge&description=", bob_csrf);

        memset(big_body + n, 'x', WEB_MAX_FORM_BYTES);
        big_body[n + WEB_MAX_FORM_BYTES] = '\0';
        p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie,
                        big_body);
        CHECK_EQ_INT(p.resp.status, 413);
        CHECK(has(&p, "The form was larger than 64 KiB, so it was not read"));
        CHECK(has(&p, "<form id=\"pr-new-form\""));
        done(&p);
        free(big_body);
    }
    snprintf(body, sizeof(body), "csrf=%s&title=Lost&target=nope", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "target branch &#39;nope&#39; not found in alice/proposals"));
    done(&p);
    CHECK_EQ_INT(meta_pr_get(&pr, db, row.id, 1, &err), HUB_ENOTFOUND);

    /* A private repo that bob may not read has no form. */
    p = render_full("GET", "/alice/secret/discussions/new", "", bob_id, bob_cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s&title=Peek&target=main", bob_csrf);
    p = render_full("POST", "/alice/secret/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);

    /* The form opens an empty pull request and sends bob to its page. */
    snprintf(body, sizeof(body),
             "csrf=%s&title=Add+notes&description=Line+one%%0D%%0ALine+**two**&target=main",
             bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/proposals/discussions/1");
    done(&p);
    CHECK_EQ_INT(meta_pr_get(&pr, db, row.id, 1, &err), 0);
    CHECK_EQ_STR(pr.title, "Add notes");
    CHECK_EQ_STR(pr.description, "Line one\nLine **two**");
    CHECK_EQ_STR(pr.author_name, "bob");
    CHECK_EQ_STR(pr.target_branch, "main");
    CHECK_EQ_INT(pr.status, META_PR_OPEN);
    resolve_in("proposals", "main", main_head);
    resolve_in("proposals", "refs/pr/1", pr_head);
    CHECK_EQ_STR(pr_head, main_head);
    CHECK_EQ_STR(pr.base_commit, main_head);

    p = render_full("GET", "/alice/proposals/discussions/1", "", bob_id, bob_cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "This pull request has no commits yet."));
    CHECK(has(&p, "git fetch origin refs/pr/1:pr/1\ngit checkout pr/1\n"));
    CHECK(has(&p, "git push origin pr/1:refs/pr/1</code></pre>"));
    CHECK(has(&p, "Line <strong>two</strong>"));
    CHECK(has(&p, "Commits (0)"));
    /* The page of an empty pull request starts its git commands with the clone and
     * names a write token as the password. */
    CHECK(has(&p, "<pre><code>git clone http://127.0.0.1:8080/alice/proposals\ncd proposals\n"
                  "git fetch origin refs/pr/1:pr/1\n"));
    CHECK(has(&p, "enter a write token, not your account password"));
    CHECK(has(&p, "<a href=\"/settings\">settings page</a>"));
    done(&p);

    /* The same form sent again (Back, then submit) shows the pull request it opened. */
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/proposals/discussions/1");
    done(&p);
    CHECK_EQ_INT(meta_pr_get(&pr, db, row.id, 2, &err), HUB_ENOTFOUND);

    snprintf(body, sizeof(body), "csrf=%s&title=+For+dev%%09+&target=dev", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_STR(p.resp.location, "/alice/proposals/discussions/2");
    done(&p);
    CHECK_EQ_INT(meta_pr_get(&pr, db, row.id, 2, &err), 0);
    CHECK_EQ_STR(pr.target_branch, "dev");
    CHECK_EQ_STR(pr.title, "For dev");

    /* A different description, or the same form once the pull request has commits, opens
     * a new one. */
    snprintf(body, sizeof(body), "csrf=%s&title=For+dev&description=Other&target=dev", bob_csrf);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_STR(p.resp.location, "/alice/proposals/discussions/3");
    done(&p);
    commit_op_to_ref("proposals", "refs/pr/3", &lfs_op);
    p = render("/alice/proposals/discussions/3", "", 0);
    CHECK(has(&p, "<span class=\"badge lfs\" title=\"Stored with Git LFS\">LFS</span> Large "
                  "file: "));
    CHECK(!has(&p, "Binary or large file"));
    done(&p);
    p = render_full("POST", "/alice/proposals/discussions/new", "", bob_id, bob_cookie, body);
    CHECK_EQ_STR(p.resp.location, "/alice/proposals/discussions/4");
    done(&p);
}

static void test_pages_corpus_cards(void)
{
    static const char *const cards[] = {
        "gpt2",
        "hf-hub-fixture-no-metadata",
        "hf-hub-fixture-simple-model-index",
        "hf-hub-fixture-windows-crlf",
        "llama-2-7b-hf",
        "mistral-7b-v0.1",
        "phi-1_5-trainer-card",
        "poetry-fusion-llama3.2",
        "smollm-adapter-trainer-card",
    };
    const char *corpus = getenv("ATELIER_CORPUS");

    if (corpus == NULL) {
        printf("# ATELIER_CORPUS is not set, corpus cards skipped\n");
        return;
    }
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        char file[1024];
        char path[256];
        struct stat st;
        char *text;
        FILE *f;
        struct page p;

        snprintf(file, sizeof(file), "%s/model-cards/%s/README.md", corpus, cards[i]);
        f = fopen(file, "rb");
        CHECK(f != NULL);
        if (f == NULL || fstat(fileno(f), &st) != 0) {
            if (f != NULL)
                fclose(f);
            continue;
        }
        text = calloc(1, (size_t)st.st_size + 1);
        CHECK(fread(text, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
        fclose(f);
        create_repo(HUB_REPO_MODEL, "alice", cards[i], false, text);
        free(text);
        snprintf(path, sizeof(path), "/alice/%s", cards[i]);
        p = render(path, "", 0);
        printf("# %s: status %d, %zu bytes\n", cards[i], p.resp.status, p.resp.body_len);
        CHECK_EQ_INT(p.resp.status, 200);
        CHECK(has(&p, "class=\"card-body\""));
        CHECK(!has(&p, "<script>"));
        CHECK(!has(&p, "The metadata block of this card was ignored"));
        done(&p);
    }
}

/* Renders a POST of body to path as alice with her session cookie. */
static struct page post_as_alice(const char *path, const char *body)
{
    char cookie[128];

    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    return render_full("POST", path, "", alice_id, cookie, body);
}

/* Returns the number of audit entries with action on repo ("model:ns/name") whose detail is
 * detail (NULL: any). */
static size_t audit_count(const char *action, const char *repo, const char *detail)
{
    struct meta_audit_query q;
    struct meta_audit_entry *entries = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0, matched = 0;

    memset(&q, 0, sizeof(q));
    q.action = action;
    q.repo = repo;
    if (meta_audit_list(&entries, &count, db, &q, &err) < 0)
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (detail == NULL || strcmp(entries[i].detail, detail) == 0)
            matched++;
    }
    free(entries);
    return matched;
}

/* Log lines on stderr between log_capture_begin and log_capture_end, which returns them
 * (malloc'd, "" when none). */
static int log_saved_stderr = -1;
static FILE *log_file;

static void log_capture_begin(void)
{
    fflush(stderr);
    log_file = tmpfile();
    log_saved_stderr = dup(STDERR_FILENO);
    if (log_file != NULL && log_saved_stderr >= 0)
        dup2(fileno(log_file), STDERR_FILENO);
}

static char *log_capture_end(void)
{
    char *text = calloc(1, 65536);
    size_t len = 0;

    fflush(stderr);
    if (log_saved_stderr >= 0) {
        dup2(log_saved_stderr, STDERR_FILENO);
        close(log_saved_stderr);
        log_saved_stderr = -1;
    }
    if (log_file != NULL) {
        rewind(log_file);
        len = fread(text, 1, 65535, log_file);
        fclose(log_file);
        log_file = NULL;
    }
    text[len] = '\0';
    return text;
}

static bool repo_exists(enum hub_repo_type type, const char *ns, const char *name)
{
    struct meta_repo row;
    struct hub_error err = HUB_ERROR_INIT;

    return meta_repo_get(&row, db, type, ns, name, &err) == 0;
}

static int64_t lab_id, observers_id;

/* Organisation lab, where alice has the write role, and observers, where she may only read. */
static void setup_orgs(void)
{
    struct hub_error err = HUB_ERROR_INIT;

    CHECK_EQ_INT(meta_org_add(&lab_id, db, "lab", &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, lab_id, alice_id, META_ROLE_WRITE, &err), 0);
    CHECK_EQ_INT(meta_org_add(&observers_id, db, "observers", &err), 0);
    CHECK_EQ_INT(meta_org_member_set(db, observers_id, alice_id, META_ROLE_READ, &err), 0);
    create_repo(HUB_REPO_MODEL, "observers", "notes", false, "# Notes\n");
    create_repo(HUB_REPO_MODEL, "lab", "shared", false, "# Shared\n");
}

static void test_pages_new_repo_form(void)
{
    char cookie[128];
    struct page p;

    p = render("/new", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/login?next=/new");
    done(&p);

    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/new", "", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "href=\"/new\">New model</a>"));
    CHECK(has(&p, "<form method=\"post\" action=\"/new\">"));
    CHECK(has(&p, alice_csrf));
    CHECK(has(&p, "<option value=\"alice\" selected>alice</option>"));
    CHECK(has(&p, "<option value=\"lab\">lab</option>"));
    CHECK(!has(&p, "<option value=\"observers\""));
    CHECK(has(&p, "<option value=\"mit\">mit</option>"));
    CHECK(has(&p, "value=\"public\" checked"));
    done(&p);

    p = render_full("GET", "/new-dataset", "owner=lab", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "action=\"/new-dataset\""));
    CHECK(has(&p, "<option value=\"lab\" selected>lab</option>"));
    done(&p);

    /* A user authenticated without a browser session gets no form to post. */
    p = render("/new", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(!has(&p, "<form method=\"post\" action=\"/new\">"));
    done(&p);
}

static void test_pages_new_repo_errors(void)
{
    char body[512], cookie[128];
    struct page p;

    p = post_as_alice("/new", "owner=alice&name=no-csrf&visibility=public");
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "The form expired"));
    CHECK(has(&p, "value=\"no-csrf\""));
    done(&p);
    CHECK(!repo_exists(HUB_REPO_MODEL, "alice", "no-csrf"));

    snprintf(body, sizeof(body), "csrf=%s&owner=alice&name=bad%%20name%%3Cb%%3E&visibility=public",
             alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "invalid repo name"));
    CHECK(has(&p, "value=\"bad name&lt;b&gt;\""));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&owner=alice&name=demo&visibility=private", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 409);
    CHECK(has(&p, "alice/demo exists already"));
    CHECK(has(&p, "value=\"private\" checked"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&owner=bob&name=takeover&visibility=public", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 403);
    CHECK(has(&p, "user alice may not create repos under &#39;bob&#39;: use your own name or an "
                  "organisation where you have the write or admin role"));
    CHECK(has(&p, "<option value=\"bob\" selected>bob</option>"));
    done(&p);
    CHECK(!repo_exists(HUB_REPO_MODEL, "bob", "takeover"));
    /* A link's ?owner= adds no owner that the user may not use. */
    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/new", "owner=bob", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(!has(&p, "<option value=\"bob\""));
    CHECK(has(&p, "<option value=\"alice\">alice</option>"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&owner=observers&name=mine&visibility=public", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    CHECK(!repo_exists(HUB_REPO_MODEL, "observers", "mine"));

    snprintf(body, sizeof(body), "csrf=%s&owner=nobody&name=x&visibility=public", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 404);
    CHECK(has(&p, "does not exist"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&owner=alice&name=x&visibility=hidden", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "Invalid visibility"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&owner=alice&name=x&visibility=public&license=wtfpl",
             alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "Invalid license"));
    done(&p);
    CHECK(!repo_exists(HUB_REPO_MODEL, "alice", "x"));
}

static void test_pages_new_repo_create(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo *git = NULL;
    struct meta_repo row;
    char body[512];
    char *text = NULL;
    size_t len = 0;
    struct page p;

    snprintf(body, sizeof(body),
             "csrf=%s&owner=alice&name=fresh&visibility=private&license=apache-2.0", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/fresh");
    done(&p);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "fresh", &err), 0);
    CHECK(row.is_private);
    CHECK(row.head_commit[0] != '\0');
    CHECK_EQ_INT(audit_count("repo.create", "model:alice/fresh", "private"), 1);
    CHECK_EQ_INT(repo_open(&git, data_dir, HUB_REPO_MODEL, "alice", "fresh", &err), 0);
    if (git == NULL)
        return;
    CHECK_EQ_INT(repo_file_read(&text, &len, git, "main", "README.md", 4096, &err), 0);
    CHECK(text != NULL);
    if (text != NULL)
        CHECK(strstr(text, "license: apache-2.0") != NULL);
    free(text);
    text = NULL;
    CHECK_EQ_INT(repo_file_read(&text, &len, git, "main", ".gitattributes", 65536, &err), 0);
    CHECK(text != NULL);
    if (text != NULL)
        CHECK(strstr(text, "*.safetensors filter=lfs") != NULL);
    free(text);
    repo_close(git);

    p = render("/alice/fresh", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "badge private"));
    done(&p);

    /* Without a license the first commit has no README.md. */
    snprintf(body, sizeof(body),
             "csrf=%s&owner=lab&name=corpus&visibility=public&license=", alice_csrf);
    p = post_as_alice("/new-dataset", body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/datasets/lab/corpus");
    done(&p);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_DATASET, "lab", "corpus", &err), 0);
    CHECK(!row.is_private);
    CHECK(!repo_exists(HUB_REPO_MODEL, "lab", "corpus"));
    CHECK_EQ_INT(audit_count("repo.create", "dataset:lab/corpus", "public"), 1);
    CHECK_EQ_INT(repo_open(&git, data_dir, HUB_REPO_DATASET, "lab", "corpus", &err), 0);
    if (git == NULL)
        return;
    text = NULL;
    CHECK_EQ_INT(repo_file_read(&text, &len, git, "main", "README.md", 4096, &err), HUB_ENOTFOUND);
    free(text);
    repo_close(git);
}

static void test_pages_settings_access(void)
{
    char body[256];
    struct page p;

    p = render("/alice/demo", "", alice_id);
    CHECK(has(&p, "href=\"/alice/demo/settings\">Settings</a>"));
    done(&p);
    p = render("/alice/demo", "", bob_id);
    CHECK(!has(&p, ">Settings</a>"));
    done(&p);
    p = render("/observers/notes", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(!has(&p, ">Settings</a>"));
    done(&p);

    p = render("/alice/demo/settings", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/login?next=/alice/demo/settings");
    done(&p);
    p = render("/alice/demo/settings", "", bob_id);
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    /* A private repo the viewer may not read gets a 404, as a missing one does in the API. */
    p = render("/alice/secret/settings", "", bob_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render_full("POST", "/alice/secret/settings/visibility", "", bob_id, NULL,
                    "visibility=public");
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render_full("POST", "/alice/demo/settings/delete", "", bob_id, NULL, "confirm=alice/demo");
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    CHECK(repo_exists(HUB_REPO_MODEL, "alice", "demo"));

    /* A valid session and CSRF token do not replace write access. */
    snprintf(body, sizeof(body), "csrf=%s&visibility=private", alice_csrf);
    p = post_as_alice("/observers/notes/settings/visibility", body);
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    CHECK_EQ_INT(audit_count("repo.visibility", "model:observers/notes", NULL), 0);

    p = render("/alice/demo/settings/nothing", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);
    p = render("/alice/demo/settings/delete", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
    p = post_as_alice("/alice/demo/tree/main", "");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
}

static void test_pages_settings_visibility(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo row;
    char cookie[128];
    char body[256];
    struct page p;

    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/alice/fresh/settings", "", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "aria-current=\"page\">Settings</a>"));
    CHECK(has(&p, "action=\"/alice/fresh/settings/visibility\""));
    CHECK(has(&p, "value=\"private\" checked"));
    CHECK(has(&p, "No branch is protected."));
    CHECK(has(&p, "Type <code>alice/fresh</code> to confirm"));
    CHECK(has(&p, alice_csrf));
    done(&p);

    p = post_as_alice("/alice/fresh/settings/visibility", "visibility=public");
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "The form expired"));
    done(&p);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "fresh", &err), 0);
    CHECK(row.is_private);

    snprintf(body, sizeof(body), "csrf=%s&visibility=secret", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/visibility", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "Invalid visibility"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&visibility=public", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/visibility", body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/fresh/settings#visibility");
    done(&p);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "fresh", &err), 0);
    CHECK(!row.is_private);
    CHECK_EQ_INT(audit_count("repo.visibility", "model:alice/fresh", "public"), 1);
    p = render("/alice/fresh", "", bob_id);
    CHECK_EQ_INT(p.resp.status, 200);
    done(&p);
}

static void test_pages_settings_branches(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo row;
    char cookie[128];
    char body[256];
    char *list = NULL;
    char *log = NULL;
    struct page p;

    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "fresh", &err), 0);
    p = post_as_alice("/alice/fresh/settings/protect", "branch=main");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&branch=", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "Missing branch name"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&branch=bad..name", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "invalid branch name &#39;bad..name&#39;: a branch name may not contain "
                  "&#39;..&#39;"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&branch=a%%2Cb", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "a branch name may not contain &#39;,&#39;"));
    done(&p);

    snprintf(body, sizeof(body), "csrf=%s&branch=wip.lock", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "may end with &#39;.lock&#39;"));
    done(&p);

    log_capture_begin();
    snprintf(body, sizeof(body), "csrf=%s&branch=main", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    log = log_capture_end();
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/alice/fresh/settings#branches");
    done(&p);
    CHECK(strstr(log, "branch protected repo=model:alice/fresh branch=main user=alice req=test") !=
          NULL);
    free(log);

    /* A rule for a branch that does not exist yet is kept, and the page shows a notice. */
    snprintf(body, sizeof(body), "csrf=%s&branch=release%%2F1.0", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Protected release/1.0. No branch named release/1.0 exists yet, so the rule "
                  "applies once someone creates it."));
    CHECK(has(&p, "<code>release/1.0</code>"));
    done(&p);
    CHECK_EQ_INT(gitsettings_protected_branches(&list, db, row.id, &err), 0);
    CHECK_EQ_STR(list, "main release/1.0");
    free(list);
    list = NULL;
    CHECK_EQ_INT(audit_count("repo.branch_protect", "model:alice/fresh", "main"), 1);
    CHECK_EQ_INT(audit_count("repo.branch_protect", "model:alice/fresh", "release/1.0"), 1);

    /* Protecting again changes nothing: no audit entry and no log line. */
    log_capture_begin();
    snprintf(body, sizeof(body), "csrf=%s&branch=main", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/protect", body);
    log = log_capture_end();
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Branch main is already protected, so nothing changed."));
    done(&p);
    CHECK_EQ_INT(audit_count("repo.branch_protect", "model:alice/fresh", "main"), 1);
    CHECK(strstr(log, "branch protected") == NULL);
    free(log);

    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/alice/fresh/settings", "", alice_id, cookie, NULL);
    CHECK(has(&p, "<code>release/1.0</code>"));
    CHECK(has(&p, "aria-label=\"Unprotect main\""));
    CHECK(has(&p, "<datalist id=\"branch-names\"><option value=\"main\">"));
    done(&p);

    log_capture_begin();
    snprintf(body, sizeof(body), "csrf=%s&branch=main", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/unprotect", body);
    log = log_capture_end();
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
    CHECK(strstr(log, "branch unprotected repo=model:alice/fresh branch=main user=alice "
                      "req=test") != NULL);
    free(log);
    CHECK_EQ_INT(gitsettings_protected_branches(&list, db, row.id, &err), 0);
    CHECK_EQ_STR(list, "release/1.0");
    free(list);
    CHECK_EQ_INT(audit_count("repo.branch_unprotect", "model:alice/fresh", "main"), 1);

    /* Unprotecting a branch that is not protected changes nothing either. */
    p = post_as_alice("/alice/fresh/settings/unprotect", body);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "Branch main is not protected, so nothing changed."));
    done(&p);
    CHECK_EQ_INT(audit_count("repo.branch_unprotect", "model:alice/fresh", "main"), 1);
}

static void test_pages_settings_delete(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_job_state state;
    struct repo *git = NULL;
    int64_t job_id = 0;
    char expected[160];
    char cookie[128];
    char body[256];
    struct page p;

    p = post_as_alice("/alice/fresh/settings/delete", "confirm=alice%2Ffresh");
    CHECK_EQ_INT(p.resp.status, 400);
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s&confirm=alice%%2Fother", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/delete", body);
    CHECK_EQ_INT(p.resp.status, 400);
    CHECK(has(&p, "The confirmation does not match"));
    done(&p);
    CHECK(repo_exists(HUB_REPO_MODEL, "alice", "fresh"));

    /* The write role in an organisation does not cover deleting its repos. */
    snprintf(cookie, sizeof(cookie), "atelier_session=%s", alice_session);
    p = render_full("GET", "/lab/shared/settings", "", alice_id, cookie, NULL);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "needs the admin role in organisation lab"));
    CHECK(!has(&p, "action=\"/lab/shared/settings/delete\""));
    done(&p);
    snprintf(body, sizeof(body), "csrf=%s&confirm=lab%%2Fshared", alice_csrf);
    p = post_as_alice("/lab/shared/settings/delete", body);
    CHECK_EQ_INT(p.resp.status, 403);
    done(&p);
    CHECK(repo_exists(HUB_REPO_MODEL, "lab", "shared"));

    /* A queued job that trains into the repo keeps it until the job is canceled. */
    CHECK_EQ_INT(meta_job_insert(&job_id, db, META_JOB_TRAIN, alice_id, "alice", "alice/fresh",
                                 "alice/demo", "alice/stories", NULL, "{}", 3, 0, &err),
                 0);
    snprintf(body, sizeof(body), "csrf=%s&confirm=alice%%2Ffresh", alice_csrf);
    p = post_as_alice("/alice/fresh/settings/delete", body);
    CHECK_EQ_INT(p.resp.status, 409);
    snprintf(expected, sizeof(expected),
             "cannot delete model alice/fresh while queued job %lld uses it: cancel job %lld "
             "first",
             (long long)job_id, (long long)job_id);
    CHECK(has(&p, expected));
    done(&p);
    CHECK(repo_exists(HUB_REPO_MODEL, "alice", "fresh"));
    CHECK_EQ_INT(meta_job_cancel(&state, db, job_id, "alice", &err), 0);

    p = post_as_alice("/alice/fresh/settings/delete", body);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location, "/");
    done(&p);
    CHECK(!repo_exists(HUB_REPO_MODEL, "alice", "fresh"));
    CHECK_EQ_INT(repo_open(&git, data_dir, HUB_REPO_MODEL, "alice", "fresh", &err), HUB_ENOTFOUND);
    repo_close(git);
    CHECK_EQ_INT(audit_count("repo.delete", "model:alice/fresh", NULL), 1);
    p = render("/alice/fresh", "", alice_id);
    CHECK_EQ_INT(p.resp.status, 404);
    done(&p);

    /* The name is free again. */
    snprintf(body, sizeof(body), "csrf=%s&owner=alice&name=fresh&visibility=public", alice_csrf);
    p = post_as_alice("/new", body);
    CHECK_EQ_INT(p.resp.status, 303);
    done(&p);
}

static int setup(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    const char *tmp = getenv("TMPDIR");

    snprintf(data_dir, sizeof(data_dir), "%s/atelier-web-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(data_dir) == NULL)
        return -1;
    if (storage_init(&err) < 0 || storage_layout_create(data_dir, &err) < 0 ||
        meta_open(&db, data_dir, META_OPEN_MIGRATE, &err) < 0 ||
        meta_user_add(&alice_id, db, "alice", "alice-password", false, &err) < 0 ||
        meta_user_add(&bob_id, db, "bob", "bob-password", false, &err) < 0 ||
        meta_session_create(alice_session, alice_csrf, db, alice_id, 3600, &err) < 0) {
        printf("# setup failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* A folder, a file over the size shown in place, and a base model that is not hosted here. */
static void test_pages_layout_repo(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_op ops[2];
    struct meta_repo row;
    size_t big_len = WEB_MAX_SHOWN_FILE_BYTES + 1;
    char *big = malloc(big_len);
    struct page p;

    memset(big, 'x', big_len);
    create_repo(HUB_REPO_MODEL, "alice", "layout", false,
                "---\nbase_model: karpathy/tinyllamas\n---\n# Layout\n");
    memset(ops, 0, sizeof(ops));
    ops[0].kind = REPO_OP_ADD_FILE;
    ops[0].path = "docs/usage.md";
    ops[0].data = "# Usage\n";
    ops[0].len = strlen(ops[0].data);
    ops[1].kind = REPO_OP_ADD_FILE;
    ops[1].path = "big.txt";
    ops[1].data = big;
    ops[1].len = big_len;
    commit_files(NULL, HUB_REPO_MODEL, "alice", "layout", ops, 2, "Add docs and a big file");
    free(big);
    CHECK_EQ_INT(meta_repo_get(&row, db, HUB_REPO_MODEL, "alice", "layout", &err), 0);
    CHECK_EQ_INT(meta_repo_set_base_model(db, row.id, "karpathy/tinyllamas", &err), 0);

    p = render("/alice/layout/blob/main/docs", "", 0);
    CHECK_EQ_INT(p.resp.status, 303);
    CHECK_EQ_STR(p.resp.location != NULL ? p.resp.location : "", "/alice/layout/tree/main/docs");
    done(&p);

    p = render("/alice/layout/blob/main/big.txt", "", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p,
              "id=\"file-too-large\">This file is 1.05 MB, over the 1 MiB that this page shows."));
    done(&p);

    /* The base is a Hub id with no repo here, so the list writes it as text. */
    p = render("/", "", 0);
    CHECK(has(&p, "<span>base karpathy/tinyllamas</span>"));
    CHECK(!has(&p, "href=\"/karpathy/tinyllamas\""));
    CHECK(has(&p, "<span>base <a href=\"/alice/demo\">alice/demo</a></span>"));
    CHECK(has(&p, "placeholder=\"user or organisation\""));
    done(&p);

    p = render("/", "page=99999", 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK(has(&p, "No more results: page 99999 is past the last page."));
    CHECK(has(&p, ">Back to the first page</a>"));
    done(&p);
}

/* Cache-Control: pages of a logged-in user are never stored, anonymous pages are revalidated,
 * and an asset under the versioned URL that the layout writes may be kept for a year. */
static void test_pages_cache_control(void)
{
    char query[64] = "";
    const char *href, *end;
    struct page p = render("/", "", 0);

    CHECK_EQ_STR(p.resp.cache_control != NULL ? p.resp.cache_control : "", "no-cache");
    href = p.resp.body != NULL ? strstr(p.resp.body, "/static/atelier.css?") : NULL;
    CHECK(href != NULL);
    if (href != NULL) {
        href += strlen("/static/atelier.css?");
        end = strchr(href, '"');
        if (end != NULL && (size_t)(end - href) < sizeof(query))
            memcpy(query, href, (size_t)(end - href));
    }
    done(&p);

    p = render("/", "", alice_id);
    CHECK_EQ_STR(p.resp.cache_control != NULL ? p.resp.cache_control : "", "no-store");
    done(&p);
    p = render("/jobs", "", alice_id);
    CHECK_EQ_STR(p.resp.cache_control != NULL ? p.resp.cache_control : "", "no-store");
    done(&p);

    p = render("/static/atelier.css", query, 0);
    CHECK_EQ_INT(p.resp.status, 200);
    CHECK_EQ_STR(p.resp.cache_control != NULL ? p.resp.cache_control : "",
                 "public, max-age=31536000, immutable");
    done(&p);
    p = render("/static/atelier.css", "v=older", 0);
    CHECK_EQ_STR(p.resp.cache_control != NULL ? p.resp.cache_control : "", "no-cache");
    done(&p);
}

int main(void)
{
    char cmd[600];
    int rc;

    if (setup() < 0) {
        CHECK(!"setup");
        return test_finish();
    }
    setup_repos();
    test_pages_home();
    test_pages_card();
    test_pages_private();
    test_pages_files();
    test_pages_layout_repo();
    test_pages_cache_control();
    test_pages_history();
    test_pages_diff_invalid_safetensors();
    test_pages_refs_and_evals();
    test_pages_login();
    test_pages_tokens();
    test_pages_pull_requests();
    test_pages_pull_request_merges();
    test_pages_pull_request_form();
    test_pages_static();
    test_pages_jobs();
    test_pages_job_rows();
    test_pages_job_attempts();
    test_pages_job_starts_while_rendering();
    test_pages_job_eval_result();
    test_pages_job_null_metrics();
    test_pages_job_final_line();
    test_pages_job_pinned_and_deleted();
    test_pages_corpus_cards();
    setup_orgs();
    test_pages_new_repo_form();
    test_pages_new_repo_errors();
    test_pages_new_repo_create();
    test_pages_settings_access();
    test_pages_settings_visibility();
    test_pages_settings_branches();
    test_pages_settings_delete();
    meta_close(db);
    storage_shutdown();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
    rc = system(cmd);
    (void)rc;
    return test_finish();
}
