/*
 * vmfence - daemon/conftree-write.c: a parsed fence_virt.conf written back in
 * file order with its comments (fence_virtd -c; the privileged process hands
 * the configuration text to the network process this way).  The output
 * parses to the same tree: parse -> write -> parse -> write is stable
 * (tests/fuzz/fuzz-config.c checks it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conftree.h"
#include "conftree-node.h"

static void
write_indent(FILE *out, unsigned int depth)
{
    for (unsigned int i = 0; i < depth; i++) {
        fputc('\t', out);
    }
}

/* Comment text: lines separated by '\n'; empty line = blank line. */
static void
write_comment(FILE *out, const char *text, unsigned int depth)
{
    const char *s = text;

    for (;;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl != NULL ? (size_t)(nl - s) : strlen(s);

        if (n > 0) {
            write_indent(out, depth);
            if (s[0] != '#') {
                fputs("# ", out);
            }
            fwrite(s, 1, n, out);
        }
        fputc('\n', out);
        if (nl == NULL) {
            break;
        }
        s = nl + 1;
    }
}

static void
write_eol(FILE *out, const char *text)
{
    /* a single line; anything after a newline is dropped */
    size_t n = strcspn(text, "\n");

    fputc(' ', out);
    if (text[0] != '#') {
        fputs("# ", out);
    }
    fwrite(text, 1, n, out);
}

static void
write_value(FILE *out, const char *v)
{
    fputc('"', out);
    for (const char *s = v; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', out);
        }
        fputc(*s, out);
    }
    fputc('"', out);
}

static void
write_nodes(FILE *out, const struct vf_conf_node *first, unsigned int depth)
{
    for (const struct vf_conf_node *n = first; n != NULL; n = n->next) {
        if (n->comment != NULL) {
            write_comment(out, n->comment, depth);
        } else if (n->line == 0 && n->is_block && depth == 0 && n != first) {
            fputc('\n', out);           /* a new section: separate it */
        }
        write_indent(out, depth);
        fputs(n->name, out);
        if (n->value != NULL) {
            fputs(" = ", out);
            write_value(out, n->value);
        }
        if (n->is_block) {
            fputs(" {", out);
            if (n->eol_comment != NULL) {
                write_eol(out, n->eol_comment);
            }
            fputc('\n', out);
            write_nodes(out, n->children, depth + 1);
            if (n->end_comment != NULL) {
                write_comment(out, n->end_comment, depth + 1);
            }
            write_indent(out, depth);
            fputs("}\n", out);
        } else {
            fputc(';', out);
            if (n->eol_comment != NULL) {
                write_eol(out, n->eol_comment);
            }
            fputc('\n', out);
        }
    }
}

int
vf_conf_write(const struct vf_conf *conf, FILE *out)
{
    if (conf == NULL || out == NULL) {
        return -EINVAL;
    }
    if (conf->root != NULL) {
        write_nodes(out, conf->root->children, 0);
    }
    if (conf->trailing_comment != NULL) {
        write_comment(out, conf->trailing_comment, 0);
    }
    if (fflush(out) != 0 || ferror(out)) {
        return errno != 0 ? -errno : -EIO;
    }
    return 0;
}
