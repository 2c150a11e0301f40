/* test_card: front matter parsing of model cards, from strings and from every card in the
 * corpus (ATELIER_CORPUS/model-cards). */
#include "card.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct card parse_text(const char *text)
{
    struct card card = CARD_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    int rc = card_parse(&card, text, strlen(text), &err);

    CHECK_EQ_INT(rc, 0);
    return card;
}

static void test_card_simple(void)
{
    const char *text = "---\nlicense: mit\ntags:\n- a\n- b\nsteps: 10\nlr: 2e-05\nok: true\n"
                       "none: ~\nquoted: \"10\"\n---\n# Title\n";
    struct card card = parse_text(text);

    CHECK(card.data != NULL);
    CHECK(card.has_front_matter);
    CHECK_EQ_STR(card.problem, "");
    CHECK_EQ_STR(card_get_string(&card, "license"), "mit");
    CHECK_EQ_INT(json_array_size(json_object_get(card.data, "tags")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(card.data, "steps")), 10);
    CHECK_NEAR(json_real_value(json_object_get(card.data, "lr")), 2e-05, 1e-12);
    CHECK(json_is_true(json_object_get(card.data, "ok")));
    CHECK(json_is_null(json_object_get(card.data, "none")));
    CHECK_EQ_STR(card_get_string(&card, "quoted"), "10");
    CHECK_EQ_STR(text + card.body_offset, "# Title\n");
    card_dispose(&card);
}

static void test_card_crlf(void)
{
    const char *text = "---\r\nlicense: mit\r\nlanguage: eo\r\n---\r\n\r\n# Hello\r\n";
    struct card card = parse_text(text);

    CHECK(card.data != NULL);
    CHECK_EQ_STR(card_get_string(&card, "license"), "mit");
    CHECK_EQ_STR(card_get_string(&card, "language"), "eo");
    CHECK_EQ_STR(text + card.body_offset, "\r\n# Hello\r\n");
    card_dispose(&card);
}

static void test_card_no_front_matter(void)
{
    const char *texts[] = {"# Just a title\n", "", "--- \nnot closed\n", "----\na: b\n----\n",
                           "text\n---\na: b\n---\n"};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct card card = parse_text(texts[i]);

        CHECK(card.data == NULL);
        CHECK_EQ_INT(card.body_offset, 0);
        card_dispose(&card);
    }
}

static void test_card_broken_front_matter(void)
{
    /* Each case opens a block that cannot be used; the whole text must become the body. */
    const char *texts[] = {
        "---\nlicense: [mit\n---\nbody\n", /* unclosed flow sequence */
        "---\n- a\n- b\n---\nbody\n",      /* a list, not a mapping */
        "---\njust text\n---\nbody\n",     /* a scalar */
        "---\n? [a, b]\n: c\n---\nbody\n", /* a list used as a key */
        "---\na: &x [*x]\n---\nbody\n",    /* an alias inside itself */
        "---\nlicense: mit\n",             /* never closed */
        "---\nkey: \"unterminated\n---\n",
        "---\na: b\n\tc: d\n---\n", /* a tab as indentation */
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct card card = parse_text(texts[i]);

        printf("# case %zu: %s\n", i, card.problem);
        CHECK(card.data == NULL);
        CHECK(card.has_front_matter);
        CHECK_EQ_INT(card.body_offset, 0);
        CHECK(card.problem[0] != '\0');
        card_dispose(&card);
    }
}

static void test_card_alias_expansion_limit(void)
{
    /* Each level doubles the size: 2^20 values, over CARD_MAX_VALUES. */
    char text[4096];
    size_t off = 0;

    off += (size_t)snprintf(text + off, sizeof(text) - off, "---\na0: &a0 [x, x]\n");
    for (int i = 1; i <= 20; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "a%d: &a%d [*a%d, *a%d]\n", i, i,
                                i - 1, i - 1);
    snprintf(text + off, sizeof(text) - off, "---\nbody\n");

    struct card card = parse_text(text);

    CHECK(card.data == NULL);
    CHECK(strstr(card.problem, "more than") != NULL);
    card_dispose(&card);
}

static void test_card_empty_and_bom(void)
{
    const char *empty = "---\n# only a comment\n---\nbody\n";
    const char *bom = "\xEF\xBB\xBF---\nlicense: apache-2.0\n...\nbody\n";
    struct card card = parse_text(empty);

    CHECK(json_is_object(card.data));
    CHECK_EQ_INT(json_object_size(card.data), 0);
    CHECK_EQ_STR(empty + card.body_offset, "body\n");
    card_dispose(&card);

    card = parse_text(bom);
    CHECK_EQ_STR(card_get_string(&card, "license"), "apache-2.0");
    CHECK_EQ_STR(bom + card.body_offset, "body\n");
    card_dispose(&card);
}

