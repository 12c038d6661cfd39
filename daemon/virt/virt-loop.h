/*
 * vmfence - daemon/virt/virt-loop.h: libvirt's event loop and error handler,
 * private to daemon/virt/ (users open connections through virt.h).
 */
#ifndef VF_VIRT_LOOP_H
#define VF_VIRT_LOOP_H

/*
 * Take a reference on the process's libvirt: the first one initialises
 * libvirt (once per process: virInitialize, a silent error handler, the
 * default event loop implementation) and starts the event loop thread.
 * \return 0, -EIO (libvirt could not be initialised), -errno (no thread)
 */
int vf_virt_loop_acquire(void);

/* Drop a reference; the last one stops the event loop thread (joined). */
void vf_virt_loop_release(void);

#endif
