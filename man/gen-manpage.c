/*
 * vmfence - man/gen-manpage.c: build an agent man page from its template.
 *
 * Usage: gen-manpage fence_xvm|fence_virt|fence_xenapi TEMPLATE > PAGE
 *
 * Copies TEMPLATE to stdout.  A line consisting of "@OPTIONS@" is replaced
 * by the OPTIONS and STDIN PARAMETERS sections generated from the option
 * table (vf_manopts_write); "@VERSION@" and "@KEY_FILE@" inside lines are
 * replaced by the package version and the default key file.  So the man
 * page cannot drift from the metadata and --help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata.h"
#include "xenapi/options.h"

#define MAX_LINE 4096

/* write @line with @VERSION@ / @KEY_FILE@ substituted */
static void
put_line(const char *line, FILE *out)
{
    static const struct {
        const char *token;
        const char *value;
    } subst[] = {
        { "@VERSION@", PACKAGE_VERSION },
        { "@KEY_FILE@", VF_DEFAULT_KEY_FILE },
    };
    const char *p = line;

    while (*p != '\0') {
        size_t i;

        for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++) {
            size_t len = strlen(subst[i].token);

            if (strncmp(p, subst[i].token, len) == 0) {
                fputs(subst[i].value, out);
                p += len;
                break;
            }
        }
        if (i == sizeof(subst) / sizeof(subst[0])) {
            fputc(*p, out);
            p++;
        }
    }
}

int
main(int argc, char **argv)
{
    const struct vf_fa_agent *agent = NULL;
    FILE *in = NULL;
    char line[MAX_LINE + 2];
    unsigned int lineno = 0;
    int rc = 1;

    if (argc == 3 && strcmp(argv[1], "fence_xvm") == 0) {
        agent = vf_agent_def(VF_AGENT_XVM);
    } else if (argc == 3 && strcmp(argv[1], "fence_virt") == 0) {
        agent = vf_agent_def(VF_AGENT_VIRT);
    } else if (argc == 3 && strcmp(argv[1], "fence_xenapi") == 0) {
        agent = vf_xenapi_agent();
    } else {
        fprintf(stderr, "usage: gen-manpage fence_xvm|fence_virt|fence_xenapi TEMPLATE\n");
        return 2;
    }
    in = fopen(argv[2], "re");
    if (in == NULL) {
        fprintf(stderr, "gen-manpage: cannot open '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof(line), in) != NULL) {
        size_t len = strlen(line);

        lineno++;
        if (len > 0 && line[len - 1] != '\n' && !feof(in)) {
            fprintf(stderr, "gen-manpage: %s:%u: line too long\n", argv[2], lineno);
            goto out;
        }
        if (strcmp(line, "@OPTIONS@\n") == 0 || strcmp(line, "@OPTIONS@") == 0) {
            if (vf_fa_manopts_write(agent, stdout) < 0) {
                fprintf(stderr, "gen-manpage: cannot write the options\n");
                goto out;
            }
            continue;
        }
        put_line(line, stdout);
    }
    if (ferror(in)) {
        fprintf(stderr, "gen-manpage: cannot read '%s'\n", argv[2]);
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gen-manpage: write error\n");
        goto out;
    }
    rc = 0;
 out:
    fclose(in);
    return rc;
}
