/*
 * vmfence - lib/metadata.c: agent metadata XML and man page option lists,
 * both generated from the option table in opts.c.
 *
 * The XML follows the fence-agents metadata.rng grammar (resource-agent,
 * longdesc, vendor-url, parameters, actions; per parameter getopt, content,
 * shortdesc) and pcs' ocf-1.0.rng, and is golden-tested in metadata/.
 */
#include <errno.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "metadata.h"

/* actions in the order the reference lists them */
static const char *const actions[] = {
    "null", "on", "off", "reboot", "metadata", "status", "monitor", "list",
    "list-status", "validate-all", NULL,
};

static const char *
kind_name(enum vf_agent_kind kind)
{
    return kind == VF_AGENT_XVM ? "fence_xvm" : "fence_virt";
}

static const char *
kind_longdesc(enum vf_agent_kind kind)
{
    if (kind == VF_AGENT_XVM) {
        return "fence_xvm is a power fencing agent for virtual machines. It "
               "sends a signed request to the fence_virtd daemons on the hosts "
               "over IP multicast and waits for the host running the virtual "
               "machine to call back over TCP.\n\n"
               "NOTE: the reboot action does not power on a virtual machine "
               "that is powered off.";
    }
    return "fence_virt is a power fencing agent for virtual machines. It "
           "sends its request to the fence_virtd daemon on the host over a "
           "vmchannel (guestfwd) connection, a serial device, TCP or vsock.\n\n"
           "NOTE: the reboot action does not power on a virtual machine that "
           "is powered off.";
}

static const char *
content_type(const struct vf_opt *o)
{
    switch (o->type) {
    case VF_OPT_BOOL:
        return "boolean";
    case VF_OPT_INTEGER:
        return "integer";
    case VF_OPT_SELECT:
        return "select";
    case VF_OPT_STRING:
    default:
        return "string";
    }
}

/* one <parameter>; returns < 0 on a writer error */
static int
write_parameter(xmlTextWriterPtr w, const struct vf_opt *o)
{
    char mixed[8] = "";

    if (o->letter != 0) {
        mixed[0] = '-';
        mixed[1] = o->letter;
        mixed[2] = '\0';
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "parameter") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST o->key) < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "unique", BAD_CAST "0") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "required",
                                       BAD_CAST (o->required ? "1" : "0")) < 0) {
        return -EIO;
    }
    if (o->deprecated
        && xmlTextWriterWriteAttribute(w, BAD_CAST "deprecated", BAD_CAST "1") < 0) {
        return -EIO;
    }
    if (o->obsoletes != NULL
        && xmlTextWriterWriteAttribute(w, BAD_CAST "obsoletes",
                                       BAD_CAST o->obsoletes) < 0) {
        return -EIO;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "getopt") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "mixed", BAD_CAST mixed) < 0
        || xmlTextWriterEndElement(w) < 0) {
        return -EIO;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "content") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST content_type(o)) < 0) {
        return -EIO;
    }
    if (o->def != NULL
        && xmlTextWriterWriteAttribute(w, BAD_CAST "default", BAD_CAST o->def) < 0) {
        return -EIO;
    }
    if (o->type == VF_OPT_SELECT && o->choices != NULL) {
        for (size_t i = 0; o->choices[i] != NULL; i++) {
            if (xmlTextWriterStartElement(w, BAD_CAST "option") < 0
                || xmlTextWriterWriteAttribute(w, BAD_CAST "value",
                                               BAD_CAST o->choices[i]) < 0
                || xmlTextWriterEndElement(w) < 0) {
                return -EIO;
            }
        }
    }
    if (xmlTextWriterEndElement(w) < 0) {   /* content */
        return -EIO;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "shortdesc") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "lang", BAD_CAST "en") < 0
        || xmlTextWriterWriteString(w, BAD_CAST o->shortdesc) < 0
        || xmlTextWriterEndElement(w) < 0) {
        return -EIO;
    }
    if (xmlTextWriterEndElement(w) < 0) {   /* parameter */
        return -EIO;
    }
    return 0;
}

/*
 * \brief Write the metadata XML of one agent.
 * \param[in] kind  which binary
 * \param[in] out   stream to write to
 * \return 0, -ENOMEM, or -EIO on a writer or write error
 */
int
vf_metadata_write(enum vf_agent_kind kind, FILE *out)
{
    const struct vf_opt *const *opts = vf_opts_for(kind);
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = NULL;
    int r = -EIO;

    buf = xmlBufferCreate();
    if (buf == NULL) {
        return -ENOMEM;
    }
    w = xmlNewTextWriterMemory(buf, 0);
    if (w == NULL) {
        r = -ENOMEM;
        goto cleanup;
    }
    if (xmlTextWriterSetIndent(w, 1) < 0
        || xmlTextWriterSetIndentString(w, BAD_CAST "\t") < 0
        || xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0) {
        goto cleanup;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "resource-agent") < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST kind_name(kind)) < 0
        || xmlTextWriterWriteAttribute(w, BAD_CAST "shortdesc",
                                       BAD_CAST "Fence agent for virtual machines") < 0
        || xmlTextWriterWriteElement(w, BAD_CAST "longdesc",
                                     BAD_CAST kind_longdesc(kind)) < 0
        || xmlTextWriterWriteElement(w, BAD_CAST "vendor-url",
                                     BAD_CAST "https://libvirt.org") < 0
        || xmlTextWriterStartElement(w, BAD_CAST "parameters") < 0) {
        goto cleanup;
    }
    for (size_t i = 0; opts[i] != NULL; i++) {
        if (write_parameter(w, opts[i]) < 0) {
            goto cleanup;
        }
    }
    if (xmlTextWriterEndElement(w) < 0      /* parameters */
        || xmlTextWriterStartElement(w, BAD_CAST "actions") < 0) {
        goto cleanup;
    }
    for (size_t i = 0; actions[i] != NULL; i++) {
        if (xmlTextWriterStartElement(w, BAD_CAST "action") < 0
            || xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST actions[i]) < 0
            || xmlTextWriterEndElement(w) < 0) {
            goto cleanup;
        }
    }
    if (xmlTextWriterEndElement(w) < 0      /* actions */
        || xmlTextWriterEndElement(w) < 0   /* resource-agent */
        || xmlTextWriterEndDocument(w) < 0) {
        goto cleanup;
    }
    xmlFreeTextWriter(w);   /* flushes into buf */
    w = NULL;
    if (fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf), out)
            != (size_t)xmlBufferLength(buf)
        || fflush(out) != 0) {
        r = -EIO;
        goto cleanup;
    }
    r = 0;

 cleanup:
    if (w != NULL) {
        xmlFreeTextWriter(w);
    }
    xmlBufferFree(buf);
    return r;
}

