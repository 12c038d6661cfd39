/*
 * vmfence - lib/xml-dl.h: libxml2's text writer, loaded with dlopen() the
 * first time XML is written (lib/xml-dl.c).
 *
 * Linked normally, libxml2 and what it brings (ICU and its data, libstdc++,
 * liblzma, libz) are loaded by every run of a program that links lib/,
 * whether it writes XML or not: about 0.8 ms of CPU and 2.6 MB of RSS per
 * process (bench/README.md).  Loaded on first use, they cost only the runs
 * that write XML.  fence_xvm/fence_virt never do at run time: they print
 * metadata written at build time by the same lib/metadata.c
 * (agents/agent-metadata.h, metadata/dump-metadata.c --c-source).  A
 * program that links libxml2 anyway (fence_xenapi, the daemon) gets the copy
 * already loaded.
 *
 * The table's members are typeof libxml2's own declarations
 * (<libxml/xmlwriter.h>), so a call that does not match the real prototype
 * does not compile.  Each function is resolved at the symbol version a
 * normal link against libxml2 records for it (`nm -D --with-symbol-versions
 * libxml2.so.2`): a libxml2 whose ABI for it changed is refused, as the
 * dynamic linker would refuse a normally linked program.
 */
#ifndef VF_XML_DL_H
#define VF_XML_DL_H

#include <stddef.h>

#include <libxml/xmlwriter.h>

/* the library (configure: the soname of the libxml2 the headers belong to) */
#ifndef VF_XML_SONAME
# define VF_XML_SONAME "libxml2.so.2"
#endif

/* X(function, symbol version): every libxml2 function vmfence's lib/ calls */
#define VF_XML_FUNCS(X) \
    X(xmlBufferCreate, "LIBXML2_2.4.30") \
    X(xmlBufferFree, "LIBXML2_2.4.30") \
    X(xmlBufferContent, "LIBXML2_2.4.30") \
    X(xmlBufferLength, "LIBXML2_2.4.30") \
    X(xmlNewTextWriterMemory, "LIBXML2_2.6.0") \
    X(xmlFreeTextWriter, "LIBXML2_2.6.0") \
    X(xmlTextWriterSetIndent, "LIBXML2_2.6.5") \
    X(xmlTextWriterSetIndentString, "LIBXML2_2.6.5") \
    X(xmlTextWriterStartDocument, "LIBXML2_2.6.0") \
    X(xmlTextWriterEndDocument, "LIBXML2_2.6.0") \
    X(xmlTextWriterStartElement, "LIBXML2_2.6.0") \
    X(xmlTextWriterEndElement, "LIBXML2_2.6.0") \
    X(xmlTextWriterWriteAttribute, "LIBXML2_2.6.0") \
    X(xmlTextWriterWriteElement, "LIBXML2_2.6.0") \
    X(xmlTextWriterWriteString, "LIBXML2_2.6.0")

/* one pointer per function, named and typed as libxml2 declares it */
struct vf_xml_api {
#define VF_XML_MEMBER(fn, ver) __typeof__(fn) *fn;
    VF_XML_FUNCS(VF_XML_MEMBER)
#undef VF_XML_MEMBER
};

/*
 * \brief The table, loaded on the first call (thread-safe, once per
 *        process; libxml2 then stays loaded).
 * \param[out] ret_api  the table, or NULL on failure
 * \return 0; -ELIBACC when libxml2 cannot be loaded, -ELIBBAD when it lacks
 *         a function (at its version); the reason, naming the library and
 *         the function, is logged (vf_log, LOG_ERR) on every failing call
 */
int vf_xml_api(const struct vf_xml_api **ret_api);

/*
 * \brief Load @soname and resolve every function of the table into @api
 *        (what vf_xml_api() does once with VF_XML_SONAME; exposed for the
 *        tests).  @api is left untouched on failure.
 * \param[out] err  the reason on failure (library, function, dlerror())
 * \return 0, -ELIBACC or -ELIBBAD as vf_xml_api()
 */
int vf_xml_api_load(struct vf_xml_api *api, const char *soname, char *err,
                    size_t err_size);

#endif
