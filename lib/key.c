/*
 * vmfence - lib/key.c: loading shared key files.
 *
 * A key is the raw content of a regular file, 1..4096 bytes (a trailing
 * newline is part of the key).  Unlike the reference, which silently
 * truncates longer files, an oversized file is an error.  Symlinks are
 * followed (keys are often links into a config management tree); FIFOs,
 * devices and directories are refused before anything is read, and the
 * open is non-blocking so a FIFO swapped in between stat and open cannot
 * hang us.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "log.h"

/* Classify a stat result; 0 for a regular file. */
static int
check_type(const char *path, const struct stat *st, char *err, size_t err_len)
{
    if (S_ISREG(st->st_mode)) {
        return 0;
    }
    if (S_ISDIR(st->st_mode)) {
        vf_msgf(err, err_len, "Key file '%s' is a directory", path);
        return -EISDIR;
    }
    vf_msgf(err, err_len, "Key file '%s' is not a regular file", path);
    return -EINVAL;
}

static int
open_error(const char *path, int e, char *err, size_t err_len)
{
    switch (e) {
    case ENOENT:
        vf_msgf(err, err_len, "Key file '%s' does not exist", path);
        break;
    case EACCES:
    case EPERM:
        vf_msgf(err, err_len, "Key file '%s' is not readable: permission denied",
                path);
        e = EACCES;
        break;
    default:
        vf_msgf(err, err_len, "Cannot open key file '%s': %s", path,
                strerror(e));
        break;
    }
    return -e;
}

static int
too_big(const char *path, long long size, char *err, size_t err_len)
{
    vf_msgf(err, err_len,
            "Key file '%s' is %lld bytes, larger than the limit of %d bytes",
            path, size, VF_MAX_KEY_LEN);
    return -EFBIG;
}

/**
 * \brief Load a key file.
 * \param[in]  path     key file
 * \param[out] ret_key  filled on success only
 * \param[out] err      one-line reason on error (may be NULL)
 * \param[out] warn     permission warning, empty if none (may be NULL)
 * \return 0; -ENOENT, -EACCES, -ENODATA, -EFBIG, -EISDIR, -EINVAL, -errno
 */
int
vf_key_load(const char *path, struct vf_key *ret_key, char *err,
            size_t err_len, char *warn, size_t warn_len)
{
    uint8_t buf[VF_MAX_KEY_LEN + 1];
    struct stat st;
    size_t done = 0;
    int fd = -1;
    int r;

    vf_msgf(err, err_len, "%s", "");
    vf_msgf(warn, warn_len, "%s", "");
    if (path == NULL || path[0] == '\0') {
        vf_msgf(err, err_len, "No key file given");
        return -EINVAL;
    }
    /* refuse FIFOs and devices without opening them */
    if (stat(path, &st) < 0) {
        return open_error(path, errno, err, err_len);
    }
    r = check_type(path, &st, err, err_len);
    if (r < 0) {
        return r;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return open_error(path, errno, err, err_len);
    }
    /* the file we opened, not the one we stat'ed */
    if (fstat(fd, &st) < 0) {
        r = -errno;
        vf_msgf(err, err_len, "Cannot stat key file '%s': %s", path,
                strerror(-r));
        goto out;
    }
    r = check_type(path, &st, err, err_len);
    if (r < 0) {
        goto out;
    }
    if (st.st_size > VF_MAX_KEY_LEN) {
        r = too_big(path, (long long)st.st_size, err, err_len);
        goto out;
    }
    /* bounded read: at most one byte more than the limit */
    while (done < sizeof(buf)) {
        ssize_t n = read(fd, buf + done, sizeof(buf) - done);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = -errno;
            vf_msgf(err, err_len, "Cannot read key file '%s': %s", path,
                    strerror(-r));
            goto out;
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    if (done > VF_MAX_KEY_LEN) {
        /* grew after fstat(): we only know it is over the limit */
        vf_msgf(err, err_len,
                "Key file '%s' is larger than the limit of %d bytes",
                path, VF_MAX_KEY_LEN);
        r = -EFBIG;
        goto out;
    }
    if (done == 0) {
        vf_msgf(err, err_len, "Key file '%s' is empty", path);
        r = -ENODATA;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        vf_msgf(warn, warn_len,
                "Key file '%s' has mode %04o: accessible by group or others, should be 0600",
                path, (unsigned int)(st.st_mode & 07777));
    }
    memcpy(ret_key->data, buf, done);
    if (done < sizeof(ret_key->data)) {
        memset(ret_key->data + done, 0, sizeof(ret_key->data) - done);
    }
    ret_key->len = done;
    r = 0;
out:
    explicit_bzero(buf, sizeof(buf));
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

/** \brief Overwrite the key material (NULL-tolerant). */
void
vf_key_clear(struct vf_key *key)
{
    if (key == NULL) {
        return;
    }
    explicit_bzero(key->data, sizeof(key->data));
    key->len = 0;
}
