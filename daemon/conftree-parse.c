/*
 * vmfence - daemon/conftree-parse.c: the fence_virt.conf language, parsed.
 *
 * A hand-written lexer and recursive-descent parser for the grammar of
 * protocol.md 3.1 (the tree and its queries: config.c; the writer used by
 * "fence_virtd -c": config-write.c).
 *
 *   file   := item*
 *   item   := ID '=' VALUE ';'                 assignment
 *           | ID '{' item* '}'                 block
 *           | ID '=' VALUE '{' item* '}'       named block
 *   ID     := run of characters other than blank, tab, CR, newline,
 *             '{' '}' ';' '=' '"'   ('-', '.', '/', ':' are allowed);
 *             a '#' at the start of a token starts a comment
 *   VALUE  := '"' ... '"'  (may span lines)
 *
 * Every configuration the reference accepts parses to the same tree.
 * Extensions, none of which changes the meaning of a valid reference file:
 *   - an empty value "" is allowed (the reference rejects it);
 *   - inside a value, \" stands for '"' and \\ for '\'; a backslash before
 *     any other character is kept literally;
 *   - an empty file (or one with only comments) is an empty configuration;
 *   - a ';' directly after '}' is tolerated and ignored (the reference
 *     rejects it; people used to C write "};");
 *   - CR is treated as a blank, so CRLF files parse.
 *
 * The tree is kept in file order; comments are attached to the node that
 * follows them (node->comment), to the node whose line they end
 * (node->eol_comment), to the block they close (node->end_comment) or to the
 * file (conf->trailing_comment), so that vf_conf_write() reproduces them.
 * Blank lines between items are kept as empty comment lines (at most one in
 * a row).
 *
 * Limits: file 1 MiB, block nesting 32, identifier 255 bytes, value
 * 4096 bytes; each violation is a syntax error with FILE:LINE:COL.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conftree.h"
#include "conftree-node.h"
#include "conftree-int.h"
#include "log.h"

#define CONF_MAX_FILE   (1024u * 1024u)
#define CONF_MAX_DEPTH  32u
#define CONF_MAX_ID     255u
#define CONF_MAX_VALUE  4096u

enum tok_type {
    TOK_EOF,
    TOK_ID,
    TOK_STR,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_SEMI,
    TOK_EQ,
};

/* growable byte buffer, always NUL-terminated once non-empty */
struct dbuf {
    char *s;
    size_t len;
    size_t cap;
};

struct parser {
    const char *name;           /* file name for messages */
    const char *buf;
    size_t len;
    size_t pos;
    unsigned int line;
    unsigned int col;

    /* current token */
    enum tok_type tok;
    struct dbuf text;           /* ID / STR contents */
    unsigned int tline;
    unsigned int tcol;
    unsigned int prev_line;     /* line on which the previous token ended */

    /* comment bookkeeping */
    struct vf_conf_node *eol_target;
    struct dbuf pending;        /* comment lines waiting for their node */
    bool have_pending;
    bool pending_last_blank;
    bool seen_content;
    bool line_has_content;

    char *err;
    size_t err_len;
    int rc;                     /* 0 or -errno of the first error */
};

/* ---- small helpers ------------------------------------------------------- */

static int
dbuf_add(struct dbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 64 : b->cap;
        char *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->s, cap);
        if (p == NULL) {
            return -ENOMEM;
        }
        b->s = p;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->s + b->len, s, n);
    }
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

static void
dbuf_reset(struct dbuf *b)
{
    b->len = 0;
    if (b->s != NULL) {
        b->s[0] = '\0';
    }
}

static void
dbuf_free(struct dbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = 0;
    b->cap = 0;
}

/*
 * Record the first syntax error as "NAME:LINE:COL: message".
 */
