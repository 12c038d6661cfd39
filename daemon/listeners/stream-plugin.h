/*
 * vmfence - daemon/listeners/stream-plugin.h: a stream listener plugin in
 * one statement.
 *
 * A stream listener (tcp, vsock) is the shared stream loop (stream.c) plus
 * a struct vf_stream_kind: how to name a peer and where to bind.  What is
 * left of its plugin is the same for each: the kind, an init() that passes
 * it to vf_stream_priv_init(), and the ops table with VF_PLUGIN_DEFINE.
 * VF_STREAM_LISTENER writes those, at the end of the listener's source:
 *
 *   VF_STREAM_LISTENER(tcp, &vf_schema_tcp, "", tcp_describe, tcp_address);
 *
 * defines `tcp_kind`, `tcp_init` and the plugin "tcp" (listeners/tcp).
 */
#ifndef VF_STREAM_PLUGIN_H
#define VF_STREAM_PLUGIN_H

#include "common.h"
#include "plugin.h"

#define VF_STREAM_LISTENER(id, schema_, socket_hint_, describe_, address_)            \
    static const struct vf_stream_kind id##_kind = {                                  \
        .name = #id,                                                                  \
        .socket_hint = (socket_hint_),                                                \
        .describe = (describe_),                                                      \
        .address = (address_),                                                        \
    };                                                                                \
    static int id##_init(const struct vf_conf *conf, const struct vf_daemon_api *api, \
                         void **ret_priv, char *err, size_t err_len)                  \
    {                                                                                 \
        return vf_stream_priv_init(&id##_kind, conf, api, ret_priv, err, err_len);    \
    }                                                                                 \
    VF_LISTENER_PLUGIN(id, schema_, id##_init, vf_stream_priv_run, vf_stream_priv_fini)

#endif