/* ---- man page ------------------------------------------------------------- */

/* write @s as roff text: escape backslashes, protect leading '.'/'\'' and '-' */
static void
roff_text(FILE *out, const char *s)
{
    bool line_start = true;

    for (const char *p = s; *p != '\0'; p++) {
        if (line_start && (*p == '.' || *p == '\'')) {
            fputs("\\&", out);
        }
        line_start = false;
        switch (*p) {
        case '\\':
            fputs("\\e", out);
            break;
        case '-':
            fputs("\\-", out);
            break;
        case '\n':
            fputc('\n', out);
            line_start = true;
            break;
        default:
            fputc(*p, out);
            break;
        }
    }
}

/* an option key or value that must not be hyphenated */
static void
roff_word(FILE *out, const char *s)
{
    fputs("\\%", out);
    roff_text(out, s);
}

/* "sha256", "1229" ... as the default sentence of an option, if any */
static void
roff_default(FILE *out, const struct vf_opt *o)
{
    if (o->def != NULL && o->type != VF_OPT_BOOL) {
        fputs(" Default: ", out);
        roff_word(out, o->def);
        fputs(".", out);
    }
}

/*
 * \brief Write the OPTIONS and STDIN PARAMETERS sections (roff, man macros)
 *        of one agent's man page.
 * \return 0, or -EIO if the stream reports an error
 */
int
vf_manopts_write(enum vf_agent_kind kind, FILE *out)
{
    const struct vf_opt *const *opts = vf_opts_for(kind);

    fputs(".SH OPTIONS\n", out);
    for (size_t i = 0; opts[i] != NULL; i++) {
        const struct vf_opt *o = opts[i];

        if (o->letter == 0) {
            continue;
        }
        fputs(".TP\n", out);
        if (o->arg_name == NULL) {
            fprintf(out, "\\fB\\-%c\\fR, \\fB\\-\\-", o->letter);
            roff_word(out, o->key);
            fputs("\\fR\n", out);
        } else if (o->letter == 'S') {
            fprintf(out, "\\fB\\-%c\\fR[\\fI%s\\fR], \\fB\\-\\-", o->letter,
                    o->arg_name);
            roff_text(out, o->key);
            fprintf(out, "\\fR[=\\fI%s\\fR]\n", o->arg_name);
        } else {
            fprintf(out, "\\fB\\-%c\\fR \\fI%s\\fR, \\fB\\-\\-", o->letter,
                    o->arg_name);
            roff_text(out, o->key);
            fprintf(out, "\\fR=\\fI%s\\fR\n", o->arg_name);
        }
        roff_text(out, o->shortdesc);
        fputs(".", out);
        roff_default(out, o);
        fputs("\nOn standard input: \\fB", out);
        roff_word(out, o->key);
        fputs("\\fR.\n", out);
    }
    fputs(".TP\n.BR \\-h \", \" \\-? \", \" \\-\\-help\n"
          "Print the options and exit.\n"
          ".TP\n.BR \\-V \", \" \\-\\-version\n"
          "Print the version and exit.\n", out);

    fputs(".SH STDIN PARAMETERS\n"
          "When the agent is run without arguments it reads \\fIkey\\fB=\\fIvalue\\fR\n"
          "lines from standard input, one per line, as cluster managers such as\n"
          "Pacemaker run it.\n"
          "Blanks around the key and the value are ignored; the value may contain\n"
          "blanks; keys are case\\-insensitive; lines starting with \\fB#\\fR are\n"
          "comments; when a key is repeated the last value wins.\n"
          "Lines may be up to 4096 bytes long and the input up to 1 MiB.\n"
          "Unknown keys are reported once and otherwise ignored, except by\n"
          "\\fBvalidate\\-all\\fR, which fails on them.\n", out);
    for (size_t i = 0; opts[i] != NULL; i++) {
        const struct vf_opt *o = opts[i];

        fputs(".TP\n.B ", out);
        roff_text(out, o->key);
        fputc('\n', out);
        if (o->letter != 0) {
            fprintf(out, "Same as \\fB\\-%c\\fR.", o->letter);
            if (o->deprecated) {
                fputs(" Deprecated.", out);
            }
        } else {
            roff_text(out, o->shortdesc);
            fputs(".", out);
        }
        if (o->type == VF_OPT_BOOL && strcmp(o->key, "debug") != 0) {
            fputs(" A key without a value means yes.", out);
        }
        fputc('\n', out);
    }
    fputs(".TP\n.B option\n"
          "Deprecated alias of \\fBaction\\fR.\n"
          ".TP\n.B nodename\\fR, \\fBagent\\fR, \\fBself\n"
          "Accepted and ignored. \\fBnodename\\fR is never used as the target.\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        return -EIO;
    }
    return 0;
}