static void
fail_at(struct parser *p, unsigned int line, unsigned int col, int rc,
        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
fail_at(struct parser *p, unsigned int line, unsigned int col, int rc,
        const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (p->rc != 0) {
        return;
    }
    p->rc = rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vf_msgf(p->err, p->err_len, "%s:%u:%u: %s", p->name, line, col, msg);
}


/* Describe the current token for "found ..." */
static const char *
tok_desc(const struct parser *p, char *buf, size_t buf_len)
{
    char tmp[VF_CONF_SHOW_MAX + 8];

    switch (p->tok) {
    case TOK_EOF:
        snprintf(buf, buf_len, "end of file");
        break;
    case TOK_ID:
        snprintf(buf, buf_len, "'%s'", vf_conf_show(p->text.s, p->text.len, tmp, sizeof(tmp)));
        break;
    case TOK_STR:
        snprintf(buf, buf_len, "\"%s\"",
                 p->text.len == 0 ? "" : vf_conf_show(p->text.s, p->text.len, tmp, sizeof(tmp)));
        break;
    case TOK_LBRACE:
    case TOK_RBRACE:
    case TOK_SEMI:
    case TOK_EQ:
        snprintf(buf, buf_len, "'%c'", p->tok == TOK_LBRACE ? '{' : p->tok == TOK_RBRACE ? '}' :
                 p->tok == TOK_SEMI ? ';' : '=');
        break;
    }
    return buf;
}

/* ---- lexer --------------------------------------------------------------- */

static void
lex_step(struct parser *p)
{
    if (p->buf[p->pos] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->pos++;
}

static bool
is_id_char(char c)
{
    switch (c) {
    case ' ': case '\t': case '\r': case '\n': case '\0':
    case '{': case '}': case ';': case '=': case '"':
        return false;
    default:
        return true;
    }
}

/* Queue one comment line (or a blank line when @text is NULL). */
static void
pending_add(struct parser *p, const char *text, size_t n)
{
    int r = 0;

    if (text == NULL) {
        if (p->have_pending && p->pending_last_blank) {
            return;
        }
        n = 0;
    }
    if (p->have_pending) {
        r = dbuf_add(&p->pending, "\n", 1);
    }
    if (r == 0) {
        r = dbuf_add(&p->pending, text != NULL ? text : "", n);
    }
    if (r < 0) {
        fail_at(p, p->line, p->col, r, "out of memory");
        return;
    }
    p->have_pending = true;
    p->pending_last_blank = (text == NULL);
}

/* Hand the queued comment to a node; with @strip_blank, trailing blank lines go. */
static char *
pending_take(struct parser *p, bool strip_blank)
{
    char *s;

    if (!p->have_pending) {
        return NULL;
    }
    if (strip_blank) {
        while (p->pending.len > 0 && p->pending.s[p->pending.len - 1] == '\n') {
            p->pending.s[--p->pending.len] = '\0';
        }
        if (p->pending.len == 0) {
            p->have_pending = false;
            p->pending_last_blank = false;
            return NULL;
        }
    }
    s = strdup(p->pending.s != NULL ? p->pending.s : "");
    if (s == NULL) {
        fail_at(p, p->line, p->col, -ENOMEM, "out of memory");
    }
    dbuf_reset(&p->pending);
    p->have_pending = false;
    p->pending_last_blank = false;
    return s;
}

/* Skip blanks, newlines and comments, filing the comments. */
static void
lex_trivia(struct parser *p)
{
    while (p->pos < p->len && p->rc == 0) {
        char c = p->buf[p->pos];

        if (c == ' ' || c == '\t' || c == '\r') {
            lex_step(p);
        } else if (c == '\n') {
            if (!p->line_has_content && p->seen_content) {
                pending_add(p, NULL, 0);
            }
            p->line_has_content = false;
            lex_step(p);
        } else if (c == '#') {
            size_t start = p->pos;
            unsigned int line = p->line;

            while (p->pos < p->len && p->buf[p->pos] != '\n') {
                if (p->buf[p->pos] == '\0') {
                    fail_at(p, p->line, p->col, -EINVAL, "NUL byte in comment");
                    return;
                }
                lex_step(p);
            }
            /* drop trailing blanks/CR of the comment line */
            size_t end = p->pos;
            while (end > start && (p->buf[end - 1] == ' ' || p->buf[end - 1] == '\t' ||
                                   p->buf[end - 1] == '\r')) {
                end--;
            }
            if (p->eol_target != NULL && line == p->prev_line &&
                p->eol_target->eol_comment == NULL) {
                p->eol_target->eol_comment = strndup(p->buf + start, end - start);
                if (p->eol_target->eol_comment == NULL) {
                    fail_at(p, line, 1, -ENOMEM, "out of memory");
                }
            } else {
                pending_add(p, p->buf + start, end - start);
            }
            p->line_has_content = true;
            p->seen_content = true;
        } else if (c == '\0') {
            fail_at(p, p->line, p->col, -EINVAL, "expected an item, found a NUL byte");
        } else {
            break;
        }
    }
    p->eol_target = NULL;
}

/* Read a double-quoted value; the opening quote is at p->pos. */
static void
lex_string(struct parser *p, const char *key)
{
    unsigned int sline = p->line, scol = p->col;

    lex_step(p);                                /* opening quote */
    for (;;) {
        char c;
        int r;

        if (p->pos >= p->len) {
            fail_at(p, sline, scol, -EINVAL,
                    "unterminated string starting at %u:%u%s%s%s",
                    sline, scol, key != NULL ? " (value of '" : "",
                    key != NULL ? key : "", key != NULL ? "')" : "");
            return;
        }
        c = p->buf[p->pos];
        if (c == '"') {
            lex_step(p);
            return;
        }
        if (c == '\0') {
            fail_at(p, p->line, p->col, -EINVAL, "NUL byte in the string starting at %u:%u",
                    sline, scol);
            return;
        }
        if (c == '\\' && p->pos + 1 < p->len &&
            (p->buf[p->pos + 1] == '"' || p->buf[p->pos + 1] == '\\')) {
            lex_step(p);
            c = p->buf[p->pos];
        }
        if (p->text.len >= CONF_MAX_VALUE) {
            fail_at(p, sline, scol, -EINVAL,
                    "value%s%s%s longer than %u bytes",
                    key != NULL ? " of '" : "", key != NULL ? key : "",
                    key != NULL ? "'" : "", CONF_MAX_VALUE);
            return;
        }
        r = dbuf_add(&p->text, &c, 1);
        if (r < 0) {
            fail_at(p, p->line, p->col, r, "out of memory");
            return;
        }
        lex_step(p);
    }
}

/*
 * Advance to the next token.  @key names the key whose value may follow
 * (for messages about strings).
 */
static void
lex_next(struct parser *p, const char *key)
{
    char c;

    dbuf_reset(&p->text);
    lex_trivia(p);
    if (p->rc != 0) {
        p->tok = TOK_EOF;
        return;
    }
    p->tline = p->line;
    p->tcol = p->col;
    if (p->pos >= p->len) {
        p->tok = TOK_EOF;
        return;
    }
    p->line_has_content = true;
    p->seen_content = true;
    c = p->buf[p->pos];
    switch (c) {
    case '{':
    case '}':
    case ';':
    case '=':
        p->tok = c == '{' ? TOK_LBRACE : c == '}' ? TOK_RBRACE : c == ';' ? TOK_SEMI : TOK_EQ;
        lex_step(p);
        break;
    case '"':
        p->tok = TOK_STR;
        if (dbuf_add(&p->text, "", 0) < 0) {
            fail_at(p, p->line, p->col, -ENOMEM, "out of memory");
            break;
        }
        lex_string(p, key);
        break;
    default: {
        size_t start = p->pos;

        p->tok = TOK_ID;
        while (p->pos < p->len && is_id_char(p->buf[p->pos])) {
            lex_step(p);
        }
        if (p->pos - start > CONF_MAX_ID) {
            fail_at(p, p->tline, p->tcol, -EINVAL,
                    "identifier longer than %u bytes", CONF_MAX_ID);
            break;
        }
        if (dbuf_add(&p->text, p->buf + start, p->pos - start) < 0) {
            fail_at(p, p->tline, p->tcol, -ENOMEM, "out of memory");
        }
        break;
    }
    }
    if (p->rc != 0) {
        p->tok = TOK_EOF;
    }
    p->prev_line = p->line;
}

/* ---- parser -------------------------------------------------------------- */

static void parse_items(struct parser *p, struct vf_conf_node *parent,
                        unsigned int depth);

/* Current token is '{' of @node; parse through the matching '}'. */
static void
parse_block_body(struct parser *p, struct vf_conf_node *node, unsigned int depth)
{
    char found[96];

    if (depth + 1 > CONF_MAX_DEPTH) {
        fail_at(p, p->tline, p->tcol, -EINVAL,
                "block '%s' is nested deeper than %u levels", node->name, CONF_MAX_DEPTH);
        return;
    }
    node->is_block = true;
    p->eol_target = node;
    lex_next(p, NULL);
    parse_items(p, node, depth + 1);
    if (p->rc != 0) {
        return;
    }
    node->end_comment = pending_take(p, true);
    if (p->tok != TOK_RBRACE) {
        fail_at(p, p->tline, p->tcol, -EINVAL,
                "expected '}' to close block '%s' opened at %u:%u, found %s",
                node->name, node->line, node->col, tok_desc(p, found, sizeof(found)));
        return;
    }
    lex_next(p, NULL);
    if (p->tok == TOK_SEMI) {
        /* tolerated extension: "};" */
        lex_next(p, NULL);
    }
}

/*
 * item* up to (not including) '}' or end of file.
 */
static void
parse_items(struct parser *p, struct vf_conf_node *parent, unsigned int depth)
{
    char found[96];
    char key[VF_CONF_SHOW_MAX + 8];

    while (p->rc == 0) {
        struct vf_conf_node *node;

        if (p->tok == TOK_EOF || p->tok == TOK_RBRACE) {
            if (depth == 0 && p->tok == TOK_RBRACE) {
                fail_at(p, p->tline, p->tcol, -EINVAL,
                        "expected an identifier, found '}' (no block is open)");
            }
            return;                             /* caller checks what it needs */
        }
        if (p->tok != TOK_ID) {
            fail_at(p, p->tline, p->tcol, -EINVAL, "expected an identifier%s, found %s",
                    depth > 0 ? " or '}'" : "", tok_desc(p, found, sizeof(found)));
            return;
        }
        node = calloc(1, sizeof(*node));
        if (node == NULL) {
            fail_at(p, p->tline, p->tcol, -ENOMEM, "out of memory");
            return;
        }
        vf_conf_node_append(parent, node);
        node->name = strdup(p->text.s);
        node->line = p->tline;
        node->col = p->tcol;
        node->comment = pending_take(p, false);
        if (node->name == NULL) {
            fail_at(p, p->tline, p->tcol, -ENOMEM, "out of memory");
            return;
        }
        vf_conf_show(node->name, strlen(node->name), key, sizeof(key));
        lex_next(p, node->name);
        if (p->tok == TOK_EQ) {
            lex_next(p, node->name);
            if (p->tok != TOK_STR) {
                fail_at(p, p->tline, p->tcol, -EINVAL,
                        "expected a double-quoted value for '%s', found %s%s", key,
                        tok_desc(p, found, sizeof(found)),
                        p->tok == TOK_ID ? " (value must be double-quoted)" : "");
                return;
            }
            node->value = strdup(p->text.s);
            if (node->value == NULL) {
                fail_at(p, p->tline, p->tcol, -ENOMEM, "out of memory");
                return;
            }
            lex_next(p, NULL);
            if (p->tok == TOK_SEMI) {
                p->eol_target = node;
                lex_next(p, NULL);
            } else if (p->tok == TOK_LBRACE) {
                parse_block_body(p, node, depth);
            } else {
                fail_at(p, p->tline, p->tcol, -EINVAL,
                        "expected ';' after value of '%s', found %s", key,
                        tok_desc(p, found, sizeof(found)));
                return;
            }
        } else if (p->tok == TOK_LBRACE) {
            parse_block_body(p, node, depth);
        } else {
            fail_at(p, p->tline, p->tcol, -EINVAL, "expected '=' or '{' after '%s', found %s",
                    key, tok_desc(p, found, sizeof(found)));
            return;
        }
    }
}

/* The parse itself on a complete buffer, into @conf. */
static int
parse(struct parser *p, struct vf_conf *conf)
{
    lex_next(p, NULL);
    parse_items(p, conf->root, 0);
    if (p->rc == 0) {
        conf->trailing_comment = pending_take(p, true);
    }
    return p->rc;
}

int
vf_conf_parse_buffer(const char *name, const char *buf, size_t len,
                     struct vf_conf **ret_conf, char *err, size_t err_len)
{
    struct parser p;
    struct vf_conf *conf = NULL;
    int r;

    if (name == NULL) {
        name = "(buffer)";
    }
    if (buf == NULL && len > 0) {
        return -EINVAL;
    }
    if (len > CONF_MAX_FILE) {
        vf_msgf(err, err_len, "%s: file is larger than 1 MiB", name);
        return -EFBIG;
    }
    memset(&p, 0, sizeof(p));
    p.name = name;
    p.buf = buf != NULL ? buf : "";
    p.len = len;
    p.line = 1;
    p.col = 1;
    p.err = err;
    p.err_len = err_len;

    conf = calloc(1, sizeof(*conf));
    if (conf != NULL) {
        conf->path = strdup(name);
        conf->root = calloc(1, sizeof(*conf->root));
    }
    if (conf == NULL || conf->path == NULL || conf->root == NULL) {
        vf_msgf(err, err_len, "%s: out of memory", name);
        r = -ENOMEM;
        goto out;
    }
    conf->root->is_block = true;
    conf->root->name = strdup("");
    if (conf->root->name == NULL) {
        vf_msgf(err, err_len, "%s: out of memory", name);
        r = -ENOMEM;
        goto out;
    }
    r = parse(&p, conf);
    if (r == 0) {
        if (ret_conf != NULL) {
            *ret_conf = conf;
            conf = NULL;
        }
        if (err != NULL && err_len > 0) {
            err[0] = '\0';
        }
    }
 out:
    dbuf_free(&p.text);
    dbuf_free(&p.pending);
    vf_conf_free(conf);
    return r;
}

int
vf_conf_parse_file(const char *path, struct vf_conf **ret_conf,
                   char *err, size_t err_len)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int r;

    if (path == NULL) {
        return -EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        vf_msgf(err, err_len, "%s: cannot open: %s", path, strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        vf_msgf(err, err_len, "%s: cannot stat: %s", path, strerror(-r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        vf_msgf(err, err_len, "%s: not a regular file", path);
        goto out;
    }
    buf = malloc(CONF_MAX_FILE + 1);
    if (buf == NULL) {
        r = -ENOMEM;
        vf_msgf(err, err_len, "%s: out of memory", path);
        goto out;
    }
    /* read at most one byte past the cap, so that too-large files are seen */
    while (len < CONF_MAX_FILE + 1) {
        ssize_t n = read(fd, buf + len, CONF_MAX_FILE + 1 - len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = -errno;
            vf_msgf(err, err_len, "%s: read error: %s", path, strerror(-r));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    r = vf_conf_parse_buffer(path, buf, len, ret_conf, err, err_len);
 out:
    free(buf);
    close(fd);
    return r;
}

