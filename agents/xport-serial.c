/*
 * vmfence - agents/xport-serial.c: the serial framing (protocol.md 2.9) over a
 * real tty (fence_virt -D device) or over TCP to the vmchannel/guestfwd
 * address (fence_virt's default transport).
 *
 * Request: 74-byte serial_req_t ("abba" magic, command, flags 0, domain,
 * seqno), written within 3 s.  Answer: the stream is scanned for the 4
 * magic bytes (leading garbage skipped, bounded in bytes and time), then one
 * response byte; 253 means host_state records up to the zero terminator
 * followed by a final 5-byte frame.  There is no key and no challenge on
 * this transport: the channel itself identifies the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "transport.h"

struct serial_speed {
    unsigned long baud;
    speed_t code;
};

static const struct serial_speed serial_speeds[] = {
    { 2400, B2400 }, { 9600, B9600 }, { 19200, B19200 },
    { 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 },
};

/*
 * Apply serial_params "speed[,BPS]" (grammar: vf_serial_params_parse(),
 * e.g. "115200,8N1") to @tio (already raw).
 */
static int
serial_apply_params(const char *params, struct termios *tio, char *err, size_t err_len)
{
    struct vf_serial_params sp;
    speed_t code = B9600;
    bool found = false;

    if (params == NULL) {
        params = VF_DEFAULT_SERIAL_PARAMS;
    }
    if (vf_serial_params_parse(params, &sp) < 0) {
        goto bad;
    }
    for (size_t i = 0; i < sizeof(serial_speeds) / sizeof(serial_speeds[0]); i++) {
        if (serial_speeds[i].baud == sp.baud) {
            code = serial_speeds[i].code;
            found = true;
        }
    }
    if (!found) {
        goto bad;
    }
    tio->c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio->c_cflag |= CLOCAL | CREAD;
    switch (sp.data_bits) {
    case 5: tio->c_cflag |= CS5; break;
    case 6: tio->c_cflag |= CS6; break;
    case 7: tio->c_cflag |= CS7; break;
    default: tio->c_cflag |= CS8; break;
    }
    if (sp.parity == 'E') {
        tio->c_cflag |= PARENB;
    } else if (sp.parity == 'O') {
        tio->c_cflag |= PARENB | PARODD;
    }
    if (sp.stop_bits == 2) {
        tio->c_cflag |= CSTOPB;
    }
    if (cfsetispeed(tio, code) < 0 || cfsetospeed(tio, code) < 0) {
        goto bad;
    }
    return 0;

bad:
    snprintf(err, err_len, "invalid serial_params '%s': expected SPEED[,BPS] with SPEED one "
             "of 2400, 9600, 19200, 38400, 57600, 115200 and BPS like 8N1 (bits 5-8, parity "
             "N/E/O, stop bits 1/2)", params);
    return -EINVAL;
}

/* Open, lock and configure the serial device; *ret_fd on success. */
static int
serial_open(const struct vf_args *args, int *ret_fd, struct vf_result *res)
{
    const char *dev = args->serial_device;
    struct termios tio;
    struct flock lk;
    char err[384];
    int fd, rc;

    fd = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        vf_result_msg(res, "cannot open serial device '%s': %s", dev, strerror(errno));
        return rc;
    }
    /* the device stays non-blocking: every read and write goes through the
     * deadline-bounded lib/io.c loops, which poll on EAGAIN, so a tty that
     * reports writable with too little room cannot block past the deadline */
    memset(&lk, 0, sizeof(lk));
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &lk) < 0) {
        rc = -errno;
        vf_result_msg(res, "serial device '%s' is locked by another process (another "
                      "fence_virt running?): %s", dev, strerror(errno));
        goto fail;
    }
    if (tcgetattr(fd, &tio) < 0) {
        rc = -errno;
        vf_result_msg(res, "'%s' is not a usable serial device: %s", dev, strerror(errno));
        goto fail;
    }
    cfmakeraw(&tio);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    rc = serial_apply_params(args->serial_params, &tio, err, sizeof(err));
    if (rc < 0) {
        vf_result_msg(res, "%s", err);
        goto fail;
    }
    if (tcsetattr(fd, TCSANOW, &tio) < 0) {
        rc = -errno;
        vf_result_msg(res, "cannot set parameters of serial device '%s': %s", dev,
                      strerror(errno));
        goto fail;
    }
    /* drop stale bytes, e.g. the late answer to an earlier timed-out request */
    (void)tcflush(fd, TCIOFLUSH);
    *ret_fd = fd;
    return 0;

fail:
    vf_close(fd);
    return rc;
}

/*
 * Skip bytes until the 4 magic bytes have been seen, within @deadline_ms and
 * at most VF_AGENT_MAX_GARBAGE skipped bytes.
 */
static int
serial_sync(int fd, const uint8_t magic[4], int64_t deadline_ms, size_t *ret_skipped)
{
    uint8_t win[4] = { 0 };
    size_t got = 0, skipped = 0;
    int rc;

    for (;;) {
        uint8_t b;

        rc = vf_read_full(fd, &b, 1, deadline_ms);
        if (rc < 0) {
            return rc;
        }
        memmove(win, win + 1, 3);
        win[3] = b;
        got++;
        if (got >= 4 && memcmp(win, magic, 4) == 0) {
            *ret_skipped = skipped;
            return 0;
        }
        if (got > 4) {
            skipped++;
        }
        if (skipped > VF_AGENT_MAX_GARBAGE) {
            return -EBADMSG;
        }
    }
}