static void test_card_scalar_types(void)
{
    const char *text = "---\nhex: 0x1F\noct: 0o17\nneg: -42\nbig: 99999999999999999999\n"
                       "inf: .inf\nversion: 1.10\ndate: 2024-01-02\nno: no\nfolded: >-\n"
                       "  one\n  two\n---\n";
    struct card card = parse_text(text);

    CHECK_EQ_INT(json_integer_value(json_object_get(card.data, "hex")), 31);
    CHECK_EQ_INT(json_integer_value(json_object_get(card.data, "oct")), 15);
    CHECK_EQ_INT(json_integer_value(json_object_get(card.data, "neg")), -42);
    CHECK_EQ_STR(card_get_string(&card, "big"), "99999999999999999999");
    CHECK_EQ_STR(card_get_string(&card, "inf"), ".inf");
    CHECK(json_is_real(json_object_get(card.data, "version")));
    CHECK_EQ_STR(card_get_string(&card, "date"), "2024-01-02");
    CHECK_EQ_STR(card_get_string(&card, "no"), "no");
    CHECK_EQ_STR(card_get_string(&card, "folded"), "one two");
    card_dispose(&card);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        if (buf != NULL) {
            buf[size] = '\0';
            *len = (size_t)size;
        }
    }
    fclose(f);
    return buf;
}

static void test_card_corpus(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    char dir_path[4096];
    DIR *dir;
    struct dirent *de;
    int cards = 0;

    if (corpus == NULL) {
        printf("# ATELIER_CORPUS is not set, corpus cards skipped\n");
        return;
    }
    snprintf(dir_path, sizeof(dir_path), "%s/model-cards", corpus);
    dir = opendir(dir_path);
    CHECK(dir != NULL);
    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        char path[8192];
        struct card card = CARD_INIT;
        struct hub_error err = HUB_ERROR_INIT;
        size_t len = 0;
        char *text;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/README.md", dir_path, de->d_name);
        text = read_file(path, &len);
        CHECK(text != NULL);
        if (text == NULL)
            continue;
        CHECK_EQ_INT(card_parse(&card, text, len, &err), 0);
        printf("# %s: %s, body at %zu%s%s\n", de->d_name, card.data ? "metadata" : "no metadata",
               card.body_offset, card.problem[0] ? ", problem: " : "", card.problem);
        if (strstr(de->d_name, "no-metadata") != NULL) {
            CHECK(card.data == NULL);
            CHECK_EQ_INT(card.body_offset, 0);
        } else {
            /* Every other corpus card has valid front matter. */
            CHECK(card.data != NULL);
            CHECK(card.body_offset > 0);
        }
        card_dispose(&card);
        free(text);
        cards++;
    }
    closedir(dir);
    CHECK(cards >= 9);
}

static void test_card_corpus_values(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    char path[4096];
    struct card card = CARD_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    size_t len = 0;
    char *text;

    if (corpus == NULL)
        return;
    snprintf(path, sizeof(path), "%s/model-cards/hf-hub-fixture-windows-crlf/README.md", corpus);
    text = read_file(path, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    CHECK_EQ_INT(card_parse(&card, text, len, &err), 0);
    CHECK_EQ_STR(card_get_string(&card, "license"), "mit");
    CHECK_EQ_INT(json_array_size(json_object_get(card.data, "widget")), 3);
    CHECK(strncmp(text + card.body_offset, "\r\n# Hello", 9) == 0);
    card_dispose(&card);
    free(text);

    snprintf(path, sizeof(path), "%s/model-cards/poetry-fusion-llama3.2/README.md", corpus);
    text = read_file(path, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    CHECK_EQ_INT(card_parse(&card, text, len, &err), 0);
    CHECK(json_is_array(json_object_get(card.data, "base_model")));
    card_dispose(&card);
    free(text);
}

int main(void)
{
    test_card_simple();
    test_card_crlf();
    test_card_no_front_matter();
    test_card_broken_front_matter();
    test_card_alias_expansion_limit();
    test_card_empty_and_bom();
    test_card_scalar_types();
    test_card_corpus();
    test_card_corpus_values();
    return test_finish();
}
