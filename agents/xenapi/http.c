/*
 * vmfence - agents/xenapi/http.c: the HTTP(S) transport of fence_xenapi
 * (see http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "io.h"

struct vf_http {
    CURL *curl;
    struct curl_slist *headers;
    struct vf_http_conf conf;
};

struct sink {
    char *buf;
    size_t len;
    size_t max;
    bool too_big;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    char *nb;

    if (n > s->max - s->len) {
        s->too_big = true;
        return 0;              /* aborts the transfer */
    }
    nb = realloc(s->buf, s->len + n + 1);
    if (nb == NULL) {
        return 0;
    }
    memcpy(nb + s->len, data, n);
    s->buf = nb;
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

struct vf_http *
vf_http_new(const struct vf_http_conf *conf)
{
    struct vf_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->conf = *conf;
    h->curl = curl_easy_init();
    h->headers = curl_slist_append(NULL, "Content-Type: text/xml");
    if (h->curl == NULL || h->headers == NULL) {
        return vf_http_free(h);
    }
    return h;
}

struct vf_http *
vf_http_free(struct vf_http *h)
{
    if (h == NULL) {
        return NULL;
    }
    if (h->curl != NULL) {
        curl_easy_cleanup(h->curl);
    }
    curl_slist_free_all(h->headers);
    free(h);
    return NULL;
}

static int
setup(struct vf_http *h, const char *url, const char *body, size_t len, long timeout_ms,
      struct sink *sink, char *errbuf)
{
    CURL *c = h->curl;
    CURLcode rc = CURLE_OK;

    curl_easy_reset(c);
#define SET(opt, val) do { if (rc == CURLE_OK) { rc = curl_easy_setopt(c, opt, val); } } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SET(CURLOPT_HTTPHEADER, h->headers);
    SET(CURLOPT_USERAGENT, "vmfence-fence_xenapi/" PACKAGE_VERSION);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->conf.connect_timeout_s * 1000L);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, sink);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_SSL_VERIFYPEER, h->conf.insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, h->conf.insecure ? 0L : 2L);
    if (h->conf.cacert != NULL) {
        SET(CURLOPT_CAINFO, h->conf.cacert);
    }
#undef SET
    return rc == CURLE_OK ? 0 : -EINVAL;
}

static int
curl_errno(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EHOSTUNREACH;
    }
}

int
vf_http_post(struct vf_http *h, const char *url, const char *body, size_t len,
             int64_t deadline_ms, size_t max, char **ret_body, size_t *ret_len,
             char *err, size_t err_len)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct sink sink = { .max = max };
    int64_t left = deadline_ms - vf_now_ms();
    long status = 0;
    CURLcode rc;
    int r;

    if (left <= 0) {
        snprintf(err, err_len, "no time left for the request");
        return -ETIMEDOUT;
    }
    r = setup(h, url, body, len, (long)left, &sink, errbuf);
    if (r < 0) {
        snprintf(err, err_len, "cannot set up the HTTP request");
        goto fail;
    }
    rc = curl_easy_perform(h->curl);
    if (sink.too_big) {
        snprintf(err, err_len, "response larger than %zu bytes", max);
        r = -E2BIG;
        goto fail;
    }
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        r = curl_errno(rc);
        goto fail;
    }
    (void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        bool html = sink.buf != NULL && strcasestr(sink.buf, "<html") != NULL;

        snprintf(err, err_len, "HTTP status %ld%s (not an XML-RPC reply)", status,
                 html ? " with an HTML page" : "");
        r = -EBADMSG;
        goto fail;
    }
    if (sink.buf == NULL) {
        sink.buf = strdup("");
        if (sink.buf == NULL) {
            return -ENOMEM;
        }
    }
    *ret_body = sink.buf;
    *ret_len = sink.len;
    return 0;

 fail:
    free(sink.buf);
    return r;
}