/* Send the serial request on @fd and read the answer. */
static int
serial_exchange(const struct vf_xport *x, int fd, const char *peer, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    const struct vf_req *req = x->req;
    struct vf_serial_req sreq;
    struct vf_serial_resp mresp;
    uint8_t wire[VF_SERIAL_REQ_SIZE];
    uint8_t magic[VF_SERIAL_RESP_SIZE];
    int64_t start, wdeadline, deadline;
    size_t skipped = 0;
    uint8_t byte;
    int rc;

    memset(&sreq, 0, sizeof(sreq));
    sreq.magic = VF_SERIAL_MAGIC;
    sreq.request = req->request;
    sreq.flags = 0;
    snprintf(sreq.domain, sizeof(sreq.domain), "%s", req->domain);
    sreq.seqno = req->seqno;
    rc = vf_serial_req_encode(&sreq, wire);
    if (rc < 0) {
        vf_result_msg(res, "cannot encode the serial request: %s", strerror(-rc));
        return rc;
    }
    memset(&mresp, 0, sizeof(mresp));
    mresp.magic = VF_SERIAL_MAGIC;
    rc = vf_serial_resp_encode(&mresp, magic);
    if (rc < 0) {
        vf_result_msg(res, "cannot encode the serial magic: %s", strerror(-rc));
        return rc;
    }

    start = vf_now_ms();
    deadline = start + (int64_t)args->timeout * 1000;
    wdeadline = vf_xport_bound(args, start, VF_AGENT_SERIAL_WRITE_MS);
    vf_dbg(1, "sending %s request for '%s' (seqno %u) to %s",
           vf_cmd_name(req->request) != NULL ? vf_cmd_name(req->request) : "?",
           req->domain, req->seqno, peer);
    rc = vf_write_full(fd, wire, sizeof(wire), wdeadline);
    if (rc == -ETIMEDOUT) {
        vf_result_msg(res, "timed out writing the request to %s", peer);
        return rc;
    }
    if (rc < 0) {
        vf_result_msg(res, "writing the request to %s failed: %s", peer, strerror(-rc));
        return rc;
    }

    rc = serial_sync(fd, magic, deadline, &skipped);
    if (rc == -ETIMEDOUT) {
        vf_result_msg(res, "timed out after %u s waiting for an answer from fence_virtd "
                      "via %s; check that fence_virtd runs a serial listener (mode %s) that "
                      "knows this VM", args->timeout, peer,
                      args->transport == VF_XPORT_SERIAL ? "serial" : "vmchannel");
        return rc;
    }
    if (rc == -EBADMSG) {
        vf_result_msg(res, "no answer frame from %s: more than %d bytes without the "
                      "serial magic", peer, VF_AGENT_MAX_GARBAGE);
        return rc;
    }
    if (rc < 0) {
        vf_result_msg(res, "reading the answer from %s failed: %s", peer,
                      rc == -ECONNRESET ? "connection closed" : strerror(-rc));
        return rc;
    }
    if (skipped > 0) {
        vf_dbg(1, "skipped %zu bytes before the answer frame", skipped);
    }
    rc = vf_read_full(fd, &byte, 1, deadline);
    if (rc < 0) {
        vf_result_msg(res, "reading the answer from %s failed: %s", peer,
                      rc == -ETIMEDOUT ? "timed out" :
                      rc == -ECONNRESET ? "connection closed" : strerror(-rc));
        return rc;
    }
    vf_dbg(1, "%s answered %u", peer, byte);
    return vf_handle_answer(x, fd, byte, deadline, peer, VF_SERIAL_RESP_SIZE, res);
}

int
vf_xport_serial(const struct vf_xport *x, struct vf_result *res)
{
    char peer[300];
    int fd = -1;
    int rc;

    snprintf(peer, sizeof(peer), "serial device '%s'", x->args->serial_device);
    rc = serial_open(x->args, &fd, res);
    if (rc < 0) {
        return rc;
    }
    rc = serial_exchange(x, fd, peer, res);
    vf_close(fd);
    return rc;
}

/* Why the vmchannel connection failed, and what to check; \return @rc */
static int
vmchannel_failed(int rc, const char *addr, const char *peer, double waited_s,
                 struct vf_result *res)
{
    switch (rc) {
    case -ECONNREFUSED:
        vf_result_msg(res, "nothing listening at %s (connection refused); check the "
                      "guestfwd channel of this VM, or use -T/-S/-D for another transport",
                      peer);
        break;
    case -ETIMEDOUT:
        vf_result_msg(res, "connecting to %s timed out after %.1f s; check the guestfwd "
                      "channel of this VM, or use -T/-S/-D for another transport", peer,
                      waited_s);
        break;
    case -EINVAL:
        vf_result_msg(res, "channel_address '%s' is not a literal IPv4 or IPv6 address", addr);
        break;
    default:
        vf_result_msg(res, "unable to connect to %s: %s", peer, strerror(-rc));
        break;
    }
    return rc;
}

int
vf_xport_vmchannel(const struct vf_xport *x, struct vf_result *res)
{
    const struct vf_args *args = x->args;
    const char *addr = args->channel_address != NULL ? args->channel_address :
                       VF_DEFAULT_CHANNEL_ADDR;
    char peer[300];
    int64_t start, conn_deadline;
    int fd = -1;
    int rc;

    if (strchr(addr, ':') != NULL) {
        snprintf(peer, sizeof(peer), "vmchannel [%s]:%u", addr, args->port);
    } else {
        snprintf(peer, sizeof(peer), "vmchannel %s:%u", addr, args->port);
    }
    start = vf_now_ms();
    conn_deadline = vf_xport_bound(args, start, VF_AGENT_CONNECT_MS);
    rc = vf_connect_tcp(addr, args->port, conn_deadline, &fd);
    if (rc < 0) {
        return vmchannel_failed(rc, addr, peer, (double)(conn_deadline - start) / 1000.0,
                                res);
    }
    rc = serial_exchange(x, fd, peer, res);
    vf_close(fd);
    return rc;
}
